import type { Dir } from 'node:fs';
import { opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../../core/image/abortable';
import { DatasetError } from './dataset-error';
import { isHiddenName } from './is-hidden-name';
import type { ScanCandidate } from './scan-candidate';

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/**
 * Walks an ImageFolder dataset (one sub-folder per class; deeper folders count for their
 * top-level class) as a stream: one open directory per depth level, entries handed out as read,
 * so memory stays bounded however many files there are. Only reads: opendir/stat/realpath.
 * Folder symlinks are followed (symlink farms are a common way to build datasets) with loop and
 * duplicate detection by real path; the root itself must be a readable folder.
 */
export async function* walkImageFolder(
  root: string,
  signal?: AbortSignal,
  /**
   * 'content': every file at any depth (the root too) is a candidate with label '', to be
   * labelled from its content (a DICOM attribute or a manifest keyed by DICOM UID); no classes.
   */
  labels: 'folders' | 'content' = 'folders',
): AsyncGenerator<ScanCandidate> {
  const rootAbs = path.resolve(root);
  const rootReal = await realpath(rootAbs);
  // real path → where it was first scanned ('' = the root); guards loops and double counting.
  const visited = new Map<string, string>([[rootReal, '']]);

  async function* walkDir(
    absDir: string,
    relDir: string,
    label: string | undefined,
    ancestors: string[],
  ): AsyncGenerator<ScanCandidate> {
    let dir: Dir;
    try {
      dir = await opendir(absDir, { bufferSize: 64 });
    } catch (e) {
      if (relDir === '')
        throw new DatasetError(
          `Cannot list dataset folder ${absDir} (${errCode(e)})`,
          'Give the account running FGL read permission on the folder',
        );
      yield {
        kind: 'skip',
        path: relDir + '/',
        reason: 'unreadable',
        detail: `folder cannot be read (${errCode(e)}); nothing in it was scanned`,
        label,
      };
      return;
    }
    try {
      for await (const d of dir) {
        throwIfAborted(signal);
        const name = d.name;
        const rel = relDir ? `${relDir}/${name}` : name;
        const abs = path.join(absDir, name);
        if (isHiddenName(name)) {
          yield {
            kind: 'skip',
            path: d.isDirectory() ? rel + '/' : rel,
            reason: 'hidden',
            detail: 'hidden or system entry, never scanned',
            label,
          };
          continue;
        }
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        // Symlinks (and file systems that report no type) are resolved with stat, which follows links.
        if (
          d.isSymbolicLink() ||
          (!isDir &&
            !isFile &&
            !d.isFIFO() &&
            !d.isSocket() &&
            !d.isCharacterDevice() &&
            !d.isBlockDevice())
        ) {
          try {
            const st = await stat(abs);
            isDir = st.isDirectory();
            isFile = st.isFile();
          } catch (e) {
            const code = errCode(e);
            if (code === 'ENOENT')
              yield {
                kind: 'skip',
                path: rel,
                reason: 'broken_link',
                detail: 'symbolic link whose target does not exist',
                label,
              };
            else if (code === 'ELOOP')
              yield {
                kind: 'skip',
                path: rel,
                reason: 'symlink_loop',
                detail: 'symbolic link that resolves to itself',
                label,
              };
            else
              yield {
                kind: 'skip',
                path: rel,
                reason: 'unreadable',
                detail: `cannot be inspected (${code})`,
                label,
              };
            continue;
          }
        }
        if (isDir) {
          let real: string;
          try {
            real = await realpath(abs);
          } catch (e) {
            yield {
              kind: 'skip',
              path: rel + '/',
              reason: 'unreadable',
              detail: `folder cannot be resolved (${errCode(e)})`,
              label,
            };
            continue;
          }
          const seenAt = visited.get(real);
          if (ancestors.includes(real)) {
            const target = seenAt ? `"${seenAt}"` : 'the dataset root';
            yield {
              kind: 'skip',
              path: rel + '/',
              reason: 'symlink_loop',
              detail: `folder link points back to ${target}; not followed`,
              label,
            };
            continue;
          }
          if (seenAt !== undefined) {
            yield {
              kind: 'skip',
              path: rel + '/',
              reason: 'duplicate_folder',
              detail: `same folder as "${seenAt}", which is scanned there`,
              label,
            };
            continue;
          }
          visited.set(real, rel);
          // macOS file systems may hand back decomposed (NFD) names; labels are compared as NFC.
          const childLabel = labels === 'content' ? '' : (label ?? name.normalize('NFC'));
          if (label === undefined && labels === 'folders')
            yield { kind: 'class', label: childLabel };
          yield* walkDir(abs, rel, childLabel, [...ancestors, real]);
        } else if (!isFile) {
          yield {
            kind: 'skip',
            path: rel,
            reason: 'not_file',
            detail: 'not a regular file (FIFO, socket or device)',
            label,
          };
        } else if (label === undefined && labels === 'folders') {
          yield {
            kind: 'skip',
            path: rel,
            reason: 'no_label',
            detail: 'file directly in the dataset folder: put it in a class folder to use it',
          };
        } else {
          yield { kind: 'file', path: rel, absPath: abs, label: label ?? '' };
        }
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError' || relDir === '') throw e;
      yield {
        kind: 'skip',
        path: relDir + '/',
        reason: 'unreadable',
        detail: `folder listing failed part-way (${errCode(e)})`,
        label,
      };
    }
  }

  yield* walkDir(rootAbs, '', undefined, [rootReal]);
}

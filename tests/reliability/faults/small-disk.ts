import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real, small filesystem for full-disk tests: a tmpfs of `sizeMiB` mounted on `dir` (needs
 * root, or passwordless sudo). Filling it with a filler file gives the code under test genuine
 * ENOSPC / SQLITE_FULL from the kernel; deleting the filler frees the space again.
 */
export class SmallDisk {
  private constructor(
    readonly dir: string,
    private readonly sudo: boolean,
  ) {}

  static async mount(dir: string, sizeMiB: number): Promise<SmallDisk> {
    await fs.mkdir(dir, { recursive: true });
    const args = ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir];
    const errors: string[] = [];
    for (const sudo of [false, true]) {
      try {
        if (sudo) await run('sudo', ['-n', 'mount', ...args]);
        else await run('mount', args);
        return new SmallDisk(dir, sudo);
      } catch (e) {
        errors.push((e as Error).message.split('\n')[0]!);
      }
    }
    throw new Error(
      `Cannot mount a ${sizeMiB} MiB tmpfs on ${dir} (${errors.join('; ')}). The full-disk tests need root or ` +
        'passwordless sudo to mount a small filesystem; run them as root (e.g. in the project container).',
    );
  }

  async freeBytes(): Promise<number> {
    const s = await fs.statfs(this.dir);
    return s.bavail * s.bsize;
  }

  /** Fill the disk until about `leaveBytes` remain free. */
  async fill(leaveBytes: number): Promise<void> {
    const free = await this.freeBytes();
    await fs.writeFile(
      path.join(this.dir, '.filler'),
      Buffer.alloc(Math.max(0, free - leaveBytes)),
    );
  }

  async free(): Promise<void> {
    await fs.rm(path.join(this.dir, '.filler'), { force: true });
  }

  async unmount(): Promise<void> {
    const args = ['-l', this.dir];
    if (this.sudo) await run('sudo', ['-n', 'umount', ...args]);
    else await run('umount', args);
  }
}

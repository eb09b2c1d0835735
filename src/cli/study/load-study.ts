import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StudyManifest } from '../../shared/study';
import type { sitePaths } from '../../site/site-home';

/**
 * `--study FILE` reads a manifest; `--study ID` fetches it from the server this site enrolled
 * with and keeps a copy in $FGL_HOME/studies, so an offline machine can use it later. The ledger
 * and the HTTP client are imported only for an id (CLI start-up: docs/benchmarks.md).
 */
export async function loadStudy(arg: string, paths: ReturnType<typeof sitePaths>): Promise<StudyManifest> {
  if (existsSync(arg)) return StudyManifest.parse(JSON.parse(await readFile(arg, 'utf8')));
  const [{ Ledger }, { clientForStudy }] = await Promise.all([import('../../site/ledger/ledger'), import('../../site/client/enroll-site')]);
  const cache = join(paths.home, 'studies', `${arg}.json`);
  const ledger = Ledger.open(paths.ledger);
  try {
    const study = await clientForStudy(ledger, arg).client.getStudy(arg);
    await mkdir(join(paths.home, 'studies'), { recursive: true });
    await writeFile(cache, JSON.stringify(study, null, 2));
    return study;
  } catch (e) {
    if (existsSync(cache)) return StudyManifest.parse(JSON.parse(await readFile(cache, 'utf8')));
    throw e;
  } finally {
    ledger.close();
  }
}

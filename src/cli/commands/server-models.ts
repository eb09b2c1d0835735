import { existsSync } from 'node:fs';
import path from 'node:path';
import { makeTinyModels } from '../tiny-models/make-tiny-models';
import {
  describeModelsFolder,
  resolveModelsOption,
  type ModelsFolder,
} from '../study/models-folder';

/**
 * `--models tiny|DIR` for the server commands: `tiny` generates the deterministic tiny models once
 * into `<data>/models-tiny` (same bytes as on every site, so digests agree); DIR is a folder with
 * clip/, generator/ (and optionally captioner/).
 */
export async function resolveServerModels(dataDir: string, value: string): Promise<ModelsFolder> {
  if (value === 'tiny') {
    const dir = path.join(path.resolve(dataDir), 'models-tiny');
    if (!existsSync(path.join(dir, 'generator', 'model_index.json')))
      await makeTinyModels(dir, { overwrite: true });
    return describeModelsFolder(dir);
  }
  return describeModelsFolder(await resolveModelsOption(value, dataDir));
}

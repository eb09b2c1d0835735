import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * pydicom's test DICOM files, from Debian's python3-pydicom (installed by .ci/run). Override
 * with FGL_PYDICOM_TEST_FILES. Throws with the fix when they are missing (no silent skip).
 */
export function pydicomTestFiles(): string {
  const dir =
    process.env.FGL_PYDICOM_TEST_FILES ?? '/usr/lib/python3/dist-packages/pydicom/data/test_files';
  if (!existsSync(path.join(dir, 'CT_small.dcm')))
    throw new Error(
      `pydicom's test files are not in ${dir}: run \`apt-get install -y python3-pydicom\` (or set FGL_PYDICOM_TEST_FILES)`,
    );
  return dir;
}

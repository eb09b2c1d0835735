import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import { pydicomTestFiles } from '../../helpers/pydicom-test-files';

/**
 * A DICOM file cut short anywhere must end in an ImageDecodeError, never in what dicom-parser
 * throws. Found by the fuzz suite (seed 2022276813): a 507-byte cut of MR_small_implicit.dcm made
 * a DataSet accessor throw the bare string "dicomParser.readFixedString: attempt to read past end
 * of buffer" after parsing had succeeded.
 */
describe('truncated DICOM files', () => {
  it('every cut of MR_small_implicit.dcm up to 2 kB is an ImageDecodeError or a decode', async () => {
    const whole = readFileSync(path.join(pydicomTestFiles(), 'MR_small_implicit.dcm'));
    const other: string[] = [];
    for (let n = 1; n <= Math.min(2048, whole.length); n++) {
      try {
        await decodeImage(new Uint8Array(whole.subarray(0, n)));
      } catch (e) {
        if (!(e instanceof ImageDecodeError))
          other.push(`${n} bytes: ${typeof e === 'string' ? `string "${e}"` : String(e)}`);
        else expect(e.message).toMatch(/DICOM|image|format/i);
      }
    }
    expect(other).toEqual([]);
  });
});

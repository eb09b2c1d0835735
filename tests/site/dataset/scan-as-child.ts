// Run by unreadable.test.ts in a separate process (possibly as another uid): scans argv[2] and
// prints the ScanResult as JSON on stdout.
import { scanDataset } from '../../../src/site/dataset/scan-dataset';

const result = await scanDataset(process.argv[2]!);
// The same dataset's locked class folder, scanned as a root: the scan cannot start at all.
const lockedRoot = await scanDataset(`${process.argv[2]!}/locked`).then(
  () => null,
  (e: Error & { hint?: string }) => ({ name: e.name, message: e.message, hint: e.hint }),
);
process.stdout.write(JSON.stringify({ uid: process.getuid?.(), result, lockedRoot }));

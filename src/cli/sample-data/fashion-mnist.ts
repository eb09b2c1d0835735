import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FASHION_CLASSES } from '../mini-models/fashion-classes';
import { resourcePath } from '../resources';
import { readIdx } from './idx-file';

/** Where Debian's `dataset-fashion-mnist` package puts the IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** The first 3,000 images of the TEST split, shipped in the repo so the demo runs without the package. */
export const BUNDLED_FASHION_MNIST_DIR = resourcePath('datasets/fashion-mnist');

const TEST_IMAGES = 't10k-images-idx3-ubyte.gz';
const TEST_LABELS = 't10k-labels-idx1-ubyte.gz';

export type FashionMnistSplit = {
  /** The folder read, and which copy it is. */
  dir: string;
  source: 'dataset-dir' | 'debian' | 'bundled';
  /** Row-major [N, 28, 28] grey pixels. */
  pixels: Uint8Array;
  labels: Uint8Array;
  side: number;
  classes: readonly string[];
};

function hasTestSplit(dir: string): boolean {
  return existsSync(join(dir, TEST_IMAGES)) && existsSync(join(dir, TEST_LABELS));
}

/** The folder to read: `--dataset-dir`, else Debian's package, else the subset in the repo. */
export function locateFashionMnist(datasetDir?: string): {
  dir: string;
  source: FashionMnistSplit['source'];
} {
  if (datasetDir !== undefined) {
    const dir = resolve(datasetDir);
    if (!hasTestSplit(dir))
      throw Object.assign(
        new Error(`${dir} has no Fashion-MNIST test split (${TEST_IMAGES} and ${TEST_LABELS})`),
        {
          hint: `Point --dataset-dir at the folder with the original IDX files, or leave it out to use ${DEBIAN_FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist) or the subset in the repo.`,
        },
      );
    return { dir, source: 'dataset-dir' };
  }
  if (hasTestSplit(DEBIAN_FASHION_MNIST_DIR))
    return { dir: DEBIAN_FASHION_MNIST_DIR, source: 'debian' };
  if (hasTestSplit(BUNDLED_FASHION_MNIST_DIR))
    return { dir: BUNDLED_FASHION_MNIST_DIR, source: 'bundled' };
  throw Object.assign(new Error('No Fashion-MNIST copy found'), {
    hint: `Install Debian's package (apt-get install dataset-fashion-mnist), or pass --dataset-dir DIR with ${TEST_IMAGES} and ${TEST_LABELS}.`,
  });
}

/**
 * The Fashion-MNIST TEST split (10,000 images; 3,000 in the bundled subset). Only the test split is
 * ever used for site data: the mini models were trained on the train split, so sites hold images
 * the foundation models never saw.
 */
export async function readFashionMnistTest(datasetDir?: string): Promise<FashionMnistSplit> {
  const { dir, source } = locateFashionMnist(datasetDir);
  const images = await readIdx(join(dir, TEST_IMAGES));
  const labels = await readIdx(join(dir, TEST_LABELS));
  const [n, rows, cols] = images.dims;
  if (images.dims.length !== 3 || rows !== cols || labels.dims.length !== 1 || labels.dims[0] !== n)
    throw new Error(
      `${dir}: expected images [N, 28, 28] and labels [N], got [${images.dims.join(', ')}] and [${labels.dims.join(', ')}]; are these Fashion-MNIST IDX files?`,
    );
  const bad = labels.data.findIndex((l) => l >= FASHION_CLASSES.length);
  if (bad >= 0)
    throw new Error(
      `${join(dir, TEST_LABELS)}: label ${labels.data[bad]} at ${bad} is not one of Fashion-MNIST's 10 classes.`,
    );
  return {
    dir,
    source,
    pixels: images.data,
    labels: labels.data,
    side: rows!,
    classes: FASHION_CLASSES,
  };
}

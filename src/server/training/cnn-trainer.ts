import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { TrainingSettings } from '../../shared/study';
import type { ModelManifest } from '../../shared/model-manifest';
import { loadTf, type LoadedTf } from '../../core/tfjs/tfjs-backend';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeImagenet,
  resizeAndCenterCrop,
  resizeSideFor,
  type RgbImage,
} from '../../core/tfjs/image-input';
import { fitLoop, type TrainingProgress, type TrainingResult } from './fit-loop';
import { buildResNet, type ResNetOptions } from './resnet';
import { sampleCropBox, DEFAULT_CROP_SCALE } from './random-resized-crop';
import { createRng, deriveSeed } from './seeded-random';
import { stratifiedSplit } from './stratified-split';

export interface CnnOptions extends ResNetOptions {
  /** Model input side in pixels. Default 224 (the paper) on tfjs-node-gpu, 64 on the CPU-hosted backends (wasm, cpu). */
  size?: number;
  /** SGD momentum; default 0.9 (the paper). */
  momentum?: number;
  /** PyTorch-style weight decay; default 2e-4 (the paper). */
  weightDecay?: number;
  /** RandomResizedCrop + horizontal flip on training batches; default true. */
  augment?: boolean;
  /** RandomResizedCrop area range; default [0.08, 1] (torchvision). */
  cropScale?: readonly [number, number];
}

export interface CnnTrainingInput {
  /** Synthetic images, 8-bit RGB HWC; any size (resized here). */
  images: RgbImage[];
  labels: number[];
  classes: string[];
  settings: TrainingSettings;
  cnn?: CnnOptions;
  signal?: AbortSignal;
  onProgress?: (p: TrainingProgress) => void;
  log?: (line: string) => void;
  tf?: LoadedTf;
}

export interface CnnTrainingResult extends TrainingResult {
  /** What a site must do to an image before predicting (goes into the model manifest). */
  preprocessing: ModelManifest['preprocessing'];
}

function checkInput(input: CnnTrainingInput): void {
  const { images, labels, classes } = input;
  if (classes.length < 2)
    throw new Error(`Training needs at least 2 classes; got ${classes.length}.`);
  if (images.length !== labels.length)
    throw new Error(
      `Got ${images.length} images but ${labels.length} labels; pass one label per image.`,
    );
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= classes.length)
      throw new Error(`Label ${l} of image ${i} is not a class index in [0, ${classes.length}).`);
  });
}

/**
 * Trains the paper's global model: a ResNet from scratch on the synthetic images.
 *
 * Recipe (paper): SGD lr = settings.learningRate (0.01), momentum 0.9, weight decay 2e-4;
 * RandomResizedCrop(size) + horizontal flip; ImageNet normalisation; validation = resize to
 * size·256/224, centre crop (the paper's test transform, also what sites run: imageToModelInput).
 *
 * Weight decay as an L2 regulariser: PyTorch's SGD(weight_decay=wd) adds wd·w to each gradient
 * before the momentum update. tfjs's l2 regulariser adds λ·Σw² to the loss, whose gradient is
 * 2λ·w, so λ = wd/2 on every trainable weight (conv, BN γ/β, dense kernel and bias) gives the same
 * update, and tfjs's momentum (accum = m·accum + g; w −= lr·accum) matches PyTorch's.
 */
export async function trainCnn(input: CnnTrainingInput): Promise<CnnTrainingResult> {
  const loaded = input.tf ?? (await loadTf(input.log));
  const { tf } = loaded;
  checkInput(input);
  const { settings } = input;
  const opts = input.cnn ?? {};
  const onGpu = loaded.backend === 'tensorflow';
  const size = opts.size ?? (onGpu ? 224 : 64);
  const side = resizeSideFor(size);
  const augment = opts.augment ?? true;
  const cropScale = opts.cropScale ?? DEFAULT_CROP_SCALE;
  const preset = opts.preset ?? (onGpu ? 'resnet18' : 'resnet8');
  const split = stratifiedSplit(input.labels, settings.validationSplit, settings.seed);
  if (split.val.length === 0)
    throw new Error(
      'No class has 2 or more images, so nothing can be held out for validation; synthesize more images per class.',
    );
  if (!onGpu)
    input.log?.(
      `cnn: training a ResNet on the tfjs ${loaded.backend} backend (one CPU thread) is slow (${loaded.backend === 'wasm' ? 'tens' : 'a few'} of images/s at ${size} px); ` +
        `for the paper's ResNet-18 at 224 px run the server where @tensorflow/tfjs-node-gpu loads.`,
    );

  // Images are kept as bytes (what the resize yields anyway), one array per image so a large
  // set never needs one huge buffer: training ones as side×side squares (the paper's resize-256
  // step) cropped per batch, validation ones already centre-cropped exactly as sites do.
  const pixelsPerImage = side * side * 3;
  const valPixelsPerImage = size * size * 3;
  const trainPixels = split.train.map((idx) => {
    input.signal?.throwIfAborted();
    return Uint8Array.from(resizeAndCenterCrop(tf, input.images[idx]!, side, side));
  });
  const valPixels = split.val.map((idx) =>
    Uint8Array.from(resizeAndCenterCrop(tf, input.images[idx]!, side, size)),
  );
  const mean = tf.tensor1d([...IMAGENET_MEAN].map((m) => m * 255));
  const std = tf.tensor1d([...IMAGENET_STD].map((s) => s * 255));

  const weightDecay = opts.weightDecay ?? 2e-4;
  const model = buildResNet({
    tf,
    inputSize: size,
    classes: input.classes.length,
    seed: settings.seed,
    l2: weightDecay / 2,
    options: { ...opts, preset },
  });
  const optimizer = tf.train.momentum(settings.learningRate, opts.momentum ?? 0.9);
  const augmentRng = createRng(deriveSeed(settings.seed, 5));
  input.log?.(
    `cnn: ${model.name} at ${size} px, ${split.train.length} train / ${split.val.length} validation images, ` +
      `SGD lr=${settings.learningRate} momentum=${opts.momentum ?? 0.9} wd=${weightDecay}, augment=${augment}, backend ${loaded.backend}`,
  );

  const trainBatch = (positions: number[]): Tensor => {
    const n = positions.length;
    const bytes = new Uint8Array(n * pixelsPerImage);
    positions.forEach((p, k) => bytes.set(trainPixels[p]!, k * pixelsPerImage));
    const raw = tf.tensor4d(bytes, [n, side, side, 3], 'int32').toFloat();
    let x: Tensor4D;
    if (augment) {
      const boxes = positions.flatMap(() => sampleCropBox(augmentRng, side, side, cropScale));
      const flips = positions.map(() => (augmentRng() < 0.5 ? 1 : 0));
      const cropped = tf.image.cropAndResize(
        raw,
        tf.tensor2d(boxes, [n, 4]) as Tensor2D,
        tf.tensor1d(
          Array.from({ length: n }, (_, i) => i),
          'int32',
        ) as Tensor1D,
        [size, size],
        'bilinear',
      );
      const m = tf.tensor4d(flips, [n, 1, 1, 1]);
      x = tf.add(tf.mul(tf.image.flipLeftRight(cropped), m), tf.mul(cropped, tf.sub(1, m)));
    } else {
      const offset = Math.floor((side - size) / 2);
      x = raw.slice([0, offset, offset, 0], [n, size, size, 3]);
    }
    return tf.div(tf.sub(x, mean), std);
  };

  try {
    const result = await fitLoop({
      tf,
      backend: loaded.backend,
      model,
      optimizer,
      settings,
      numClasses: input.classes.length,
      trainLabels: Int32Array.from(split.train, (i) => input.labels[i]!),
      valLabels: Int32Array.from(split.val, (i) => input.labels[i]!),
      trainInputs: trainBatch,
      // Normalised in JS with the sites' own function, so validation equals site-side evaluation.
      valInputs: (start, end) => {
        const x = new Float32Array((end - start) * valPixelsPerImage);
        for (let k = start; k < end; k++) x.set(valPixels[k]!, (k - start) * valPixelsPerImage);
        return tf.tensor4d(normalizeImagenet(x), [end - start, size, size, 3]);
      },
      forward: (x, training) => model.apply(x, { training }) as Tensor,
      rng: createRng(deriveSeed(settings.seed, 4)),
      signal: input.signal,
      onProgress: input.onProgress,
    });
    return {
      ...result,
      preprocessing: {
        input: 'pixels',
        size,
        mean: [...IMAGENET_MEAN],
        std: [...IMAGENET_STD],
        normalize: true,
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    mean.dispose();
    std.dispose();
    optimizer.dispose();
  }
}

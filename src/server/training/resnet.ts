import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { Tf } from '../../core/tfjs/tfjs-backend';
import { deriveSeed } from './seeded-random';

export type ResNetPreset = 'resnet8' | 'resnet10' | 'resnet18';

export interface ResNetOptions {
  /** Named shape; `blocks`, `width` and `stem` override its parts. Default resnet8. */
  preset?: ResNetPreset;
  /** Basic blocks per stage; stage s has width × 2^s channels and stride 2 except the first. */
  blocks?: number[];
  /** Channels of the stem and the first stage. */
  width?: number;
  /** 'cifar' = 3×3 stride-1 conv (small inputs); 'imagenet' = 7×7 stride-2 conv + 3×3 max-pool. */
  stem?: 'cifar' | 'imagenet';
}

/** depth = stem conv + 2 convs per basic block + the classifier. */
export const RESNET_PRESETS: Record<ResNetPreset, Required<Omit<ResNetOptions, 'preset'>>> = {
  resnet8: { blocks: [1, 1, 1], width: 16, stem: 'cifar' },
  resnet10: { blocks: [1, 1, 1, 1], width: 32, stem: 'imagenet' },
  resnet18: { blocks: [2, 2, 2, 2], width: 64, stem: 'imagenet' },
};

export interface ResNetBuild {
  tf: Tf;
  inputSize: number;
  classes: number;
  seed: number;
  /** L2 factor on every trainable weight (λ = weight decay / 2: see cnn-trainer). 0 = none. */
  l2: number;
  options?: ResNetOptions;
}

/**
 * A ResNet (He et al. 2016, basic blocks, BN after each conv, projection shortcuts when the shape
 * changes) from scratch, as in the paper's global model. BN momentum 0.9 / ε 1e-5 = PyTorch's
 * defaults (tfjs counts momentum the other way round); conv init = Kaiming normal, fan-out, like torchvision.
 */
export function buildResNet(build: ResNetBuild): LayersModel {
  const { tf, inputSize, classes, seed, l2 } = build;
  const preset = RESNET_PRESETS[build.options?.preset ?? 'resnet8'];
  const blocks = build.options?.blocks ?? preset.blocks;
  const width = build.options?.width ?? preset.width;
  const stem = build.options?.stem ?? preset.stem;
  if (blocks.length < 1 || blocks.some((b) => !Number.isInteger(b) || b < 1))
    throw new Error(
      `ResNet blocks per stage must be positive integers; got [${blocks.join(', ')}].`,
    );
  const reg =
    l2 > 0
      ? (): ReturnType<Tf['regularizers']['l2']> => tf.regularizers.l2({ l2 })
      : (): undefined => undefined;
  let salt = 100;
  const conv = (
    x: SymbolicTensor,
    filters: number,
    kernelSize: number,
    strides: number,
    name: string,
  ): SymbolicTensor =>
    tf.layers
      .conv2d({
        filters,
        kernelSize,
        strides,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.varianceScaling({
          scale: 2,
          mode: 'fanOut',
          distribution: 'normal',
          seed: deriveSeed(seed, salt++),
        }),
        kernelRegularizer: reg(),
        name,
      })
      .apply(x) as SymbolicTensor;
  const bn = (x: SymbolicTensor, name: string): SymbolicTensor =>
    tf.layers
      .batchNormalization({
        momentum: 0.9,
        epsilon: 1e-5,
        gammaRegularizer: reg(),
        betaRegularizer: reg(),
        name,
      })
      .apply(x) as SymbolicTensor;
  const relu = (x: SymbolicTensor, name: string): SymbolicTensor =>
    tf.layers.reLU({ name }).apply(x) as SymbolicTensor;

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'pixels' });
  let x: SymbolicTensor;
  if (stem === 'imagenet') {
    x = relu(bn(conv(input, width, 7, 2, 'stem_conv'), 'stem_bn'), 'stem_relu');
    x = tf.layers
      .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem_pool' })
      .apply(x) as SymbolicTensor;
  } else {
    x = relu(bn(conv(input, width, 3, 1, 'stem_conv'), 'stem_bn'), 'stem_relu');
  }
  let channels = width;
  blocks.forEach((count, stage) => {
    const filters = width * 2 ** stage;
    for (let b = 0; b < count; b++) {
      const strides = stage > 0 && b === 0 ? 2 : 1;
      const name = `s${stage + 1}b${b + 1}`;
      let h = relu(
        bn(conv(x, filters, 3, strides, `${name}_conv1`), `${name}_bn1`),
        `${name}_relu1`,
      );
      h = bn(conv(h, filters, 3, 1, `${name}_conv2`), `${name}_bn2`);
      const shortcut =
        strides !== 1 || channels !== filters
          ? bn(conv(x, filters, 1, strides, `${name}_proj`), `${name}_proj_bn`)
          : x;
      x = relu(
        tf.layers.add({ name: `${name}_add` }).apply([h, shortcut]) as SymbolicTensor,
        `${name}_out`,
      );
      channels = filters;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as SymbolicTensor;
  const output = tf.layers
    .dense({
      units: classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, salt++) }),
      kernelRegularizer: reg(),
      biasRegularizer: reg(),
      name: 'classes',
    })
    .apply(x) as SymbolicTensor;
  return tf.model({
    inputs: input,
    outputs: output,
    name: `fgl_resnet${2 + 2 * blocks.reduce((a, b) => a + b, 0)}`,
  });
}

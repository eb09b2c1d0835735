/**
 * Fashion-MNIST's ten classes in label order (0–9), as folder and prompt names. The dataset's own
 * "T-shirt/top" cannot be a folder name, so it is "t-shirt" here; the mini models were trained with
 * exactly these names (tools/mini-models/train.py reads them from this file's JSON twin).
 */
export const FASHION_CLASSES = [
  't-shirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
] as const;

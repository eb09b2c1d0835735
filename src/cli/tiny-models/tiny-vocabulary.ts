/**
 * Words the tiny tokenizers learn as whole tokens. Anything else still tokenizes: both tokenizers
 * are byte-level, so unknown words fall back to single-byte tokens, as in the real CLIP and GPT-2.
 */
// prettier-ignore
export const TINY_WORDS: readonly string[] = [
  // prompt templates and captions
  'a', 'an', 'the', 'of', 'photo', 'picture', 'image', 'scan', 'view', 'close', 'up', 'with', 'and', 'in', 'on',
  'at', 'to', 'for', 'from', 'by', 'is', 'are', 'this', 'that', 'it', 'its', 'or', 'no', 'not', 'one', 'two',
  'three', 'some', 'many', 'small', 'large', 'big', 'little', 'high', 'low', 'quality', 'good', 'bad', 'new',
  'old', 'top', 'bottom', 'left', 'right', 'center', 'side', 'front', 'back', 'dark', 'light', 'bright', 'pale',
  'plain', 'textured', 'pattern', 'patterned', 'smooth', 'rough', 'blurry', 'sharp', 'detailed', 'simple',
  'style', 'type', 'kind', 'sample', 'example', 'class', 'label', 'object', 'background', 'foreground',
  // colours
  'red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink', 'white', 'gray', 'grey', 'black',
  'brown', 'color', 'colour', 'colored',
  // shapes and scenes
  'square', 'circle', 'round', 'line', 'lines', 'stripe', 'stripes', 'dot', 'dots', 'shape', 'person', 'people',
  'man', 'woman', 'child', 'dog', 'cat', 'bird', 'car', 'tree', 'house', 'road', 'sky', 'water', 'field',
  'table', 'room', 'street', 'food', 'flower', 'animal', 'plane', 'ship', 'truck', 'horse', 'frog', 'deer',
  'airplane', 'automobile', 'digit', 'number', 'letter', 'handwritten', 'zero', 'four', 'five', 'six',
  'seven', 'eight', 'nine', 'ten',
  // medical imaging
  'medical', 'clinical', 'patient', 'chest', 'lung', 'lungs', 'heart', 'brain', 'skin', 'lesion', 'tumor',
  'tumour', 'cell', 'cells', 'tissue', 'blood', 'bone', 'x', 'ray', 'xray', 'ct', 'mri', 'ultrasound',
  'radiograph', 'radiology', 'pathology', 'histology', 'slide', 'stain', 'retina', 'retinal', 'fundus', 'eye',
  'normal', 'abnormal', 'benign', 'malignant', 'pneumonia', 'covid', 'effusion', 'nodule', 'mass', 'fracture',
  'edema', 'opacity', 'cancer', 'melanoma', 'nevus', 'carcinoma', 'healthy', 'disease', 'diseased', 'finding',
  'findings', 'positive', 'negative', 'grade', 'stage', 'severe', 'mild', 'moderate', 'present', 'absent',
  'microscopy', 'microscope', 'dermoscopy', 'dermatology', 'biopsy', 'organ', 'liver', 'kidney', 'breast',
  'mammogram', 'abdomen', 'knee', 'hand', 'spine', 'head', 'neck',
];

/**
 * Named colours the tiny CLIP and captioner know: CLIP's text embedding of a colour word points the
 * same way as its image embedding of that colour, and the captioner names the nearest one.
 * RGB in [0, 1].
 */
export const COLOUR_PROTOTYPES: readonly {
  name: string;
  rgb: readonly [number, number, number];
}[] = [
  { name: 'red', rgb: [0.85, 0.1, 0.1] },
  { name: 'orange', rgb: [0.95, 0.55, 0.1] },
  { name: 'yellow', rgb: [0.95, 0.9, 0.15] },
  { name: 'green', rgb: [0.15, 0.7, 0.2] },
  { name: 'cyan', rgb: [0.1, 0.8, 0.85] },
  { name: 'blue', rgb: [0.1, 0.2, 0.85] },
  { name: 'purple', rgb: [0.55, 0.15, 0.7] },
  { name: 'pink', rgb: [0.95, 0.6, 0.75] },
  { name: 'brown', rgb: [0.5, 0.3, 0.12] },
  { name: 'white', rgb: [0.95, 0.95, 0.95] },
  { name: 'gray', rgb: [0.5, 0.5, 0.5] },
  { name: 'black', rgb: [0.05, 0.05, 0.05] },
];

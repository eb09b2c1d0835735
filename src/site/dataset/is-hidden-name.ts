// OS and tool droppings that are never part of a dataset (compared case-insensitively).
const HIDDEN_NAMES = new Set([
  'thumbs.db',
  'ehthumbs.db',
  'ehthumbs_vista.db',
  'desktop.ini',
  '__macosx',
  '$recycle.bin',
  'system volume information',
  'icon\r',
]);

/** Dot files and folders (.DS_Store, ._foo.jpg AppleDouble, .git …) and OS metadata files. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.') || HIDDEN_NAMES.has(name.toLowerCase());
}

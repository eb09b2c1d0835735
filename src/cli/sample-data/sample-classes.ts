/**
 * Procedural classes: plain shapes, colours and textures that a real CLIP and a real Stable
 * Diffusion know by name, so the demo means something with real models.
 */
export type SampleClass = { name: string; draw: (p: DrawParams) => string };
export type DrawParams = { cx: number; cy: number; r: number; rot: number; hueShift: number; size: number };

const hsl = (h: number, s: number, l: number) => `hsl(${((h % 360) + 360) % 360},${s}%,${l}%)`;

function polygon(n: number, p: DrawParams, fill: string, inner?: number): string {
  const pts: string[] = [];
  const steps = inner ? n * 2 : n;
  for (let i = 0; i < steps; i++) {
    const rr = inner && i % 2 === 1 ? p.r * inner : p.r;
    const a = (i / steps) * 2 * Math.PI - Math.PI / 2;
    pts.push(`${(p.cx + rr * Math.cos(a)).toFixed(1)},${(p.cy + rr * Math.sin(a)).toFixed(1)}`);
  }
  return `<polygon points="${pts.join(' ')}" fill="${fill}" transform="rotate(${p.rot.toFixed(1)} ${p.cx} ${p.cy})"/>`;
}

function pattern(id: string, body: string, tile: number, rot: number): string {
  return `<defs><pattern id="${id}" width="${tile}" height="${tile}" patternUnits="userSpaceOnUse" patternTransform="rotate(${rot.toFixed(1)})">${body}</pattern></defs>`;
}

export const SAMPLE_CLASSES: readonly SampleClass[] = [
  { name: 'red circle', draw: (p) => `<circle cx="${p.cx}" cy="${p.cy}" r="${p.r}" fill="${hsl(0 + p.hueShift, 80, 50)}"/>` },
  {
    name: 'blue square',
    draw: (p) =>
      `<rect x="${p.cx - p.r}" y="${p.cy - p.r}" width="${2 * p.r}" height="${2 * p.r}" fill="${hsl(225 + p.hueShift, 75, 45)}" transform="rotate(${p.rot.toFixed(1)} ${p.cx} ${p.cy})"/>`,
  },
  { name: 'green triangle', draw: (p) => polygon(3, p, hsl(120 + p.hueShift, 65, 40)) },
  { name: 'yellow star', draw: (p) => polygon(5, p, hsl(52 + p.hueShift, 95, 55), 0.45) },
  { name: 'purple hexagon', draw: (p) => polygon(6, p, hsl(280 + p.hueShift, 60, 45)) },
  {
    name: 'orange diamond',
    draw: (p) => polygon(4, { ...p, rot: p.rot % 20 }, hsl(28 + p.hueShift, 95, 52)),
  },
  {
    name: 'black and white stripes',
    draw: (p) =>
      pattern('s', `<rect width="${p.size / 16}" height="${p.size / 8}" fill="black"/>`, p.size / 8, p.rot) +
      `<rect width="${p.size}" height="${p.size}" fill="url(#s)"/>`,
  },
  {
    name: 'checkerboard',
    draw: (p) => {
      const t = p.size / 8;
      return (
        pattern('c', `<rect width="${t / 2}" height="${t / 2}" fill="black"/><rect x="${t / 2}" y="${t / 2}" width="${t / 2}" height="${t / 2}" fill="black"/>`, t, p.rot % 45) +
        `<rect width="${p.size}" height="${p.size}" fill="url(#c)"/>`
      );
    },
  },
  {
    name: 'polka dots',
    draw: (p) => {
      const t = p.size / 6;
      return (
        pattern('d', `<circle cx="${t / 2}" cy="${t / 2}" r="${t / 5}" fill="${hsl(330 + p.hueShift, 70, 50)}"/>`, t, p.rot) +
        `<rect width="${p.size}" height="${p.size}" fill="url(#d)"/>`
      );
    },
  },
  {
    name: 'white cross',
    draw: (p) =>
      `<g transform="rotate(${(p.rot % 30).toFixed(1)} ${p.cx} ${p.cy})" fill="white"><rect x="${p.cx - p.r}" y="${p.cy - p.r / 3.5}" width="${2 * p.r}" height="${p.r / 1.75}"/><rect x="${p.cx - p.r / 3.5}" y="${p.cy - p.r}" width="${p.r / 1.75}" height="${2 * p.r}"/></g>`,
  },
];

import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is a UMD bundle whose module.exports is the function itself; its typings describe an ES
// module with a default export, which Node's CommonJS interop hands over as the whole module.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

/** Decodes a PNG with a real QR decoder (pngjs reads the pixels, jsQR finds and decodes the code). */
export function decodeQrPng(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}

/**
 * Rasterises the SVG the qrcode package draws (a viewBox of N x N modules, one stroked path of
 * `M x y`, `m dx dy` and `h n` runs, each run one module high) into RGBA pixels, then decodes it
 * with jsQR. Anything outside that subset throws, so a change in the SVG is noticed, not guessed at.
 */
export function decodeQrSvg(svg: string, pixelsPerModule = 6): string | null {
  const box = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  const path = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(svg);
  if (!box || !path) throw new Error('not an SVG of the qrcode package');
  const size = Number(box[1]);
  const dark = new Uint8Array(size * size);
  let x = 0;
  let y = 0;
  for (const [, cmd, args] of path[1].matchAll(/([MmhHvVz])([^MmhHvVz]*)/g)) {
    const n = args.trim().split(/[ ,]+/).filter(Boolean).map(Number);
    if (cmd === 'M') [x, y] = n;
    else if (cmd === 'm') {
      x += n[0];
      y += n[1];
    } else if (cmd === 'h') {
      const row = Math.floor(y);
      for (let c = x; c < x + n[0]; c++) dark[row * size + c] = 1;
      x += n[0];
    } else throw new Error(`unexpected path command ${cmd}`);
  }
  const side = size * pixelsPerModule;
  const pixels = new Uint8ClampedArray(side * side * 4);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      const on = dark[Math.floor(py / pixelsPerModule) * size + Math.floor(px / pixelsPerModule)];
      const i = (py * side + px) * 4;
      pixels[i] = pixels[i + 1] = pixels[i + 2] = on ? 0 : 255;
      pixels[i + 3] = 255;
    }
  }
  return jsQR(pixels, side, side)?.data ?? null;
}

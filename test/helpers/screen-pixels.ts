// The guest's screen as the browser draws it, compared with a reference image: the
// console's canvas read out of the page, as RGB, and two pixel measures (shared by the
// browser tests of the console and of the demo).
import type { Page } from 'playwright-core';

export interface Rgb {
  readonly width: number;
  readonly height: number;
  /** width × height × 3 bytes. */
  readonly pixels: Buffer;
}

/** The console canvas' pixels, as RGB. */
export async function canvasPixels(page: Page): Promise<Rgb> {
  // A string: the test's TypeScript has no DOM types; this runs in the page.
  const { width, height, rgba } = await page.evaluate<{
    width: number;
    height: number;
    rgba: string;
  }>(`(() => {
    const canvas = document.querySelector('[data-testid="vnc-screen"] canvas');
    if (canvas === null) throw new Error('no canvas');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let binary = '';
    for (let i = 0; i < data.length; i += 0x8000)
      binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return { width: canvas.width, height: canvas.height, rgba: btoa(binary) };
  })()`);
  const bytes = Buffer.from(rgba, 'base64');
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < bytes.length; i += 4, j += 3) {
    pixels[j] = bytes[i]!;
    pixels[j + 1] = bytes[i + 1]!;
    pixels[j + 2] = bytes[i + 2]!;
  }
  return { width, height, pixels };
}

export function meanDifference(a: Rgb, b: Rgb): number {
  let sum = 0;
  for (let i = 0; i < a.pixels.length; i++) sum += Math.abs(a.pixels[i]! - b.pixels[i]!);
  return sum / a.pixels.length;
}

/** Pixels whose colour differs from the first one: 0 for a blank screen. */
export function pixelsUnlikeFirst(image: Rgb): number {
  const [r, g, b] = image.pixels;
  let count = 0;
  for (let i = 0; i < image.pixels.length; i += 3)
    if (image.pixels[i] !== r || image.pixels[i + 1] !== g || image.pixels[i + 2] !== b) count++;
  return count;
}

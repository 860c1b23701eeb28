// Builds the project's own test guest (guest/bootcount/bootcount.asm) with nasm and
// writes disk images for it: boot sector in sector 0, the counter block in sector 1.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCommandRunner } from '../src/system/command-runner.js';

export const GUEST_SOURCE = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../guest/bootcount/bootcount.asm',
);

/** How the guest behaves after printing its line (byte 4 of the counter block). */
export const GuestMode = {
  /** Wait for the ACPI power button, then power off. */
  waitForPowerButton: 0,
  /** Power off at once. */
  powerOff: 1,
  /** Ignore the power button: a supervisor has to escalate to quit or kill. */
  ignorePowerButton: 2,
} as const;
export type GuestMode = (typeof GuestMode)[keyof typeof GuestMode];

export const GUEST_LINE = /LABVIRT-GUEST boot=(\d+|cdrom)/g;

let bootSector: Promise<Buffer> | undefined;

/** The 512-byte boot sector, assembled once per process. */
export function assembleBootSector(): Promise<Buffer> {
  bootSector ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'labvirt-guest-'));
    try {
      const output = join(dir, 'bootcount.bin');
      const result = await nodeCommandRunner.run(['nasm', '-f', 'bin', '-o', output, GUEST_SOURCE]);
      if (result.code !== 0) throw new Error(`nasm failed: ${result.stderr.trim()}`);
      const sector = await readFile(output);
      if (sector.length !== 512 || sector.readUInt16LE(510) !== 0xaa55) {
        throw new Error('nasm did not produce a 512-byte boot sector');
      }
      return sector;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return bootSector;
}

/** A raw disk image (1 MiB) that boots the guest with its counter at zero. */
export async function writeGuestDisk(path: string, mode: GuestMode): Promise<void> {
  const image = Buffer.alloc(1024 * 1024);
  (await assembleBootSector()).copy(image, 0);
  image.write('LVBC', 512, 'latin1');
  image[516] = mode;
  await writeFile(path, image);
}

/** The boot count recorded in a raw guest disk. */
export async function readBootCount(path: string): Promise<number> {
  const image = await readFile(path);
  if (image.toString('latin1', 512, 516) !== 'LVBC') return 0;
  return image.readUInt32LE(520);
}

/** The boots the guest reported in a serial log, in order. */
export function bootsInLog(log: string): string[] {
  return [...log.matchAll(GUEST_LINE)].map((match) => match[1] ?? '');
}

/** The guest as an El Torito (no emulation) bootable ISO, made with genisoimage. */
export async function writeGuestIso(path: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'labvirt-iso-'));
  try {
    // No-emulation boot loads 4 sectors of 512 bytes; pad the boot sector to 2 KiB.
    const boot = Buffer.alloc(2048);
    (await assembleBootSector()).copy(boot, 0);
    await writeFile(join(dir, 'boot.img'), boot);
    const result = await nodeCommandRunner.run([
      'genisoimage',
      '-quiet',
      '-V',
      'LABVIRT',
      '-b',
      'boot.img',
      '-no-emul-boot',
      '-boot-load-size',
      '4',
      '-o',
      path,
      dir,
    ]);
    if (result.code !== 0) throw new Error(`genisoimage failed: ${result.stderr.trim()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The Linux test guest (src/guest/linux-guest.ts) for tests that need a real network stack:
// it takes its address by DHCP, reports it on the serial console and echoes on TCP 3389.
import { buildLinuxGuest, kvmIsPvm } from '../../src/guest/linux-guest.js';
import { testAccel } from './supervisor.js';

/** The guest echoes whatever it receives on this port (and on 5900), many connections at once. */
export const LINUX_GUEST_PORT = 3389;
export const LINUX_GUEST_VNC_PORT = 5900;
/** Enough for Debian's kernel and the initramfs, with room to spare. */
export const LINUX_GUEST_MEMORY_MIB = 128;
/**
 * How long to wait for the guest's `ip=` line. It boots in seconds under KVM, but under TCG
 * decompressing the kernel alone takes half a minute, longer on a loaded machine.
 */
export const LINUX_GUEST_BOOT_MS = 240_000;

/** The line the guest prints when it boots, before asking for an address. */
export const LINUX_GUEST_BOOT_LINE = /labvirt-guest: boot/;

let image: Promise<string> | undefined;

/** The guest's raw disk image, built (or found in the cache) once per process. */
export function linuxGuestImage(): Promise<string> {
  image ??= buildLinuxGuest({ log: (line) => console.error(`linux-guest: ${line}`) });
  return image;
}

/** The addresses the guest reported, in order (one per DHCP bound or renew). */
export function guestAddresses(serialLog: string): { ip: string; mac: string }[] {
  const line = /labvirt-guest: ip=(\d{1,3}(?:\.\d{1,3}){3}) mac=([0-9a-f]{2}(?::[0-9a-f]{2}){5})/g;
  return [...serialLog.matchAll(line)].map((m) => ({ ip: m[1] ?? '', mac: m[2] ?? '' }));
}

/**
 * The accelerator to boot this guest with: TCG where KVM is PVM (see kvmIsPvm).
 * LABVIRT_TEST_LINUX_GUEST_ACCEL overrides.
 */
export async function linuxGuestAccel(): Promise<'kvm' | 'tcg'> {
  const forced = process.env['LABVIRT_TEST_LINUX_GUEST_ACCEL'];
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (kvmIsPvm()) return 'tcg';
  return testAccel();
}

// A supervisor wired to the real parts (real QEMU, real qemu-img, real QMP client).
import { localSupervisor } from '../../src/agent/local-host.js';
import type { VmLaunch } from '../../src/qemu/process/supervisor.js';
import { probeKvm } from '../../src/qemu/cmdline/accel.js';
import { macFromUuid } from '../../src/qemu/cmdline/validate.js';
import { randomUUID } from 'node:crypto';

export { localSupervisor as realSupervisor };

export async function testAccel(): Promise<'kvm' | 'tcg'> {
  return (await probeKvm()).usable ? 'kvm' : 'tcg';
}

/** A small VM booting the given raw disks, defaults suited to the test guest. */
export async function guestLaunch(
  name: string,
  disks: string[],
  extra: Partial<VmLaunch> = {},
): Promise<VmLaunch> {
  const uuid = randomUUID();
  return {
    name,
    uuid,
    memoryMiB: 32,
    cpus: 1,
    disks: disks.map((path) => ({ path, format: 'raw' })),
    diskBus: 'ide',
    boot: 'disk',
    nic: { model: 'virtio', mac: macFromUuid(uuid) },
    net: { mode: 'none' },
    accel: await testAccel(),
    ...extra,
  };
}

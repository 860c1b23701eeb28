// KVM when /dev/kvm is usable, TCG otherwise (with a warning), unless the user insists.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { LabvirtError } from '../../domain/errors.js';
import type { Accel, AccelRequest } from './vm-spec.js';

export interface KvmProbe {
  readonly usable: boolean;
  /** Why not, when not usable. */
  readonly reason?: string;
}

export interface AccelChoice {
  readonly accel: Accel;
  readonly warning?: string;
}

export function chooseAccel(request: AccelRequest, kvm: KvmProbe): AccelChoice {
  if (request === 'tcg') return { accel: 'tcg' };
  if (kvm.usable) return { accel: 'kvm' };
  const reason = kvm.reason ?? 'unknown reason';
  if (request === 'kvm') throw new LabvirtError('KVM_UNAVAILABLE', { reason }, { field: 'accel' });
  return {
    accel: 'tcg',
    warning: `KVM is not usable (${reason}): running under TCG software emulation, which is much slower`,
  };
}

/**
 * Usable means this process can open /dev/kvm for reading and writing, as QEMU will:
 * opening it (not access(2), which asks for the real rather than the effective user)
 * also catches device cgroups and mandatory access control.
 */
export async function probeKvm(device = '/dev/kvm'): Promise<KvmProbe> {
  try {
    await (await open(device, constants.O_RDWR)).close();
    return { usable: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      usable: false,
      reason: code === 'ENOENT' ? `${device} does not exist` : `${device}: ${code ?? 'error'}`,
    };
  }
}

// A profile of the project's boot-sector test guest made through the API, as a user would:
// POST /profiles, the guest's disk written into an import directory, POST …/import, and
// the import job followed until it succeeded. The cluster tests and the benchmarks of real
// servers (bench/idle-cost.ts) make theirs this way.
import { join } from 'node:path';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { waitFor } from './env.js';

/** Calls the API (path under /api/v1) and expects `status` (default 200): the answer's body. */
export type ApiCall = <T>(
  method: string,
  path: string,
  body?: unknown,
  status?: number,
) => Promise<T>;

/** The profile `name` (1 vCPU, 32 MiB, VNC) of the guest that waits for the power button. */
export async function importGuestProfile(
  api: ApiCall,
  name: string,
  importDir: string,
): Promise<{ id: string }> {
  const profile = await api<{ id: string }>(
    'POST',
    '/profiles',
    { name, memoryMiB: 32, cpus: 1, nicModel: 'virtio', diskBus: 'ide', display: 'vnc' },
    201,
  );
  const source = join(importDir, `${name}.img`);
  await writeGuestDisk(source, GuestMode.waitForPowerButton);
  const job = await api<{ id: string }>(
    'POST',
    `/profiles/${name}/import`,
    { path: source, format: 'raw' },
    202,
  );
  await waitFor(
    `the import of ${name}`,
    async () => {
      const view = await api<{ state: string; error: unknown }>('GET', `/jobs/${job.id}`);
      if (view.state === 'failed') throw new Error(`import failed: ${JSON.stringify(view.error)}`);
      return view.state === 'succeeded' ? true : undefined;
    },
    120_000,
    250,
  );
  return profile;
}

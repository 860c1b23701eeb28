// The invariants the process-fault tests check after a restart, on the processes (/proc),
// the files (run, overlay and image store directories) and the SQLite database.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ACTIVE_STATES } from '../../src/controller/services/vms.js';
import { countBy } from '../helpers/cluster.js';
import type { FaultServer, Qemu, VmView } from './faults-server.js';

/** sha256 (hex) of a file, streamed (versions may be hundreds of MiB). */
export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Every active VM (API view) has exactly one live QEMU, with its uuid and the pid the API
 * shows; no QEMU of the server's directory lacks an active VM; one QEMU per MAC.
 */
export function assertOneQemuPerVm(vms: readonly VmView[], qemus: readonly Qemu[]): void {
  for (const vm of vms.filter((view) => view.state === 'running')) {
    const mine = qemus.filter((qemu) => qemu.uuid === vm.id);
    assert.equal(mine.length, 1, `one QEMU for ${vm.name}: ${mine.map((q) => q.pid).join(',')}`);
    assert.equal(mine[0]?.pid, vm.pid, `${vm.name}'s pid as the API shows it`);
  }
  const ids = new Set(vms.map((vm) => vm.id));
  assert.deepEqual(
    qemus.filter((qemu) => !ids.has(qemu.uuid)).map((q) => `${q.name} ${q.uuid} pid ${q.pid}`),
    [],
    'no QEMU without an active VM',
  );
  const macs = countBy(qemus, (q) => /mac=([0-9a-f:]{17})/i.exec(q.argv.join(' '))?.[1] ?? q.uuid);
  assert.deepEqual(
    [...macs].filter(([, n]) => n > 1),
    [],
    'no MAC served by two QEMUs',
  );
}

/** The run and overlay directories hold only live QEMUs' VMs. */
export async function assertDirsOnlyForLiveVms(server: FaultServer): Promise<void> {
  const live = new Set((await server.qemus()).map((qemu) => qemu.name));
  const stray = (names: string[]) => names.filter((name) => !live.has(name));
  assert.deepEqual(stray(await server.overlayDirs()), [], 'overlays only of live VMs');
  assert.deepEqual(stray(await server.runDirs()), [], 'run directories only of live VMs');
}

/**
 * With the server down, in its SQLite file: at most one active VM row per terminal (inv4),
 * and the active rows are exactly the live QEMUs (by uuid).
 */
export async function assertDbMatchesProcesses(server: FaultServer): Promise<void> {
  const rows = await server.withDb((db) =>
    db
      .selectFrom('vms')
      .select(['id', 'name', 'state', 'terminal_id'])
      .where('state', 'in', ACTIVE_STATES)
      .execute(),
  );
  const perTerminal = countBy(
    rows.filter((row) => row.terminal_id !== null),
    (row) => row.terminal_id ?? '',
  );
  assert.deepEqual(
    [...perTerminal].filter(([, n]) => n > 1),
    [],
    'at most one active VM row per terminal',
  );
  const qemus = await server.qemus();
  assert.deepEqual(
    rows.map((row) => `${row.id} ${row.state}`).sort(),
    qemus.map((qemu) => `${qemu.uuid} running`).sort(),
    'the active rows are the live QEMUs, all running',
  );
}

/**
 * With the server down: every version row has its sealed (read-only) file whose sha256 is
 * the row's; every file of the store is a version's or an open admin session's draft; the
 * work directory is empty (the last start removed what an interrupted operation left).
 */
export async function assertStoreMatchesDb(server: FaultServer): Promise<void> {
  const { versions, drafts } = await server.withDb(async (db) => ({
    versions: await db.selectFrom('versions').select(['id', 'file', 'sha256']).execute(),
    drafts: await db.selectFrom('admin_sessions').select(['draft_file']).execute(),
  }));
  const root = join(server.data, 'images');
  for (const version of versions) {
    const path = join(root, version.file);
    const info = await stat(path).catch(() => undefined);
    assert.ok(info !== undefined, `version ${version.id}'s file ${version.file} exists`);
    assert.equal(info.mode & 0o222, 0, `version ${version.file} is sealed (read-only)`);
    assert.equal(await sha256Of(path), version.sha256, `version ${version.file}'s sha256`);
  }
  const known = new Set([...versions.map((v) => v.file), ...drafts.map((d) => d.draft_file)]);
  assert.deepEqual(
    (await server.storeFiles()).filter((file) => !known.has(file)),
    [],
    'no file in the store that is neither a version nor a draft (no partial file left)',
  );
}

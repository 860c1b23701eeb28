// Real VMs of profiles through the API: an API fixture (one dialect) whose agent is a
// LocalAgent on a real supervisor (real QEMU, the boot-counting test guest), an image store
// and a separate overlay directory, and helpers to make a profile with a published version
// (ImageStore.import, then the versions row and published_version_id straight in the
// database), to wait for VM states and to look at the real processes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { buildApp, type ControllerDeps } from '../../src/controller/app.js';
import { localSupervisor } from '../../src/agent/local-host.js';
import type { VmView } from '../../src/controller/services/vms.js';
import type { Kysely } from 'kysely';
import type { NewProfile } from '../../src/db/index.js';
import type { AdminPolicy, Database } from '../../src/db/schema.js';
import { ImageStore, type SealedVersion } from '../../src/images/image-store.js';
import type { RunDir } from '../../src/qemu/process/run-dir.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { procProcessTable, sameArgv } from '../../src/system/process-table.js';
import { bootsInLog, GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { createApiFixture, type ApiFixture, type ApiUser } from './api.js';
import type { DialectUnderTest } from './databases.js';
import { processAlive, tempDir, waitFor } from './env.js';

export interface VmFixture extends ApiFixture {
  readonly dir: string;
  readonly overlayRoot: string;
  /** The ISO library of the agent and the app (profiles' CD-ROMs). */
  readonly isoDir: string;
  readonly store: ImageStore;
  agent: LocalAgent;
  supervisor: Supervisor;
  /** A new supervisor and agent on the same run directory, and a new app: a restart. */
  restart(): Promise<void>;
}

export interface TestProfile {
  readonly id: string;
  readonly name: string;
  readonly version: SealedVersion;
}

export async function vmFixture(
  dialect: DialectUnderTest,
  deps: Partial<
    Pick<ControllerDeps, 'vmStopGraceMs' | 'now' | 'terminalRateLimit' | 'vmWatchIntervalMs'>
  > = {},
): Promise<VmFixture> {
  const temp = await tempDir('lv-vm-');
  const dir = await realpath(temp.path);
  const overlayRoot = join(dir, 'overlays');
  const importDir = join(dir, 'import');
  const isoDir = join(dir, 'iso');
  await mkdir(overlayRoot);
  await mkdir(importDir);
  await mkdir(isoDir);
  const store = new ImageStore({ root: join(dir, 'images'), importDirs: [importDir] });
  const startAgent = async () => {
    const supervisor = localSupervisor(join(dir, 'run'), { overlayRoot, images: store });
    supervisor.setMaxListeners(0);
    const { agent } = await LocalAgent.start(supervisor, { images: store, isoDir });
    return { supervisor, agent };
  };
  let parts = await startAgent();
  const api = await createApiFixture(dialect, {
    agents: [parts.agent],
    images: store,
    isoDir,
    ...deps,
  });
  let app = api.app;
  // Tests start more small VMs at once than this machine's CPUs allow under the default
  // vCPU ratio of placement: the local host may overcommit more here.
  await app.agents.localHostId();
  await api.database.db
    .updateTable('hosts')
    .set({ cpu_ratio: 64 })
    .where('is_local', '=', 1)
    .execute();
  const fixture: VmFixture = {
    ...api,
    dir,
    overlayRoot,
    isoDir,
    store,
    agent: parts.agent,
    supervisor: parts.supervisor,
    get app() {
      return app;
    },
    request: ({ as, headers, ...options }) =>
      app.inject({
        ...options,
        headers: {
          ...(as === undefined ? {} : { authorization: `Bearer ${as.token}` }),
          ...headers,
        },
      }),
    restart: async () => {
      await app.close();
      await parts.agent.close();
      parts = await startAgent();
      fixture.agent = parts.agent;
      fixture.supervisor = parts.supervisor;
      app = await buildApp({
        db: api.database.db,
        agents: [parts.agent],
        images: store,
        isoDir,
        ...deps,
      });
      await app.ready();
      await app.vms.reconcile();
    },
    close: async () => {
      // The app first: it waits for the VM starts still under way (a terminal's VM starts
      // in the background), so none comes up after killAll and keeps the process alive.
      await app.close();
      await killAll(parts.supervisor.runDir);
      await parts.agent.close();
      // Its gateway daemon outlives agents by design: not the test process, though.
      await stopGatewayDaemon(parts.supervisor.runDir.root);
      await api.database.drop();
      await temp.cleanup();
    },
  };
  return fixture;
}

/**
 * The rows of a profile whose published version 1 is `version` (its id is the version's
 * profile id): the nasm guest's settings unless `settings` says otherwise.
 */
export async function publishedProfile(
  db: Kysely<Database>,
  version: SealedVersion,
  settings: Partial<Omit<NewProfile, 'id' | 'published_version_id'>> = {},
): Promise<string> {
  const id = version.ref.profileId;
  const now = new Date().toISOString();
  await db
    .insertInto('profiles')
    .values({
      id,
      name: `guest-${id.slice(0, 6)}`,
      memory_mib: 32,
      cpus: 1,
      nic_model: 'virtio',
      disk_bus: 'ide',
      display: 'vnc',
      guest_port: null,
      cdrom: null,
      admin_policy: 'shared',
      created_at: now,
      updated_at: now,
      ...settings,
      published_version_id: null,
    })
    .execute();
  await db
    .insertInto('versions')
    .values({
      id: version.ref.versionId,
      profile_id: id,
      number: 1,
      parent_version_id: null,
      file: version.file,
      format: 'qcow2',
      size_bytes: version.sizeBytes,
      sha256: version.sha256,
      created_by: null,
      created_at: now,
    })
    .execute();
  await db
    .updateTable('profiles')
    .set({ published_version_id: version.ref.versionId })
    .where('id', '=', id)
    .execute();
  return id;
}

/** SIGKILLs every QEMU of the run directory (whatever a failed test left). */
export async function killAll(runDir: RunDir): Promise<void> {
  for (const name of await runDir.names()) {
    const pid = await runDir.readPid(name);
    if (pid === undefined || !(await processAlive(pid))) continue;
    process.kill(pid, 'SIGKILL');
    await waitFor('a killed QEMU to go', async () =>
      (await processAlive(pid)) ? undefined : true,
    );
  }
}

/** A profile whose published version 1 is the test guest's disk, imported into the store. */
export async function guestProfile(
  f: VmFixture,
  options: { mode: GuestMode; policy?: AdminPolicy; name?: string },
): Promise<TestProfile> {
  const id = randomUUID();
  const name = options.name ?? `guest-${id.slice(0, 6)}`;
  const disk = join(f.dir, 'import', `${id}.img`);
  await writeGuestDisk(disk, options.mode);
  const version = await f.store.import(
    disk,
    { profileId: id, versionId: randomUUID() },
    {
      format: 'raw',
    },
  );
  await publishedProfile(f.database.db, version, {
    name,
    admin_policy: options.policy ?? 'shared',
  });
  return { id, name, version };
}

/** Makes the profile one of the lab's and its default: what its terminals get. */
export async function labServes(f: VmFixture, labId: string, profileId: string): Promise<void> {
  const db = f.database.db;
  await db.insertInto('lab_profiles').values({ lab_id: labId, profile_id: profileId }).execute();
  await db
    .updateTable('labs')
    .set({ default_profile_id: profileId })
    .where('id', '=', labId)
    .execute();
}

export function json<T>(response: LightMyRequestResponse, status: number): T {
  assert.equal(response.statusCode, status, response.body);
  return response.json<T>();
}

export async function startClient(f: VmFixture, profile: string, as?: ApiUser): Promise<VmView> {
  const response = await f.request({
    method: 'POST',
    url: '/api/v1/vms',
    as: as ?? f.users.operator,
    payload: { profile },
  });
  return json<VmView>(response, 201);
}

export async function vmRow(f: VmFixture, id: string): Promise<VmView> {
  return json<VmView>(
    await f.request({ method: 'GET', url: `/api/v1/vms/${id}`, as: f.users.viewer }),
    200,
  );
}

/** Up to 60 s: a state, not a speed, is checked (two cores are shared with other suites). */
export async function waitForState(f: VmFixture, id: string, state: string): Promise<VmView> {
  return waitFor(
    `VM ${id} ${state}`,
    async () => {
      const vm = await vmRow(f, id);
      return vm.state === state ? vm : undefined;
    },
    60_000,
  );
}

export async function serial(f: VmFixture, id: string): Promise<string> {
  const response = await f.request({
    method: 'GET',
    url: `/api/v1/vms/${id}/serial`,
    as: f.users.viewer,
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.match(String(response.headers['content-type']), /^text\/plain/);
  return response.body;
}

/** The boot count the guest printed on the VM's serial console, once it has. */
export async function bootCount(f: VmFixture, id: string): Promise<number> {
  // Generous: on two cores shared with other suites' VMs a boot can take a while.
  const boots = await waitFor(
    `a boot line of ${id}`,
    async () => {
      const found = bootsInLog(await serial(f, id));
      return found.length > 0 ? found : undefined;
    },
    60_000,
  );
  assert.equal(boots.length, 1, `one boot line: ${boots.join(',')}`);
  return Number(boots[0]);
}

export async function overlaysLeft(f: VmFixture): Promise<string[]> {
  return readdir(f.overlayRoot);
}

/** The QEMU processes of the run directory that really run, by VM name (from /proc). */
export async function liveQemus(runDir: RunDir): Promise<Map<string, number>> {
  const live = new Map<string, number>();
  for (const name of await runDir.names()) {
    const [record, pid] = await Promise.all([runDir.readRecord(name), runDir.readPid(name)]);
    if (record === undefined || pid === undefined) continue;
    const cmdline = await procProcessTable.liveCmdline(pid);
    if (cmdline !== undefined && sameArgv(cmdline, record.argv)) live.set(name, pid);
  }
  return live;
}

export { GuestMode };

// Issue 10, process faults: SIGKILL of the controller (the embedded `labvirt server`, SQLite,
// in-process agent) in the middle of a lab start, of an admin publish and of an image
// import, and SIGKILL of a QEMU in the middle of a lab start. After each, the server is
// started again and the invariants are checked on the processes (/proc), the files (run,
// overlay and image store directories) and the SQLite file, not only through the API.
// (The cluster's cases, an agent SIGKILLed with VMs running and the controller SIGKILLed
// during a lab start on PostgreSQL, are in test/integration/cluster.solo.test.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { Cluster, countBy, type ClusterAgent } from '../helpers/cluster.js';
import { processAlive, runProcess, waitFor } from '../helpers/env.js';
import { processesUnder } from '../helpers/proc-scan.js';
import {
  assertDbMatchesProcesses,
  assertDirsOnlyForLiveVms,
  assertOneQemuPerVm,
  assertStoreMatchesDb,
  sha256Of,
} from './faults-checks.js';
import { FaultServer, type Qemu, type VmView } from './faults-server.js';
import { faultInjected, invariant } from './ledger.js';

const LAB = 'alpha';
const LAB_SIZE = 4;

interface LabStart {
  readonly started: number;
  readonly running: number;
  readonly failed: readonly { terminal: string; reason: string }[];
}

interface Job {
  readonly id: string;
  readonly state: string;
  readonly progress?: { readonly fraction?: number } | null;
  readonly result?: { readonly versionId?: string } | null;
}

describe('SIGKILL of the controller and of QEMUs, embedded server on SQLite', () => {
  let server: FaultServer;
  let macs: string[] = [];

  /** The lab's active VMs (API views). */
  const labVms = async (): Promise<VmView[]> => {
    const mine = new Set(macs);
    return (await server.activeVms()).filter((vm) => vm.terminal !== null && mine.has(vm.terminal));
  };
  /** Waits until no VM is starting or stopping; the active views then. */
  const settled = (): Promise<VmView[]> =>
    waitFor(
      'no VM starting or stopping',
      async () => {
        const vms = await server.activeVms();
        return vms.every((vm) => vm.state === 'running' && vm.pid !== null) ? vms : undefined;
      },
      120_000,
      200,
    );
  /** The lab started again until every terminal has a running VM. */
  const converge = async (): Promise<VmView[]> => {
    const again = await server.ok<LabStart>('POST', `/labs/${LAB}/start`, {});
    assert.deepEqual(again.failed, [], 'the repeated lab start fails for no terminal');
    assert.equal(again.started + again.running, LAB_SIZE);
    await settled();
    const vms = await labVms();
    assert.equal(vms.length, LAB_SIZE, 'every terminal served');
    return vms;
  };
  /** Every check of the VMs after a restart: API vs /proc, then files, then (down) the DB. */
  const checkVms = async (label: string): Promise<void> => {
    await invariant(
      `inv5: ${label}: each running VM has exactly one live QEMU, none orphaned`,
      async () => assertOneQemuPerVm(await settled(), await server.qemus()),
    );
    await invariant(`${label}: run and overlay directories only of live VMs`, () =>
      assertDirsOnlyForLiveVms(server),
    );
    await server.stop();
    try {
      await invariant(
        `inv4: ${label}: one active VM row per terminal, the rows are the live QEMUs`,
        () => assertDbMatchesProcesses(server),
      );
    } finally {
      await server.start();
    }
  };

  before(async () => {
    server = await FaultServer.create();
    await server.guestProfile('tiny');
    macs = await server.lab(LAB, 'tiny', LAB_SIZE, 1);
  });
  after(async () => {
    await server?.close();
  });

  it('SIGKILL the controller mid lab start: after restart no VM lost, duplicated or orphaned', async (t) => {
    const request = server
      .request('POST', `/labs/${LAB}/start`, {})
      .catch((error: unknown) => error);
    // While VMs are starting: two of the four have their QEMU running, the others not yet.
    await waitFor(
      'the lab start to be under way',
      async () => ((await server.pidfileQemus()).length >= 2 ? true : undefined),
      60_000,
      5,
    );
    faultInjected('SIGKILL controller: mid lab start');
    await server.kill();
    const answer = await request;
    const atKill = await server.withDb((db) => db.selectFrom('vms').select(['state']).execute());
    t.diagnostic(
      `killed with ${atKill.length} rows (${[...countBy(atKill, (r) => r.state)].join(' ')}), ` +
        `${(await server.qemus()).length} QEMUs; the start: ${answer instanceof Error ? answer.message : 'answered'}`,
    );
    const alive = await server.pidfileQemus();
    await server.start();
    await invariant(
      'inv5: controller SIGKILL mid lab start: every QEMU running at the kill is kept, not relaunched',
      async () => {
        const vms = await settled();
        for (const qemu of alive) {
          assert.equal(
            await processAlive(qemu.pid),
            true,
            `${qemu.name} (pid ${qemu.pid}) still runs`,
          );
          const vm = vms.find((view) => view.id === qemu.uuid);
          assert.equal(vm?.pid, qemu.pid, `${qemu.name}'s row is running with that QEMU`);
        }
      },
    );
    await checkVms('controller SIGKILL mid lab start');
    await invariant(
      'controller SIGKILL mid lab start: the lab start repeated converges',
      async () => {
        assertOneQemuPerVm(await converge(), await server.qemus());
      },
    );
    await checkVms('after the repeated lab start');
  });

  /**
   * SIGKILLs `victim` (a QEMU of the lab serving `terminal`), then checks that the server
   * notices (its row ends, its run and overlay directories go) and that the terminal's next
   * requests get it one new VM. `backoff`: the VM died while starting, so the terminal is
   * told to wait (TERMINAL_VM_FAILED, 503) for a while first, by design.
   */
  const killQemu = async (victim: Qemu, terminal: string, when: string, backoff: boolean) => {
    await invariant(
      `a QEMU SIGKILLed ${when} is noticed: its row ends, its directories go`,
      async () => {
        const view = await waitFor(
          `${victim.name}'s row to end`,
          async () => {
            const vm = await server.ok<VmView>('GET', `/vms/${victim.uuid}`);
            return ['starting', 'running', 'stopping'].includes(vm.state) ? undefined : vm;
          },
          60_000,
          100,
        );
        assert.notEqual(view.state, 'running');
        assert.equal(await processAlive(victim.pid), false);
        await waitFor(
          `${victim.name}'s directories to go`,
          async () =>
            (await server.overlayDirs()).includes(victim.name) ||
            (await server.runDirs()).includes(victim.name)
              ? undefined
              : true,
          30_000,
          100,
        );
      },
    );
    // The terminal asks again, as its boot loop does: it gets one new VM.
    await invariant(`inv4: the terminal of a QEMU SIGKILLed ${when} gets one new VM`, async () => {
      const replaced = await waitFor(
        'a new VM for the terminal',
        async () => {
          const asked = await server.request('GET', `/terminal/v1/config?mac=${terminal}`);
          const waiting =
            backoff && asked.status === 503 && asked.text.includes('TERMINAL_VM_FAILED');
          assert.ok([200, 202].includes(asked.status) || waiting, `${asked.status} ${asked.text}`);
          const vms = (await labVms()).filter((vm) => vm.terminal === terminal);
          assert.ok(vms.length <= 1, `one active VM for ${terminal}: ${vms.length}`);
          return vms[0]?.state === 'running' ? vms[0] : undefined;
        },
        90_000,
        500,
      );
      assert.notEqual(replaced.id, victim.uuid, 'a new VM, not the killed one');
      assertOneQemuPerVm(await settled(), await server.qemus());
    });
  };

  it('SIGKILL a QEMU mid lab start and one just started: noticed ended, the terminal served anew', async (t) => {
    await server.ok('POST', `/labs/${LAB}/stop`, {});
    await waitFor(
      'the lab stopped',
      async () =>
        (await labVms()).length === 0 && (await server.qemus()).length === 0 ? true : undefined,
      60_000,
      100,
    );
    const request = server.request('POST', `/labs/${LAB}/start`, {});
    const victim = await waitFor(
      'a QEMU of the lab start',
      async () => (await server.pidfileQemus())[0],
      60_000,
      5,
    );
    // Its terminal (an ended VM's row serves none any more).
    const terminal = (await labVms()).find((vm) => vm.id === victim.uuid)?.terminal;
    assert.ok(typeof terminal === 'string', `${victim.name}'s terminal`);
    faultInjected('SIGKILL QEMU: mid lab start');
    process.kill(victim.pid, 'SIGKILL');
    const answer = await request;
    t.diagnostic(`killed ${victim.name}; the start answered ${answer.status} ${answer.text}`);
    await killQemu(victim, terminal, 'mid lab start', true);

    // Once all run: a QEMU killed just after its start (a crash, as the server sees it).
    const running = await converge();
    const next = running.find((vm) => vm.terminal !== terminal) ?? running[0];
    assert.ok(next?.terminal !== null && next?.terminal !== undefined);
    const qemu = (await server.qemus()).find((q) => q.uuid === next.id);
    assert.ok(qemu !== undefined);
    faultInjected('SIGKILL QEMU: just started');
    process.kill(qemu.pid, 'SIGKILL');
    await killQemu(qemu, next.terminal, 'just after start', false);
    await converge();
    await checkVms('QEMU SIGKILLs');
  });

  it('SIGKILL the controller mid image import: no partial file or version, the import can be redone', async (t) => {
    await server.ok(
      'POST',
      '/profiles',
      {
        name: 'big',
        memoryMiB: 32,
        cpus: 1,
        nicModel: 'virtio',
        diskBus: 'ide',
        display: 'vnc',
      },
      201,
    );
    // 384 MiB of data that does not compress to nothing: the copy takes seconds.
    const source = join(server.data, 'import', 'big.img');
    await writeGuestDisk(source, GuestMode.waitForPowerButton);
    const file = await open(source, 'r+');
    const block = randomBytes(1024 * 1024);
    for (let i = 1; i < 384; i++) await file.write(block, 0, block.length, i * block.length);
    await file.close();
    const job = await server.ok<Job>(
      'POST',
      '/profiles/big/import',
      { path: source, format: 'raw' },
      202,
    );
    const work = join(server.data, 'images', 'tmp', 'work');
    await waitFor(
      'the import to be copying',
      async () =>
        (await server.storeFiles()).some((f) => f.startsWith('tmp/work/')) ? true : undefined,
      60_000,
      5,
    );
    const view = await server.ok<Job>('GET', `/jobs/${job.id}`);
    faultInjected('SIGKILL controller: mid image import');
    await server.kill();
    t.diagnostic(
      `killed with the job ${view.state}, ${JSON.stringify(view.progress)}; work: ${work}`,
    );
    await server.start();
    await invariant(
      'controller SIGKILL mid import: no qemu-img left running on the store',
      async () => {
        const tools = await waitFor(
          'the interrupted copy to end',
          async () => {
            const left = await helperProcesses(server.dir);
            return left.length === 0 ? left : undefined;
          },
          30_000,
          200,
        ).catch(async () => helperProcesses(server.dir));
        assert.deepEqual(tools, []);
      },
    );
    await server.stop();
    await invariant(
      'inv6: controller SIGKILL mid import: no version row without its sealed file, no partial file',
      async () => {
        await assertStoreMatchesDb(server);
        const rows = await server.withDb((db) =>
          db
            .selectFrom('versions')
            .innerJoin('profiles', 'profiles.id', 'versions.profile_id')
            .select('versions.id')
            .where('profiles.name', '=', 'big')
            .execute(),
        );
        assert.deepEqual(rows, [], 'the interrupted import left no version');
      },
    );
    await server.start();
    await invariant('controller SIGKILL mid import: the import redone succeeds', async () => {
      const again = await server.ok<Job>(
        'POST',
        '/profiles/big/import',
        { path: source, format: 'raw' },
        202,
      );
      const done = await waitFor(
        'the import redone',
        async () => {
          const state = await server.ok<Job>('GET', `/jobs/${again.id}`);
          if (state.state === 'failed') throw new Error(`import failed: ${JSON.stringify(state)}`);
          return state.state === 'succeeded' ? state : undefined;
        },
        180_000,
        250,
      );
      assert.ok(done);
      const profile = await server.ok<{ publishedVersion: string | null }>('GET', '/profiles/big');
      assert.ok(profile.publishedVersion !== null, 'the redone import is published');
    });
    await server.stop();
    await invariant('inv6: after the redone import the store matches the database', () =>
      assertStoreMatchesDb(server),
    );
    await server.start();
  });

  it('SIGKILL the controller mid admin publish: the old version intact or a whole new one', async (t) => {
    const profileBefore = await server.ok<{ id: string; publishedVersion: string }>(
      'GET',
      '/profiles/big',
    );
    await server.stop();
    const published = await server.withDb((db) =>
      db
        .selectFrom('versions')
        .select(['id', 'file', 'sha256'])
        .where('id', '=', profileBefore.publishedVersion)
        .executeTakeFirstOrThrow(),
    );
    await server.start();
    const session = await server.ok<{ draftId: string; vm: VmView | null }>(
      'POST',
      '/profiles/big/admin-session',
      {},
      201,
    );
    assert.ok(session.vm !== null);
    await server.ok('POST', `/vms/${session.vm.id}/stop`, { force: true });
    await waitFor(
      'the administrative VM off',
      async () =>
        (await server.qemus()).some((q) => q.uuid === session.vm?.id) ? undefined : true,
      60_000,
      100,
    );
    // The admin's work, as the VM would have written it: 256 MiB in the draft, so sealing
    // (a check, a flush and a sha256 of the whole file) takes a while.
    const draft = join(
      server.data,
      'images',
      'versions',
      profileBefore.id,
      `${session.draftId}.qcow2`,
    );
    const wrote = await runProcess('qemu-io', [
      '-f',
      'qcow2',
      '-c',
      'write -P 0x5a 1M 256M',
      draft,
    ]);
    assert.equal(wrote.code, 0, wrote.stderr);
    const request = server
      .request('POST', '/profiles/big/admin-session/publish', { note: 'x' })
      .catch((error: unknown) => error);
    // Killed once the draft is made read-only (sealed), before its version row is written.
    await waitFor(
      'the draft sealed',
      async () => (((await stat(draft)).mode & 0o222) === 0 ? true : undefined),
      60_000,
      2,
    );
    faultInjected('SIGKILL controller: mid admin publish');
    await server.kill();
    const answer = await request;
    const completed = (answer as { status?: number }).status === 200;
    t.diagnostic(`the publish ${completed ? 'completed' : 'was cut'}`);
    await invariant(
      'inv1: controller SIGKILL mid publish: the published version unchanged or a whole new one',
      async () => {
        await assertStoreMatchesDb(server);
        const state = await server.withDb(async (db) => ({
          profile: await db
            .selectFrom('profiles')
            .select('published_version_id')
            .where('id', '=', profileBefore.id)
            .executeTakeFirstOrThrow(),
          old: await db
            .selectFrom('versions')
            .select(['file', 'sha256'])
            .where('id', '=', published.id)
            .executeTakeFirstOrThrow(),
          draftRow: await db
            .selectFrom('versions')
            .select('id')
            .where('id', '=', session.draftId)
            .executeTakeFirst(),
          sessions: await db
            .selectFrom('admin_sessions')
            .select(['id', 'vm_id'])
            .where('profile_id', '=', profileBefore.id)
            .execute(),
        }));
        assert.deepEqual(state.old, { file: published.file, sha256: published.sha256 });
        assert.equal(await sha256Of(join(server.data, 'images', published.file)), published.sha256);
        if (state.draftRow === undefined) {
          assert.equal(state.profile.published_version_id, published.id, 'still the old version');
          assert.equal(state.sessions.length, 1, 'the session is still open');
        } else {
          assert.equal(state.profile.published_version_id, session.draftId, 'the new version');
          assert.equal(state.sessions.length, 0, 'the session is closed');
        }
      },
    );
    await server.start();
    await invariant('inv3: after the kill the admin session and its VM agree', async () => {
      const open = await server.request('GET', '/profiles/big/admin-session');
      if (open.status === 404) return;
      const view = JSON.parse(open.text) as { vm: VmView | null };
      const live = (await server.qemus()).filter((q) => q.uuid === view.vm?.id);
      const running = view.vm !== null && ['starting', 'running'].includes(view.vm.state);
      assert.equal(live.length, running ? 1 : 0, `session VM ${JSON.stringify(view.vm)}`);
    });
    await invariant(
      'inv1: the publish redone after the kill gives a whole new version',
      async () => {
        const open = await server.request('GET', '/profiles/big/admin-session');
        if (open.status === 200) {
          const result = await server.ok<{ versionId: string; sha256: string }>(
            'POST',
            '/profiles/big/admin-session/publish',
            { note: 'again' },
          );
          assert.equal(result.versionId, session.draftId);
        }
        const profile = await server.ok<{ publishedVersion: string }>('GET', '/profiles/big');
        assert.equal(profile.publishedVersion, session.draftId);
      },
    );
    await server.stop();
    await invariant('inv1: after the redone publish the store matches the database', () =>
      assertStoreMatchesDb(server),
    );
    await server.start();
  });
});

/** qemu-img and qemu-io processes whose argv names `dir`. */
/** The qemu-img or qemu-io processes still working on the server's files. */
async function helperProcesses(dir: string): Promise<string[]> {
  const left = await processesUnder(dir, /qemu-(img|io)$/);
  return left.map(({ pid, argv }) => `${pid}: ${argv.join(' ')}`);
}

const noPostgres =
  process.env['LABVIRT_TEST_DATABASE_URL'] === undefined
    ? 'LABVIRT_TEST_DATABASE_URL is not set: the cluster runs on PostgreSQL'
    : false;

describe(
  'SIGKILL of an agent mid lab start, controller + agent on PostgreSQL',
  { skip: noPostgres },
  () => {
    let cluster: Cluster;
    let agent: ClusterAgent;
    let macs: string[] = [];
    const NAME = 'node-f';

    before(async () => {
      cluster = await Cluster.start();
      agent = await cluster.addAgent(NAME, { cpus: 2, memoryMiB: 1024, cpuRatio: 4 });
      await cluster.guestProfile('tiny');
      macs = await cluster.lab('beta', {
        profile: 'tiny',
        terminals: LAB_SIZE,
        placement: 'spread',
        tag: 0x31,
      });
    });
    after(async () => {
      await cluster?.close();
    });

    /** API views, /proc and the agent's run directory agree; then the database (PostgreSQL). */
    const check = async (label: string): Promise<void> => {
      const views = await waitFor(
        'the lab settled',
        async () => {
          const all = await cluster.ok<VmView[]>('GET', '/vms?state=active');
          return all.every((vm) => vm.state === 'running' && vm.pid !== null) ? all : undefined;
        },
        120_000,
        250,
      );
      // The agent's reconcile (run when it comes online) stops the VMs whose rows ended:
      // given time to finish; whatever is left then breaks the invariant below.
      await waitFor(
        'QEMUs only of active rows',
        async () => {
          const ids = new Set((await cluster.activeVms()).map((row) => row.id));
          return (await cluster.qemuProcesses()).every((q) => ids.has(q.uuid)) ? true : undefined;
        },
        60_000,
        250,
      ).catch(() => undefined);
      const qemus = await cluster.qemuProcesses();
      await invariant(
        `inv5: ${label}: each running VM has exactly one live QEMU, none orphaned`,
        () => assertOneQemuPerVm(views, qemus),
      );
      await invariant(`${label}: the agent's run directory holds only live VMs`, async () => {
        const live = new Set(qemus.map((q) => q.name));
        const dirs = await readdir(join(agent.dir, 'run', 'vms')).catch(() => [] as string[]);
        assert.deepEqual(
          dirs.filter((name) => !live.has(name)),
          [],
        );
      });
      await invariant(
        `inv4: ${label}: one active VM row per terminal, the rows are the live QEMUs`,
        async () => {
          const rows = await cluster.activeVms();
          const perTerminal = countBy(
            rows.filter((r) => r.terminal_id !== null),
            (r) => r.terminal_id ?? '',
          );
          assert.deepEqual(
            [...perTerminal].filter(([, n]) => n > 1),
            [],
          );
          assert.deepEqual(rows.map((r) => r.id).sort(), qemus.map((q) => q.uuid).sort());
        },
      );
    };

    it('SIGKILL the agent mid lab start and restart it: it converges with no duplicate or orphan', async (t) => {
      const request = cluster
        .api('POST', '/labs/beta/start', { body: {} })
        .catch((error: unknown) => error);
      const pidfiles = async () => {
        const dir = join(agent.dir, 'run', 'vms');
        const names = await readdir(dir).catch(() => [] as string[]);
        const found = await Promise.all(
          names.map((name) => readFile(join(dir, name, 'qemu.pid'), 'utf8').catch(() => '')),
        );
        return found.filter((text) => text !== '').length;
      };
      await waitFor(
        'the lab start to be under way',
        async () => ((await pidfiles()) >= 2 ? true : undefined),
        120_000,
        5,
      );
      faultInjected('SIGKILL agent: mid lab start');
      await agent.process.kill('SIGKILL');
      const answer = await request;
      t.diagnostic(
        `killed with ${await pidfiles()} QEMUs up; the start: ${answer instanceof Error ? answer.message : (answer as { text: string }).text}`,
      );
      await agent.restart();
      await cluster.waitHost(NAME, (host) => host.state === 'online');
      await waitFor(
        'no row left starting',
        async () =>
          (await cluster.activeVms()).some((row) => row.state === 'starting') ? undefined : true,
        120_000,
        250,
      );
      await check('agent SIGKILL mid lab start');
      await invariant('agent SIGKILL mid lab start: the lab start repeated converges', async () => {
        const again = await cluster.ok<LabStart>('POST', '/labs/beta/start', {});
        assert.deepEqual(again.failed, []);
        assert.equal(again.started + again.running, LAB_SIZE);
      });
      await check('after the repeated lab start');
      const served = (await cluster.ok<VmView[]>('GET', '/vms?state=active')).filter(
        (vm) => vm.terminal !== null && macs.includes(vm.terminal),
      );
      assert.equal(served.length, LAB_SIZE, 'every terminal served');
    });
  },
);

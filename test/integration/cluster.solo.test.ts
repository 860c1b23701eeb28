// Issue 8 on real processes: one controller (`labvirt server --no-local-host`, HTTPS,
// PostgreSQL) and three agents (`labvirt agent`, separate data, run and image directories,
// loopback ports), the boot-sector test guest as the profile. In order, on one cluster:
// placement by the lab's policy (spread, pack), image distribution (each agent fetches the
// version first, sha256 checked), a drained host, an agent SIGKILLed with VMs running, the
// controller SIGKILLed during a lab start, and the refusals: wrong and reused join tokens,
// an agent claiming another host's identity, a tampered image transfer.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Cluster,
  countBy,
  logEntries,
  type ClusterAgent,
  type QemuProcess,
} from '../helpers/cluster.js';
import { processAlive, sha256File, waitFor } from '../helpers/env.js';

const NAMES = ['node-a', 'node-b', 'node-c'] as const;
// 2 CPUs × ratio 4 = 8 vCPUs of 1-vCPU VMs per host: 24 in all, so a lab of 12 fits either
// way and spread (4/4/4) and pack (8/4/0) place it differently.
const AGENT = { cpus: 2, memoryMiB: 1024, cpuRatio: 4 } as const;
const LAB_SIZE = 12;
const PROFILE = 'tiny';

interface VmView {
  readonly id: string;
  readonly name: string;
  readonly host: string | null;
  readonly state: string;
  readonly terminal: string | null;
  readonly pid: number | null;
}

interface LabStart {
  readonly started: number;
  readonly running: number;
  readonly failed: readonly { terminal: string; reason: string }[];
}

const skip =
  process.env['LABVIRT_TEST_DATABASE_URL'] === undefined
    ? 'LABVIRT_TEST_DATABASE_URL is not set: the cluster runs on PostgreSQL (npm test sets it, or export LABVIRT_TEST_DATABASE_URL=$(scripts/test-postgres.sh))'
    : false;

/** Files under a directory, recursively (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}

describe('a cluster of three agents and a controller on PostgreSQL', { skip }, () => {
  let cluster: Cluster;
  let profile: { id: string; versionId: string; sha256: string };
  const agents = new Map<string, ClusterAgent>();
  const labs = new Map<string, string[]>();

  const agent = (name: string): ClusterAgent => {
    const found = agents.get(name);
    assert.ok(found, name);
    return found;
  };
  const activeViews = async (): Promise<VmView[]> =>
    cluster.ok<VmView[]>('GET', '/vms?state=active');
  /** The lab's active VMs (API views), by the MACs of its terminals. */
  const labVms = async (lab: string): Promise<VmView[]> => {
    const macs = new Set(labs.get(lab));
    return (await activeViews()).filter((vm) => vm.terminal !== null && macs.has(vm.terminal));
  };
  // Through the API, as `labvirt lab start` does: the CLI gives up after 30 s, and the start
  // (which answers once every VM runs, images fetched) can take longer on a loaded machine.
  const labStart = (lab: string): Promise<LabStart> =>
    cluster.ok<LabStart>('POST', `/labs/${lab}/start`, {});
  const labStop = async (lab: string): Promise<void> => {
    await cluster.ok('POST', `/labs/${lab}/stop`, {});
    await waitFor(
      `the VMs of ${lab} to end`,
      async () => ((await labVms(lab)).length === 0 ? true : undefined),
      120_000,
      250,
    );
  };
  /** Each QEMU of these VMs: one per VM uuid, under its host's agent, the pid the API shows. */
  const assertOneQemuEach = (vms: readonly VmView[], qemus: readonly QemuProcess[]) => {
    for (const vm of vms) {
      const mine = qemus.filter((qemu) => qemu.uuid === vm.id);
      assert.equal(mine.length, 1, `one QEMU for ${vm.name}: ${mine.map((q) => q.pid).join(',')}`);
      assert.equal(mine[0]?.agent, vm.host, `${vm.name}'s QEMU runs under its host's directory`);
      assert.equal(mine[0]?.pid, vm.pid, `${vm.name}'s pid as the API shows it`);
    }
  };
  /** Per host name, how many of the VMs it runs (every agent named, 0 included). */
  const perHost = (vms: readonly VmView[]) => {
    const counts = countBy(vms, (vm) => vm.host ?? 'none');
    return Object.fromEntries(NAMES.map((name) => [name, counts.get(name) ?? 0]));
  };

  before(async () => {
    cluster = await Cluster.start();
    // One at a time: each enrols with its own one-time token and comes online.
    for (const name of NAMES) agents.set(name, await cluster.addAgent(name, AGENT));
  });
  after(async () => {
    await cluster?.close();
  });

  it(
    'a lab of 12 on spread: 4 VMs per host, each QEMU under its agent’s directory, the image fetched first',
    { timeout: 300_000 },
    async () => {
      // No agent holds any version before the profile exists.
      for (const name of NAMES)
        assert.deepEqual(await filesUnder(join(agent(name).dir, 'images', 'versions')), []);
      profile = await cluster.guestProfile(PROFILE);
      labs.set(
        'spread',
        await cluster.lab('spread', {
          profile: PROFILE,
          terminals: LAB_SIZE,
          placement: 'spread',
          tag: 1,
        }),
      );
      const result = await labStart('spread');
      assert.deepEqual(result, { started: LAB_SIZE, running: 0, failed: [] });
      const vms = await labVms('spread');
      assert.equal(vms.length, LAB_SIZE);
      assert.ok(
        vms.every((vm) => vm.state === 'running'),
        JSON.stringify(vms),
      );
      assert.deepEqual(perHost(vms), { 'node-a': 4, 'node-b': 4, 'node-c': 4 });
      const qemus = await cluster.qemuProcesses();
      assert.equal(qemus.length, LAB_SIZE, 'one QEMU per VM, and no other');
      assertOneQemuEach(vms, qemus);
    },
  );

  it(
    'each agent fetched the version from the controller: sha256 checked, recorded in host_images, logged',
    { timeout: 60_000 },
    async () => {
      const hosts = await cluster.database.db.selectFrom('hosts').select(['id', 'name']).execute();
      for (const name of NAMES) {
        const file = join(
          agent(name).dir,
          'images',
          'versions',
          profile.id,
          `${profile.versionId}.qcow2`,
        );
        assert.equal(
          await sha256File(file),
          profile.sha256,
          `${name}'s copy has the database's sha256`,
        );
        assert.equal((await stat(file)).mode & 0o777, 0o444, `${name}'s copy is sealed`);
        const hostId = hosts.find((host) => host.name === name)?.id;
        assert.ok(hostId);
        const held = await cluster.database.db
          .selectFrom('host_images')
          .select('version_id')
          .where('host_id', '=', hostId)
          .execute();
        assert.deepEqual(
          held.map((row) => row.version_id),
          [profile.versionId],
          `host_images of ${name}`,
        );
        // The controller logged each host's download of the version.
        const downloads = logEntries(cluster.controllers[0]?.process.output() ?? '').filter(
          (entry) =>
            /download/i.test(String(entry['msg'])) &&
            entry['version'] === profile.versionId &&
            (entry['host'] === name || entry['host'] === hostId),
        );
        assert.ok(downloads.length > 0, `the controller logged ${name}'s download`);
      }
    },
  );

  let full = '';
  let half = '';
  let empty = '';

  it(
    'a lab of 12 on pack fills one host before the next: 8/4/0',
    { timeout: 300_000 },
    async () => {
      await labStop('spread');
      assert.deepEqual(await cluster.qemuProcesses(), [], 'the spread lab’s QEMUs ended');
      labs.set(
        'pack',
        await cluster.lab('pack', {
          profile: PROFILE,
          terminals: LAB_SIZE,
          placement: 'pack',
          tag: 2,
        }),
      );
      assert.deepEqual(await labStart('pack'), { started: LAB_SIZE, running: 0, failed: [] });
      const vms = await labVms('pack');
      const counts = perHost(vms);
      assert.deepEqual(
        Object.values(counts).sort((a, b) => a - b),
        [0, 4, 8],
        JSON.stringify(counts),
      );
      const byCount = (n: number) => NAMES.find((name) => counts[name] === n) ?? '';
      [full, half, empty] = [byCount(8), byCount(4), byCount(0)];
      assertOneQemuEach(vms, await cluster.qemuProcesses());
    },
  );

  it(
    'a drained host gets no new VMs; its running ones keep running',
    { timeout: 300_000 },
    async () => {
      const drained = await cluster.cli(['host', 'drain', half]);
      assert.equal(drained.code, 0, drained.stderr);
      await cluster.waitHost<{ state: string; maintenance: boolean }>(
        half,
        (host) => host.maintenance,
      );
      const halfBefore = (await activeViews()).filter((vm) => vm.host === half);
      assert.equal(halfBefore.length, 4);
      // Pack would fill the half-full host first: drained, it must not get any.
      labs.set(
        'extra',
        await cluster.lab('extra', { profile: PROFILE, terminals: 4, placement: 'pack', tag: 3 }),
      );
      assert.deepEqual(await labStart('extra'), { started: 4, running: 0, failed: [] });
      const extra = await labVms('extra');
      assert.deepEqual(perHost(extra), { ...{ [full]: 0, [half]: 0 }, [empty]: 4 });
      const halfAfter = (await activeViews()).filter((vm) => vm.host === half);
      assert.deepEqual(
        halfAfter.map((vm) => [vm.id, vm.pid, vm.state]).sort(),
        halfBefore.map((vm) => [vm.id, vm.pid, vm.state]).sort(),
        'the drained host runs the same VMs, same QEMUs',
      );
      for (const vm of halfAfter) assert.ok(vm.pid !== null && (await processAlive(vm.pid)));
      assertOneQemuEach([...halfAfter, ...extra], await cluster.qemuProcesses());
    },
  );

  it(
    'SIGKILL an agent with VMs running and restart it: the same VMs, same QEMUs, none lost or duplicated',
    { timeout: 300_000 },
    async (t) => {
      const victim = agent(full);
      const before = (await activeViews()).sort((a, b) => a.id.localeCompare(b.id));
      const mine = before.filter((vm) => vm.host === full);
      assert.equal(mine.length, 8);
      const qemusBefore = await cluster.qemuProcesses();
      await victim.process.kill('SIGKILL');
      await cluster.waitHost(full, (host) => host.state !== 'online');
      // Its VMs run on without their agent, and the controller keeps their rows.
      for (const vm of mine) assert.ok(vm.pid !== null && (await processAlive(vm.pid)), vm.name);
      const whileOffline = await cluster.activeVms();
      assert.equal(whileOffline.length, before.length, 'no VM of the offline host was ended');
      const oldUrl = victim.url;
      await victim.restart();
      t.diagnostic(`${full} back on ${victim.url} (was ${oldUrl})`);
      await cluster.waitHost(full, (host) => host.state === 'online');
      const after = await waitFor(
        `the VMs of ${full} listed again`,
        async () => {
          const views = await activeViews();
          return views.filter((vm) => vm.host === full && vm.pid !== null).length === mine.length
            ? views
            : undefined;
        },
        120_000,
        250,
      );
      assert.deepEqual(
        after.map((vm) => [vm.id, vm.host, vm.pid, vm.state]).sort(),
        before.map((vm) => [vm.id, vm.host, vm.pid, vm.state]).sort(),
        'the same VMs on the same hosts with the same QEMUs',
      );
      const qemus = await cluster.qemuProcesses();
      assert.deepEqual(
        qemus.map((q) => q.pid).sort(),
        qemusBefore.map((q) => q.pid).sort(),
        'no QEMU started or lost',
      );
      assertOneQemuEach(after, qemus);
      const perTerminal = countBy(await cluster.activeVms(), (vm) => vm.terminal_id ?? vm.id);
      assert.ok(
        [...perTerminal.values()].every((n) => n === 1),
        'one active VM per terminal',
      );
    },
  );

  it(
    'SIGKILL the controller during a lab start and restart it: it converges with no duplicate',
    { timeout: 300_000 },
    async (t) => {
      const undrained = await cluster.cli(['host', 'undrain', half]);
      assert.equal(undrained.code, 0, undrained.stderr);
      await labStop('extra');
      await labStop('pack');
      const controller = cluster.controllers[0];
      assert.ok(controller);
      const terminals = await cluster.database.db
        .selectFrom('terminals')
        .innerJoin('labs', 'labs.id', 'terminals.lab_id')
        .select(['terminals.id', 'terminals.mac'])
        .where('labs.name', '=', 'spread')
        .execute();
      assert.equal(terminals.length, LAB_SIZE);
      const ids = terminals.map((terminal) => terminal.id);
      const rowsOfLab = () =>
        cluster.database.db
          .selectFrom('vms')
          .select(['id', 'state', 'terminal_id'])
          .where('terminal_id', 'in', ids)
          .execute();
      // The start runs in the controller; the client only waits for its answer.
      const request = cluster
        .api('POST', '/labs/spread/start', { body: {} })
        .catch((error: unknown) => error);
      const atKill = await waitFor(
        'the lab start to be under way',
        async () => {
          const rows = await rowsOfLab();
          return rows.length >= 2 ? rows : undefined;
        },
        60_000,
        10,
      );
      await controller.process.kill('SIGKILL');
      const answer = await request;
      t.diagnostic(
        `killed with ${atKill.length} rows (${[...countBy(atKill, (row) => row.state)].join(' ')}); ` +
          `the start's answer: ${answer instanceof Error ? answer.message : 'answered before the kill'}`,
      );
      await controller.restart();
      for (const name of NAMES) await cluster.waitHost(name, (host) => host.state === 'online');
      // Rows left 'starting' are launched again (or given up) by the restarted controller.
      await waitFor(
        'no row of the lab left starting',
        async () =>
          (await rowsOfLab()).some((row) => row.state === 'starting') ? undefined : true,
        120_000,
        250,
      );
      // The rest of the lab, as an operator would ask again.
      const again = await labStart('spread');
      assert.deepEqual(again.failed, []);
      assert.equal(again.started + again.running, LAB_SIZE);
      const vms = await waitFor(
        'every terminal of the lab served',
        async () => {
          const views = await labVms('spread');
          return views.length === LAB_SIZE &&
            views.every((vm) => vm.state === 'running' && vm.pid !== null)
            ? views
            : undefined;
        },
        120_000,
        250,
      );
      const rows = await cluster.activeVms();
      const perTerminal = countBy(rows, (row) => row.terminal_id ?? row.id);
      for (const terminal of terminals)
        assert.equal(perTerminal.get(terminal.id), 1, `one active VM row for ${terminal.mac}`);
      const qemus = await cluster.qemuProcesses();
      assertOneQemuEach(vms, qemus);
      const activeIds = new Set(rows.map((row) => row.id));
      const orphans = qemus.filter((qemu) => !activeIds.has(qemu.uuid));
      assert.deepEqual(
        orphans.map((q) => `${q.name} ${q.uuid} on ${q.agent ?? '?'}`),
        [],
        'no QEMU without an active row',
      );
      const perMac = countBy(qemus, (qemu) => qemu.mac ?? qemu.uuid);
      assert.ok(
        [...perMac.values()].every((n) => n === 1),
        'one QEMU per VM MAC',
      );
    },
  );

  it(
    'a reused or wrong join token is refused: exit 2, logged, audited',
    { timeout: 120_000 },
    async () => {
      const controller = cluster.controllers[0];
      assert.ok(controller);
      const refusals = async () =>
        (
          await cluster.database.db
            .selectFrom('audit_events')
            .select('id')
            .where('action', '=', 'host.join-refused')
            .execute()
        ).length;
      const reused = agent('node-a').joinToken;
      const wrong = `lvj1.${randomBytes(32).toString('base64url')}.${cluster.tls.sha256}`;
      for (const [what, token] of [
        ['reused', reused],
        ['wrong', wrong],
      ] as const) {
        const before = await refusals();
        const logBefore: number = controller.process.output().length;
        const dir = await cluster.agentDir(`${what}-token`);
        const run = await cluster.runAgent(
          cluster.agentArgs('node-a', dir, AGENT, { url: controller.url, token }),
        );
        assert.equal(run.timedOut, false, `the ${what} token's agent exits`);
        assert.equal(run.code, 2, `${what} token: ${run.stderr}${run.stdout}`);
        assert.match(run.stderr, /join token is not valid/);
        assert.equal(
          await refusals(),
          before + 1,
          `host.join-refused audited for the ${what} token`,
        );
        const logged: Record<string, unknown>[] = logEntries(
          controller.process.output().slice(logBefore),
        ).filter(
          (entry) =>
            entry['code'] === 'JOIN_TOKEN_INVALID' && /refused/i.test(String(entry['msg'])),
        );
        assert.equal(logged.length, 1, `the controller logged the ${what} token's refusal`);
        assert.deepEqual(await filesUnder(join(dir, 'images')), [], 'nothing fetched');
      }
      // node-a still runs as it was.
      await cluster.waitHost('node-a', (host) => host.state === 'online');
    },
  );

  it(
    'an agent claiming another host’s identity is refused 403 and logged',
    { timeout: 120_000 },
    async () => {
      const controller = cluster.controllers[0];
      assert.ok(controller);
      const a = await cluster.agentJson('node-a');
      const b = await cluster.agentJson('node-b');
      assert.notEqual(a.hostId, b.hostId);
      const asAgent = (path: string, hostId: string, method = 'GET', body?: unknown) =>
        cluster.api(method, path, {
          token: a.agentSecret,
          headers: { 'x-labvirt-host': hostId },
          ...(body === undefined ? {} : { body }),
        });
      // With its own identity, node-a's secret downloads the version (the route works).
      const own = await asAgent(`/agent/images/${profile.versionId}`, a.hostId);
      assert.equal(own.status, 200, own.text.slice(0, 300));
      const logBefore = controller.process.output().length;
      const lastAudit = await cluster.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirstOrThrow();
      for (const [method, path, body] of [
        ['POST', '/agent/hello', { url: agent('node-a').url }],
        ['GET', `/agent/images/${profile.versionId}`, undefined],
      ] as const) {
        const answer = await asAgent(path, b.hostId, method, body);
        assert.equal(
          answer.status,
          403,
          `${method} ${path} as node-b with node-a's secret: ${answer.text}`,
        );
        assert.equal(answer.json<{ code: string }>().code, 'HOST_IDENTITY_MISMATCH');
      }
      const logged = logEntries(controller.process.output().slice(logBefore)).filter(
        (entry) => /identity/i.test(String(entry['msg'])) && entry['claimed'] === b.hostId,
      );
      assert.equal(logged.length, 2, 'both refusals logged, with the identity claimed');
      const audit = await cluster.database.db
        .selectFrom('audit_events')
        .select(['action', 'details'])
        .where('id', '>', Number(lastAudit.id ?? 0))
        .execute();
      const refused = audit.filter((row) =>
        /identity|mismatch|refused/i.test(`${row.action} ${row.details}`),
      );
      assert.equal(refused.length, 2, `both refusals audited: ${JSON.stringify(audit)}`);
      // node-b's address was not changed by node-a's hello in its name.
      const hostB = await cluster.ok<{ address: string }>('GET', '/hosts/node-b');
      assert.equal(hostB.address, agent('node-b').url);
    },
  );

  it(
    'a tampered image transfer is refused: IMAGE_TRANSFER_CORRUPT, logged, nothing kept',
    { timeout: 300_000 },
    async () => {
      const controller = cluster.controllers[0];
      assert.ok(controller);
      // A fourth host, enrolled after the controller's copy was tampered with: it lacks the
      // version and fetches the bad bytes.
      const file = join(
        controller.dataDir,
        'images',
        'versions',
        profile.id,
        `${profile.versionId}.qcow2`,
      );
      const size = (await stat(file)).size;
      const offset = Math.floor(size / 2);
      const flip = async () => {
        await chmod(file, 0o644);
        const handle = await open(file, 'r+');
        try {
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, offset);
          byte[0] = (byte[0] ?? 0) ^ 0xff;
          await handle.write(byte, 0, 1, offset);
        } finally {
          await handle.close();
        }
        // Sealed again: the controller serves sealed versions only.
        await chmod(file, 0o444);
      };
      await flip();
      try {
        const tampered = await sha256File(file);
        assert.notEqual(tampered, profile.sha256);
        const d = await cluster.addAgent('node-d', AGENT);
        agents.set('node-d', d);
        for (const name of NAMES) {
          const drained = await cluster.cli(['host', 'drain', name]);
          assert.equal(drained.code, 0, drained.stderr);
        }
        const started = await cluster.api('POST', '/vms', { body: { profile: PROFILE } });
        assert.equal(started.status, 502, started.text);
        assert.equal(started.json<{ code: string }>().code, 'IMAGE_TRANSFER_CORRUPT');
        // The agent checked the whole file's sha256 against the database's, and said so.
        const corrupt = logEntries(d.process.output()).filter(
          (entry) =>
            /corrupt/i.test(String(entry['msg'])) &&
            entry['version'] === profile.versionId &&
            entry['expected'] === profile.sha256 &&
            entry['actual'] === tampered,
        );
        assert.ok(corrupt.length > 0, 'node-d logged the corrupt transfer with both sums');
        // The controller logged node-d's failed fetch (its prefetch on coming online).
        const failed = logEntries(controller.process.output()).filter(
          (entry) =>
            entry['host'] === 'node-d' && JSON.stringify(entry).includes('IMAGE_TRANSFER_CORRUPT'),
        );
        assert.ok(failed.length > 0, 'the controller logged node-d’s corrupt transfer');
        assert.deepEqual(await filesUnder(join(d.dir, 'images', 'versions')), [], 'nothing kept');
        const partials = (await filesUnder(join(d.dir, 'images', 'tmp'))).filter((path) =>
          path.includes(profile.versionId),
        );
        assert.deepEqual(partials, [], 'no partial download kept');
        assert.deepEqual(
          (await cluster.qemuProcesses()).filter((qemu) => qemu.agent === 'node-d'),
          [],
          'no VM started on node-d',
        );
      } finally {
        await flip();
      }
    },
  );
});

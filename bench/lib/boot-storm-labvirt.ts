// The LabVirt side of the boot storm, over real HTTP: the controller (buildApp on SQLite in
// a temp dir, listening on 127.0.0.1) with the in-process LocalAgent on real QEMU (the
// VM fixture of the tests, the boot-sector test guest waiting for its power button), one
// profile, and a lab whose default profile it is, for terminals.
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { VmView } from '../../src/controller/services/vms.js';
import type { TerminalConfig } from '../../src/terminal/config.js';
import { dialects } from '../../test/helpers/databases.js';
import {
  labServes,
  guestProfile,
  GuestMode,
  vmFixture,
  type TestProfile,
  type VmFixture,
} from '../../test/helpers/vm-fixture.js';
import { argAfter, overlayOf, type BareLaunch } from './bare-qemu.js';

export interface StormBench {
  readonly fixture: VmFixture;
  /** The temp dir every QEMU of this benchmark names in its argv. */
  readonly dir: string;
  readonly profile: TestProfile;
  /** When the agent's supervisor had each VM running (QMP answered), by VM name. */
  readonly runningAt: Map<string, number>;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  call(method: string, path: string, body?: unknown, token?: string): Promise<Response>;
  close(): Promise<void>;
}

export async function openStormBench(): Promise<StormBench> {
  const sqlite = dialects.find((dialect) => dialect.name === 'sqlite');
  if (sqlite === undefined) throw new Error('no SQLite dialect');
  const fixture = await vmFixture(sqlite, {
    vmStopGraceMs: 0,
    // Every terminal asks from 127.0.0.1: the per-address limit must not refuse them.
    terminalRateLimit: { max: 1_000_000_000, windowMs: 60_000 },
  });
  try {
    const profile = await guestProfile(fixture, { mode: GuestMode.waitForPowerButton });
    const lab = fixture.labs.mine.id;
    await labServes(fixture, lab, profile.id);
    // The server-side truth of "running": the supervisor's start resolves once QEMU's
    // parent exited and QMP answered query-status. Wrapped here, not changed in src/.
    const runningAt = new Map<string, number>();
    const supervisor = fixture.supervisor;
    const start = supervisor.start.bind(supervisor);
    supervisor.start = async (launch, options) => {
      const status = await start(launch, options);
      runningAt.set(launch.name, performance.now());
      return status;
    };
    await fixture.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(fixture.app.server.address() as AddressInfo).port}`;
    const token = fixture.users.operator.token;
    const bench: StormBench = {
      fixture,
      dir: fixture.dir,
      profile,
      runningAt,
      base,
      call: (method, path, body, as = token) =>
        fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${as}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      close: () => fixture.close(),
    };
    // The first fetch loads undici and opens a connection: not part of any figure.
    await (await bench.call('GET', '/api/v1/vms')).arrayBuffer();
    return bench;
  } catch (error) {
    await fixture.close();
    throw error;
  }
}

async function expectJson<T>(response: Response, status: number, what: string): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * N × POST /api/v1/vms {profile} at once; the wall time from the first request to the
 * last VM running. POST answers 201 only once the agent started QEMU and QMP answered
 * (VmService.startClient awaits the launch), so its body already says 'running'; a VM
 * that does not is polled with GET /api/v1/vms/:id until it does.
 */
export async function labvirtStorm(
  bench: StormBench,
  count: number,
): Promise<{ ms: number; vms: VmView[] }> {
  const start = performance.now();
  const vms = await Promise.all(
    Array.from({ length: count }, async () => {
      const path = '/api/v1/vms';
      let vm = await expectJson<VmView>(
        await bench.call('POST', path, { profile: bench.profile.name }),
        201,
        'POST /api/v1/vms',
      );
      while (vm.state !== 'running' || vm.runStatus !== 'running') {
        if (!['starting', 'running'].includes(vm.state))
          throw new Error(`VM ${vm.name} ${vm.state}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        vm = await expectJson<VmView>(await bench.call('GET', `${path}/${vm.id}`), 200, 'GET vm');
      }
      return vm;
    }),
  );
  return { ms: performance.now() - start, vms };
}

/** What the VMs' supervisor recorded (exact argv, overlays), to start them again bare. */
export async function launchesOf(
  bench: StormBench,
  vms: readonly { readonly name: string }[],
): Promise<BareLaunch[]> {
  const runDir = bench.fixture.supervisor.runDir;
  return Promise.all(
    vms.map(async (vm) => {
      const record = await runDir.readRecord(vm.name);
      if (record === undefined) throw new Error(`no run record of ${vm.name}`);
      const pidfile = argAfter(record.argv, '-pidfile');
      return {
        argv: record.argv,
        overlays: await Promise.all(record.overlays.map(overlayOf)),
        dirs: [dirname(pidfile), dirname(record.spec.serialLog)],
        pidfile,
        qmpSocket: record.spec.qmpSocket,
      };
    }),
  );
}

/** Stops the VMs through the API (force: QMP quit, no power button) and waits for each. */
export async function stopVms(bench: StormBench, refs: readonly string[]): Promise<void> {
  await Promise.all(
    refs.map(async (ref) => {
      const vm = await expectJson<VmView>(
        await bench.call('POST', `/api/v1/vms/${ref}/stop`, { force: true }),
        200,
        `stop ${ref}`,
      );
      if (['starting', 'running', 'stopping'].includes(vm.state)) {
        throw new Error(`VM ${ref} still ${vm.state} after stop`);
      }
    }),
  );
}

/** Enrols `count` terminals into the lab (the admin's token), returns their MACs. */
export async function enrolTerminals(bench: StormBench, count: number): Promise<string[]> {
  const macs: string[] = [];
  for (let index = 0; index < count; index++) {
    const mac = `52:54:00:b5:00:${index.toString(16).padStart(2, '0')}`;
    await expectJson(
      await bench.call(
        'POST',
        '/api/v1/terminals',
        { mac, lab: bench.fixture.labs.mine.name },
        bench.fixture.users.admin.token,
      ),
      201,
      'enrol',
    );
    macs.push(mac);
  }
  return macs;
}

export interface TerminalTiming {
  readonly vm: string;
  /** From the first GET /terminal/v1/config to the first 200, as the terminal saw it. */
  readonly firstOk: number;
  /** From the first GET to the agent's supervisor having the VM running. */
  readonly running: number;
  readonly requests: number;
}

/**
 * All terminals ask for their config at the same moment (a lab starting at 8:00); after a
 * 202 each asks again after its Retry-After, as the terminal's boot script does, or every
 * `pollMs` when given, until it gets its 200.
 */
export async function terminalStorm(
  bench: StormBench,
  macs: readonly string[],
  pollMs?: number,
): Promise<TerminalTiming[]> {
  return Promise.all(
    macs.map(async (mac) => {
      const start = performance.now();
      for (let requests = 1; ; requests++) {
        const response = await fetch(`${bench.base}/terminal/v1/config?mac=${mac}`);
        if (response.status === 202) {
          await response.arrayBuffer();
          const wait = pollMs ?? Number(response.headers.get('retry-after')) * 1000;
          if (!(wait > 0)) throw new Error(`a 202 without Retry-After for ${mac}`);
          await new Promise((resolve) => setTimeout(resolve, wait));
          continue;
        }
        const firstOk = performance.now() - start;
        const config = await expectJson<TerminalConfig>(response, 200, `config of ${mac}`);
        const runningAt = bench.runningAt.get(config.vm);
        if (runningAt === undefined) throw new Error(`no start recorded for ${config.vm}`);
        return { vm: config.vm, firstOk, running: runningAt - start, requests };
      }
    }),
  );
}

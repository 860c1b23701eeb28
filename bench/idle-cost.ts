// Idle cost (issue 9, item 4): the CPU (% of one core) and resident memory of LabVirt's
// own processes while N client VMs run and 1,000 terminals are enrolled, nobody using it.
// Two shapes, real processes: a cluster (`labvirt server --no-local-host` on PostgreSQL and
// one `labvirt agent`, test/helpers/cluster.ts) and the embedded default the README starts
// with (one `labvirt server` on SQLite, this machine its local host). The VMs are the
// boot-sector test guest, started through the API; after they all run and a settling
// pause, /proc is read over the window (bench/lib/proc-usage.ts). Then the same again with
// one event-stream listener open (the VM watcher then lists the VMs every second). The
// baseline is a bare Node process with a bare Fastify server on loopback, sampled in the
// same windows. The QEMUs' own cost is printed as context, not as LabVirt's.
// Run: npm run build && node dist/bench/idle-cost.js [--quick] [--seconds S] [--vms N]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/index.js';
import { stopGatewayDaemon } from '../src/agent/gateway-client.js';
import { Cluster } from '../test/helpers/cluster.js';
import { delay } from '../test/helpers/env.js';
import {
  guestProfile,
  httpApi,
  openListener,
  seedTerminals,
  startEmbedded,
  startVms,
  type Api,
} from './lib/labvirt-load.js';
import { goOn, handleInterrupts } from './lib/interrupt.js';
import { findPids, sampleWindow, type WindowUsage } from './lib/proc-usage.js';
import { numberOption, option, QUICK } from './lib/options.js';
import { fixed, markdownTable, ratio, verdict } from './lib/table.js';

const SECONDS = numberOption('--seconds', QUICK ? 10 : 60);
const LISTENER_SECONDS = numberOption('--listener-seconds', QUICK ? 4 : 20);
const VMS = numberOption('--vms', QUICK ? 5 : 20);
const TERMINALS = numberOption('--terminals', 1000);
const SETTLE_MS = (QUICK ? 3 : 10) * 1000;
const TARGET_CPU = 2;
/** `--only cluster` or `--only embedded`: one shape (a diagnosis, not a result to quote). */
const ONLY = option('--only');
/** `--cpu-prof DIR`: the embedded server writes a V8 CPU profile there when it ends. */
const CPU_PROF = option('--cpu-prof');

const began = performance.now();
const log = (line: string) =>
  console.error(`idle-cost +${((performance.now() - began) / 1000).toFixed(1)} s: ${line}`);

/**
 * `value` against the bare process's CPU. The bare one often spends no clock tick (10 ms)
 * in a whole window: then only a lower bound is known, against one tick.
 */
function cpuRatio(value: number, bare: WindowUsage, seconds: number): string {
  if (bare.cpuPercent > 0) return ratio(value, bare.cpuPercent);
  return `>${ratio(value, 1 / seconds, 0)}`;
}

interface Row {
  readonly setup: string;
  readonly process: string;
  readonly usage: WindowUsage;
  /** The bare Node + Fastify process in the same window; undefined: no ratio (context). */
  readonly bare: WindowUsage | undefined;
  readonly seconds: number;
}

/** Samples the labelled groups and the bare process over `seconds`; one row per group. */
async function measure(
  setup: string,
  groups: Map<string, number[]>,
  bare: number,
  seconds: number,
  context: string,
): Promise<Row[]> {
  log(`${setup}: sampling ${seconds} s`);
  const usage = await sampleWindow(new Map([...groups, ['bare', [bare]]]), seconds);
  const bareUsage = usage.get('bare');
  const rows: Row[] = [];
  for (const name of groups.keys()) {
    const group = usage.get(name);
    if (group === undefined) continue;
    if (group.lost > 0) throw new Error(`${setup}: ${group.lost} process(es) of ${name} ended`);
    rows.push({
      setup,
      process: name,
      usage: group,
      bare: name === context ? undefined : bareUsage,
      seconds,
    });
  }
  if (bareUsage !== undefined)
    rows.push({
      setup,
      process: 'bare Node + Fastify (baseline)',
      usage: bareUsage,
      bare: bareUsage,
      seconds,
    });
  return rows;
}

const isQemuOf = (dir: string) => (argv: readonly string[]) =>
  /qemu-system/.test(argv[0] ?? '') && argv.some((arg) => arg.includes(dir));

/** LabVirt's other processes under `dir` (the display gateway daemon), not QEMU, not `known`. */
async function helpers(dir: string, known: readonly number[]): Promise<number[]> {
  const pids = await findPids(
    (argv) => !isQemuOf(dir)(argv) && argv.some((arg) => arg.includes(dir)),
  );
  return pids.filter((pid) => !known.includes(pid) && pid !== process.pid);
}

/** The QEMUs under `dir`: exactly `count` of them, or the setup failed. */
async function qemus(dir: string, count: number): Promise<number[]> {
  const pids = await findPids(isQemuOf(dir));
  if (pids.length !== count)
    throw new Error(`expected ${count} QEMUs under ${dir}, found ${pids.length}`);
  return pids;
}

/** Idle, then with one listener: the rows of one LabVirt shape. */
async function windows(
  setup: string,
  base: { url: string; token: string; ca?: string },
  groups: Map<string, number[]>,
  bare: number,
): Promise<Row[]> {
  const qemuLabel = `${VMS} QEMUs (context, not LabVirt)`;
  goOn();
  log(`${setup}: settling ${SETTLE_MS / 1000} s`);
  await delay(SETTLE_MS);
  goOn();
  const rows = await measure(`${setup}, idle`, groups, bare, SECONDS, qemuLabel);
  goOn();
  const listener = await openListener(base.url, base.token, base.ca);
  try {
    await delay(2000); // the watcher starts its looks when a listener comes
    const first = new Map([...groups].filter(([name]) => name !== qemuLabel));
    rows.push(
      ...(await measure(`${setup}, 1 event listener`, first, bare, LISTENER_SECONDS, qemuLabel)),
    );
  } finally {
    listener.close();
  }
  return rows;
}

async function cluster(bare: number): Promise<Row[]> {
  log('cluster: controller on PostgreSQL and one agent');
  const c = await Cluster.start();
  try {
    const agent = await c.addAgent('idle-a', { cpus: 2, memoryMiB: 16_384, cpuRatio: 32 });
    const api: Api = (method, path, body, status) => c.ok(method, path, body, status);
    await guestProfile(api, 'idle-guest', join(c.controllers[0]?.dataDir ?? '', 'import'));
    await seedTerminals(api, c.database.db, TERMINALS);
    goOn();
    await startVms(api, 'idle-guest', VMS);
    const controller = c.controllers[0]?.process.pid ?? 0;
    const agentPid = agent.process.pid ?? 0;
    const groups = new Map<string, number[]>([
      ['controller (labvirt server --no-local-host)', [controller]],
      ['agent (labvirt agent)', [agentPid]],
    ]);
    const others = await helpers(c.dir, [controller, agentPid, bare]);
    if (others.length > 0) groups.set('gateway daemon (agent’s)', others);
    groups.set(`${VMS} QEMUs (context, not LabVirt)`, await qemus(c.dir, VMS));
    const url = c.controllers[0]?.url ?? '';
    return await windows(
      'cluster (PostgreSQL)',
      { url, token: c.token, ca: c.tls.cert },
      groups,
      bare,
    );
  } finally {
    await c.close();
  }
}

async function embedded(bare: number): Promise<Row[]> {
  log('embedded: labvirt server on SQLite with the local host');
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'lv-idle-')));
  let server: ChildProcess | undefined;
  try {
    const profile = CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`];
    const started = await startEmbedded(dir, profile);
    server = started.child;
    const api = httpApi(started.url, started.token);
    const hosts = await api<{ name: string; local: boolean }[]>('GET', '/hosts');
    const local = hosts.find((host) => host.local);
    if (local === undefined) throw new Error('no local host');
    await api('PATCH', `/hosts/${encodeURIComponent(local.name)}`, { cpuRatio: 32 });
    await guestProfile(api, 'idle-guest', join(started.dataDir, 'import'));
    const database = await openDatabase({ dataDir: started.dataDir });
    try {
      await seedTerminals(api, database.db, TERMINALS);
    } finally {
      await database.close();
    }
    goOn();
    await startVms(api, 'idle-guest', VMS);
    const pid = started.child.pid ?? 0;
    const groups = new Map<string, number[]>([['labvirt server (controller + agent)', [pid]]]);
    const others = await helpers(dir, [pid, bare]);
    if (others.length > 0) groups.set('gateway daemon', others);
    groups.set(`${VMS} QEMUs (context, not LabVirt)`, await qemus(dir, VMS));
    return await windows('embedded (SQLite)', started, groups, bare);
  } finally {
    if (server !== undefined && server.exitCode === null) {
      // SIGTERM first: a clean exit (NODE_OPTIONS=--cpu-prof then writes its profile).
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      if ((await Promise.race([exited, delay(15_000)])) === undefined) server.kill('SIGKILL');
      await exited;
    }
    for (const pid of await findPids(isQemuOf(dir))) process.kill(pid, 'SIGKILL');
    await stopGatewayDaemon(join(dir, 'data', 'run')).catch(() => undefined);
    await delay(500); // the killed QEMUs let go of their files
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  handleInterrupts();
  const script = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'bare-node-server.js');
  const bare = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rows: Row[] = [];
  try {
    await once(bare.stdout, 'data'); // its URL: it listens
    const barePid = bare.pid ?? 0;
    if (ONLY !== 'embedded') rows.push(...(await cluster(barePid)));
    goOn();
    if (ONLY !== 'cluster') rows.push(...(await embedded(barePid)));
  } finally {
    bare.kill('SIGKILL');
  }
  print(rows);
}

function print(rows: readonly Row[]): void {
  const cpu = (row: Row) => fixed(row.usage.cpuPercent, 2);
  console.log(
    [
      `Idle cost: CPU (% of one core) and resident memory of LabVirt's processes with ${VMS} ` +
        `running client VMs (boot-sector guest) and ${TERMINALS} terminals in the database, ` +
        `over ${SECONDS} s after ${SETTLE_MS / 1000} s settling; nobody connected to the event ` +
        `stream in the idle rows, one listener over ${LISTENER_SECONDS} s in the others. ` +
        'Baseline: a bare Node process with a bare Fastify server on loopback, sampled in the same window. ' +
        'CPU: utime + stime of /proc/PID/stat (10 ms ticks) over the window; RSS: mean VmRSS of ' +
        '1 s samples; peak: VmHWM (since the process started: start-up and VM starts included); ' +
        '">Nx": the bare process spent no tick in the window, so only a lower bound is known.',
      '',
      markdownTable(
        ['setup', 'process', 'CPU %', 'vs bare', 'RSS MiB', 'vs bare', 'peak RSS MiB'],
        rows.map((row) => [
          row.setup,
          row.process,
          cpu(row),
          row.bare === undefined
            ? '–'
            : row.bare === row.usage
              ? '1.00x'
              : cpuRatio(row.usage.cpuPercent, row.bare, row.seconds),
          fixed(row.usage.rssMeanMiB),
          row.bare === undefined ? '–' : ratio(row.usage.rssMeanMiB, row.bare.rssMeanMiB),
          fixed(row.usage.hwmMiB),
        ]),
        ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
      ...rows
        .filter(
          (row) => row.setup.endsWith('idle') && /controller|labvirt server/.test(row.process),
        )
        .map(
          (row) =>
            `Target: idle controller under ${TARGET_CPU} % of a core — ${row.setup}, ${row.process}: ` +
            `${cpu(row)} % — ${verdict(row.usage.cpuPercent < TARGET_CPU)}`,
        ),
    ].join('\n'),
  );
}

await main();

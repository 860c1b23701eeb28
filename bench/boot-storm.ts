// Boot storm (issue 9, item 1): N client VMs started at once through LabVirt's REST API,
// against a bare script starting the same QEMUs, and a lab's N terminals asking for their
// config at the same moment, until each gets its 200.
//
// LabVirt: the controller listening on 127.0.0.1 (real HTTP, SQLite in a temp dir) with the
// in-process LocalAgent on real QEMU; N × POST /api/v1/vms {profile} at once. POST answers
// once QEMU runs (see labvirtStorm), so the wall time is from the first request to the last
// answer saying 'running'. Each VM has a qcow2 overlay on the profile's sealed version.
//
// Bare: after LabVirt's VMs are stopped, for each VM at once: the same overlay with a bare
// `qemu-img create -f qcow2 -F FMT -b GOLDEN`, then the exact argv LabVirt's supervisor
// recorded for it (so -daemonize and -pidfile too, waiting for the daemonizing parent as
// the supervisor does), then QMP query-status until running. It does NOT do what LabVirt
// does on top: HTTP and auth, placement and rows in the database, the store's checks of the
// version, the run-dir record, the agent's display gateway, or the watcher of the process.
//
// Terminals: a lab whose default profile is the same; N enrolled terminals each GET
// /terminal/v1/config?mac=… at once; 202 while the VM starts, asked again after the 202's
// Retry-After (2 s), as the terminal's boot script does (--poll-ms N: every N ms instead),
// until 200. Beside it the server-side truth: when the agent's supervisor had each
// terminal's VM running. A terminal's VM has a ticketed display (two VNC servers), so its
// bare baseline is a bare storm of those VMs' own argv, run after they are stopped.
//
// Every round stops all its VMs (through the API, or SIGKILL for the bare ones; not timed)
// and checks that no QEMU naming this benchmark's temp dir is left.
// Run: npm run build && node dist/bench/boot-storm.js [--quick]
import { performance } from 'node:perf_hooks';
import {
  argAfter,
  bareCleanup,
  bareStart,
  killQemus,
  qemusOf,
  type BareLaunch,
} from './lib/bare-qemu.js';
import {
  enrolTerminals,
  labvirtStorm,
  launchesOf,
  openStormBench,
  stopVms,
  terminalStorm,
  type StormBench,
} from './lib/boot-storm-labvirt.js';
import { goOn, handleInterrupts } from './lib/interrupt.js';
import { numberOption, option, QUICK } from './lib/options.js';
import { median, percentile, ROUNDS } from './lib/stats.js';
import { fixed, markdownTable, ratio, verdict } from './lib/table.js';

const COUNTS = QUICK ? [1, 5] : [1, 10, 20];
const TARGET_N = 20;
const TARGET_RATIO = 1.15;

/** A fixed poll after a 202 instead of its Retry-After, if asked for. */
const POLL_MS = option('--poll-ms') === undefined ? undefined : numberOption('--poll-ms', 100);

/** Fewer rounds for the big storms, to keep a full run near 3 minutes. */
function roundsFor(count: number): number {
  if (count >= 20) return Math.min(ROUNDS, 3);
  if (count >= 10) return Math.min(ROUNDS, 5);
  return ROUNDS;
}

/** Terminal rounds wait for Retry-After and run a bare storm too: fewer of them. */
function terminalRoundsFor(count: number): number {
  return Math.min(roundsFor(count), QUICK ? 2 : count >= 10 ? 3 : 5);
}

async function noQemuLeft(bench: StormBench, what: string): Promise<void> {
  const left = await qemusOf(bench.dir);
  if (left.length > 0) throw new Error(`${what}: QEMU ${left.join(' ')} still running`);
}

interface StormRound {
  readonly labvirt: number;
  readonly bare: number;
  readonly accel: string;
}

/** One LabVirt storm of `count` VMs, then the bare one with the same argv. */
async function stormRound(bench: StormBench, count: number): Promise<StormRound> {
  const { ms: labvirt, vms } = await labvirtStorm(bench, count);
  const launches = await launchesOf(bench, vms);
  await stopVms(
    bench,
    vms.map((vm) => vm.id),
  );
  await noQemuLeft(bench, 'after LabVirt stopped its VMs');
  const bare = await bareStorm(bench, launches);
  return { labvirt, bare, accel: argAfter(launches[0]?.argv ?? [], '-accel') };
}

/** The VMs LabVirt just ran (now stopped), started again bare, all at once; then killed. */
async function bareStorm(bench: StormBench, launches: readonly BareLaunch[]): Promise<number> {
  const start = performance.now();
  try {
    // All settled before the cleanup: a start still under way would leave its QEMU behind.
    const results = await Promise.allSettled(launches.map(bareStart));
    const elapsed = performance.now() - start;
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return elapsed;
  } finally {
    await bareCleanup(bench.dir, launches);
    await noQemuLeft(bench, 'after the bare VMs were killed');
  }
}

interface TerminalRound {
  readonly p50: number;
  readonly max: number;
  readonly runningP50: number;
  readonly runningMax: number;
  readonly requests: number;
  /** The same VMs' argv started bare, all at once. */
  readonly bare: number;
}

async function terminalRound(bench: StormBench, macs: readonly string[]): Promise<TerminalRound> {
  const timings = await terminalStorm(bench, macs, POLL_MS);
  const launches = await launchesOf(
    bench,
    timings.map((timing) => ({ name: timing.vm })),
  );
  await stopVms(
    bench,
    timings.map((timing) => timing.vm),
  );
  await noQemuLeft(bench, 'after the terminals’ VMs stopped');
  const bare = await bareStorm(bench, launches);
  const firstOk = timings.map((timing) => timing.firstOk);
  const running = timings.map((timing) => timing.running);
  return {
    p50: percentile(firstOk, 0.5),
    max: Math.max(...firstOk),
    runningP50: percentile(running, 0.5),
    runningMax: Math.max(...running),
    requests: Math.max(...timings.map((timing) => timing.requests)),
    bare,
  };
}

const medianOf = <T>(rounds: readonly T[], pick: (round: T) => number) => median(rounds.map(pick));

async function main(): Promise<void> {
  handleInterrupts();
  const bench = await openStormBench();
  const storms = new Map<number, StormRound[]>();
  const terminals = new Map<number, TerminalRound[]>();
  try {
    console.error(`boot-storm: temp dir ${bench.dir}`);
    await stormRound(bench, 1); // warm-up: page cache, first QEMU, first qemu-img
    for (const count of COUNTS) {
      const rounds: StormRound[] = [];
      for (let round = 0; round < roundsFor(count); round++) {
        goOn();
        const result = await stormRound(bench, count);
        console.error(
          `storm N=${count} #${round + 1}: LabVirt ${fixed(result.labvirt)} ms, bare ${fixed(result.bare)} ms`,
        );
        rounds.push(result);
      }
      storms.set(count, rounds);
    }
    const macs = await enrolTerminals(bench, Math.max(...COUNTS));
    for (const count of COUNTS) {
      const rounds: TerminalRound[] = [];
      for (let round = 0; round < terminalRoundsFor(count); round++) {
        goOn();
        const result = await terminalRound(bench, macs.slice(0, count));
        console.error(
          `terminals N=${count} #${round + 1}: first 200 p50 ${fixed(result.p50)} max ${fixed(result.max)} ms (${result.requests} requests), VM running max ${fixed(result.runningMax)} ms, bare ${fixed(result.bare)} ms`,
        );
        rounds.push(result);
      }
      terminals.set(count, rounds);
    }
  } finally {
    await killQemus(bench.dir, await qemusOf(bench.dir)).catch((error: unknown) =>
      console.error(error),
    );
    await bench.close();
  }

  const accel = storms.get(COUNTS[0] ?? 1)?.[0]?.accel ?? '?';
  const bareOf = (count: number) => medianOf(storms.get(count) ?? [], (round) => round.bare);
  const stormRatio = (count: number) =>
    medianOf(storms.get(count) ?? [], (round) => round.labvirt) / bareOf(count);
  const stormRows = COUNTS.map((count) => {
    const rounds = storms.get(count) ?? [];
    const target =
      count === TARGET_N
        ? `${verdict(stormRatio(count) <= TARGET_RATIO)} (≤ ${TARGET_RATIO})`
        : '–';
    return [
      String(count),
      String(rounds.length),
      fixed(bareOf(count)),
      fixed(medianOf(rounds, (round) => round.labvirt)),
      ratio(stormRatio(count), 1),
      target,
    ];
  });
  const terminalRows = COUNTS.map((count) => {
    const rounds = terminals.get(count) ?? [];
    const max = medianOf(rounds, (round) => round.max);
    const runningMax = medianOf(rounds, (round) => round.runningMax);
    const bare = medianOf(rounds, (round) => round.bare);
    return [
      String(count),
      String(rounds.length),
      fixed(medianOf(rounds, (round) => round.p50)),
      fixed(max),
      fixed(medianOf(rounds, (round) => round.runningP50)),
      fixed(runningMax),
      fixed(bare),
      ratio(runningMax, bare),
      ratio(max, bare),
    ];
  });
  const polling =
    POLL_MS === undefined
      ? "after a 202 each asks again after its Retry-After (2 s), as the terminal's boot script does"
      : `after a 202 each asks again every ${POLL_MS} ms (not the 202's Retry-After)`;
  const largest = COUNTS[COUNTS.length - 1] ?? 1;
  const targetLine = COUNTS.includes(TARGET_N)
    ? `Target: boot storm ratio ≤ ${TARGET_RATIO} at N = ${TARGET_N}: ${verdict(stormRatio(TARGET_N) <= TARGET_RATIO)} (${ratio(stormRatio(TARGET_N), 1)}).`
    : `Target: boot storm ratio ≤ ${TARGET_RATIO} at N = ${TARGET_N}: not measured (--quick stops at N = ${largest}: ${ratio(stormRatio(largest), 1)}).`;
  const roundsText = (of: (count: number) => number) =>
    COUNTS.map((count) => `${of(count)} at N = ${count}`).join(', ');
  console.log(
    [
      `Boot storm: N = ${COUNTS.join(', ')} client VMs started at once through the API (POST /api/v1/vms over HTTP, until each runs) against a bare script starting the same overlays and QEMU argv (until QMP query-status says running); then N terminals of one lab asking GET /terminal/v1/config at once until their 200 (${polling}). Accel ${accel}; guest: LabVirt's boot-sector test guest (32 MiB, 1 vCPU, a qcow2 overlay per VM). Medians over rounds (storm: ${roundsText(roundsFor)}; terminals: ${roundsText(terminalRoundsFor)}; fewer for the big storms to keep the run near 3 minutes), milliseconds.`,
      '',
      markdownTable(['N', 'rounds', 'bare ms', 'LabVirt ms', 'ratio', 'target'], stormRows),
      '',
      markdownTable(
        [
          'N terminals',
          'rounds',
          'first 200 p50',
          'first 200 max',
          'VM running p50',
          'VM running max',
          'bare, same argv',
          'VM running max vs bare',
          'first 200 max vs bare',
        ],
        terminalRows,
      ),
      '',
      targetLine,
    ].join('\n'),
  );
}

await main();

// Event latency (issue 9, item 5): from a guest powering itself off to the API's event
// stream (GET /api/v1/events) telling that VM as ended (state 'stopped'), on the embedded
// default: the in-process app (buildApp) with its LocalAgent, real QEMU, SQLite, the VM
// watcher's product default period, one listener, as the web console holds it.
//
// T0 is the guest's own act, measured without LabVirt: the guest (GuestMode.powerOff)
// prints "LABVIRT-GUEST power off" to its serial port, a file, and its next instruction is
// the ACPI S5 write; the file's mtime (kernel clock, CLOCK_REALTIME like Date.now()) is T0
// (bench/lib/bare-poweroff.ts). Nothing of LabVirt's is touched to make it power off: no
// power button (that goes through LabVirt's stop path, which tells the end itself). This
// guest powers off as soon as it has booted, so each round's "ran for" (T0 minus the
// moment POST /vms answered 'running') is checked: a round whose guest was gone before its
// start was answered is not the steady case, and is counted apart.
//
// Baseline: the same guest on a QEMU launched here with LabVirt's kind of command line, seen
// by a bare QMP client (the SHUTDOWN event) and by the child's exit.
// Run: npm run build && node dist/bench/event-latency.js [--quick]
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GuestMode, writeGuestDisk } from '../scripts/guest.js';
import type { VmView } from '../src/controller/services/vms.js';
import { dialects } from '../test/helpers/databases.js';
import { openSse, type SseMessage } from '../test/helpers/sse-client.js';
import { guestProfile, startClient, vmFixture } from '../test/helpers/vm-fixture.js';
import { barePowerOff, powerOffTime, type BareObservation } from './lib/bare-poweroff.js';
import { median, ROUNDS } from './lib/stats.js';
import { goOn, handleInterrupts } from './lib/interrupt.js';
import { fixed, markdownTable, ratio, verdict } from './lib/table.js';

const TARGET_MS = 1000;
const LIVE: readonly string[] = ['starting', 'running', 'stopping'];
const log = (line: string) => console.error(`event-latency: ${line}`);

interface LabVirtRound {
  readonly latencyMs: number;
  /** T0 minus the moment POST /vms answered: how long the guest ran after its start. */
  readonly ranMs: number;
}

async function labvirtRounds(): Promise<{
  rounds: LabVirtRound[];
  bare: BareObservation[];
}> {
  const sqlite = dialects.find((dialect) => dialect.name === 'sqlite');
  if (sqlite === undefined) throw new Error('no SQLite dialect');
  const f = await vmFixture(sqlite);
  try {
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    const profile = await guestProfile(f, { mode: GuestMode.powerOff });
    const stream = await openSse(`${base}/api/v1/events`, {
      authorization: `Bearer ${f.users.viewer.token}`,
    });
    if (stream.status !== 200) throw new Error(`GET /events → ${stream.status}`);
    const rounds: LabVirtRound[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        goOn();
        const vm = await startClient(f, profile.name);
        const answered = Date.now();
        const isEnd = (m: SseMessage) =>
          m.event === 'vm' &&
          (m.data as VmView).id === vm.id &&
          !LIVE.includes((m.data as VmView).state);
        const ended = await stream.next(`the end of ${vm.name}`, isEnd, 180_000);
        const view = ended.data as VmView;
        if (view.state !== 'stopped')
          throw new Error(`${vm.name} ended ${view.state}, not stopped`);
        const t0 = await powerOffTime(f.supervisor.runDir.defaultSerialLog(vm.name));
        rounds.push({ latencyMs: ended.at - t0, ranMs: t0 - answered });
        log(
          `round ${round + 1}: ${fixed(ended.at - t0)} ms (guest ran ${fixed(t0 - answered)} ms after its start answered)`,
        );
      }
    } finally {
      stream.close();
    }
    // The baseline on the same guest disk, after LabVirt's rounds (no QEMU of theirs left).
    const disk = join(f.dir, 'import', 'bare-guest.img');
    await writeGuestDisk(disk, GuestMode.powerOff);
    const bare: BareObservation[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      goOn();
      const seen = await barePowerOff(f.dir, disk);
      log(
        `bare round ${round + 1}: QMP ${fixed(seen.eventMs)} ms, exit ${fixed(seen.exitMs)} ms, QEMU's stamp ${fixed(seen.stampMs)} ms`,
      );
      bare.push(seen);
    }
    return { rounds, bare };
  } finally {
    await f.close();
  }
}

async function main(): Promise<void> {
  handleInterrupts();
  const { rounds, bare } = await labvirtRounds();
  const steady = rounds.filter((round) => round.ranMs > 0);
  const max = (values: number[]) => Math.max(...values);
  const bareEvent = bare.map((seen) => seen.eventMs);
  const row = (label: string, values: number[]) => [
    label,
    String(values.length),
    fixed(median(values)),
    fixed(max(values)),
    ratio(median(values), median(bareEvent)),
  ];
  const labvirt = steady.map((round) => round.latencyMs);
  const early = rounds.length - steady.length;
  if (labvirt.length === 0) throw new Error('no round in which the guest ran after its start');
  console.log(
    [
      `Event latency: from the guest powering itself off (T0: the mtime of its serial log's last line, ` +
        `written just before its ACPI power-off) to the observer hearing it, milliseconds; ${ROUNDS} rounds. ` +
        `LabVirt: the embedded default (in-process app, LocalAgent, SQLite), one GET /api/v1/events ` +
        `listener, the VM's 'stopped' event. Baseline: a QEMU launched here with the same kind of ` +
        `command line, seen by a bare QMP client (SHUTDOWN) and by its exit. ` +
        `QEMU's own SHUTDOWN timestamp − T0 (the T0 method's check): median ${fixed(median(bare.map((seen) => seen.stampMs)))} ms.` +
        (early > 0
          ? ` ${early} round(s) left out: the guest was gone before its start was answered.`
          : ''),
      '',
      markdownTable(
        ['observer', 'rounds', 'p50 ms', 'max ms', 'p50 vs bare QMP'],
        [
          row('bare QMP client: SHUTDOWN event', bareEvent),
          row(
            'bare: QEMU process exit (its parent)',
            bare.map((seen) => seen.exitMs),
          ),
          row('LabVirt event stream: VM stopped (embedded)', labvirt),
        ],
      ),
      '',
      `Target: event latency under ${TARGET_MS} ms (max of the rounds): ${fixed(max(labvirt))} ms — ${verdict(labvirt.length > 0 && max(labvirt) < TARGET_MS)}`,
    ].join('\n'),
  );
}

await main();

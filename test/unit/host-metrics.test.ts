// HostMetrics over the pool's entries, with fake agents at the HostAgent seam: every host is
// sampled, a failing one is skipped and logged once (until it works again), a slow one does
// not hold up the others nor gets asked twice, a removed host's history goes, and each VM's
// latest use comes with its connections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { AgentVm, HostUsage } from '../../src/agent/host-agent.js';
import type { Database } from '../../src/db/schema.js';
import { EventBus, type LiveEvent } from '../../src/controller/events/event-bus.js';
import { HostMetrics, type HostAgentEntry } from '../../src/controller/services/host-metrics.js';
import { fakeAgent } from '../helpers/fake-agent.js';

function usage(at: number, rx: number): HostUsage {
  return {
    at: new Date(at * 1000).toISOString(),
    cpuPercent: 10,
    memoryUsedMiB: 1,
    memoryTotalMiB: 2,
    diskUsedMiB: 1,
    diskTotalMiB: 2,
    vms: 1,
    netRxBytes: rx,
    netTxBytes: rx * 2,
    vmUsage: [{ name: 'vm-1', cpuPercent: 50, memoryMiB: 64 }],
  };
}

const vm = (name: string, connections: number): AgentVm => ({
  name,
  uuid: '00000000-0000-4000-8000-000000000000',
  pid: 1,
  state: 'running',
  runStatus: 'running',
  mac: '52:54:00:00:00:01',
  vncSocket: '/dev/null',
  discardWrites: true,
  startedAt: new Date(0).toISOString(),
  display: null,
  connections: Array.from({ length: connections }, () => ({
    peer: '10.0.0.7:5000',
    since: new Date(0).toISOString(),
    via: 'gateway' as const,
  })),
});

describe('HostMetrics', () => {
  it('samples every entry, logs a failing host once, forgets a removed one', async () => {
    let tick = 0;
    let broken = true;
    const good = fakeAgent({
      usage: async () => usage(++tick * 10, tick * 1000),
      vms: [vm('vm-1', 2)],
    });
    const bad = fakeAgent({
      usage: async () => {
        if (broken) throw new Error('unreachable');
        return usage(1, 0);
      },
    });
    let entries: HostAgentEntry[] = [
      { hostId: 'h-good', agent: good },
      { hostId: 'h-bad', agent: bad },
    ];
    const logged: string[] = [];
    const events: LiveEvent[] = [];
    const bus = new EventBus();
    bus.subscribe((event) => events.push(event));
    const metrics = new HostMetrics({
      db: undefined as unknown as Kysely<Database>, // entries carry their host ids
      agents: () => entries,
      events: bus,
      now: () => new Date(0),
      log: (_error, message) => logged.push(message),
    });

    for (let i = 0; i < 3; i++) await metrics.sampleNow();
    assert.equal(metrics.samples('h-good').length, 3);
    assert.equal(metrics.latest('h-bad'), null);
    assert.deepEqual(logged, [
      'sampling the use of h-bad failed (not logged again until it works)',
    ]);
    assert.equal(events.length, 3);
    assert.deepEqual(events[2], {
      type: 'metrics',
      data: { host: 'h-good', sample: usage(30, 3000) },
    });

    assert.deepEqual(metrics.vmUsage('h-good'), [
      { name: 'vm-1', cpuPercent: 50, memoryMiB: 64, connections: 2 },
    ]);
    assert.deepEqual(
      metrics.vmSeries('h-good', 'vm-1').map((p) => p.at),
      [10, 20, 30].map((s) => new Date(s * 1000).toISOString()),
    );
    assert.deepEqual(
      metrics.netRates('h-good').map((r) => [r.rxBytesPerSecond, r.txBytesPerSecond]),
      [
        [100, 200],
        [100, 200],
      ],
    );

    // It works again, then fails again: logged once more.
    broken = false;
    await metrics.sampleNow();
    assert.equal(metrics.samples('h-bad').length, 1);
    broken = true;
    await metrics.sampleNow();
    await metrics.sampleNow();
    assert.equal(logged.length, 2);

    entries = [{ hostId: 'h-bad', agent: bad }];
    await metrics.sampleNow();
    assert.deepEqual(metrics.samples('h-good'), [], 'a removed host’s history goes');
  });

  it('a slow host is asked once at a time and does not hold up the others', async () => {
    let release: () => void = () => undefined;
    let asked = 0;
    const slow = fakeAgent({
      usage: () => {
        asked++;
        return new Promise<HostUsage>((resolve) => (release = () => resolve(usage(1, 0))));
      },
    });
    let fastSamples = 0;
    const fast = fakeAgent({ usage: async () => usage(++fastSamples, 0) });
    const metrics = new HostMetrics({
      db: undefined as unknown as Kysely<Database>,
      agents: () => [
        { hostId: 'slow', agent: slow },
        { hostId: 'fast', agent: fast },
      ],
      events: new EventBus(),
      now: () => new Date(0),
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const first = metrics.sampleNow();
    await settle();
    const second = metrics.sampleNow();
    await settle();
    assert.equal(asked, 1, 'not asked again while its sample is under way');
    assert.equal(metrics.samples('fast').length, 2, 'the fast host was sampled both times');
    release();
    await Promise.all([first, second]);
    assert.equal(metrics.samples('slow').length, 1);
  });
});

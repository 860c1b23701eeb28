// What each host is using, over the last hour: every 10 s the controller asks each host's
// agent for a sample (CPU, memory, disk, network, each VM's CPU and memory) and its VMs'
// connections, keeps 360 samples per host in memory (a restart forgets them; an outside
// monitoring system keeps history) and publishes each as a `metrics` event, as the agent
// gave it. /metrics and the console read the latest from here, and network rates (bytes
// per second between samples) are made of the samples' counters.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { HostAgent, HostUsage, VmUsage } from '../../agent/host-agent.js';
import { bytesPerSecond } from '../../agent/host-usage-parse.js';
import type { EventBus } from '../events/event-bus.js';
import { registerHost } from './hosts.js';

export const METRICS_INTERVAL_MS = 10_000;
/** An hour of samples at the default interval. */
export const METRICS_KEPT = 360;

/** A host's agent, by the host's id (AgentPool.entries()). */
export interface HostAgentEntry {
  readonly hostId: string;
  readonly agent: HostAgent;
}

export interface HostMetricsDeps {
  readonly db: Kysely<Database>;
  /**
   * The hosts to sample, asked again every round (hosts come and go): the pool's entries.
   * A plain list of agents (a bare app, tests) finds each host's id by its report's name.
   */
  readonly agents: (() => Iterable<HostAgentEntry>) | readonly HostAgent[];
  readonly events: EventBus;
  readonly now: () => Date;
  readonly log?: (error: unknown, message: string) => void;
  readonly keep?: number;
}

/** The host's network between a sample and the one before it. */
export interface NetRate {
  /** The later sample's time. */
  readonly at: string;
  readonly rxBytesPerSecond: number;
  readonly txBytesPerSecond: number;
}

/** One VM's use at the latest sample, and who was connected to it then. */
export interface VmSample extends VmUsage {
  readonly connections: number;
}

/** One VM's use over the samples kept, oldest first. */
export interface VmPoint {
  readonly at: string;
  readonly cpuPercent: number;
  readonly memoryMiB: number;
}

export class HostMetrics {
  readonly #deps: HostMetricsDeps;
  /** Samples per host id, oldest first. */
  readonly #samples = new Map<string, HostUsage[]>();
  /** Connections per VM name at the latest sample, per host id. */
  readonly #connections = new Map<string, ReadonlyMap<string, number>>();
  /** Each listed agent's host id, looked up by its report's name once. */
  readonly #hostIds = new Map<HostAgent, Promise<string>>();
  /** Hosts whose sample is under way: a slow host does not hold up the others' rounds. */
  readonly #inFlight = new Map<string | HostAgent, Promise<void>>();
  /** Hosts whose last sample failed: logged once until one succeeds again. */
  readonly #failing = new Set<string | HostAgent>();
  #timer: NodeJS.Timeout | undefined;
  #intervalMs = METRICS_INTERVAL_MS;

  constructor(deps: HostMetricsDeps) {
    this.#deps = deps;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Samples every `intervalMs` (the first one at once) until stop(). */
  start(intervalMs = METRICS_INTERVAL_MS): void {
    if (this.#timer !== undefined) return;
    this.#intervalMs = intervalMs;
    this.#timer = setInterval(() => void this.sampleNow(), intervalMs);
    this.#timer.unref();
    void this.sampleNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#inFlight.values());
  }

  /**
   * One sample of every host now (a host whose previous sample is still under way is not
   * asked twice; a host that fails is logged and skipped). Resolves when all are in.
   */
  async sampleNow(): Promise<void> {
    const agents = this.#deps.agents;
    if (typeof agents !== 'function') {
      await Promise.all(agents.map((agent) => this.#once(agent, () => this.#hostId(agent), agent)));
      return;
    }
    const present = new Set<string>();
    const rounds: Promise<void>[] = [];
    for (const { hostId, agent } of agents()) {
      present.add(hostId);
      rounds.push(this.#once(hostId, async () => hostId, agent));
    }
    // A removed host's history goes with it.
    for (const hostId of [...this.#samples.keys(), ...this.#failing]) {
      if (typeof hostId === 'string' && !present.has(hostId)) this.#forget(hostId);
    }
    await Promise.all(rounds);
  }

  /** The host's samples of the last hour, oldest first. */
  samples(hostId: string): HostUsage[] {
    return [...(this.#samples.get(hostId) ?? [])];
  }

  latest(hostId: string): HostUsage | null {
    return this.#samples.get(hostId)?.at(-1) ?? null;
  }

  /** The host's network rates between consecutive samples, oldest first. */
  netRates(hostId: string): NetRate[] {
    return netRatesOf(this.#samples.get(hostId) ?? []);
  }

  /** Each VM's use at the host's latest sample, with its connections then. */
  vmUsage(hostId: string): VmSample[] {
    const connections = this.#connections.get(hostId);
    return (this.latest(hostId)?.vmUsage ?? []).map((vm) => ({
      ...vm,
      connections: connections?.get(vm.name) ?? 0,
    }));
  }

  /** One VM's use over the host's samples kept, oldest first (only samples it was in). */
  vmSeries(hostId: string, vm: string): VmPoint[] {
    return this.samples(hostId).flatMap((sample) => {
      const use = sample.vmUsage?.find((v) => v.name === vm);
      return use === undefined
        ? []
        : [{ at: sample.at, cpuPercent: use.cpuPercent, memoryMiB: use.memoryMiB }];
    });
  }

  #once(key: string | HostAgent, hostId: () => Promise<string>, agent: HostAgent): Promise<void> {
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#sample(key, hostId, agent).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #sample(
    key: string | HostAgent,
    hostIdOf: () => Promise<string>,
    agent: HostAgent,
  ): Promise<void> {
    try {
      const [hostId, usage, vms] = await Promise.all([
        hostIdOf(),
        agent.usage(),
        // Connections are a nicety of the sample: the sample stands without them.
        agent.listVms().catch(() => undefined),
      ]);
      this.#failing.delete(key);
      let kept = this.#samples.get(hostId);
      if (kept === undefined) this.#samples.set(hostId, (kept = []));
      kept.push(usage);
      kept.splice(0, Math.max(0, kept.length - (this.#deps.keep ?? METRICS_KEPT)));
      if (vms !== undefined) {
        this.#connections.set(hostId, new Map(vms.map((vm) => [vm.name, vm.connections.length])));
      }
      this.#deps.events.publish({ type: 'metrics', data: { host: hostId, sample: usage } });
    } catch (error) {
      // An offline host fails every 10 s: say so once, not 360 times an hour.
      if (this.#failing.has(key)) return;
      this.#failing.add(key);
      const host = typeof key === 'string' ? key : 'a host';
      this.#deps.log?.(
        error,
        `sampling the use of ${host} failed (not logged again until it works)`,
      );
    }
  }

  #forget(hostId: string): void {
    this.#samples.delete(hostId);
    this.#connections.delete(hostId);
    this.#failing.delete(hostId);
  }

  #hostId(agent: HostAgent): Promise<string> {
    let id = this.#hostIds.get(agent);
    if (id === undefined) {
      id = (async () => {
        const report = await agent.report();
        const row = await this.#deps.db
          .selectFrom('hosts')
          .select('id')
          .where('name', '=', report.name)
          .executeTakeFirst();
        // The server registers its hosts at start; a bare app (tests) on first use.
        return row?.id ?? registerHost(this.#deps.db, report, this.#deps.now());
      })();
      id.catch(() => this.#hostIds.delete(agent));
      this.#hostIds.set(agent, id);
    }
    return id;
  }
}

/**
 * Bytes per second between consecutive samples (by the agents' own clocks); a pair without
 * counters (an older agent) gives none.
 */
export function netRatesOf(samples: readonly HostUsage[]): NetRate[] {
  const rates: NetRate[] = [];
  for (const [i, after] of samples.entries()) {
    const before = samples[i - 1];
    if (before === undefined) continue;
    if (before.netRxBytes === undefined || before.netTxBytes === undefined) continue;
    if (after.netRxBytes === undefined || after.netTxBytes === undefined) continue;
    const elapsedMs = Date.parse(after.at) - Date.parse(before.at);
    rates.push({
      at: after.at,
      rxBytesPerSecond: bytesPerSecond(before.netRxBytes, after.netRxBytes, elapsedMs),
      txBytesPerSecond: bytesPerSecond(before.netTxBytes, after.netTxBytes, elapsedMs),
    });
  }
  return rates;
}

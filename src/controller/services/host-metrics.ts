// What each host is using, over the last hour: every 10 s the controller asks each agent
// for a sample (CPU, memory, disk, VMs), keeps 360 per host in memory (a restart forgets
// them; an outside monitoring system keeps history) and publishes it as a `metrics` event.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { HostAgent, HostUsage } from '../../agent/host-agent.js';
import type { EventBus } from '../events/event-bus.js';
import { registerHost } from './hosts.js';

export const METRICS_INTERVAL_MS = 10_000;
/** An hour of samples at the default interval. */
export const METRICS_KEPT = 360;

export interface HostMetricsDeps {
  readonly db: Kysely<Database>;
  readonly agents: readonly HostAgent[];
  readonly events: EventBus;
  readonly now: () => Date;
  readonly log?: (error: unknown, message: string) => void;
  readonly keep?: number;
}

export class HostMetrics {
  readonly #deps: HostMetricsDeps;
  /** Samples per host id, oldest first. */
  readonly #samples = new Map<string, HostUsage[]>();
  /** Each agent's host id, looked up by its report's name once. */
  readonly #hostIds = new Map<HostAgent, Promise<string>>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
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
    this.#timer = setInterval(() => {
      if (this.#round === undefined) void this.sampleNow();
    }, intervalMs);
    this.#timer.unref();
    void this.sampleNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  /** One sample of every agent now (an agent that fails is logged and skipped). */
  sampleNow(): Promise<void> {
    const round = Promise.all(this.#deps.agents.map((agent) => this.#sample(agent))).then(
      () => undefined,
    );
    this.#round = round;
    void round.finally(() => {
      if (this.#round === round) this.#round = undefined;
    });
    return round;
  }

  /** The host's samples of the last hour, oldest first. */
  samples(hostId: string): HostUsage[] {
    return [...(this.#samples.get(hostId) ?? [])];
  }

  latest(hostId: string): HostUsage | null {
    return this.#samples.get(hostId)?.at(-1) ?? null;
  }

  async #sample(agent: HostAgent): Promise<void> {
    try {
      const [hostId, sample] = await Promise.all([this.#hostId(agent), agent.usage()]);
      let kept = this.#samples.get(hostId);
      if (kept === undefined) this.#samples.set(hostId, (kept = []));
      kept.push(sample);
      kept.splice(0, Math.max(0, kept.length - (this.#deps.keep ?? METRICS_KEPT)));
      this.#deps.events.publish({ type: 'metrics', data: { host: hostId, sample } });
    } catch (error) {
      this.#deps.log?.(error, 'sampling the host’s use failed');
    }
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

// Publishes `vm` events: while anyone listens to the live events, it lists the active VMs
// about every second (and at once when poked after a change through the API), and tells
// what appeared, changed or ended (see vm-watch-diff.ts). Nobody listening: no timer, no
// queries. The first round after a start only takes the baseline: nothing is replayed.
import type { EventBus } from './event-bus.js';
import { diffVms } from './vm-watch-diff.js';
import type { VmService, VmView } from '../services/vms.js';

export interface VmWatcherDeps {
  readonly vms: Pick<VmService, 'list' | 'view'>;
  readonly events: EventBus;
  readonly intervalMs?: number;
  readonly log?: (error: unknown) => void;
}

export class VmWatcher {
  readonly #deps: VmWatcherDeps;
  /** The active VMs of the last round; undefined until the baseline is taken. */
  #known: Map<string, VmView> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(deps: VmWatcherDeps) {
    this.#deps = deps;
  }

  get watching(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts watching (unless it does) and resolves once the baseline is taken. */
  async start(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => {
        // A slow round delays the next one rather than piling rounds up.
        if (this.#round === undefined) void this.poke();
      }, this.#deps.intervalMs ?? 1_000);
      this.#timer.unref();
    }
    if (this.#known === undefined) await this.poke();
  }

  /** A round now, or right after the one under way; resolves when it is done. */
  poke(): Promise<void> {
    if (this.#timer === undefined) return Promise.resolve();
    if (this.#round !== undefined) {
      this.#again = true;
      return this.#round;
    }
    this.#round = (async () => {
      do {
        this.#again = false;
        await this.#once().catch((error: unknown) => this.#deps.log?.(error));
      } while (this.#again && this.#timer !== undefined);
    })().finally(() => (this.#round = undefined));
    return this.#round;
  }

  /** Stops the timer and forgets the baseline (called when the last listener leaves). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#known = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.stop();
    await this.#round;
  }

  async #once(): Promise<void> {
    const { vms, events } = this.#deps;
    if (events.listeners === 0) return this.stop();
    const current = await vms.list({ state: 'active' });
    if (this.#timer === undefined) return; // stopped meanwhile
    const known = this.#known;
    this.#known = new Map(current.map((vm) => [vm.id, vm]));
    if (known === undefined) return;
    const { changed, gone } = diffVms(known, current);
    for (const vm of changed) events.publish({ type: 'vm', data: vm });
    for (const last of gone) {
      // Its final view (stopped, crashed, failed); a row deleted meanwhile has none.
      const ended = await vms.view(last.id).catch(() => undefined);
      if (ended !== undefined) events.publish({ type: 'vm', data: ended });
    }
  }
}

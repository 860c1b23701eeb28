// What the web console hears live (GET /api/v1/events, server-sent events): VMs changing
// state or connections, jobs progressing, host samples, and "something of this kind
// changed" after a change made through the API. Producers publish; the SSE route relays.

/** The kinds of thing a `changed` event names; the console re-reads that list. */
export type ChangeTopic =
  'labs' | 'terminals' | 'profiles' | 'hosts' | 'users' | 'vms' | 'dhcp' | 'audit' | 'jobs';

export type LiveEvent =
  | { readonly type: 'vm'; readonly data: unknown }
  | { readonly type: 'job'; readonly data: unknown }
  | { readonly type: 'metrics'; readonly data: { readonly host: string; readonly sample: unknown } }
  | { readonly type: 'changed'; readonly data: { readonly topic: ChangeTopic } };

export type LiveListener = (event: LiveEvent) => void;

export class EventBus {
  readonly #listeners = new Set<LiveListener>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  publish(event: LiveEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // One broken subscriber (a closed stream) must not keep the others from hearing.
      }
    }
  }
}

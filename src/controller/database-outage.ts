// While the database is away every request and every background round (hosts refresh,
// idle policy, metrics) fails the same way: said once when the outage starts, again at most
// once a minute with how many failures were not logged, and once when it answers again.
import { databaseUnreachable } from '../db/unreachable.js';

/** The seconds a 503 DATABASE_UNAVAILABLE asks the caller to wait (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export interface OutageLog {
  warn(facts: object, message: string): void;
  info(facts: object, message: string): void;
}

export class DatabaseOutage {
  readonly #log: () => OutageLog | undefined;
  readonly #now: () => number;
  readonly #repeatMs: number;
  #since: number | undefined;
  #loggedAt = 0;
  #unlogged = 0;

  constructor(log: () => OutageLog | undefined, now = Date.now, repeatMs = 60_000) {
    this.#log = log;
    this.#now = now;
    this.#repeatMs = repeatMs;
  }

  get down(): boolean {
    return this.#since !== undefined;
  }

  /**
   * True when `error` is the database out of reach (then it is logged here, or counted);
   * false for any other error, which the caller logs as before.
   */
  noted(error: unknown, what: string): boolean {
    const reason = databaseUnreachable(error);
    if (reason === undefined) return false;
    const now = this.#now();
    this.#since ??= now;
    if (this.#loggedAt !== 0 && now - this.#loggedAt < this.#repeatMs) {
      this.#unlogged += 1;
      return true;
    }
    this.#log()?.warn(
      { reason, during: what, unlogged: this.#unlogged, downMs: now - this.#since },
      `the database is unreachable (${reason}): answering 503 until it returns; VMs keep running`,
    );
    this.#loggedAt = now;
    this.#unlogged = 0;
    return true;
  }

  /** Something reached the database: an outage under way has ended. */
  recovered(): void {
    if (this.#since === undefined) return;
    const downMs = this.#now() - this.#since;
    this.#log()?.info(
      { downMs, unlogged: this.#unlogged },
      `the database answers again after ${Math.round(downMs / 1000)} s`,
    );
    this.#since = undefined;
    this.#loggedAt = 0;
    this.#unlogged = 0;
  }
}

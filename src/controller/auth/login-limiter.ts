// Failed logins are counted per source address and per user name; past the limit,
// logins from that address or for that name are refused until the window has passed.
// In memory: each controller counts its own (behind a load balancer the limit is per
// controller, which still bounds guessing).

export interface LoginLimiterOptions {
  readonly maxFailures?: number;
  readonly windowMs?: number;
  readonly now?: () => number;
}

export class LoginLimiter {
  #failures = new Map<string, number[]>();
  #max: number;
  #windowMs: number;
  #now: () => number;

  constructor(options: LoginLimiterOptions = {}) {
    this.#max = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until a login may be tried again, or 0 if it may be tried now. */
  retryAfter(ip: string, username: string): number {
    const now = this.#now();
    let wait = 0;
    for (const key of this.#keys(ip, username)) {
      const recent = this.#recent(key, now);
      if (recent.length >= this.#max) {
        wait = Math.max(wait, Math.ceil(((recent[0] ?? now) + this.#windowMs - now) / 1000));
      }
    }
    return wait;
  }

  fail(ip: string, username: string): void {
    const now = this.#now();
    for (const key of this.#keys(ip, username))
      this.#failures.set(key, [...this.#recent(key, now), now]);
  }

  succeed(ip: string, username: string): void {
    this.#failures.delete(`user:${username.toLowerCase()}`);
    void ip; // an address keeps its failures: one good password must not reset guessing from it
  }

  #keys(ip: string, username: string): string[] {
    return [`ip:${ip}`, `user:${username.toLowerCase()}`];
  }

  #recent(key: string, now: number): number[] {
    const recent = (this.#failures.get(key) ?? []).filter((at) => at > now - this.#windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, recent);
    return recent;
  }
}

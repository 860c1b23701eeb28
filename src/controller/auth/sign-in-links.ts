// One-time sign-in links: `labvirt server --demo` prints a URL that logs its user in
// once, so a newcomer needs no password. In memory only: a restart forgets every link,
// and only the SHA-256 of a token is kept (a heap dump gives no usable link).
import { hashSecret, newSecret } from './tokens.js';

/** A link is good for one hour after it is made. */
export const SIGN_IN_LINK_LIFETIME_MS = 3600_000;

export interface SignInLinksOptions {
  readonly now?: () => Date;
  readonly lifetimeMs?: number;
}

export interface SignInLink {
  readonly token: string;
  readonly expiresAt: Date;
}

export class SignInLinks {
  /** token hash → the user it signs in and when it stops working (ms since the epoch) */
  #links = new Map<string, { userId: string; expiresAt: number }>();
  #now: () => Date;
  #lifetimeMs: number;

  constructor(options: SignInLinksOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#lifetimeMs = options.lifetimeMs ?? SIGN_IN_LINK_LIFETIME_MS;
  }

  /** A new random token that signs userId in once within the lifetime. */
  create(userId: string): SignInLink {
    const now = this.#now().getTime();
    this.#prune(now);
    const token = newSecret();
    const expiresAt = now + this.#lifetimeMs;
    this.#links.set(hashSecret(token), { userId, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  }

  /** The user the token signs in, using it up; undefined when unknown, used or expired. */
  take(token: string): string | undefined {
    const key = hashSecret(token);
    const link = this.#links.get(key);
    this.#links.delete(key);
    if (link === undefined || link.expiresAt <= this.#now().getTime()) return undefined;
    return link.userId;
  }

  /** How many links are still usable (for tests and diagnostics). */
  get size(): number {
    this.#prune(this.#now().getTime());
    return this.#links.size;
  }

  #prune(now: number): void {
    for (const [key, link] of this.#links) if (link.expiresAt <= now) this.#links.delete(key);
  }
}

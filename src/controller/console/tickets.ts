// One-time tickets for the web console's WebSocket: the page asks for one with its session
// (POST, so CSRF-checked), then opens the socket with it. A browser sends no custom header
// on a WebSocket, so the ticket is what binds the upgrade to a deliberate request of this
// user for this VM. Kept in memory: a server restart only makes open pages ask again.
import { randomBytes } from 'node:crypto';

/** How long a ticket may wait for its WebSocket. */
export const CONSOLE_TICKET_TTL_MS = 30_000;
/** Outstanding tickets kept at most; past it the oldest go (each expires soon anyway). */
const MAX_TICKETS = 10_000;
const TICKET_BYTES = 32;

export interface ConsoleTicket {
  readonly ticket: string;
  readonly userId: string;
  readonly vmId: string;
  /** The holder may watch, not type or point: the bridge drops its input. */
  readonly viewOnly: boolean;
  readonly expiresAt: Date;
}

export interface ConsoleTicketsOptions {
  readonly now: () => Date;
  readonly ttlMs?: number;
  readonly random?: (size: number) => Buffer;
  readonly max?: number;
}

export class ConsoleTickets {
  #now: () => Date;
  #ttlMs: number;
  #random: (size: number) => Buffer;
  #max: number;
  /** In issue order, so the oldest are first to prune. */
  #tickets = new Map<string, ConsoleTicket>();

  constructor(options: ConsoleTicketsOptions) {
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? CONSOLE_TICKET_TTL_MS;
    this.#random = options.random ?? randomBytes;
    this.#max = options.max ?? MAX_TICKETS;
  }

  issue(userId: string, vmId: string, viewOnly: boolean): ConsoleTicket {
    this.#prune();
    while (this.#tickets.size >= this.#max) {
      const oldest = this.#tickets.keys().next();
      if (oldest.done === true) break;
      this.#tickets.delete(oldest.value);
    }
    const ticket: ConsoleTicket = {
      ticket: this.#random(TICKET_BYTES).toString('base64url'),
      userId,
      vmId,
      viewOnly,
      expiresAt: new Date(this.#now().getTime() + this.#ttlMs),
    };
    this.#tickets.set(ticket.ticket, ticket);
    return ticket;
  }

  /**
   * Takes the ticket when it is unexpired and was issued to this user for this VM. Whoever
   * presents it, it is gone afterwards: a ticket shown by the wrong user has leaked.
   */
  redeem(ticket: string, userId: string, vmId: string): ConsoleTicket | undefined {
    this.#prune();
    const found = this.#tickets.get(ticket);
    if (found === undefined) return undefined;
    this.#tickets.delete(ticket);
    return found.userId === userId && found.vmId === vmId ? found : undefined;
  }

  /** Outstanding (unexpired, unused) tickets. */
  get size(): number {
    this.#prune();
    return this.#tickets.size;
  }

  #prune(): void {
    const now = this.#now().getTime();
    for (const [key, ticket] of this.#tickets) {
      if (ticket.expiresAt.getTime() <= now) this.#tickets.delete(key);
    }
  }
}

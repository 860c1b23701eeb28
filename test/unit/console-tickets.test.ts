// The console's one-time tickets: random, single use, 30 s, bound to a user and a VM.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONSOLE_TICKET_TTL_MS, ConsoleTickets } from '../../src/controller/console/tickets.js';

function clockAt(iso: string) {
  const clock = { now: new Date(iso) };
  return {
    clock,
    now: () => clock.now,
    advance: (ms: number) => (clock.now = new Date(clock.now.getTime() + ms)),
  };
}

describe('console tickets', () => {
  it('are 32 random bytes in base64url, expiring after 30 s', () => {
    const { now } = clockAt('2031-01-01T10:00:00.000Z');
    const tickets = new ConsoleTickets({ now });
    const a = tickets.issue('u1', 'vm1', true);
    const b = tickets.issue('u1', 'vm1', true);
    assert.match(a.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a.ticket, 'base64url').length, 32);
    assert.notEqual(a.ticket, b.ticket);
    assert.equal(CONSOLE_TICKET_TTL_MS, 30_000);
    assert.equal(a.expiresAt.toISOString(), '2031-01-01T10:00:30.000Z');
    assert.deepEqual(
      { userId: a.userId, vmId: a.vmId, viewOnly: a.viewOnly },
      { userId: 'u1', vmId: 'vm1', viewOnly: true },
    );
  });

  it('is taken once, by its user for its VM', () => {
    const { now } = clockAt('2031-01-01T10:00:00.000Z');
    const tickets = new ConsoleTickets({ now });
    const issued = tickets.issue('u1', 'vm1', false);
    assert.deepEqual(tickets.redeem(issued.ticket, 'u1', 'vm1'), issued);
    assert.equal(tickets.redeem(issued.ticket, 'u1', 'vm1'), undefined, 'used already');
    assert.equal(tickets.redeem('no-such-ticket', 'u1', 'vm1'), undefined);
  });

  it('shown by another user or for another VM is refused, and gone', () => {
    const { now } = clockAt('2031-01-01T10:00:00.000Z');
    const tickets = new ConsoleTickets({ now });
    const one = tickets.issue('u1', 'vm1', false);
    assert.equal(tickets.redeem(one.ticket, 'u2', 'vm1'), undefined);
    assert.equal(tickets.redeem(one.ticket, 'u1', 'vm1'), undefined, 'a leaked ticket is burnt');
    const two = tickets.issue('u1', 'vm1', false);
    assert.equal(tickets.redeem(two.ticket, 'u1', 'vm2'), undefined);
    assert.equal(tickets.size, 0);
  });

  it('expires at 30 s on the injected clock, and expired ones are pruned', () => {
    const { now, advance } = clockAt('2031-01-01T10:00:00.000Z');
    const tickets = new ConsoleTickets({ now });
    const early = tickets.issue('u1', 'vm1', false);
    advance(29_999);
    const late = tickets.issue('u1', 'vm1', false);
    assert.equal(tickets.size, 2);
    advance(1);
    assert.equal(tickets.size, 1, 'the first is gone at exactly 30 s');
    assert.equal(tickets.redeem(early.ticket, 'u1', 'vm1'), undefined);
    assert.deepEqual(tickets.redeem(late.ticket, 'u1', 'vm1'), late);
  });

  it('takes its TTL, random source and bound from options; past the bound the oldest go', () => {
    const { now } = clockAt('2031-01-01T10:00:00.000Z');
    let counter = 0;
    const tickets = new ConsoleTickets({
      now,
      ttlMs: 1_000,
      max: 2,
      random: (size) => Buffer.alloc(size, ++counter),
    });
    const a = tickets.issue('u1', 'vm1', false);
    const b = tickets.issue('u1', 'vm1', false);
    const c = tickets.issue('u1', 'vm1', false);
    assert.equal(a.ticket, Buffer.alloc(32, 1).toString('base64url'));
    assert.equal(c.expiresAt.toISOString(), '2031-01-01T10:00:01.000Z');
    assert.equal(tickets.size, 2);
    assert.equal(tickets.redeem(a.ticket, 'u1', 'vm1'), undefined, 'the oldest went');
    assert.ok(tickets.redeem(b.ticket, 'u1', 'vm1'));
    assert.ok(tickets.redeem(c.ticket, 'u1', 'vm1'));
  });
});

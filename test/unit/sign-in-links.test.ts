// One-time sign-in links: random, single use, one hour, bound to a user.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SIGN_IN_LINK_LIFETIME_MS, SignInLinks } from '../../src/controller/auth/sign-in-links.js';

describe('sign-in links', () => {
  const start = Date.parse('2026-01-05T10:00:00Z');

  it('signs its user in once, then never again', () => {
    const links = new SignInLinks({ now: () => new Date(start) });
    const link = links.create('user-1');
    assert.match(link.token, /^[\w-]{43}$/);
    assert.equal(link.expiresAt.toISOString(), '2026-01-05T11:00:00.000Z');
    assert.equal(links.take(link.token), 'user-1');
    assert.equal(links.take(link.token), undefined);
    assert.equal(links.size, 0);
  });

  it('tokens are random and each names its own user', () => {
    const links = new SignInLinks();
    const a = links.create('user-a');
    const b = links.create('user-b');
    assert.notEqual(a.token, b.token);
    assert.equal(links.take(b.token), 'user-b');
    assert.equal(links.take(a.token), 'user-a');
  });

  it('an unknown or altered token signs nobody in', () => {
    const links = new SignInLinks();
    const link = links.create('user-1');
    assert.equal(links.take(''), undefined);
    assert.equal(links.take(link.token.slice(1)), undefined);
    assert.equal(links.take(`${link.token}x`), undefined);
    assert.equal(links.take(link.token), 'user-1');
  });

  it('expires one hour after it was made, by the injected clock', () => {
    let now = start;
    const links = new SignInLinks({ now: () => new Date(now) });
    const early = links.create('user-1');
    const late = links.create('user-2');
    now = start + SIGN_IN_LINK_LIFETIME_MS - 1;
    assert.equal(links.take(early.token), 'user-1');
    now = start + SIGN_IN_LINK_LIFETIME_MS;
    assert.equal(links.take(late.token), undefined);
  });

  it('forgets expired links when new ones are made', () => {
    let now = start;
    const links = new SignInLinks({ now: () => new Date(now), lifetimeMs: 1000 });
    links.create('user-1');
    links.create('user-2');
    now += 1000;
    links.create('user-3');
    assert.equal(links.size, 1);
  });
});

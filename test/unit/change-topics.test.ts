// Which list a change through the API touches (the `changed` live event's topic).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeTopic } from '../../src/controller/events/change-topics.js';

describe('changeTopic', () => {
  it('is the first path segment of a successful change', () => {
    const cases: [string, string, string | undefined][] = [
      ['POST', '/api/v1/labs', 'labs'],
      ['PATCH', '/api/v1/labs/lab-a', 'labs'],
      ['PUT', '/api/v1/labs/lab-a/timetable', 'labs'],
      ['POST', '/api/v1/labs/lab-a/start', 'labs'],
      ['DELETE', '/api/v1/terminals/t1', 'terminals'],
      ['POST', '/api/v1/terminals/t1/enrol', 'terminals'],
      ['POST', '/api/v1/vms', 'vms'],
      ['POST', '/api/v1/vms/client-1/stop', 'vms'],
      ['POST', '/api/v1/vms/client-1/reset', 'vms'],
      ['PATCH', '/api/v1/users/ana', 'users'],
      ['PUT', '/api/v1/users/ana/password', 'users'],
      ['PUT', '/api/v1/dhcp/hosts', 'dhcp'],
      ['POST', '/api/v1/hosts', 'hosts'],
      ['PATCH', '/api/v1/hosts/node-1', 'hosts'],
      // An agent's join and hello change its host's row.
      ['POST', '/api/v1/agent/join', 'hosts'],
      ['POST', '/api/v1/agent/hello', 'hosts'],
      ['POST', '/api/v1/jobs', 'jobs'],
      ['DELETE', '/api/v1/audit', 'audit'],
      // Admin sessions, versions, rollback, clone, import and upload are the profiles'.
      ['POST', '/api/v1/profiles/guest/admin-session', 'profiles'],
      ['POST', '/api/v1/profiles/guest/admin-session/publish', 'profiles'],
      ['DELETE', '/api/v1/profiles/guest/versions/v2', 'profiles'],
      ['POST', '/api/v1/profiles/guest/rollback', 'profiles'],
      ['POST', '/api/v1/profiles/guest/clone', 'profiles'],
      ['POST', '/api/v1/profiles/guest/import', 'profiles'],
      ['PUT', '/api/v1/profiles/guest/upload', 'profiles'],
      ['post', '/api/v1/labs?x=1', 'labs'],
    ];
    for (const [method, url, topic] of cases)
      assert.equal(changeTopic(method, url, 201), topic, `${method} ${url}`);
    assert.equal(changeTopic('POST', '/api/v1/labs', 200), 'labs');
    assert.equal(changeTopic('POST', '/api/v1/labs', 204), 'labs');
    assert.equal(changeTopic('POST', '/api/v1/profiles/p/import', 202), 'profiles');
  });

  it('the caller’s own profile is a user’s; signing in and out and tokens change no list', () => {
    assert.equal(changeTopic('PATCH', '/api/v1/auth/me', 200), 'users');
    assert.equal(changeTopic('POST', '/api/v1/auth/login', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v1/auth/logout', 204), undefined);
    assert.equal(changeTopic('POST', '/api/v1/auth/tokens', 201), undefined);
    assert.equal(changeTopic('DELETE', '/api/v1/auth/tokens/t', 204), undefined);
    assert.equal(changeTopic('POST', '/api/v1/auth/link', 200), undefined);
  });

  it('nothing for reads, failures, routes of no list, or paths outside the API', () => {
    assert.equal(changeTopic('GET', '/api/v1/labs', 200), undefined);
    assert.equal(changeTopic('HEAD', '/api/v1/labs', 200), undefined);
    assert.equal(changeTopic('OPTIONS', '/api/v1/labs', 204), undefined);
    assert.equal(changeTopic('POST', '/api/v1/labs', 400), undefined);
    assert.equal(changeTopic('POST', '/api/v1/labs', 409), undefined);
    assert.equal(changeTopic('DELETE', '/api/v1/labs/x', 404), undefined);
    assert.equal(changeTopic('POST', '/api/v1/labs', 500), undefined);
    assert.equal(changeTopic('POST', '/api/v1/labs', 302), undefined);
    assert.equal(changeTopic('POST', '/api/v1/vms/v/console', 201), undefined);
    assert.equal(changeTopic('POST', '/api/v1/events', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v1/constructor', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v1/__proto__', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v1/', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v1', 200), undefined);
    assert.equal(changeTopic('POST', '/terminal/v1/config', 200), undefined);
    assert.equal(changeTopic('POST', '/api/v10/labs', 200), undefined);
  });
});

// "The database cannot be reached" among driver errors (golden cases, as pg and node raise
// them), its 503 problem, and the outage log that says it once, not per failure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseUnreachable, fromDatabaseDriver } from '../../src/db/unreachable.js';
import { toLabvirtError } from '../../src/controller/problem.js';
import { DatabaseOutage } from '../../src/controller/database-outage.js';
import { LabvirtError } from '../../src/domain/errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
/** As connect.ts's pool hands errors on: marked as the driver's. */
const driver = (error: Error) => fromDatabaseDriver(error);

describe('databaseUnreachable', () => {
  const golden: [string, unknown, string | undefined][] = [
    [
      'refused (server stopped)',
      driver(withCode('connect ECONNREFUSED 127.0.0.1:5439', 'ECONNREFUSED')),
      'connection refused',
    ],
    ['reset mid-query', driver(withCode('read ECONNRESET', 'ECONNRESET')), 'connection lost'],
    [
      'pg_ctl -m fast: 57P01',
      withCode('terminating connection due to administrator command', '57P01'),
      'server shutting down',
    ],
    [
      'pg_ctl -m immediate: 57P02',
      withCode('terminating connection because of crash of another server process', '57P02'),
      'server shutting down',
    ],
    [
      'starting up: 57P03',
      withCode('the database system is starting up', '57P03'),
      'server starting up',
    ],
    [
      'too many connections',
      withCode('sorry, too many clients already', '53300'),
      'too many connections',
    ],
    ['class 08', withCode('connection failure', '08006'), 'connection lost'],
    [
      'pg: socket closed',
      driver(new Error('Connection terminated unexpectedly')),
      'connection lost',
    ],
    ['pg: closed while ending', driver(new Error('Connection terminated')), 'connection lost'],
    [
      'pg-pool: connect timeout',
      driver(new Error('timeout exceeded when trying to connect')),
      'connection timed out',
    ],
    [
      'pg: connect timeout',
      driver(
        new Error('Connection terminated due to connection timeout', { cause: new Error('x') }),
      ),
      'connection timed out',
    ],
    [
      'pg: broken client',
      driver(new Error('Client has encountered a connection error and is not queryable')),
      'connection lost',
    ],
    [
      'localhost, both families refused',
      driver(
        new AggregateError([
          withCode('connect ECONNREFUSED ::1:5439', 'ECONNREFUSED'),
          withCode('connect ECONNREFUSED 127.0.0.1:5439', 'ECONNREFUSED'),
        ]),
      ),
      'connection refused',
    ],
    [
      'wrapped as a cause',
      new Error('query failed', { cause: withCode('x', '57P01') }),
      'server shutting down',
    ],
    [
      'a unique violation',
      withCode('duplicate key value violates unique constraint', '23505'),
      undefined,
    ],
    ['a syntax error', withCode('syntax error at or near "x"', '42601'), undefined],
    ['a missing file', driver(withCode('ENOENT: no such file or directory', 'ENOENT')), undefined],
    // The same socket codes from anything but the database driver are not the database.
    [
      'an unmarked refusal (an agent, QMP)',
      withCode('connect ECONNREFUSED x', 'ECONNREFUSED'),
      undefined,
    ],
    ['a client aborting an upload', withCode('aborted', 'ECONNRESET'), undefined],
    ['an unmarked pg-like message', new Error('Connection terminated unexpectedly'), undefined],
    [
      'already DATABASE_UNAVAILABLE, the refusal as its cause',
      new LabvirtError(
        'DATABASE_UNAVAILABLE',
        { detail: 'x' },
        { cause: withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED') },
      ),
      'connection refused',
    ],
    [
      'an agent unreachable, its socket error as the cause',
      new LabvirtError(
        'AGENT_UNREACHABLE',
        { host: 'kvm2', reason: 'refused' },
        { cause: driver(withCode('connect ECONNREFUSED 10.0.0.7:8445', 'ECONNREFUSED')) },
      ),
      undefined,
    ],
    ['a plain bug', new TypeError('cannot read properties of undefined'), undefined],
    [
      'a message that only contains the words',
      driver(new Error('oops: Connection terminated unexpectedly')),
      undefined,
    ],
    ['not an error', 'ECONNREFUSED', undefined],
    ['null', null, undefined],
  ];
  for (const [name, error, reason] of golden) {
    it(`${name} → ${reason ?? 'not unreachable'}`, () => {
      assert.equal(databaseUnreachable(error), reason);
    });
  }

  it('a cause that loops does not recurse forever', () => {
    const error: Error & { cause?: unknown } = new Error('loop');
    error.cause = error;
    assert.equal(databaseUnreachable(error), undefined);
  });
});

describe('a request meeting an unreachable database', () => {
  it('is DATABASE_UNAVAILABLE (503) naming the reason, not INTERNAL (500)', () => {
    const error = toLabvirtError(
      driver(withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED')),
      'r1',
    );
    assert.equal(error.code, 'DATABASE_UNAVAILABLE');
    assert.equal(error.status, 503);
    assert.deepEqual(error.params, { detail: 'connection refused' });
  });

  it('any other failure stays INTERNAL, a socket error not from the database too', () => {
    assert.equal(toLabvirtError(new TypeError('bug'), 'r2').code, 'INTERNAL');
    assert.equal(toLabvirtError(withCode('read ECONNRESET', 'ECONNRESET'), 'r3').code, 'INTERNAL');
  });
});

describe('DatabaseOutage', () => {
  function rig() {
    const lines: { level: string; facts: Record<string, unknown>; message: string }[] = [];
    const clock = { now: 1_000_000 };
    const log = {
      warn: (facts: object, message: string) =>
        lines.push({ level: 'warn', facts: facts as Record<string, unknown>, message }),
      info: (facts: object, message: string) =>
        lines.push({ level: 'info', facts: facts as Record<string, unknown>, message }),
    };
    return {
      lines,
      clock,
      outage: new DatabaseOutage(
        () => log,
        () => clock.now,
        60_000,
      ),
    };
  }
  const refused = driver(withCode('connect ECONNREFUSED 127.0.0.1:5439', 'ECONNREFUSED'));

  it('says an outage once, then once a minute with the count, then its end', () => {
    const { lines, clock, outage } = rig();
    assert.equal(outage.noted(new TypeError('bug'), 'a route'), false, 'not ours to log');
    assert.equal(outage.down, false);
    for (let i = 0; i < 50; i += 1) {
      assert.equal(outage.noted(refused, 'GET /labs'), true);
      clock.now += 1000; // 50 failures over 50 s
    }
    assert.equal(outage.down, true);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.message, /database is unreachable \(connection refused\)/);
    clock.now += 10_000;
    outage.noted(
      new LabvirtError('DATABASE_UNAVAILABLE', { detail: 'x' }, { cause: refused }),
      'GET /health',
    );
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.facts['unlogged'], 49);
    outage.recovered();
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.level, 'info');
    assert.match(lines[2]!.message, /answers again after 60 s/);
    outage.recovered();
    assert.equal(lines.length, 3, 'no outage, nothing to say');
    outage.noted(refused, 'GET /labs');
    assert.equal(lines.length, 4, 'a new outage is said at once');
  });
});

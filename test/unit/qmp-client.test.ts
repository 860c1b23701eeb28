import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LabvirtError, type ErrorCode } from '../../src/domain/errors.js';
import {
  QmpClient,
  QmpCommandError,
  type QmpClientOptions,
  type QmpEvent,
} from '../../src/qemu/qmp/qmp-client.js';
import { FakeQmpServer } from '../helpers/fake-qmp-server.js';

/** An assert.rejects validator: a LabvirtError with that code and (a subset of) params. */
function labvirtError(code: ErrorCode, params: Record<string, string | number> = {}) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LabvirtError, `expected a LabvirtError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const [key, value] of Object.entries(params)) assert.equal(error.params[key], value);
    return true;
  };
}

// A broken client tends to hang rather than throw: the timeout turns that into a failure.
describe('QmpClient against a fake QMP server', { timeout: 10_000 }, () => {
  let server: FakeQmpServer;
  let client: QmpClient | undefined;

  beforeEach(async () => {
    server = await FakeQmpServer.start();
    client = undefined;
  });
  afterEach(async () => {
    await client?.close();
    await server.close();
  });

  async function connect(options: QmpClientOptions = {}): Promise<QmpClient> {
    client = await QmpClient.connect(server.path, { connectTimeoutMs: 2000, ...options });
    return client;
  }

  it('reads the greeting and negotiates capabilities before resolving', async () => {
    const qmp = await connect();
    assert.deepEqual(qmp.version, {
      major: 7,
      minor: 2,
      micro: 22,
      package: 'Debian 1:7.2+dfsg-7',
    });
    assert.deepEqual(qmp.greeting.capabilities, ['oob']);
    assert.equal(server.received.length, 1);
    assert.equal(server.received[0]?.execute, 'qmp_capabilities');
    assert.equal(server.received[0]?.arguments, undefined);
    assert.equal(qmp.closed, false);
  });

  it('sends arguments with a unique id per command and returns the answer', async () => {
    server.handle('echo', (request) => ({ return: request.arguments }));
    const qmp = await connect();
    assert.deepEqual(await qmp.execute('echo', { device: 'ide0', force: true }), {
      device: 'ide0',
      force: true,
    });
    assert.deepEqual(await qmp.execute('echo'), {}); // no "arguments" key: QEMU's default
    const ids = server.received.map((request) => request.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('matches replies by id when they arrive out of order', async () => {
    server.handle('first', () => 'silent');
    server.handle('second', () => 'silent');
    const qmp = await connect();
    const requests = Promise.all([server.waitForCommand('first'), server.waitForCommand('second')]);
    const first = qmp.execute('first');
    const second = qmp.execute('second');
    const [firstRequest, secondRequest] = await requests;
    await server.reply(secondRequest, { return: 'two' });
    assert.equal(await second, 'two');
    await server.reply(firstRequest, { return: 'one' });
    assert.equal(await first, 'one');
  });

  it('resolves each command with its own answer when delays reorder them', async () => {
    server.handle('late', () => ({ return: 'late', delayMs: 80 }));
    server.handle('early', () => ({ return: 'early', delayMs: 10 }));
    const qmp = await connect();
    const order: string[] = [];
    const record = (value: unknown): void => void order.push(String(value));
    await Promise.all([qmp.execute('late').then(record), qmp.execute('early').then(record)]);
    assert.deepEqual(order, ['early', 'late']);
  });

  it('surfaces the QMP error class of a failed command', async () => {
    server.handle('device_del', () => ({
      error: { class: 'DeviceNotFound', desc: "Device 'nic9' not found" },
    }));
    const qmp = await connect();
    await assert.rejects(qmp.execute('device_del', { id: 'nic9' }), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'DeviceNotFound');
      labvirtError('QMP_COMMAND_FAILED', { command: 'device_del', class: 'DeviceNotFound' })(error);
      assert.equal(error.params['desc'], "Device 'nic9' not found");
      return true;
    });
    await assert.rejects(qmp.execute('bogus'), { errorClass: 'CommandNotFound' });
    assert.equal(qmp.closed, false); // a failed command leaves the connection usable
  });

  it('times a command out and ignores its late reply', async () => {
    server.handle('slow', () => 'silent');
    server.handle('next', () => 'silent');
    const qmp = await connect();
    const slowRequest = server.waitForCommand('slow');
    await assert.rejects(
      qmp.execute('slow', {}, { timeoutMs: 100 }),
      labvirtError('QMP_TIMEOUT', { command: 'slow', ms: 100 }),
    );
    const nextRequest = server.waitForCommand('next');
    const next = qmp.execute('next');
    // The late reply must neither settle "next" nor break the connection.
    await server.reply(await slowRequest, { return: 'late' });
    await server.reply(await nextRequest, { return: 'fresh' });
    assert.equal(await next, 'fresh');
    assert.equal(qmp.closed, false);
  });

  it('applies the connection-wide default timeout', async () => {
    server.handle('slow', () => 'silent');
    const qmp = await connect({ timeoutMs: 100 });
    await assert.rejects(qmp.execute('slow'), labvirtError('QMP_TIMEOUT', { ms: 100 }));
  });

  it('emits events, including those sent in the same chunk as a reply', async () => {
    server.handle('stop', () => ({ eventsBefore: [{ event: 'STOP' }] }));
    const qmp = await connect();
    const seen: QmpEvent[] = [];
    qmp.on('event', (event) => seen.push(event));
    await qmp.execute('stop');
    // The event preceded the reply on the wire, so it was delivered before the command settled.
    assert.deepEqual(
      seen.map((event) => event.event),
      ['STOP'],
    );
    assert.ok((seen[0]?.timestamp.seconds ?? 0) > 1_600_000_000);
  });

  it('waits for an event matching a predicate, and times out otherwise', async () => {
    const qmp = await connect();
    const wanted = qmp.waitForEvent('BLOCK_JOB_COMPLETED', {
      timeoutMs: 2000,
      predicate: (event) => event.data['device'] === 'job2',
    });
    await server.sendEvent('BLOCK_JOB_COMPLETED', { device: 'job1' });
    await server.sendEvent('BLOCK_JOB_COMPLETED', { device: 'job2', len: 5 });
    assert.deepEqual((await wanted).data, { device: 'job2', len: 5 });
    await assert.rejects(
      qmp.waitForEvent('SHUTDOWN', { timeoutMs: 100 }),
      labvirtError('QMP_TIMEOUT', { command: 'event SHUTDOWN', ms: 100 }),
    );
  });

  it('reassembles messages delivered a byte at a time, multi-byte characters included', async () => {
    server.chunkSize = 1; // the greeting too
    server.handle('query-name', () => ({ return: { name: 'Laboratorio de cómputo ñ €' } }));
    const qmp = await connect();
    assert.equal(qmp.version.major, 7);
    assert.deepEqual(await qmp.execute('query-name'), { name: 'Laboratorio de cómputo ñ €' });
  });

  it('handles several replies and an event in one chunk', async () => {
    server.handle('a', () => 'silent');
    server.handle('b', () => 'silent');
    const qmp = await connect();
    const requests = Promise.all([server.waitForCommand('a'), server.waitForCommand('b')]);
    const a = qmp.execute('a');
    const b = qmp.execute('b');
    const [requestA, requestB] = await requests;
    const event = qmp.waitForEvent('RESUME', { timeoutMs: 2000 });
    const lines = [
      { return: 'B', id: requestB.id },
      { event: 'RESUME', data: {}, timestamp: { seconds: 1, microseconds: 2 } },
      { return: 'A', id: requestA.id },
    ];
    await server.sendRaw(lines.map((line) => `${JSON.stringify(line)}\r\n`).join(''));
    assert.deepEqual(await Promise.all([a, b]), ['A', 'B']);
    assert.deepEqual((await event).timestamp, { seconds: 1, microseconds: 2 });
  });

  it('rejects every pending command with QMP_CLOSED when the connection drops', async () => {
    for (const name of ['one', 'two', 'three']) server.handle(name, () => 'silent');
    const qmp = await connect();
    let closes = 0;
    qmp.on('close', () => closes++);
    const waiting = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5000 });
    const sent = server.waitForCommand('three');
    const pending = ['one', 'two', 'three'].map((name) => qmp.execute(name));
    await sent;
    server.dropConnection();
    for (const [index, name] of ['one', 'two', 'three'].entries()) {
      await assert.rejects(
        pending[index] as Promise<unknown>,
        labvirtError('QMP_CLOSED', { command: name }),
      );
    }
    await assert.rejects(waiting, labvirtError('QMP_CLOSED'));
    assert.equal(qmp.closed, true);
    await assert.rejects(
      qmp.execute('query-status'),
      labvirtError('QMP_CLOSED', { command: 'query-status' }),
    );
    await qmp.close(); // a no-op once closed
    assert.equal(closes, 1);
  });

  it('close() ends the connection and rejects what is pending', async () => {
    server.handle('hang', () => 'silent');
    const qmp = await connect();
    const serverSide = await server.connection();
    const serverSaw = new Promise((resolve) => serverSide.once('close', resolve));
    const hanging = qmp.execute('hang');
    await qmp.close();
    await assert.rejects(hanging, labvirtError('QMP_CLOSED', { command: 'hang' }));
    await serverSaw;
  });

  it('treats a malformed line as a broken connection', async () => {
    server.handle('hang', () => 'silent');
    const qmp = await connect();
    const closed = new Promise<Error | undefined>((resolve) => qmp.once('close', resolve));
    const hanging = qmp.execute('hang');
    await server.waitForCommand('hang');
    const events: QmpEvent[] = [];
    qmp.on('event', (event) => events.push(event));
    // Nothing after the bad line can be trusted, even in the same chunk.
    await server.sendRaw('{"return": {}, "id": \n{"event": "STOP", "data": {}}\n');
    await assert.rejects(hanging, labvirtError('QMP_PROTOCOL'));
    labvirtError('QMP_PROTOCOL')(await closed);
    assert.equal(qmp.closed, true);
    assert.deepEqual(events, []);
  });

  it('rejects JSON that is not an object, and over-long lines', async () => {
    const qmp = await connect();
    const closed = new Promise<Error | undefined>((resolve) => qmp.once('close', resolve));
    await server.sendRaw('[1, 2]\n');
    labvirtError('QMP_PROTOCOL')(await closed);

    const limited = await connect({ maxLineLength: 1024 });
    const limitedClosed = new Promise<Error | undefined>((resolve) =>
      limited.once('close', resolve),
    );
    await server.sendRaw('x'.repeat(2048));
    labvirtError('QMP_PROTOCOL')(await limitedClosed);
  });
});

describe('QmpClient.connect failures', { timeout: 10_000 }, () => {
  it('rejects with QMP_CLOSED when nothing listens on the socket', async () => {
    await assert.rejects(QmpClient.connect('/nonexistent/qmp.sock'), (error: unknown) => {
      labvirtError('QMP_CLOSED', { command: 'greeting' })(error);
      assert.equal((error as Error & { cause: { code: string } }).cause.code, 'ENOENT');
      return true;
    });
  });

  it('times out when no greeting comes, and when the greeting is not one', async () => {
    for (const greeting of [false, '{"hello": "world"}'] as const) {
      const server = await FakeQmpServer.start({ greeting });
      try {
        const connecting = QmpClient.connect(server.path, { connectTimeoutMs: 100 });
        const expected = greeting === false ? 'QMP_TIMEOUT' : 'QMP_PROTOCOL';
        await assert.rejects(connecting, labvirtError(expected));
      } finally {
        await server.close();
      }
    }
  });

  it('fails, closed, when qmp_capabilities is refused; uses the socket factory', async () => {
    const server = await FakeQmpServer.start();
    server.handle('qmp_capabilities', () => ({ error: { class: 'GenericError', desc: 'no' } }));
    const opened: string[] = [];
    const socketFactory = (path: string): net.Socket => {
      opened.push(path);
      return net.createConnection(path);
    };
    try {
      await assert.rejects(QmpClient.connect(server.path, { socketFactory }), {
        errorClass: 'GenericError',
      });
      assert.deepEqual(opened, [server.path]);
    } finally {
      await server.close();
    }
  });
});

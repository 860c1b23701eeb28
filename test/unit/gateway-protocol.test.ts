// The gateway daemon's control protocol (golden lines, every malformed request refused),
// which listeners an agent keeps or closes after a restart, and the daemon's server against
// a local echo "display" over its real control socket (no QEMU, no daemon process).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GatewayClient } from '../../src/agent/gateway-client.js';
import {
  decodeRequest,
  decodeResponse,
  encode,
  gatewayDaemonPaths,
  isDaemonArgv,
  sameListener,
  staleListeners,
  type OpenListener,
} from '../../src/agent/gateway-protocol.js';
import { GatewayServer } from '../../src/agent/gateway-server.js';
import { connectTcp, connectUnix } from '../helpers/display-clients.js';
import { waitFor } from '../helpers/env.js';

const open: OpenListener = {
  vm: 'lab1-t07',
  protocol: 'vnc',
  bind: '127.0.0.1',
  ports: [5901, 5900, 5902],
  target: { path: '/run/labvirt/vms/lab1-t07/vnc.sock' },
};

describe('gateway control protocol', () => {
  it('encodes requests and answers as one JSON line each (golden)', () => {
    assert.equal(
      encode({ id: 1, op: 'open', ...open }),
      '{"id":1,"op":"open","vm":"lab1-t07","protocol":"vnc","bind":"127.0.0.1","ports":[5901,5900,5902],"target":{"path":"/run/labvirt/vms/lab1-t07/vnc.sock"}}\n',
    );
    assert.equal(encode({ id: 2, op: 'close', vm: 'a' }), '{"id":2,"op":"close","vm":"a"}\n');
    assert.equal(encode({ id: 3, ok: true, port: 5901 }), '{"id":3,"ok":true,"port":5901}\n');
    assert.equal(
      encode({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'not JSON' } }),
      '{"id":null,"ok":false,"error":{"code":"BAD_REQUEST","message":"not JSON"}}\n',
    );
  });

  it('decodes every valid request as it was sent', () => {
    const requests = [
      { id: 1, op: 'open', ...open },
      {
        id: 2,
        op: 'open',
        ...open,
        protocol: 'rdp',
        bind: '::',
        ports: [0],
        target: { host: '192.168.50.23', port: 3389 },
      },
      { id: 3, op: 'close', vm: 'x' },
      { id: 4, op: 'list' },
      { id: 0, op: 'list', vm: 'x' },
    ];
    for (const request of requests) {
      assert.deepEqual(decodeRequest(JSON.stringify(request)), { ok: true, value: request });
    }
  });

  it('refuses every malformed request with a reason, keeping its id when it has one', () => {
    const cases: [unknown, number | null, RegExp][] = [
      [null, null, /JSON object/],
      [[1], null, /JSON object/],
      ['open', null, /JSON object/],
      [{ op: 'list' }, null, /id/],
      [{ id: -1, op: 'list' }, null, /id/],
      [{ id: 1.5, op: 'list' }, null, /id/],
      [{ id: '1', op: 'list' }, null, /id/],
      [{ id: 1, op: 'stop' }, 1, /op/],
      [{ id: 1, op: 'toString' }, 1, /op/],
      [{ id: 1, op: 'list', extra: 1 }, 1, /unknown field extra/],
      [{ id: 1, op: 'close' }, 1, /vm/],
      [{ id: 1, op: 'close', vm: '../etc' }, 1, /vm/],
      [{ id: 1, op: 'close', vm: 'a b' }, 1, /vm/],
      [{ id: 1, op: 'list', vm: 7 }, 1, /vm/],
      [{ id: 1, op: 'open', ...open, protocol: 'ssh' }, 1, /protocol/],
      [{ id: 1, op: 'open', ...open, bind: 'example.org' }, 1, /bind/],
      [{ id: 1, op: 'open', ...open, bind: undefined }, 1, /bind/],
      [{ id: 1, op: 'open', ...open, ports: [] }, 1, /ports/],
      [{ id: 1, op: 'open', ...open, ports: [70000] }, 1, /ports/],
      [{ id: 1, op: 'open', ...open, ports: [-1] }, 1, /ports/],
      [{ id: 1, op: 'open', ...open, ports: ['5900'] }, 1, /ports/],
      [{ id: 1, op: 'open', ...open, ports: 5900 }, 1, /ports/],
      [{ id: 1, op: 'open', ...open, target: 'vnc.sock' }, 1, /target/],
      [{ id: 1, op: 'open', ...open, target: { path: 'relative.sock' } }, 1, /target.path/],
      [{ id: 1, op: 'open', ...open, target: { path: `/${'x'.repeat(120)}` } }, 1, /target.path/],
      [{ id: 1, op: 'open', ...open, target: { path: '/a\0b' } }, 1, /target.path/],
      [{ id: 1, op: 'open', ...open, target: { path: '/a', port: 1 } }, 1, /target must/],
      [{ id: 1, op: 'open', ...open, target: { host: 'guest', port: 3389 } }, 1, /target.host/],
      [{ id: 1, op: 'open', ...open, target: { host: '::1', port: 3389 } }, 1, /target.host/],
      [{ id: 1, op: 'open', ...open, target: { host: '10.0.0.1', port: 0 } }, 1, /target.port/],
      [{ id: 1, op: 'open', ...open, target: { host: '10.0.0.1' } }, 1, /target must/],
    ];
    for (const [value, id, reason] of cases) {
      const decoded = decodeRequest(JSON.stringify(value));
      assert.equal(decoded.ok, false, JSON.stringify(value));
      if (decoded.ok) continue;
      assert.equal(decoded.id, id, JSON.stringify(value));
      assert.match(decoded.message, reason, JSON.stringify(value));
    }
    for (const line of ['', '{', 'nul', '{"id":1,"op":"list"']) {
      assert.deepEqual(decodeRequest(line), { ok: false, id: null, message: 'not JSON' });
    }
  });

  it('reads answers by their frame', () => {
    assert.deepEqual(decodeResponse('{"id":3,"ok":true,"port":5901}'), {
      ok: true,
      value: { id: 3, ok: true, port: 5901 },
    });
    assert.equal(decodeResponse('{"id":3}').ok, false);
    assert.equal(decodeResponse('{"ok":true}').ok, false);
    assert.equal(decodeResponse('{"id":1,"ok":false,"error":{}}').ok, false);
    assert.equal(decodeResponse('[').ok, false);
  });

  it('keeps a listener asked for again as it is, replaces a different one', () => {
    assert.equal(
      sameListener(open, { ...open, ports: [0] }),
      true,
      'the ports it tries do not matter',
    );
    assert.equal(sameListener(open, { ...open, protocol: 'spice' }), false);
    assert.equal(sameListener(open, { ...open, bind: '0.0.0.0' }), false);
    assert.equal(sameListener(open, { ...open, target: { path: '/other.sock' } }), false);
    const rdp = { ...open, target: { host: '10.0.0.5', port: 3389 } };
    assert.equal(sameListener(rdp, { ...rdp }), true);
    assert.equal(sameListener(rdp, { ...rdp, target: { host: '10.0.0.6', port: 3389 } }), false);
  });

  it('closes after a restart only the listeners of VMs that no longer run (golden)', () => {
    const listed = [{ vm: 'a' }, { vm: 'b' }, { vm: 'c' }];
    assert.deepEqual(staleListeners(listed, ['a', 'c', 'd']), ['b']);
    assert.deepEqual(staleListeners(listed, []), ['a', 'b', 'c']);
    assert.deepEqual(staleListeners([], ['a']), []);
  });

  it("knows the run directory's daemon by its argv and files", () => {
    const argv = ['/usr/bin/node', '/opt/labvirt/dist/src/agent/gateway-daemon.js', '/run/labvirt'];
    assert.equal(isDaemonArgv(argv, '/run/labvirt'), true);
    assert.equal(isDaemonArgv(argv, '/run/other'), false);
    assert.equal(isDaemonArgv([...argv, 'x'], '/run/labvirt'), false);
    assert.equal(
      isDaemonArgv(['/usr/bin/node', '/x/server.js', '/run/labvirt'], '/run/labvirt'),
      false,
    );
    assert.deepEqual(gatewayDaemonPaths('/run/labvirt'), {
      socket: '/run/labvirt/gateway.sock',
      pidfile: '/run/labvirt/gateway.pid',
      log: '/run/labvirt/gateway.log',
    });
  });
});

describe('GatewayServer', () => {
  it('opens, keeps, lists (peer, since, bytes) and closes listeners over its control socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-gws-'));
    const display = join(dir, 'display.sock');
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(display, resolve));
    const server = await GatewayServer.listen(join(dir, 'gateway.sock'));
    const client = await GatewayClient.connect(join(dir, 'gateway.sock'));
    try {
      const wanted = { ...open, ports: [0], target: { path: display } };
      const port = await client.open(wanted);
      assert.ok(port > 0);
      const terminal = await connectTcp(port);
      terminal.socket.write('hello');
      assert.equal((await terminal.read(5)).toString(), 'hello');
      // The same listener asked for again (an agent's restart): kept, connection and all.
      assert.equal(await client.open({ ...wanted, ports: [port, 0] }), port);
      terminal.socket.write('again');
      assert.equal((await terminal.read(5)).toString(), 'again');
      const [listed] = await client.list();
      assert.ok(listed !== undefined);
      assert.equal(listed.port, port);
      assert.equal(listed.vm, open.vm);
      assert.deepEqual(listed.target, { path: display });
      assert.equal(listed.connections.length, 1);
      const connection = listed.connections[0]!;
      assert.equal(connection.peer, `127.0.0.1:${terminal.socket.localPort}`);
      assert.equal(connection.relayed, true);
      assert.deepEqual([connection.bytesIn, connection.bytesOut], [10, 10]);
      assert.ok(Math.abs(Date.parse(connection.since) - Date.now()) < 60_000);
      assert.deepEqual(await client.list('other'), []);

      // The port it had is taken: said as GATEWAY_NO_PORT.
      await assert.rejects(client.open({ ...wanted, vm: 'other', ports: [port] }), {
        code: 'GATEWAY_NO_PORT',
      });

      await client.close(open.vm);
      await terminal.closed(5_000);
      assert.deepEqual(await client.list(), []);
      await client.close(open.vm); // nothing to close: fine
    } finally {
      client.detach();
      await server.close();
      echo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers bad lines with an error and goes on; a line too long ends that connection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-gws-'));
    const path = join(dir, 'gateway.sock');
    const server = await GatewayServer.listen(path);
    try {
      const raw = await connectUnix(path);
      const line = async () => {
        const bytes: Buffer[] = [];
        for (;;) {
          const byte = await raw.read(1);
          if (byte[0] === 0x0a) return JSON.parse(Buffer.concat(bytes).toString()) as unknown;
          bytes.push(byte);
        }
      };
      raw.socket.write('this is not json\n');
      assert.deepEqual(await line(), {
        id: null,
        ok: false,
        error: { code: 'BAD_REQUEST', message: 'not JSON' },
      });
      raw.socket.write('{"id":4,"op":"open","vm":"a"}\n');
      const refused = (await line()) as { id: number; ok: boolean; error: { code: string } };
      assert.deepEqual([refused.id, refused.ok, refused.error.code], [4, false, 'BAD_REQUEST']);
      raw.socket.write('{"id":5,"op":"list"}\n');
      assert.deepEqual(await line(), { id: 5, ok: true, listeners: [] });

      const flood = await connectUnix(path);
      flood.socket.write('x'.repeat(1024 * 1024 + 10));
      await flood.closed(10_000);
      // The server is still there for others.
      raw.socket.write('{"id":6,"op":"list"}\n');
      assert.deepEqual(await line(), { id: 6, ok: true, listeners: [] });
      raw.socket.destroy();
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says it is idle once no listener is open and no agent is connected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-gws-'));
    const path = join(dir, 'gateway.sock');
    let idle = 0;
    const server = await GatewayServer.listen(path, { onIdle: () => idle++, idleMs: 200 });
    try {
      const agent = await GatewayClient.connect(path);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(idle, 0, 'an agent is connected');
      agent.detach();
      await waitFor('idle', () => (idle === 1 ? true : undefined), 5_000);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

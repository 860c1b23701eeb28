// The pure parts of the agent's display (ports, tickets, QMP calls, who is connected), the
// gateway's relay against a local Unix socket server, and VmDisplay's tickets and client
// list against a fake QMP connection (no QEMU).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  burnCalls,
  gatewayTarget,
  mergeConnections,
  portCandidates,
  ticketCalls,
  ticketFromBytes,
  trackSince,
  unaccounted,
  TICKET_ALPHABET,
  type GatewayConnection,
  type GatewayView,
} from '../../src/agent/display-plan.js';
import { DisplayGateway } from '../../src/agent/gateway.js';
import type { GatewayControl } from '../../src/agent/gateway-client.js';
import type { ListenerInfo } from '../../src/agent/gateway-protocol.js';
import type { AgentDisplaySpec } from '../../src/agent/host-agent.js';
import { SPICE_CHANNELS_GRACE_MS, VmDisplay } from '../../src/agent/vm-display.js';
import type { QmpConnection } from '../../src/qemu/process/qmp-connection.js';
import { connectTcp } from '../helpers/display-clients.js';
import { delay, waitFor } from '../helpers/env.js';

const sockets = { vnc: '/run/v/vnc.sock', spice: '/run/v/spice.sock' };

describe('display plan', () => {
  it('relays vnc and spice to their sockets, rdp to the loopback forward', () => {
    assert.deepEqual(gatewayTarget('vnc', sockets, undefined), { path: '/run/v/vnc.sock' });
    assert.deepEqual(gatewayTarget('spice', sockets, undefined), { path: '/run/v/spice.sock' });
    assert.deepEqual(gatewayTarget('rdp', sockets, 40001), { host: '127.0.0.1', port: 40001 });
    assert.throws(() => gatewayTarget('rdp', sockets, undefined));
  });

  it('tries the port it had first, then the range or any port', () => {
    assert.deepEqual(portCandidates(undefined), [0]);
    assert.deepEqual(portCandidates(undefined, 41000), [41000, 0]);
    assert.deepEqual(portCandidates({ from: 5900, to: 5903 }), [5900, 5901, 5902, 5903]);
    assert.deepEqual(portCandidates({ from: 5900, to: 5903 }, 5902), [5902, 5900, 5901, 5903]);
    assert.deepEqual(portCandidates({ from: 5900, to: 5901 }, 0), [5900, 5901]);
  });

  it('makes tickets of the safe alphabet, every byte value allowed', () => {
    assert.equal(TICKET_ALPHABET.length, 64);
    assert.equal(new Set(TICKET_ALPHABET).size, 64);
    const all = ticketFromBytes(Uint8Array.from({ length: 256 }, (_, i) => i));
    assert.equal(all.length, 256);
    assert.match(all, /^[A-Za-z0-9_-]+$/);
    assert.equal(ticketFromBytes(Uint8Array.from([0, 63, 64, 255])), 'A_A_');
  });

  it('sets a ticket with a relative expiry and burns it with an unknown password', () => {
    assert.deepEqual(ticketCalls('vnc', 'Ab3_x-9Z', 30.7), [
      { command: 'set_password', args: { protocol: 'vnc', password: 'Ab3_x-9Z' } },
      { command: 'expire_password', args: { protocol: 'vnc', time: '+30' } },
    ]);
    assert.equal(ticketCalls('spice', 'p', 0)[1]?.args['time'], '+1', 'never "+0" (no expiry)');
    assert.deepEqual(burnCalls('spice', 'unknown'), [
      { command: 'set_password', args: { protocol: 'spice', password: 'unknown' } },
      { command: 'expire_password', args: { protocol: 'spice', time: 'now' } },
    ]);
  });

  it("counts off QEMU's clients that came through the gateway", () => {
    const vnc: GatewayView = {
      protocol: 'vnc',
      connections: [
        { peer: '10.0.0.7:5000', since: 't1', relayed: true, bytesIn: 10, bytesOut: 2000 },
        { peer: '10.0.0.8:5001', since: 't2', relayed: false, bytesIn: 0, bytesOut: 0 },
      ],
    };
    assert.deepEqual(unaccounted(vnc, { vnc: 1, spice: 0 }), { vnc: 0, spice: 0 });
    assert.deepEqual(unaccounted(vnc, { vnc: 3, spice: 0 }), { vnc: 2, spice: 0 });
    assert.deepEqual(unaccounted(undefined, { vnc: 2, spice: 1 }), { vnc: 2, spice: 1 });
    // SPICE: three channels from one host are one session.
    const spice: GatewayView = {
      protocol: 'spice',
      connections: ['1', '2', '3'].map((port) => ({
        peer: `[fd00::7]:${port}`,
        since: 't',
        relayed: true,
        bytesIn: 1,
        bytesOut: 1,
      })),
    };
    assert.deepEqual(unaccounted(spice, { vnc: 1, spice: 1 }), { vnc: 1, spice: 0 });
    assert.deepEqual(unaccounted(spice, { vnc: 0, spice: 2 }), { vnc: 0, spice: 1 });
    assert.deepEqual(mergeConnections(vnc, { vnc: ['t0'], spice: [] }), [
      { peer: '10.0.0.7:5000', since: 't1', via: 'gateway', bytesIn: 10, bytesOut: 2000 },
      { peer: '10.0.0.8:5001', since: 't2', via: 'gateway', bytesIn: 0, bytesOut: 0 },
      { peer: 'unix:vnc', since: 't0', via: 'display' },
    ]);
  });

  it('keeps first-seen times of clients known by count', () => {
    assert.deepEqual(trackSince([], 2, 'a'), ['a', 'a']);
    assert.deepEqual(trackSince(['a', 'a'], 3, 'b'), ['a', 'a', 'b']);
    assert.deepEqual(trackSince(['a', 'b'], 1, 'c'), ['a']);
  });
});

describe('DisplayGateway', () => {
  it('relays bytes both ways, lists the peer while connected, and closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-gw-'));
    const path = join(dir, 'display.sock');
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(path, resolve));
    const gateway = await DisplayGateway.open({
      protocol: 'vnc',
      bind: '127.0.0.1',
      ports: [0],
      target: { path },
      now: () => new Date('2026-01-02T03:04:05.000Z'),
    });
    try {
      assert.ok(gateway.port > 0);
      const client = await connectTcp(gateway.port);
      client.socket.write('hello');
      assert.equal((await client.read(5)).toString(), 'hello');
      assert.deepEqual(gateway.view(), {
        protocol: 'vnc',
        connections: [
          {
            peer: `127.0.0.1:${client.socket.localPort}`,
            since: '2026-01-02T03:04:05.000Z',
            relayed: true,
            bytesIn: 5,
            bytesOut: 5,
          },
        ],
      });
      client.socket.destroy();
      await waitFor('the relay to go', () =>
        gateway.view().connections.length === 0 ? true : undefined,
      );
      // A second gateway cannot have the port; given it first, it falls back to another.
      const other = await DisplayGateway.open({
        protocol: 'vnc',
        bind: '127.0.0.1',
        ports: [gateway.port, 0],
        target: { path },
      });
      assert.notEqual(other.port, gateway.port);
      await other.close();
      await assert.rejects(
        DisplayGateway.open({
          protocol: 'vnc',
          bind: '127.0.0.1',
          ports: [gateway.port],
          target: { path },
        }),
        { code: 'GATEWAY_NO_PORT' },
      );

      const open = await connectTcp(gateway.port);
      await waitFor('the relay', () =>
        gateway.view().connections.length === 1 ? true : undefined,
      );
      await gateway.close();
      await open.closed(2_000);
      await assert.rejects(connectTcp(gateway.port), { code: 'ECONNREFUSED' });
    } finally {
      await gateway.close().catch(() => undefined);
      echo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cuts a client whose display socket is gone', async () => {
    const gateway = await DisplayGateway.open({
      protocol: 'spice',
      bind: '127.0.0.1',
      ports: [0],
      target: { path: join(tmpdir(), 'lv-no-such-dir', 'spice.sock') },
    });
    try {
      const client = await connectTcp(gateway.port);
      await client.closed(2_000);
      await waitFor('no connection left', () =>
        gateway.view().connections.length === 0 ? true : undefined,
      );
    } finally {
      await gateway.close();
    }
  });
});

/** A gateway daemon in memory: the VM's listener, its port and what it relays. */
function fakeControl(connections: GatewayConnection[] = []) {
  const calls: string[] = [];
  const listeners = new Map<string, ListenerInfo>();
  const control: GatewayControl = {
    open: async (request) => {
      calls.push(`open ${request.vm} ${request.ports.join(',')}`);
      const port = listeners.get(request.vm)?.port ?? (request.ports[0] || 40000);
      listeners.set(request.vm, { ...request, port, connections });
      return port;
    },
    close: async (vm) => {
      calls.push(`close ${vm}`);
      listeners.delete(vm);
    },
    list: async (vm) => [...listeners.values()].filter((l) => vm === undefined || l.vm === vm),
  };
  return { control, calls, listeners };
}

/** A QMP connection that records commands and lets the test emit events. */
function fakeQmp(replies: Record<string, unknown> = {}) {
  const events = new EventEmitter();
  const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
  const qmp: QmpConnection = {
    execute: async <T>(command: string, args?: Record<string, unknown>) => {
      calls.push({ command, args });
      return (replies[command] ?? {}) as T;
    },
    on: (event: string, listener: (...args: never[]) => void) =>
      events.on(event, listener as (...args: unknown[]) => void),
    off: (event: string, listener: (...args: never[]) => void) =>
      events.off(event, listener as (...args: unknown[]) => void),
    close: () => undefined,
    closed: false,
  };
  const emit = (event: string, atMs: number, data: Record<string, unknown> = {}) =>
    events.emit('event', {
      event,
      data,
      timestamp: { seconds: Math.floor(atMs / 1000), microseconds: (atMs % 1000) * 1000 },
    });
  return { qmp, calls, emit, events };
}

const passwords = (calls: { command: string; args: Record<string, unknown> | undefined }[]) =>
  calls.filter((c) => c.command === 'set_password').map((c) => c.args?.['password']);

describe('VmDisplay tickets', () => {
  const bytes = (size: number) => new Uint8Array(size).fill(1); // every ticket 'BBBB...'
  const record = (display: AgentDisplaySpec) => ({
    name: 'vm1',
    gateway: {
      record: { display, port: 0, hostPort: display.protocol === 'rdp' ? 1 : undefined },
      sockets: { vnc: '/nonexistent/vnc.sock', spice: '/nonexistent/spice.sock' },
      bind: '127.0.0.1',
      control: fakeControl().control,
    },
  });

  it('burns a VNC ticket when a client authenticates after it was set, not before', async () => {
    let now = 1_000_000;
    const { qmp, calls, emit } = fakeQmp();
    const display = await VmDisplay.open({
      qmp,
      ...record({ protocol: 'vnc', ticketed: true }),
      now: () => new Date(now),
      random: bytes,
    });
    try {
      assert.equal(await display.ticket(30), 'BBBBBBBB');
      assert.deepEqual(
        calls.map((c) => c.command),
        ['set_password', 'expire_password'],
      );
      emit('VNC_INITIALIZED', now - 1); // an earlier client, with an older password
      emit('VNC_CONNECTED', now + 5); // connected, not yet authenticated
      await delay(10);
      assert.equal(calls.length, 2, 'nothing burnt');
      emit('VNC_INITIALIZED', now + 10);
      await waitFor('the burn', () => (calls.length === 4 ? true : undefined));
      assert.deepEqual(calls.slice(2), [
        { command: 'set_password', args: { protocol: 'vnc', password: 'BBBBBBBB' } },
        { command: 'expire_password', args: { protocol: 'vnc', time: 'now' } },
      ]);
      // Burnt once: a later authentication (without a new ticket) changes nothing.
      emit('VNC_INITIALIZED', now + 20);
      await delay(10);
      assert.equal(calls.length, 4);
      now += 1_000;
      await display.ticket(30);
      assert.equal(calls.length, 6);
    } finally {
      await display.close();
    }
  });

  it('burns a SPICE ticket only after the main channel, past the channels grace', async () => {
    const now = 2_000_000;
    const { qmp, calls, emit } = fakeQmp();
    const display = await VmDisplay.open({
      qmp,
      ...record({ protocol: 'spice', ticketed: true }),
      now: () => new Date(now),
      random: bytes,
    });
    try {
      assert.equal((await display.ticket(60))?.length, 24);
      emit('SPICE_INITIALIZED', now + 1, { client: { 'channel-type': 3 } });
      emit('SPICE_INITIALIZED', now + 1, { client: { 'channel-type': 1 } });
      await delay(SPICE_CHANNELS_GRACE_MS - 1_000);
      assert.equal(passwords(calls).length, 1, 'not burnt within the grace');
      await waitFor('the burn', () => (passwords(calls).length === 2 ? true : undefined), 3_000);
      assert.deepEqual(calls.at(-1), {
        command: 'expire_password',
        args: { protocol: 'spice', time: 'now' },
      });
    } finally {
      await display.close();
    }
  });

  it('gives no ticket to rdp or an unticketed display, and never sets a password', async () => {
    for (const display of [
      { protocol: 'rdp', ticketed: false },
      { protocol: 'vnc', ticketed: false },
      { protocol: 'spice', ticketed: false },
    ] as const) {
      const { qmp, calls } = fakeQmp();
      const vm = await VmDisplay.open({ qmp, ...record(display) });
      assert.equal(await vm.ticket(60), undefined);
      assert.deepEqual(passwords(calls), []);
      await vm.close();
    }
  });

  it("lists QEMU's own clients (asked at most once a second) after the gateway's", async () => {
    const { qmp, calls } = fakeQmp({
      'query-vnc': { clients: [{ family: 'unix' }] },
      'query-spice': { channels: [{ 'connection-id': 7 }, { 'connection-id': 7 }] },
    });
    const display = await VmDisplay.open({
      qmp,
      ...record({ protocol: 'spice', ticketed: true }),
      now: () => new Date('2026-01-01T00:00:00.000Z'),
    });
    try {
      const first = await display.connections();
      assert.deepEqual(first, [
        { peer: 'unix:vnc', since: '2026-01-01T00:00:00.000Z', via: 'display' },
        { peer: 'unix:spice', since: '2026-01-01T00:00:00.000Z', via: 'display' },
      ]);
      await display.connections();
      assert.equal(calls.filter((c) => c.command === 'query-vnc').length, 1, 'cached');
    } finally {
      await display.close();
    }
  });

  it("opens the VM's listener on the port it had; the VM's end closes it, a detach leaves it", async () => {
    const { qmp } = fakeQmp();
    const { control, calls, listeners } = fakeControl();
    const display = await VmDisplay.open({
      qmp,
      name: 'vm7',
      gateway: {
        record: { display: { protocol: 'vnc', ticketed: false }, port: 5901 },
        sockets,
        bind: '127.0.0.1',
        range: { from: 5900, to: 5902 },
        control,
      },
    });
    assert.deepEqual(display.summary, { protocol: 'vnc', port: 5901 });
    assert.equal(await display.reopen(), false, 'kept: the same port');
    display.detach();
    assert.equal(listeners.size, 1, 'a detach leaves the listener');
    await display.close();
    assert.deepEqual(calls, ['open vm7 5901,5900,5902', 'open vm7 5901,5900,5902', 'close vm7']);
    assert.equal(listeners.size, 0);
  });

  it("lists the gateway's connections with their bytes, and QEMU's others as via display", async () => {
    const { qmp } = fakeQmp({ 'query-vnc': { clients: [{}, {}] } });
    const relayed = [
      { peer: '10.0.0.7:5000', since: 't1', relayed: true, bytesIn: 12, bytesOut: 3400 },
    ];
    const display = await VmDisplay.open({
      qmp,
      name: 'vm8',
      now: () => new Date('2026-01-01T00:00:00.000Z'),
      gateway: {
        record: { display: { protocol: 'vnc', ticketed: false }, port: 0 },
        sockets,
        bind: '127.0.0.1',
        control: fakeControl(relayed).control,
      },
    });
    assert.deepEqual(await display.connections(), [
      { peer: '10.0.0.7:5000', since: 't1', via: 'gateway', bytesIn: 12, bytesOut: 3400 },
      { peer: 'unix:vnc', since: '2026-01-01T00:00:00.000Z', via: 'display' },
    ]);
    display.detach();
  });

  it("asks QEMU's client list afresh on a display client's connect or disconnect event", async () => {
    const replies: Record<string, unknown> = { 'query-vnc': { clients: [] } };
    const { qmp, calls, emit } = fakeQmp(replies);
    const display = await VmDisplay.open({ qmp, name: 'vm9' });
    const asked = () => calls.filter((c) => c.command === 'query-vnc').length;
    assert.deepEqual(await display.connections(), []);
    replies['query-vnc'] = { clients: [{}] };
    assert.deepEqual(await display.connections(), [], 'cached within the second');
    emit('VNC_CONNECTED', Date.now());
    assert.equal((await display.connections()).length, 1, 'seen at once');
    assert.equal(asked(), 2);
    replies['query-vnc'] = { clients: [] };
    emit('VNC_DISCONNECTED', Date.now());
    assert.deepEqual(await display.connections(), []);
    emit('SPICE_CONNECTED', Date.now());
    await display.connections();
    emit('SPICE_DISCONNECTED', Date.now());
    await display.connections();
    emit('VNC_INITIALIZED', Date.now()); // not a change of the client list
    await display.connections();
    assert.equal(asked(), 5);
    display.detach();
  });

  it('takes its event listener off the QMP connection on detach and close', async () => {
    const { qmp, events } = fakeQmp({ 'query-vnc': { clients: [] } });
    const first = await VmDisplay.open({ qmp, name: 'vm9' });
    const second = await VmDisplay.open({ qmp, name: 'vm9' });
    assert.equal(events.listenerCount('event'), 2);
    first.detach();
    assert.equal(events.listenerCount('event'), 1);
    await second.close();
    assert.equal(events.listenerCount('event'), 0);
  });
});

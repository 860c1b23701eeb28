// The agent's display for terminals on real QEMU: each VM's gateway (a TCP port relaying
// to its VNC or SPICE socket, or to QEMU's forward of the guest's RDP port), one-time
// tickets set over QMP and checked by real VNC and SPICE authentication, who is
// connected, and the gateway's life with its VM and across an agent restart (the listener
// lives in the run directory's gateway daemon: it stays, connections and all).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AgentDisplaySpec, AgentVm, AgentVmSpec } from '../../src/agent/host-agent.js';
import { freeLoopbackPort } from '../../src/agent/gateway.js';
import { gatewayDaemonPid, stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { SPICE_CHANNELS_GRACE_MS } from '../../src/agent/vm-display.js';
import type { SealedVersion } from '../../src/images/image-store.js';
import { macFromUuid } from '../../src/qemu/cmdline/validate.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { fails } from '../helpers/assertions.js';
import {
  accepts,
  connectTcp,
  connectUnix,
  rfbHandshake,
  spiceLink,
  spiceSessionId,
  SPICE_INPUTS_CHANNEL,
} from '../helpers/display-clients.js';
import { delay, waitFor } from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import { realSupervisor } from '../helpers/supervisor.js';
import { killAll } from '../helpers/vm-fixture.js';

const TICKET = /^[A-Za-z0-9_-]+$/;

describe('the agent display for terminals, on real QEMU', () => {
  let fx: StoreFixture;
  let runRoot: string;
  let version: SealedVersion;
  let supervisor: Supervisor;
  let agent: LocalAgent;
  let counter = 0;

  const startAgent = async () => {
    supervisor = realSupervisor(runRoot, { images: fx.store });
    supervisor.setMaxListeners(0);
    const started = await LocalAgent.start(supervisor, {
      images: fx.store,
      gatewayAddress: 'lab-host.example',
    });
    agent = started.agent;
    return started.adopted;
  };

  before(async () => {
    fx = await storeFixture();
    runRoot = join(fx.dir, 'run');
    const disk = join(fx.importDir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    version = await fx.store.import(disk, newRef(), { format: 'raw' });
    await startAgent();
  });

  after(async () => {
    await killAll(supervisor.runDir);
    await agent.close();
    await stopGatewayDaemon(runRoot);
    await fx.cleanup();
  });

  function spec(display: AgentDisplaySpec | undefined, net: 'user' | 'none' = 'none') {
    const uuid = randomUUID();
    const vm: AgentVmSpec = {
      name: `disp${++counter}`,
      uuid,
      memoryMiB: 32,
      cpus: 1,
      nic: { model: 'virtio', mac: macFromUuid(uuid) },
      diskBus: 'ide',
      image: version.ref,
      writes: 'discard',
      net,
      display,
    };
    return vm;
  }

  async function view(name: string): Promise<AgentVm> {
    const vm = await agent.vm(name);
    assert.ok(vm !== undefined, `${name} runs`);
    return vm;
  }

  async function gatewayPort(vm: AgentVm): Promise<number> {
    assert.ok(vm.display !== null, 'the VM has a gateway');
    return vm.display.port;
  }

  it('reports the configured gateway address', async () => {
    assert.equal((await agent.report()).gatewayAddress, 'lab-host.example');
  });

  it('vnc: a ticket opens the gateway to one VNC client, which is listed while connected', async () => {
    const vm = await agent.startVm(spec({ protocol: 'vnc', ticketed: true }));
    assert.equal(vm.display?.protocol, 'vnc');
    const port = await gatewayPort(vm);
    assert.ok(port > 0);
    assert.deepEqual(vm.connections, []);

    // Nothing gets in before a ticket, whatever the password.
    const early = await connectTcp(port);
    const refused = await rfbHandshake(early, 'guessed!');
    assert.equal(refused.banner, 'RFB 003.008\n');
    assert.deepEqual(refused.securityTypes, [2], 'VNC authentication only');
    assert.equal(refused.ok, false);
    early.socket.destroy();

    const ticket = await agent.ticket(vm.name, 60);
    assert.ok(ticket !== undefined);
    assert.equal(ticket.length, 8);
    assert.match(ticket, TICKET);
    const wrong = await connectTcp(port);
    assert.equal(
      (await rfbHandshake(wrong, ticket === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA')).ok,
      false,
    );
    wrong.socket.destroy();

    const client = await connectTcp(port);
    const session = await rfbHandshake(client, ticket);
    assert.equal(session.ok, true, session.reason);
    assert.ok((session.width ?? 0) >= 640, 'ServerInit (the VGA screen), through the relay');
    const peer = `127.0.0.1:${client.socket.localPort}`;
    const listed = await waitFor('the client in connections', async () => {
      const now = await view(vm.name);
      return now.connections.length > 0 ? now.connections : undefined;
    });
    assert.deepEqual(
      listed.map((c) => c.peer),
      [peer],
    );
    assert.ok(Math.abs(Date.parse(listed[0]!.since) - Date.now()) < 10_000);
    assert.equal(listed[0]!.via, 'gateway');
    assert.ok((listed[0]!.bytesOut ?? 0) > 12, 'the handshake went through it');
    // Once QEMU's client list is asked again: still once, by its TCP address (QEMU lists
    // it too, as a Unix socket client).
    await delay(1_200);
    assert.deepEqual(
      (await view(vm.name)).connections.map((c) => c.peer),
      [peer],
    );

    // One-time: the same ticket fails for the next client.
    await delay(300);
    const again = await connectTcp(port);
    const second = await rfbHandshake(again, ticket);
    assert.equal(second.ok, false, 'a used ticket is refused');
    again.socket.destroy();

    client.socket.destroy();
    const closedAt = Date.now();
    await waitFor(
      'the connection to go from the list',
      async () => ((await view(vm.name)).connections.length === 0 ? true : undefined),
      2_500,
    );
    assert.ok(Date.now() - closedAt < 2_500);

    // A new ticket works (the burnt one did not disable passwords).
    const next = await agent.ticket(vm.name, 60);
    assert.ok(next !== undefined && next !== ticket);
    const third = await connectTcp(port);
    assert.equal((await rfbHandshake(third, next)).ok, true);
    third.socket.destroy();

    // A client straight on the VNC socket (the console's way) is listed too.
    const direct = await connectUnix(vm.vncSocket);
    assert.equal((await direct.read(12)).toString('latin1'), 'RFB 003.008\n');
    // (Until QEMU has seen the relayed client above go, it is counted here for a moment.)
    const seen = await waitFor('the socket client in connections', async () => {
      const now = (await view(vm.name)).connections;
      return now.length === 1 && now[0]?.peer === 'unix:vnc' ? now : undefined;
    });
    assert.deepEqual(
      seen.map((c) => c.peer),
      ['unix:vnc'],
    );
    assert.equal(seen[0]?.via, 'display', 'known from QEMU only');
    direct.socket.destroy();

    // The gateway goes with the VM: its port closes, its connections are cut.
    const open = await connectTcp(port);
    await agent.stopVm(vm.name, { graceMs: 0 });
    await open.closed(5_000);
    assert.equal(await accepts(port), false, 'the gateway port is closed');
    await assert.rejects(agent.ticket(vm.name, 60), fails('VM_NOT_FOUND'));
  });

  it('vnc unticketed: the gateway offers no authentication; ticket gives none', async () => {
    const vm = await agent.startVm(spec({ protocol: 'vnc', ticketed: false }));
    assert.equal(await agent.ticket(vm.name, 60), undefined);
    const client = await connectTcp(await gatewayPort(vm));
    const session = await rfbHandshake(client, undefined);
    assert.deepEqual(session.securityTypes, [1]);
    assert.equal(session.ok, true, session.reason);
    client.socket.destroy();
    await agent.stopVm(vm.name, { graceMs: 0 });
  });

  it('spice: the gateway reaches the SPICE server; only the ticket authenticates', async () => {
    const vm = await agent.startVm(spec({ protocol: 'spice', ticketed: true }));
    assert.equal(vm.display?.protocol, 'spice');
    const port = await gatewayPort(vm);
    const ticket = await agent.ticket(vm.name, 60);
    assert.ok(ticket !== undefined);
    assert.equal(ticket.length, 24);
    assert.match(ticket, TICKET);

    const wrong = await connectTcp(port);
    const refused = await spiceLink(wrong, 'not-the-ticket');
    assert.equal(refused.magic, 'REDQ', 'QEMU answered the SPICE link');
    assert.equal(refused.linkError, 0);
    assert.notEqual(refused.authResult, 0, 'a wrong ticket is refused');
    wrong.socket.destroy();

    const client = await connectTcp(port);
    const linked = await spiceLink(client, ticket);
    assert.deepEqual(linked, { magic: 'REDQ', linkError: 0, authResult: 0 });
    // A SPICE client links its other channels with the same ticket, right after the first.
    const connectionId = await spiceSessionId(client);
    const channel = await connectTcp(port);
    const inputs = await spiceLink(channel, ticket, { connectionId, type: SPICE_INPUTS_CHANNEL });
    assert.equal(inputs.authResult, 0, 'the inputs channel links');
    const peers = [client, channel].map((c) => `127.0.0.1:${c.socket.localPort}`);
    await delay(1_200); // QEMU's client list asked afresh: its channels are not listed again
    assert.deepEqual(
      (await view(vm.name)).connections.map((c) => c.peer),
      peers,
    );
    // Past the channels' grace period the ticket is burnt.
    await delay(SPICE_CHANNELS_GRACE_MS);
    const late = await connectTcp(port);
    assert.notEqual((await spiceLink(late, ticket)).authResult, 0, 'a used ticket is refused');
    late.socket.destroy();
    channel.socket.destroy();
    client.socket.destroy();
    await agent.stopVm(vm.name, { graceMs: 0 });
    assert.equal(await accepts(port), false);
  });

  it("rdp: the gateway relays to QEMU's loopback forward of the guest port (no RDP server in the test guest)", async () => {
    const vm = await agent.startVm(
      spec({ protocol: 'rdp', guestPort: 3389, ticketed: false }, 'user'),
    );
    assert.equal(vm.display?.protocol, 'rdp');
    assert.equal(await agent.ticket(vm.name, 60), undefined, 'rdp has no ticket');
    const record = JSON.parse(
      await readFile(supervisor.runDir.vmPaths(vm.name).gatewayRecord, 'utf8'),
    ) as { hostPort: number };
    const argv = (await supervisor.runDir.readRecord(vm.name))?.argv ?? [];
    assert.ok(
      argv.some((arg) => arg.includes(`hostfwd=tcp:127.0.0.1:${record.hostPort}-:3389`)),
      argv.join(' '),
    );
    assert.equal(await accepts(record.hostPort), true, 'QEMU listens on the forward');

    const client = await connectTcp(await gatewayPort(vm));
    const peer = `127.0.0.1:${client.socket.localPort}`;
    const listed = await waitFor('the relayed client in connections', async () => {
      const now = (await view(vm.name)).connections;
      return now.length > 0 ? now : undefined;
    });
    assert.deepEqual(
      listed.map((c) => c.peer),
      [peer],
    );
    await agent.stopVm(vm.name, { graceMs: 0 });
    await client.closed(5_000);
    assert.equal(await accepts(record.hostPort), false, 'the forward went with QEMU');
  });

  it('rdp: a forward port taken before QEMU binds it is picked again', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    const picked: number[] = [];
    // An agent of its own (run directory too): closing it detaches only its supervisor.
    const own = realSupervisor(join(fx.dir, 'run-picky'), { images: fx.store });
    const { agent: picky } = await LocalAgent.start(own, {
      images: fx.store,
      freePort: async () => {
        const port = picked.length === 0 ? takenPort : await freeLoopbackPort();
        picked.push(port);
        return port;
      },
    });
    try {
      const vm = await picky.startVm(spec({ protocol: 'rdp', ticketed: false }, 'user'));
      assert.equal(picked.length, 2, 'a second port was picked');
      const argv = (await own.runDir.readRecord(vm.name))?.argv ?? [];
      assert.ok(argv.some((arg) => arg.includes(`hostfwd=tcp:127.0.0.1:${picked[1]}-:3389`)));
      await picky.stopVm(vm.name, { graceMs: 0 });
    } finally {
      taken.close();
      await killAll(own.runDir);
      await picky.close();
      await stopGatewayDaemon(own.runDir.root);
    }
  });

  it("after an agent restart the adopted VM's gateway is still on its port, tickets work", async () => {
    const vm = await agent.startVm(spec({ protocol: 'vnc', ticketed: true }));
    const port = await gatewayPort(vm);
    const daemon = await gatewayDaemonPid(runRoot);
    assert.ok(daemon !== undefined, 'one gateway daemon for the run directory');
    await agent.close();
    assert.equal(await accepts(port), true, 'the listener stays in the daemon');

    const adopted = await startAgent();
    assert.equal(await gatewayDaemonPid(runRoot), daemon, 'the same daemon');
    assert.ok(adopted.includes(vm.name), adopted.join());
    const back = await view(vm.name);
    assert.deepEqual(back.display, { protocol: 'vnc', port });

    const ticket = await agent.ticket(vm.name, 60);
    assert.ok(ticket !== undefined);
    const client = await connectTcp(port);
    assert.equal((await rfbHandshake(client, ticket)).ok, true);
    await delay(300);
    const again = await connectTcp(port);
    assert.equal((await rfbHandshake(again, ticket)).ok, false, 'still one-time');
    again.socket.destroy();
    client.socket.destroy();

    // A ticket not used within its time is refused (QEMU counts whole seconds).
    const short = await agent.ticket(vm.name, 1);
    await delay(2_100);
    const late = await connectTcp(port);
    assert.equal((await rfbHandshake(late, short)).ok, false, 'an expired ticket is refused');
    late.socket.destroy();
    await agent.stopVm(vm.name, { graceMs: 0 });
  });
});

// Issue 6: restarting the agent leaves a gateway connection in progress working. A real VNC
// client talks to a real QEMU through the run directory's gateway daemon while the agent
// (LocalAgent and its supervisor) goes away and a new one starts on the same run
// directory; the daemon killed outright is noticed and its listeners come back on their
// ports; a VM's end closes its listener.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gatewayDaemonPid, stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import type { AgentVm, AgentVmSpec, DisplayConnection } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import type { SealedVersion } from '../../src/images/image-store.js';
import { macFromUuid } from '../../src/qemu/cmdline/validate.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { procProcessTable } from '../../src/system/process-table.js';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import {
  accepts,
  connectTcp,
  rfbAfterBanner,
  rfbBanner,
  rfbHandshake,
  rfbScreen,
} from '../helpers/display-clients.js';
import { waitFor } from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import { realSupervisor } from '../helpers/supervisor.js';
import { killAll } from '../helpers/vm-fixture.js';

describe('the gateway across agent restarts, on real QEMU', () => {
  let fx: StoreFixture;
  let runRoot: string;
  let version: SealedVersion;
  let supervisor: Supervisor;
  let agent: LocalAgent;
  let counter = 0;

  const startAgent = async () => {
    supervisor = realSupervisor(runRoot, { images: fx.store });
    supervisor.setMaxListeners(0);
    const started = await LocalAgent.start(supervisor, { images: fx.store });
    agent = started.agent;
    return started.adopted;
  };
  /** The agent goes away (VMs and the gateway daemon stay) and a new one starts. */
  const restartAgent = async () => {
    await agent.close();
    return startAgent();
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
    assert.equal(await gatewayDaemonPid(runRoot), undefined, 'no daemon outlives the test');
    await fx.cleanup();
  });

  function vncSpec(): AgentVmSpec {
    const uuid = randomUUID();
    return {
      name: `gwr${++counter}`,
      uuid,
      memoryMiB: 32,
      cpus: 1,
      nic: { model: 'virtio', mac: macFromUuid(uuid) },
      diskBus: 'ide',
      image: version.ref,
      writes: 'discard',
      net: 'none',
      display: { protocol: 'vnc', ticketed: false },
    };
  }

  async function view(name: string): Promise<AgentVm> {
    const vm = await agent.vm(name);
    assert.ok(vm !== undefined, `${name} runs`);
    return vm;
  }

  /** The gateway connection from this local port, once the agent lists it. */
  async function listed(name: string, localPort: number | undefined): Promise<DisplayConnection> {
    return waitFor(`the connection from port ${localPort} listed`, async () =>
      (await view(name)).connections.find((c) => c.peer === `127.0.0.1:${localPort}`),
    );
  }

  it('a connection in progress goes on across an agent restart; new ones work too', async () => {
    const vm = await agent.startVm(vncSpec());
    const port = vm.display?.port ?? 0;
    assert.ok(port > 0);
    const daemon = await gatewayDaemonPid(runRoot);
    assert.ok(daemon !== undefined, 'the gateway daemon runs');

    const client = await connectTcp(port);
    const banner = await rfbBanner(client);
    assert.equal(banner, 'RFB 003.008\n');
    const before = await listed(vm.name, client.socket.localPort);
    assert.equal(before.via, 'gateway');
    assert.ok((before.bytesOut ?? 0) >= 12, 'the banner went through it');

    const adopted = await restartAgent();
    assert.ok(adopted.includes(vm.name), adopted.join());
    assert.equal(await gatewayDaemonPid(runRoot), daemon, 'the same daemon');
    assert.deepEqual((await view(vm.name)).display, { protocol: 'vnc', port });

    // The same TCP connection: the handshake completes, and the screen is sent.
    const session = await rfbAfterBanner(client, banner, undefined);
    assert.equal(session.ok, true, session.reason);
    assert.ok((session.width ?? 0) >= 640);
    const screen = await rfbScreen(client, session.width ?? 0, session.height ?? 0);
    assert.equal(screen.type, 0, 'a FramebufferUpdate');
    assert.ok(screen.rectangles >= 1);

    const afterRestart = await listed(vm.name, client.socket.localPort);
    assert.equal(afterRestart.peer, before.peer);
    assert.equal(afterRestart.since, before.since);
    assert.ok((afterRestart.bytesIn ?? 0) > (before.bytesIn ?? 0), 'bytes in grew');
    assert.ok((afterRestart.bytesOut ?? 0) > (before.bytesOut ?? 0), 'bytes out grew');

    const fresh = await connectTcp(port);
    assert.equal((await rfbHandshake(fresh, undefined)).ok, true, 'a new connection works');
    fresh.socket.destroy();

    // Its end closes the listener, cutting the connection.
    await agent.stopVm(vm.name, { graceMs: 0 });
    await client.closed(5_000);
    assert.equal(await accepts(port), false, 'the listener closed with its VM');
  });

  it('a killed daemon is noticed on the next VM start, VM list or agent start: listeners come back on their ports', async () => {
    const first = await agent.startVm(vncSpec());
    const firstPort = first.display?.port ?? 0;
    const daemon = await gatewayDaemonPid(runRoot);
    assert.ok(daemon !== undefined);
    procProcessTable.signal(daemon, 'SIGKILL');
    await waitFor('the daemon gone', async () =>
      (await procProcessTable.liveCmdline(daemon)) === undefined ? true : undefined,
    );
    // (Whether its port refuses now is not asserted: the agent may already have noticed
    // the daemon's control socket close and brought the listener back.)

    // The next VM's start finds the daemon gone: a new one, every running VM's listener back.
    const second = await agent.startVm(vncSpec());
    const secondPort = second.display?.port ?? 0;
    const respawned = await gatewayDaemonPid(runRoot);
    assert.ok(respawned !== undefined && respawned !== daemon, 'a new daemon');
    assert.deepEqual((await view(first.name)).display, { protocol: 'vnc', port: firstPort });
    for (const port of [firstPort, secondPort]) {
      const client = await connectTcp(port);
      assert.equal((await rfbHandshake(client, undefined)).ok, true, `port ${port} relays`);
      client.socket.destroy();
    }

    // Killed again: the agent's next look at its VMs (the controller's poll) brings it back.
    procProcessTable.signal(respawned, 'SIGKILL');
    await waitFor('the daemon gone', async () =>
      (await procProcessTable.liveCmdline(respawned)) === undefined ? true : undefined,
    );
    // (The agent learns of it when its control socket closes: a poll or two later.)
    const third = await waitFor('a new daemon from the VM list', async () => {
      await agent.listVms();
      const pid = await gatewayDaemonPid(runRoot);
      return pid !== undefined && pid !== respawned ? pid : undefined;
    });
    assert.equal(await accepts(firstPort), true);
    assert.equal(await accepts(secondPort), true);

    // Killed again, while no agent runs: the next agent's start brings both back.
    await agent.close();
    procProcessTable.signal(third, 'SIGKILL');
    await waitFor('the daemon gone', async () =>
      (await procProcessTable.liveCmdline(third)) === undefined ? true : undefined,
    );
    const adopted = await startAgent();
    assert.deepEqual([...adopted].sort(), [first.name, second.name].sort());
    for (const [name, port] of [
      [first.name, firstPort],
      [second.name, secondPort],
    ] as const) {
      assert.deepEqual((await view(name)).display, { protocol: 'vnc', port });
      const client = await connectTcp(port);
      assert.equal((await rfbHandshake(client, undefined)).ok, true, `port ${port} relays`);
      client.socket.destroy();
      await agent.stopVm(name, { graceMs: 0 });
      assert.equal(await accepts(port), false);
    }
  });

  it('a new agent closes the listeners of VMs that ended while no agent ran', async () => {
    const vm = await agent.startVm(vncSpec());
    const port = vm.display?.port ?? 0;
    await agent.close();
    // The VM ends behind the agent's back (killed): its listener is still in the daemon.
    await killAll(supervisor.runDir);
    assert.equal(await accepts(port), true, 'the listener outlived its VM');
    const adopted = await startAgent();
    assert.ok(!adopted.includes(vm.name));
    await waitFor('the stale listener closed', async () =>
      (await accepts(port)) ? undefined : true,
    );
  });
});

// The Linux test guest on real QEMU through the supervisor: DHCP from user-mode networking,
// the echo server through a port forward, power-off by ACPI; and the builder's cache.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLinuxGuest } from '../../scripts/linux-guest.js';
import type { CommandRunner } from '../../src/system/command-runner.js';
import type { VmLaunch } from '../../src/qemu/process/supervisor.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { freePort } from '../helpers/cli-server.js';
import { connectTcp, type ByteReader } from '../helpers/display-clients.js';
import { processAlive, readIfExists, tempDir, waitFor } from '../helpers/env.js';
import {
  guestAddresses,
  linuxGuestAccel,
  linuxGuestImage,
  LINUX_GUEST_BOOT_MS,
  LINUX_GUEST_MEMORY_MIB,
  LINUX_GUEST_PORT,
  LINUX_GUEST_VNC_PORT,
} from '../helpers/linux-guest.js';
import { guestLaunch, realSupervisor } from '../helpers/supervisor.js';

/** A connection to the echo server that has echoed once (QEMU accepts before the guest does). */
async function echoConnection(port: number, probe: string): Promise<ByteReader> {
  return waitFor(
    'the guest to echo through the forward',
    async () => {
      let reader: ByteReader | undefined;
      try {
        reader = await connectTcp(port);
        reader.socket.write(probe);
        assert.equal((await reader.read(probe.length, 5_000)).toString(), probe);
        return reader;
      } catch {
        reader?.socket.destroy();
        return undefined;
      }
    },
    60_000,
    1_000,
  );
}

describe('Linux test guest', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let runRoot: string;
  let image: string;
  const supervisors: ReturnType<typeof realSupervisor>[] = [];

  before(async () => {
    ({ path: dir, cleanup } = await tempDir());
    runRoot = join(dir, 'run');
    image = await linuxGuestImage();
  });

  after(async () => {
    const runDir = new RunDir(runRoot);
    for (const name of await runDir.names()) {
      const pid = await runDir.readPid(name);
      if (pid !== undefined && (await processAlive(pid))) process.kill(pid, 'SIGKILL');
    }
    for (const made of supervisors) made.detach();
    await cleanup();
  });

  it('is cached: a second build returns the same image without running anything', async () => {
    const before = (await stat(image)).mtimeMs;
    const calls: string[][] = [];
    const runner: CommandRunner = {
      run(argv) {
        calls.push([...argv]);
        return Promise.reject(new Error(`unexpected command: ${argv.join(' ')}`));
      },
    };
    assert.equal(await buildLinuxGuest({ runner }), image);
    assert.deepEqual(calls, []);
    assert.equal((await stat(image)).mtimeMs, before, 'the image was not rewritten');
  });

  /** Starts the guest and waits for its first lease; resolves to its status and MAC. */
  async function bootGuest(name: string, extra: Partial<VmLaunch>) {
    const supervisor = realSupervisor(runRoot);
    supervisors.push(supervisor);
    const launch = await guestLaunch(name, [image], {
      memoryMiB: LINUX_GUEST_MEMORY_MIB,
      accel: await linuxGuestAccel(),
      ...extra,
    });
    const status = await supervisor.start(launch, { discardWrites: true });
    const addresses = await waitFor(
      `${name} to report its DHCP lease`,
      async () => {
        const found = guestAddresses(await readIfExists(status.serialLog));
        return found.length > 0 ? found : undefined;
      },
      LINUX_GUEST_BOOT_MS,
      500,
    );
    return { supervisor, status, mac: launch.nic.mac, addresses };
  }

  it('takes its address by DHCP, echoes on two connections at once, powers off by ACPI', async () => {
    const hostPort = await freePort();
    const vncPort = await freePort();
    const forwards = [
      { hostPort, guestPort: LINUX_GUEST_PORT },
      { hostPort: vncPort, guestPort: LINUX_GUEST_VNC_PORT },
    ];
    const { supervisor, status, mac, addresses } = await bootGuest('linux', {
      diskBus: 'virtio',
      net: { mode: 'user', forwards },
    });
    assert.deepEqual(addresses[0], { ip: '10.0.2.15', mac });

    const first = await echoConnection(hostPort, 'first\n');
    const second = await echoConnection(hostPort, 'second\n');
    // Both stay open: each still echoes after the other has been used.
    for (const [reader, text] of [
      [first, 'first again\n'],
      [second, 'second again\n'],
      [first, 'first once more\n'],
    ] as const) {
      reader.socket.write(text);
      assert.equal((await reader.read(text.length, 10_000)).toString(), text);
    }
    const third = await echoConnection(vncPort, 'on 5900\n');
    for (const reader of [first, second, third]) reader.socket.end();
    await first.closed();
    await second.closed();
    await third.closed();

    const exit = await supervisor.stop('linux', { graceMs: 20_000 });
    assert.equal(exit.stopMethod, 'powerdown', 'the guest powered off by itself');
    assert.equal(exit.state, 'stopped');
    assert.match(await readFile(status.serialLog, 'utf8'), /labvirt-guest: power button/);
  });

  it('boots from IDE with an e1000 NIC too', async () => {
    const { supervisor, mac, addresses } = await bootGuest('e1000', {
      diskBus: 'ide',
      nic: { model: 'e1000', mac: '52:54:00:6e:10:00' },
      net: { mode: 'user', forwards: [] },
    });
    assert.equal(mac, '52:54:00:6e:10:00');
    assert.deepEqual(addresses[0], { ip: '10.0.2.15', mac });
    const exit = await supervisor.stop('e1000', { graceMs: 20_000 });
    assert.equal(exit.stopMethod, 'powerdown');
  });
});

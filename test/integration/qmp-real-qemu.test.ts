// The QMP client against a real QEMU: the fake server proves the framing and correlation
// logic, this proves we agree with QEMU itself on the greeting, negotiation, replies,
// error classes, events and the end of the connection. -S (start paused) means no disk or
// firmware boot is needed; the tests only drive the VM's run state.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabvirtError } from '../../src/domain/errors.js';
import { QmpClient, QmpCommandError, type QmpEvent } from '../../src/qemu/qmp/qmp-client.js';

const QEMU = 'qemu-system-x86_64';

async function kvmUsable(): Promise<boolean> {
  try {
    await (await open('/dev/kvm', 'r+')).close();
    return true;
  } catch {
    return false;
  }
}

/** QEMU creates the socket shortly after starting; retry until it answers or QEMU dies. */
async function connectWhenReady(socket: string, qemu: ChildProcess): Promise<QmpClient> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await QmpClient.connect(socket, { timeoutMs: 10_000 });
    } catch (error) {
      const retry = error instanceof LabvirtError && error.code === 'QMP_CLOSED';
      if (!retry || qemu.exitCode !== null || Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

describe('QmpClient against a real QEMU', { timeout: 60_000 }, () => {
  let dir: string;
  let qemu: ChildProcess;
  let exited: Promise<number | null>;
  let stderr = '';
  let client: QmpClient;
  const events: QmpEvent[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'labvirt-qmp-it-'));
    const socket = path.join(dir, 'qmp.sock');
    const accel = (await kvmUsable())
      ? ['-accel', 'kvm', '-cpu', 'host,-arch-capabilities']
      : ['-accel', 'tcg', '-cpu', 'max'];
    // prettier-ignore
    const argv = [
      '-nodefaults', '-machine', 'pc', ...accel, '-m', '64', '-display', 'none',
      '-chardev', `socket,id=qmp,path=${socket},server=on,wait=off`,
      '-mon', 'chardev=qmp,mode=control', '-S',
    ];
    qemu = spawn(QEMU, argv, { shell: false, stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    exited = new Promise((resolve) => qemu.once('exit', (code) => resolve(code)));
    try {
      client = await connectWhenReady(socket, qemu);
    } catch (error) {
      throw new Error(`QEMU did not offer QMP: ${String(error)}\n${stderr}`, { cause: error });
    }
    client.on('event', (event) => events.push(event));
  });

  after(async () => {
    // Whatever failed above, leave no QEMU behind and no temporary directory.
    await client?.close();
    if (qemu?.exitCode === null && qemu.signalCode === null) {
      qemu.kill('SIGKILL');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('negotiated with a QEMU 7 or newer', () => {
    assert.ok(client.version.major >= 7, `version ${JSON.stringify(client.version)}`);
    assert.equal(client.closed, false);
  });

  it('query-status reports the paused-before-start state', async () => {
    const status = await client.execute<{ status: string; running: boolean }>('query-status');
    assert.equal(status.status, 'prelaunch');
    assert.equal(status.running, false);
  });

  it('surfaces CommandNotFound and DeviceNotFound error classes', async () => {
    await assert.rejects(client.execute('no-such-command'), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'CommandNotFound');
      assert.equal(error.code, 'QMP_COMMAND_FAILED');
      assert.match(String(error.params['desc']), /no-such-command/);
      return true;
    });
    await assert.rejects(client.execute('device_del', { id: 'nothing-here' }), {
      errorClass: 'DeviceNotFound',
    });
  });

  it('cont and stop produce RESUME and STOP events', async () => {
    const resumed = client.waitForEvent('RESUME', { timeoutMs: 5000 });
    await client.execute('cont');
    await resumed;
    const running = await client.execute<{ status: string }>('query-status');
    assert.equal(running.status, 'running');

    const stopped = client.waitForEvent('STOP', { timeoutMs: 5000 });
    await client.execute('stop');
    await stopped;
    assert.deepEqual(
      events.map((event) => event.event),
      ['RESUME', 'STOP'],
    );
  });

  it('quit: SHUTDOWN arrives, the client closes, later commands fail with QMP_CLOSED', async () => {
    const shutdown = client.waitForEvent('SHUTDOWN', { timeoutMs: 5000 });
    const closed = new Promise<Error | undefined>((resolve) => client.once('close', resolve));
    // QEMU may close the socket before or after answering quit; both are a successful quit.
    await client.execute('quit').catch((error: unknown) => {
      assert.ok(error instanceof LabvirtError && error.code === 'QMP_CLOSED', String(error));
    });
    const event = await shutdown;
    assert.equal(event.data['guest'], false);
    assert.equal(event.data['reason'], 'host-qmp-quit');
    assert.equal(await closed, undefined); // an orderly end, not a broken stream
    assert.equal(client.closed, true);
    await assert.rejects(client.execute('query-status'), { code: 'QMP_CLOSED' });
    assert.equal(await exited, 0);
  });
});

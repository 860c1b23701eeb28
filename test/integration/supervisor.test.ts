// The supervisor against real QEMU and the project's own test guest.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { GuestMode, readBootCount, writeGuestDisk } from '../../scripts/guest.js';
import {
  LABVIRT_BIN,
  processAlive,
  sha256File,
  tempDir,
  waitFor,
  waitForFileMatch,
} from '../helpers/env.js';
import { guestLaunch, realSupervisor } from '../helpers/supervisor.js';

/** The text on the VGA console: every other byte of the 80x25 text buffer at 0xb8000. */
async function vgaText(supervisor: ReturnType<typeof realSupervisor>, name: string, file: string) {
  await supervisor.qmp(name).execute('pmemsave', { val: 0xb8000, size: 4000, filename: file });
  const buffer = await readFile(file);
  return [...buffer]
    .filter((_, index) => index % 2 === 0)
    .map((c) => String.fromCharCode(c))
    .join('');
}

describe('supervisor on real QEMU', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let runRoot: string;
  const supervisors: ReturnType<typeof realSupervisor>[] = [];
  const supervisor = () => {
    const made = realSupervisor(runRoot);
    supervisors.push(made);
    return made;
  };

  before(async () => {
    ({ path: dir, cleanup } = await tempDir());
    runRoot = join(dir, 'run');
  });

  after(async () => {
    // Whatever a failed test left running is killed here, not leaked into the next run.
    const runDir = new RunDir(runRoot);
    for (const name of await runDir.names()) {
      const pid = await runDir.readPid(name);
      if (pid !== undefined && (await processAlive(pid))) process.kill(pid, 'SIGKILL');
    }
    for (const made of supervisors) made.detach();
    await cleanup();
  });

  it('runs a VM on an overlay, shows its console on serial and VGA, and powers it down by ACPI', async () => {
    const disk = join(dir, 'acpi.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const digest = await sha256File(disk);
    const sup = supervisor();
    const status = await sup.start(await guestLaunch('acpi', [disk]), { discardWrites: true });
    assert.equal(status.state, 'running');
    assert.equal(status.runStatus, 'running');
    const paths = sup.runDir.vmPaths('acpi');
    assert.ok(existsSync(paths.overlay(0)), 'the overlay exists while the VM runs');

    await waitForFileMatch(status.serialLog, /LABVIRT-GUEST boot=1 mode=0/);
    const screen = await vgaText(sup, 'acpi', join(dir, 'vga.bin'));
    assert.match(screen, /LABVIRT-GUEST boot=1 mode=0/);

    const exit = await sup.stop('acpi', { graceMs: 15_000 });
    assert.deepEqual(exit, {
      name: 'acpi',
      state: 'stopped',
      shutdownReason: 'guest-shutdown',
      stopMethod: 'powerdown',
    });
    assert.match(await readFile(status.serialLog, 'utf8'), /power button/);
    assert.equal(existsSync(paths.dir), false, 'overlay, sockets and pidfile are gone');
    assert.equal(await sha256File(disk), digest, 'the base image is untouched');
    assert.equal(await readBootCount(disk), 0);
  });

  it('escalates to quit when the guest ignores the power button', async () => {
    const disk = join(dir, 'deaf.img');
    await writeGuestDisk(disk, GuestMode.ignorePowerButton);
    const sup = supervisor();
    const status = await sup.start(await guestLaunch('deaf', [disk]), { discardWrites: true });
    await waitForFileMatch(status.serialLog, /boot=1 mode=2/);
    const exit = await sup.stop('deaf', { graceMs: 1_000 });
    assert.equal(exit.stopMethod, 'quit');
    assert.equal(exit.state, 'stopped');
    assert.equal(await processAlive(status.pid), false);
    assert.equal(existsSync(sup.runDir.vmPaths('deaf').dir), false);
  });

  it('notices a QEMU killed with SIGKILL within 2 s and removes its overlay', async () => {
    const disk = join(dir, 'crash.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const sup = supervisor();
    const status = await sup.start(await guestLaunch('crash', [disk]), { discardWrites: true });
    const overlay = sup.runDir.vmPaths('crash').overlay(0);
    assert.ok(existsSync(overlay));
    const exited = new Promise<number>((resolve) => sup.once('exit', () => resolve(Date.now())));
    const killedAt = Date.now();
    process.kill(status.pid, 'SIGKILL');
    const noticedAfter = (await exited) - killedAt;
    assert.ok(noticedAfter < 2_000, `noticed after ${noticedAfter} ms`);
    const exit = await sup.waitForExit('crash').catch(() => undefined);
    assert.equal(exit, undefined, 'an ended VM is no longer known');
    assert.equal(existsSync(overlay), false);
    assert.equal(existsSync(sup.runDir.vmPaths('crash').dir), false);
  });

  it('refuses a second VM of the same name, even from another supervisor', async () => {
    const disk = join(dir, 'dup.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const first = supervisor();
    const launch = await guestLaunch('dup', [disk]);
    const status = await first.start(launch, { discardWrites: true });
    await assert.rejects(first.start(launch, { discardWrites: true }), {
      code: 'VM_ALREADY_RUNNING',
    });
    await assert.rejects(supervisor().start(launch, { discardWrites: true }), {
      code: 'VM_ALREADY_RUNNING',
    });
    assert.deepEqual(first.names(), ['dup']);
    await waitForFileMatch(status.serialLog, /boot=1/);
    await first.stop('dup', { graceMs: 10_000 });
  });

  it('reports a start QEMU refuses, and leaves nothing behind', async () => {
    const disk = join(dir, 'notqcow.img');
    await writeGuestDisk(disk, GuestMode.powerOff);
    const sup = supervisor();
    const launch = {
      ...(await guestLaunch('bad', [disk])),
      disks: [{ path: disk, format: 'qcow2' }],
    };
    await assert.rejects(
      sup.start(launch, { discardWrites: false }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'QEMU_START_FAILED');
        assert.match(error.message, /qcow2/);
        return true;
      },
    );
    assert.equal(existsSync(sup.runDir.vmPaths('bad').dir), false);
    assert.deepEqual(sup.names(), []);
  });

  it('lets a VM outlive a SIGKILLed `labvirt run`; a new supervisor adopts it and powers it off', async () => {
    const disk = join(dir, 'adopt.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const child = spawn(
      LABVIRT_BIN,
      [
        'run',
        '--disk',
        disk,
        '--snapshot',
        '--quiet',
        '--name',
        'adoptee',
        '--memory',
        '32',
        '--net',
        'none',
        '--run-dir',
        runRoot,
      ],
      { stdio: 'ignore' },
    );
    const childExit = new Promise((resolve) => child.on('exit', resolve));
    const runDir = new RunDir(runRoot);
    await waitForFileMatch(runDir.defaultSerialLog('adoptee'), /boot=1 mode=0/);
    const pid = await waitFor('the pidfile', () => runDir.readPid('adoptee'));

    child.kill('SIGKILL');
    await childExit;
    assert.equal(await processAlive(pid), true, 'the VM survives its supervisor');

    const sup = supervisor();
    assert.deepEqual(await sup.adopt(), { adopted: ['adoptee'], cleaned: [] });
    const status = await sup.status('adoptee');
    assert.equal(status.pid, pid);
    assert.equal(status.runStatus, 'running');
    assert.equal(status.discardWrites, true);

    const exit = await sup.stop('adoptee', { graceMs: 15_000 });
    assert.equal(exit.stopMethod, 'powerdown');
    assert.equal(await processAlive(pid), false);
    assert.equal(
      existsSync(runDir.vmPaths('adoptee').dir),
      false,
      'no overlay, socket or pidfile is left',
    );
    assert.equal(await readBootCount(disk), 0);
  });

  it('does not adopt a process that merely reuses a recorded PID', async () => {
    const runDir = new RunDir(runRoot);
    const paths = await runDir.prepare('ghost');
    const launch = await guestLaunch('ghost', ['/nonexistent.img']);
    await runDir.writeRecord('ghost', {
      spec: {
        ...launch,
        qmpSocket: paths.qmpSocket,
        vncSocket: paths.vncSocket,
        serialLog: '/dev/null',
      },
      argv: ['qemu-system-x86_64', '-name', 'guest=ghost'],
      overlays: [],
      discardWrites: true,
      startedAt: new Date().toISOString(),
    });
    // This test's own process is alive under that PID, but it is not that QEMU.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(paths.pidfile, `${process.pid}\n`);
    const result = await supervisor().adopt();
    assert.deepEqual(result.adopted, []);
    assert.ok(result.cleaned.includes('ghost'));
    assert.equal(existsSync(paths.dir), false);
  });
});

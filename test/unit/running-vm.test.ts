// RunningVm's watch on a QEMU process: once the VM is known to have ended, no timer of it
// is left (a leftover one kept test processes alive after their last test, intermittently:
// when a /proc poll saw the end before the QMP socket closed).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { QmpConnection } from '../../src/qemu/process/qmp-connection.js';
import type { VmRecord } from '../../src/qemu/process/run-dir.js';
import { RunningVm, type VmExit } from '../../src/qemu/process/running-vm.js';
import type { ProcessTable } from '../../src/system/process-table.js';

class FakeQmp extends EventEmitter implements QmpConnection {
  closed = false;
  async execute<T>(): Promise<T> {
    return undefined as T;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

const argv = ['qemu-system-x86_64', '-name', 'vm1'];
const record = { argv, overlays: [], discardWrites: true, startedAt: 'x' } as unknown as VmRecord;

function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

function watch(alive: { value: boolean }, qmp: FakeQmp, pollMs: number): RunningVm {
  const processes: ProcessTable = {
    liveCmdline: async () => (alive.value ? argv : undefined),
    signal: () => undefined,
  };
  return new RunningVm({
    name: 'vm1',
    record,
    pid: 4242,
    qmp,
    processes,
    pollMs,
    onExit: async () => undefined,
  });
}

describe('RunningVm', () => {
  it('leaves no timer once a poll finds the process gone before QMP closes', async () => {
    const before = timers();
    const alive = { value: true };
    const qmp = new FakeQmp();
    const vm = watch(alive, qmp, 10);
    alive.value = false;
    const exit: VmExit = await vm.exited;
    assert.equal(exit.state, 'crashed');
    assert.ok(qmp.closed, 'the poll closes QMP itself');
    await sleep(60);
    assert.equal(timers(), before, 'a timer of the ended VM is still scheduled');
  });

  it('leaves no timer once QMP closes first and the process then goes', async () => {
    const before = timers();
    const alive = { value: true };
    const qmp = new FakeQmp();
    const vm = watch(alive, qmp, 60_000);
    qmp.emit('event', { event: 'SHUTDOWN', data: { reason: 'guest-shutdown' } });
    alive.value = false;
    qmp.close();
    const exit = await vm.exited;
    assert.deepEqual([exit.state, exit.shutdownReason], ['stopped', 'guest-shutdown']);
    await sleep(60);
    assert.equal(timers(), before);
  });

  it('leaves no timer once detached', async () => {
    const before = timers();
    const qmp = new FakeQmp();
    const vm = watch({ value: true }, qmp, 10);
    vm.detach();
    await sleep(30);
    assert.equal(timers(), before);
  });
});

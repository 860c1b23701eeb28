import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseAccel, probeKvm } from '../../src/qemu/cmdline/accel.js';
import { qemuOpts } from '../../src/qemu/cmdline/qemu-opts.js';
import { shellJoin, shellQuote } from '../../src/qemu/cmdline/shell-quote.js';
import { errorCodes, formatMessage, LabvirtError } from '../../src/domain/errors.js';
import { isFinal, nextVmState, vmStates, type VmEvent } from '../../src/domain/vm-lifecycle.js';
import { procState } from '../../src/system/process-table.js';

describe('shell quoting', () => {
  it('leaves plain words alone and quotes everything else', () => {
    assert.equal(
      shellJoin(['qemu', '-m', '512', 'a b', "it's", '', '{"a":1}']),
      `qemu -m 512 'a b' 'it'\\''s' '' '{"a":1}'`,
    );
    assert.equal(shellQuote('$(reboot)'), `'$(reboot)'`);
  });
});

describe('qemuOpts', () => {
  it('doubles commas in values and encodes booleans', () => {
    assert.equal(
      qemuOpts('file', { id: 's', path: '/a,b', append: false, x: undefined }),
      'file,id=s,path=/a,,b,append=off',
    );
  });
});

describe('accelerator choice', () => {
  it('takes KVM when usable, falls back to TCG with a warning, refuses forced KVM', () => {
    assert.deepEqual(chooseAccel('auto', { usable: true }), { accel: 'kvm' });
    const fallback = chooseAccel('auto', { usable: false, reason: '/dev/kvm does not exist' });
    assert.equal(fallback.accel, 'tcg');
    assert.match(fallback.warning ?? '', /\/dev\/kvm does not exist.*TCG/);
    assert.deepEqual(chooseAccel('tcg', { usable: true }), { accel: 'tcg' });
    assert.throws(() => chooseAccel('kvm', { usable: false, reason: 'EACCES' }), {
      code: 'KVM_UNAVAILABLE',
    });
  });
});

describe('probeKvm', () => {
  it('says why a device is not usable', async () => {
    assert.deepEqual(await probeKvm('/nonexistent/kvm'), {
      usable: false,
      reason: '/nonexistent/kvm does not exist',
    });
    // /dev/null opens read-write for anyone: the probe only asks whether QEMU could open it.
    assert.deepEqual(await probeKvm('/dev/null'), { usable: true });
  });
});

describe('error catalogue', () => {
  it('fills every placeholder of a message and maps codes to statuses', () => {
    const error = new LabvirtError('MAC_MALFORMED', { mac: 'zz' }, { field: 'mac' });
    assert.equal(
      error.message,
      'MAC address "zz" is malformed: expected six hex pairs like 52:54:00:12:34:56',
    );
    assert.equal(error.status, 400);
    assert.equal(error.isUserError, true);
    assert.equal(
      new LabvirtError('QEMU_START_FAILED', { name: 'a', detail: 'b' }).isUserError,
      false,
    );
    assert.equal(
      formatMessage('VM_NOT_FOUND', { name: 'x' }, (id) => id.replace('no VM', 'ninguna VM')),
      'ninguna VM named "x" is running',
    );
    assert.ok(errorCodes.length > 10);
  });
});

describe('VM lifecycle', () => {
  it('follows the documented transitions', () => {
    assert.equal(nextVmState('starting', { type: 'ready' }), 'running');
    assert.equal(nextVmState('starting', { type: 'start-failed' }), 'failed');
    assert.equal(nextVmState('running', { type: 'exit', clean: true }), 'stopped');
    assert.equal(nextVmState('running', { type: 'exit', clean: false }), 'crashed');
    assert.equal(nextVmState('running', { type: 'stop' }), 'stopping');
    assert.equal(nextVmState('stopping', { type: 'exit', clean: false }), 'stopped');
  });

  it('refuses every event in a final state', () => {
    const events: VmEvent[] = [{ type: 'ready' }, { type: 'stop' }, { type: 'exit', clean: true }];
    for (const state of vmStates.filter(isFinal)) {
      for (const event of events) assert.throws(() => nextVmState(state, event), /cannot take/);
    }
  });
});

describe('procState', () => {
  it('reads the state after a command name containing parentheses', () => {
    assert.equal(procState('1234 (qemu (x) y) Z 1 1234'), 'Z');
    assert.equal(procState('77 (qemu-system-x86) S 1 77'), 'S');
  });
});

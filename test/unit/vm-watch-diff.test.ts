// The VM watcher's comparison: what appeared, changed (state, run status, process,
// terminal, connections; not byte counters) or is no longer active.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffVms, vmSignature } from '../../src/controller/events/vm-watch-diff.js';
import type { VmView } from '../../src/controller/services/vms.js';

function vm(id: string, changes: Partial<VmView> = {}): VmView {
  return {
    id,
    name: `client-${id}`,
    kind: 'client',
    profileId: 'p1',
    profile: 'guest',
    versionId: 'v1',
    host: 'host-a',
    state: 'running',
    mac: '52:54:00:00:00:01',
    terminal: null,
    pid: 4242,
    runStatus: 'running',
    connections: [],
    createdAt: '2026-11-30T00:00:00.000Z',
    updatedAt: '2026-11-30T00:00:01.000Z',
    ...changes,
  };
}

const byId = (...vms: VmView[]) => new Map(vms.map((v) => [v.id, v]));
const ids = (vms: readonly VmView[]) => vms.map((v) => v.id);
const gateway = {
  peer: '10.0.0.7:51234',
  since: '2026-11-30T00:00:05.000Z',
  via: 'gateway',
} as const;

describe('diffVms', () => {
  it('nothing before: every active VM appeared, in list order', () => {
    const diff = diffVms(new Map(), [vm('b'), vm('a', { state: 'starting', pid: null })]);
    assert.deepEqual(ids(diff.changed), ['b', 'a']);
    assert.deepEqual(diff.gone, []);
  });

  it('the same views: nothing to tell', () => {
    const diff = diffVms(byId(vm('a'), vm('b')), [vm('a'), vm('b')]);
    assert.deepEqual(diff, { changed: [], gone: [] });
  });

  it('tells a change of state, run status, process, terminal or connections', () => {
    const before = byId(vm('s'), vm('r'), vm('p'), vm('t'), vm('c'), vm('same'));
    const now = [
      vm('s', { state: 'stopping' }),
      vm('r', { runStatus: 'paused' }),
      vm('p', { pid: 4343 }),
      vm('t', { terminal: '52:54:00:aa:bb:cc' }),
      vm('c', { connections: [gateway] }),
      vm('same', { updatedAt: '2026-11-30T00:09:00.000Z' }),
    ];
    assert.deepEqual(ids(diffVms(before, now).changed), ['s', 'r', 'p', 't', 'c']);
  });

  it('a connection that comes, goes or is replaced is a change; byte counters are not', () => {
    const connected = vm('c', { connections: [{ ...gateway, bytesIn: 10, bytesOut: 20 }] });
    const moreBytes = vm('c', { connections: [{ ...gateway, bytesIn: 99, bytesOut: 999 }] });
    assert.deepEqual(diffVms(byId(connected), [moreBytes]).changed, []);
    assert.deepEqual(ids(diffVms(byId(connected), [vm('c')]).changed), ['c']);
    const again = vm('c', { connections: [{ ...gateway, since: '2026-11-30T00:01:00.000Z' }] });
    assert.deepEqual(ids(diffVms(byId(connected), [again]).changed), ['c']);
    const display = vm('c', { connections: [{ ...gateway, via: 'display' }] });
    assert.deepEqual(ids(diffVms(byId(connected), [display]).changed), ['c']);
  });

  it('a VM missing from the active list is gone, with its last seen view', () => {
    const last = vm('x', { state: 'stopping' });
    const diff = diffVms(byId(vm('a'), last), [vm('a'), vm('n', { state: 'starting' })]);
    assert.deepEqual(ids(diff.changed), ['n']);
    assert.deepEqual(diff.gone, [last]);
  });

  it('signatures: golden', () => {
    assert.equal(vmSignature(vm('a')), '["running","running",4242,null,[]]');
    assert.equal(
      vmSignature(vm('a', { connections: [{ ...gateway, bytesIn: 1 }] })),
      '["running","running",4242,null,[["10.0.0.7:51234","gateway","2026-11-30T00:00:05.000Z"]]]',
    );
  });
});

// Placement (golden): which host a VM goes to by policy, and why each host was refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatRefusals,
  place,
  type PlacementHost,
  type PlacementRequest,
} from '../../src/domain/placement.js';

function host(name: string, over: Partial<PlacementHost> = {}): PlacementHost {
  return {
    id: `id-${name}`,
    name,
    online: true,
    maintenance: false,
    cpus: 4,
    memoryMiB: 8192,
    cpuRatio: 1,
    diskFreeMiB: null,
    sharedStore: false,
    allowed: true,
    hasImage: true,
    committed: { memoryMiB: 0, vcpus: 0, vms: 0 },
    ...over,
  };
}

const vm: PlacementRequest = { memoryMiB: 1024, cpus: 1, diskMiB: 0, policy: 'spread' };

function placed(hosts: PlacementHost[], request: PlacementRequest = vm): string {
  const result = place(hosts, request);
  return result.ok ? result.host.name : `refused: ${formatRefusals(result.reasons)}`;
}

describe('placement', () => {
  const busy = host('busy', { committed: { memoryMiB: 4096, vcpus: 2, vms: 2 } });
  const idle = host('idle');
  const big = host('big', { memoryMiB: 32768, committed: { memoryMiB: 4096, vcpus: 2, vms: 2 } });

  it('spread takes the host with the least memory share after placing', () => {
    assert.equal(placed([busy, idle]), 'idle');
    // Shares after placing: idle 1/8, big 5/32, busy 5/8.
    assert.equal(placed([busy, big, idle]), 'idle');
    assert.equal(placed([busy, big]), 'big');
  });

  it('pack takes the fullest host that still fits', () => {
    const pack = { ...vm, policy: 'pack' as const };
    assert.equal(placed([idle, busy], pack), 'busy');
    assert.equal(placed([idle, busy, big], pack), 'busy');
    const full = host('full', { committed: { memoryMiB: 7680, vcpus: 1, vms: 3 } });
    assert.equal(placed([idle, busy, full], pack), 'busy'); // full has 512 MiB left
  });

  it('a spread of equal hosts alternates as VMs are committed', () => {
    const hosts = [host('a'), host('b'), host('c')];
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = place(hosts, vm);
      assert.ok(result.ok);
      order.push(result.host.name);
      const index = hosts.findIndex((h) => h.id === result.host.id);
      const h = hosts[index]!;
      hosts[index] = {
        ...h,
        committed: {
          memoryMiB: h.committed.memoryMiB + vm.memoryMiB,
          vcpus: h.committed.vcpus + vm.cpus,
          vms: h.committed.vms + 1,
        },
      };
    }
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('honours the vCPU overcommit ratio', () => {
    const loaded = host('loaded', { committed: { memoryMiB: 1024, vcpus: 4, vms: 4 } });
    assert.equal(placed([loaded]), 'refused: loaded: no-cpu');
    assert.equal(placed([{ ...loaded, cpuRatio: 1.5 }]), 'loaded');
    assert.equal(
      placed([{ ...loaded, cpuRatio: 1.5 }], { ...vm, cpus: 3 }),
      'refused: loaded: no-cpu',
    );
  });

  it('refuses a host without the memory', () => {
    const nearly = host('nearly', { committed: { memoryMiB: 7500, vcpus: 0, vms: 1 } });
    assert.equal(placed([nearly]), 'refused: nearly: no-memory');
    assert.equal(placed([nearly], { ...vm, memoryMiB: 692 }), 'nearly');
  });

  it('refuses a host without the disk, and does not check an unknown one', () => {
    const small = host('small', { diskFreeMiB: 100 });
    assert.equal(placed([small], { ...vm, diskMiB: 200 }), 'refused: small: no-disk');
    assert.equal(placed([small], { ...vm, diskMiB: 100 }), 'small');
    assert.equal(placed([host('unknown')], { ...vm, diskMiB: 1e9 }), 'unknown');
  });

  it('skips drained, offline and not-allowed hosts', () => {
    assert.equal(placed([host('drained', { maintenance: true }), busy]), 'busy');
    assert.equal(placed([host('down', { online: false }), busy]), 'busy');
    assert.equal(placed([host('other', { allowed: false }), busy]), 'busy');
  });

  it('admin VMs need a host sharing the controller’s image store', () => {
    const shared = host('shared', {
      sharedStore: true,
      committed: { memoryMiB: 6144, vcpus: 3, vms: 3 },
    });
    const request = { ...vm, needsSharedStore: true };
    assert.equal(placed([idle, shared], request), 'shared');
    assert.equal(placed([idle], request), 'refused: idle: no-shared-store');
    assert.equal(placed([idle, shared]), 'idle');
  });

  it('ties go to a host with the image, then fewer VMs, then the name', () => {
    const noImage = host('a-no-image', { hasImage: false });
    const withImage = host('z-with-image');
    assert.equal(placed([noImage, withImage]), 'z-with-image');
    assert.equal(placed([noImage, withImage], { ...vm, policy: 'pack' }), 'z-with-image');
    // Same memory share, different VM counts (one 2 GiB VM against two of 1 GiB).
    const one = host('one', { committed: { memoryMiB: 2048, vcpus: 1, vms: 1 } });
    const two = host('two', { committed: { memoryMiB: 2048, vcpus: 2, vms: 2 } });
    assert.equal(placed([two, one]), 'one');
    assert.equal(placed([host('b'), host('a')]), 'a');
    // The image does not beat a lower share.
    assert.equal(placed([busy, { ...idle, hasImage: false }]), 'idle');
  });

  it('lists every host’s reason, by name, when nothing fits', () => {
    const result = place(
      [
        host('h3', { online: false }),
        host('h1', { committed: { memoryMiB: 0, vcpus: 4, vms: 4 } }),
        host('h2', { maintenance: true }),
        host('h4', { allowed: false }),
        host('h5', { memoryMiB: 512 }),
        host('h6', { diskFreeMiB: 0 }),
      ],
      { ...vm, diskMiB: 10 },
    );
    assert.deepEqual(result, {
      ok: false,
      reasons: [
        { host: 'h1', reason: 'no-cpu' },
        { host: 'h2', reason: 'maintenance' },
        { host: 'h3', reason: 'offline' },
        { host: 'h4', reason: 'not-allowed' },
        { host: 'h5', reason: 'no-memory' },
        { host: 'h6', reason: 'no-disk' },
      ],
    });
    assert.ok(!result.ok);
    assert.equal(formatRefusals(result.reasons.slice(0, 2)), 'h1: no-cpu, h2: maintenance');
    assert.equal(placed([]), 'refused: no host is enrolled');
  });
});

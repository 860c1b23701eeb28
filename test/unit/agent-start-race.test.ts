// Overlapping starts on one agent: the second start of a name (or of a MAC) is refused
// while the first is on its way, and does not take the first's TAP away. A real bridge
// made by the test; the supervisor and `ip` are fakes (the race is the agent's own).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AgentVmSpec } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { tapName } from '../../src/agent/vm-network.js';
import type { ImageStore } from '../../src/images/image-store.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import type { Supervisor, VmStatus } from '../../src/qemu/process/supervisor.js';
import type { CommandResult, CommandRunner } from '../../src/system/command-runner.js';

const BRIDGE = `lvxr${process.pid.toString(16).slice(-6)}`;

/** Starts a VM only when `release` is called, so two starts overlap. */
class GatedSupervisor extends EventEmitter {
  runDir: RunDir;
  running = new Set<string>();
  gates: (() => void)[] = [];
  constructor(root: string) {
    super();
    this.runDir = new RunDir(root);
  }
  names(): string[] {
    return [...this.running];
  }
  async adopt(): Promise<{ adopted: string[] }> {
    return { adopted: [] };
  }
  async start(spec: { name: string; uuid: string }): Promise<VmStatus> {
    await new Promise<void>((resolve) => this.gates.push(resolve));
    if (this.running.has(spec.name)) throw new Error('twice');
    this.running.add(spec.name);
    return this.status(spec.name, spec.uuid);
  }
  async status(name: string, uuid = '00000000-0000-4000-8000-000000000001'): Promise<VmStatus> {
    return {
      name,
      uuid,
      pid: 1,
      state: 'running',
      runStatus: 'running',
      vncSocket: '',
      serialLog: '',
      discardWrites: true,
      startedAt: new Date(0).toISOString(),
    } as VmStatus;
  }
  qmp(): unknown {
    const events = new EventEmitter();
    return Object.assign(events, {
      closed: false,
      close: () => undefined,
      execute: async () => ({}),
    });
  }
  async stop(): Promise<never> {
    throw new Error('not here');
  }
  detach(): void {}
}

describe('overlapping starts on one agent', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lv-race-'));
    execFileSync('/usr/sbin/ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  });
  after(async () => {
    execFileSync('/usr/sbin/ip', ['link', 'del', BRIDGE]);
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a second start of a name or a MAC in flight; the first keeps its TAP', async () => {
    const calls: string[] = [];
    const runner: CommandRunner = {
      async run(argv): Promise<CommandResult> {
        calls.push(argv.slice(argv.indexOf('/usr/sbin/ip') + 1).join(' '));
        return { code: 0, signal: null, stdout: '', stderr: '' };
      },
    };
    const supervisor = new GatedSupervisor(root);
    const { agent } = await LocalAgent.start(supervisor as unknown as Supervisor, {
      images: { pathOf: () => join(root, 'disk.qcow2') } as unknown as ImageStore,
      network: { mode: 'bridge', bridge: BRIDGE, taps: 'precreated', dhcp: false },
      runner,
      accel: 'tcg',
    });
    const spec = (name: string, mac: string): AgentVmSpec => ({
      name,
      uuid: '00000000-0000-4000-8000-000000000001',
      memoryMiB: 64,
      cpus: 1,
      nic: { model: 'virtio', mac },
      diskBus: 'virtio',
      image: { kind: 'version', id: 'x' } as unknown as AgentVmSpec['image'],
      writes: 'discard',
    });
    try {
      const first = agent.startVm(spec('vm-a', '52:54:00:00:00:01'));
      const second = agent.startVm(spec('vm-a', '52:54:00:00:00:02'));
      const third = agent.startVm(spec('vm-b', '52:54:00:00:00:01'));
      await assert.rejects(second, { code: 'VM_ALREADY_RUNNING' });
      await assert.rejects(third, { code: 'MAC_IN_USE' });
      while (supervisor.gates.length === 0) await new Promise((r) => setTimeout(r, 10));
      supervisor.gates.shift()?.();
      assert.equal((await first).name, 'vm-a');
      const tap = tapName('vm-a');
      assert.deepEqual(calls, [
        `link del ${tap}`,
        `tuntap add dev ${tap} mode tap user root`,
        `link set ${tap} master ${BRIDGE} up`,
      ]);
      // Settled: the name is the supervisor's to refuse now, the MAC is free again.
      await assert.rejects(agent.startVm(spec('vm-a', '52:54:00:00:00:03')), {
        code: 'VM_ALREADY_RUNNING',
      });
    } finally {
      await agent.close();
    }
  });
});

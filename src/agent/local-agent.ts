// The agent of the machine the controller runs on, in-process: the QEMU driver's
// supervisor behind the HostAgent interface. It re-adopts the VMs of its run directory at
// start, and reports what is missing (QEMU, KVM) instead of refusing to start.
import { cpus, hostname, totalmem } from 'node:os';
import { probeKvm } from '../qemu/cmdline/accel.js';
import { QEMU_BINARY } from '../qemu/cmdline/build-argv.js';
import type { Supervisor, VmStatus } from '../qemu/process/supervisor.js';
import {
  CommandNotFoundError,
  nodeCommandRunner,
  type CommandRunner,
} from '../system/command-runner.js';
import type { HostAgent, HostReport } from './host-agent.js';

export async function probeQemu(
  runner: CommandRunner = nodeCommandRunner,
  binary = QEMU_BINARY,
): Promise<HostReport['qemu']> {
  try {
    const result = await runner.run([binary, '--version'], { timeoutMs: 10_000 });
    const version = /version (\S+)/.exec(result.stdout)?.[1];
    if (result.code === 0 && version !== undefined) return { available: true, version };
    return { available: false, problem: `${binary} --version failed: ${result.stderr.trim()}` };
  } catch (error) {
    if (error instanceof CommandNotFoundError) {
      return {
        available: false,
        problem: `${binary} is not installed: install the Debian package qemu-system-x86`,
      };
    }
    throw error;
  }
}

export class LocalAgent implements HostAgent {
  #supervisor: Supervisor;
  #report: Promise<HostReport> | undefined;

  private constructor(supervisor: Supervisor) {
    this.#supervisor = supervisor;
  }

  static async start(supervisor: Supervisor): Promise<{ agent: LocalAgent; adopted: string[] }> {
    const agent = new LocalAgent(supervisor);
    const report = await agent.report();
    const { adopted } = report.qemu.available ? await supervisor.adopt() : { adopted: [] };
    return { agent, adopted };
  }

  report(): Promise<HostReport> {
    this.#report ??= (async () => ({
      name: hostname(),
      address: 'local',
      cpus: cpus().length,
      memoryMiB: Math.floor(totalmem() / 2 ** 20),
      qemu: await probeQemu(),
      kvm: await probeKvm(),
    }))();
    return this.#report;
  }

  async listVms(): Promise<VmStatus[]> {
    return Promise.all(this.#supervisor.names().map((name) => this.#supervisor.status(name)));
  }

  async close(): Promise<void> {
    this.#supervisor.detach();
  }
}

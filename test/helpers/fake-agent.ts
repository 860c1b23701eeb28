// A host agent without QEMU, for API tests: it reports a host and the VMs it is given, and
// refuses to start any (tests of real VMs use the LocalAgent).
import type { AgentVm, DhcpHost, HostAgent, HostReport } from '../../src/agent/host-agent.js';

export const fakeReport: HostReport = {
  name: 'test-host',
  address: 'local',
  // Room under placement for the load tests' hundreds of (pretended) VMs.
  cpus: 256,
  memoryMiB: 1024 * 1024,
  qemu: { available: true, version: '0' },
  kvm: { usable: true },
};

export function fakeAgent(
  overrides: Partial<HostAgent> & { vms?: readonly AgentVm[] } = {},
): HostAgent {
  const { vms = [], ...rest } = overrides;
  return {
    report: async () => fakeReport,
    listVms: async () => [...vms],
    vm: async (name) => vms.find((vm) => vm.name === name),
    startVm: async () => {
      throw new Error('the fake agent starts no VM');
    },
    stopVm: async (name) => ({ name, state: 'stopped', reason: undefined, stopMethod: undefined }),
    ticket: async () => undefined,
    usage: async () => ({
      at: new Date(0).toISOString(),
      cpuPercent: 0,
      memoryUsedMiB: 0,
      memoryTotalMiB: fakeReport.memoryMiB,
      diskUsedMiB: 0,
      diskTotalMiB: 0,
      vms: vms.length,
    }),
    openDisplay: async () => {
      throw new Error('the fake agent has no display');
    },
    resetVm: async () => undefined,
    listImages: async () => [],
    ensureImage: async () => ({ fetched: [] }),
    serialLog: async () => undefined,
    setDhcpHosts: async () => undefined,
    onVmEnded: () => () => undefined,
    close: async () => undefined,
    ...rest,
  };
}

/** A fake agent that records every setDhcpHosts call (a copy of the list it was given). */
export function dhcpRecordingAgent(overrides: Parameters<typeof fakeAgent>[0] = {}): {
  agent: HostAgent;
  pushes: DhcpHost[][];
} {
  const pushes: DhcpHost[][] = [];
  const agent = fakeAgent({
    setDhcpHosts: async (hosts) => void pushes.push(hosts.map((host) => ({ ...host }))),
    ...overrides,
  });
  return { agent, pushes };
}

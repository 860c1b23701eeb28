// An agent's own metrics (its host and VMs) in Prometheus' text format, for `labvirt agent`'s
// metrics listener. Each scrape reads the agent once (usage() and listVms()) and the gauges
// of a registry of its own (not prom-client's global one) collect from that reading.
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentVm, HostAgent, HostUsage } from './host-agent.js';

export interface AgentMetrics {
  readonly contentType: string;
  /** The current metrics, read from the agent now. */
  render(): Promise<string>;
}

const MIB = 2 ** 20;

interface Reading {
  readonly usage: HostUsage;
  /** undefined when the list failed: the host's use is still worth a scrape. */
  readonly vms: readonly AgentVm[] | undefined;
}

export function agentMetrics(agent: HostAgent): AgentMetrics {
  const registry = new Registry();
  let reading: Reading | undefined;
  /** A gauge (or counter) set from the current reading whenever the registry is read. */
  const host = (name: string, help: string, value: (usage: HostUsage) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const v = reading === undefined ? undefined : value(reading.usage);
        if (v !== undefined) this.set(v);
      },
    });
  const counter = (name: string, help: string, value: (usage: HostUsage) => number | undefined) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // The kernel keeps the count; the counter only repeats it.
        this.reset();
        const v = reading === undefined ? undefined : value(reading.usage);
        if (v !== undefined) this.inc(v);
      },
    });
  const perVm = (
    name: string,
    help: string,
    value: (vm: string, r: Reading) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['vm'],
      registers: [registry],
      collect() {
        this.reset();
        if (reading === undefined) return;
        const names = new Set([
          ...(reading.usage.vmUsage ?? []).map((v) => v.name),
          ...(reading.vms ?? []).map((v) => v.name),
        ]);
        for (const vm of names) {
          const v = value(vm, reading);
          if (v !== undefined) this.set({ vm }, v);
        }
      },
    });
  const vmUse = (vm: string, r: Reading) => r.usage.vmUsage?.find((v) => v.name === vm);

  host(
    'labvirt_host_cpu_percent',
    'Busy share of all CPUs since the previous sample (0-100)',
    (u) => u.cpuPercent,
  );
  host(
    'labvirt_host_memory_used_bytes',
    'Memory in use (total minus available)',
    (u) => u.memoryUsedMiB * MIB,
  );
  host('labvirt_host_memory_total_bytes', 'Memory of the host', (u) => u.memoryTotalMiB * MIB);
  host(
    'labvirt_host_disk_used_bytes',
    'Used space of the file system of the agent’s data',
    (u) => u.diskUsedMiB * MIB,
  );
  host(
    'labvirt_host_disk_total_bytes',
    'Size of the file system of the agent’s data',
    (u) => u.diskTotalMiB * MIB,
  );
  counter(
    'labvirt_host_network_receive_bytes_total',
    'Bytes received by the host’s interfaces (loopback not counted)',
    (u) => u.netRxBytes,
  );
  counter(
    'labvirt_host_network_transmit_bytes_total',
    'Bytes sent by the host’s interfaces (loopback not counted)',
    (u) => u.netTxBytes,
  );
  host('labvirt_vms', 'VMs the agent runs', (u) => u.vms);
  perVm(
    'labvirt_vm_cpu_percent',
    'CPU use of the VM’s QEMU since the previous sample, as a share of one CPU',
    (vm, r) => vmUse(vm, r)?.cpuPercent,
  );
  perVm('labvirt_vm_memory_bytes', 'Resident memory of the VM’s QEMU', (vm, r) => {
    const use = vmUse(vm, r);
    return use === undefined ? undefined : use.memoryMiB * MIB;
  });
  perVm(
    'labvirt_vm_connections',
    'Clients connected to the VM’s display or guest port',
    (vm, r) => r.vms?.find((v) => v.name === vm)?.connections.length,
  );

  return {
    contentType: registry.contentType,
    render: async () => {
      const [usage, vms] = await Promise.all([
        agent.usage(),
        agent.listVms().catch(() => undefined),
      ]);
      // Set and read in one go: prom-client calls each collect() synchronously here, so a
      // concurrent scrape cannot mix its reading into this one.
      reading = { usage, vms };
      return registry.metrics();
    },
  };
}

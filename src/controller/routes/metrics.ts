// GET /metrics: the controller's view of the cluster in Prometheus' text format, for a
// Prometheus job that authenticates with a viewer's API token. Per host (from the hosts
// table and the latest samples of HostMetrics): up, maintenance, CPU, memory, disk, network,
// VMs. Per active VM (labels vm, host, profile, kind): state, connected, CPU, memory. And
// counts: VMs by state and kind, terminals enrolled, pending and served. A scrape reads
// each table once and asks no agent: HostMetrics samples them every 10 s anyway.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Counter, Gauge, Registry } from 'prom-client';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';
import { ACTIVE_STATES } from '../services/vms.js';
import type { HostMetrics } from '../services/host-metrics.js';

const MIB = 2 ** 20;

/** What one scrape read from the database. */
interface Snapshot {
  readonly hosts: readonly { id: string; name: string; state: string; maintenance: number }[];
  readonly profiles: ReadonlyMap<string, string>;
  readonly vmCounts: readonly { state: string; kind: string; count: number }[];
  readonly activeVms: readonly {
    name: string;
    kind: string;
    state: string;
    profile_id: string | null;
    host_id: string | null;
    terminal_id: string | null;
  }[];
  readonly terminals: { readonly total: number; readonly enrolled: number };
}

async function snapshot(ctx: RouteContext): Promise<Snapshot> {
  const db = ctx.db;
  const [hosts, profiles, vmCounts, activeVms, terminals] = await Promise.all([
    db.selectFrom('hosts').select(['id', 'name', 'state', 'maintenance']).execute(),
    db.selectFrom('profiles').select(['id', 'name']).execute(),
    db
      .selectFrom('vms')
      .select(['state', 'kind', (eb) => eb.fn.countAll<number | string>().as('count')])
      .groupBy(['state', 'kind'])
      .execute(),
    db
      .selectFrom('vms')
      .select(['name', 'kind', 'state', 'profile_id', 'host_id', 'terminal_id'])
      .where('state', 'in', ACTIVE_STATES)
      .execute(),
    db
      .selectFrom('terminals')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('total'),
        eb.fn.count<number | string>('lab_id').as('enrolled'),
      ])
      .executeTakeFirstOrThrow(),
  ]);
  return {
    // A pending host has not joined yet: it is nobody's outage.
    hosts: hosts.filter((host) => host.state !== 'pending'),
    profiles: new Map(profiles.map((p) => [p.id, p.name])),
    // PostgreSQL's count() is a bigint, which its driver hands over as a string.
    vmCounts: vmCounts.map((row) => ({ ...row, count: Number(row.count) })),
    activeVms,
    terminals: { total: Number(terminals.total), enrolled: Number(terminals.enrolled) },
  };
}

/** The app's registry and the function that fills it from a snapshot. */
function clusterRegistry(metrics: HostMetrics): {
  registry: Registry;
  fill: (s: Snapshot) => void;
} {
  const registry = new Registry();
  const all: { reset(): void }[] = [];
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => {
    const metric = new Gauge<L>({ name, help, labelNames, registers: [registry] });
    all.push(metric);
    return metric;
  };
  const counter = (name: string, help: string) => {
    const metric = new Counter({ name, help, labelNames: ['host'], registers: [registry] });
    all.push(metric);
    return metric;
  };
  const host = {
    up: gauge('labvirt_host_up', 'The host is online (1) or not (0)', ['host']),
    maintenance: gauge('labvirt_host_maintenance', 'The host is drained (1): no new VMs', ['host']),
    cpu: gauge('labvirt_host_cpu_percent', 'Busy share of all the host’s CPUs (0-100)', ['host']),
    memoryUsed: gauge('labvirt_host_memory_used_bytes', 'Memory in use on the host', ['host']),
    memoryTotal: gauge('labvirt_host_memory_total_bytes', 'Memory of the host', ['host']),
    diskUsed: gauge('labvirt_host_disk_used_bytes', 'Used space of the agent’s file system', [
      'host',
    ]),
    diskTotal: gauge('labvirt_host_disk_total_bytes', 'Size of the agent’s file system', ['host']),
    rx: counter(
      'labvirt_host_network_receive_bytes_total',
      'Bytes received by the host (not loopback)',
    ),
    tx: counter(
      'labvirt_host_network_transmit_bytes_total',
      'Bytes sent by the host (not loopback)',
    ),
    vms: gauge('labvirt_host_vms', 'VMs the host’s agent runs', ['host']),
  };
  const vmLabels = ['vm', 'host', 'profile', 'kind'];
  const vm = {
    state: gauge('labvirt_vm_state', 'An active VM’s state (1 for its state)', [
      ...vmLabels,
      'state',
    ]),
    connected: gauge(
      'labvirt_vm_connected',
      'A client is connected to the VM (1) or not (0)',
      vmLabels,
    ),
    cpu: gauge('labvirt_vm_cpu_percent', 'CPU use of the VM as a share of one CPU', vmLabels),
    memory: gauge('labvirt_vm_memory_bytes', 'Resident memory of the VM’s QEMU', vmLabels),
  };
  const vmsBy = gauge('labvirt_vms', 'VMs by state and kind (ended ones too)', ['state', 'kind']);
  const terminals = gauge('labvirt_terminals', 'Terminals by enrolment (enrolled, pending)', [
    'state',
  ]);
  const served = gauge('labvirt_terminals_served', 'Terminals an active VM serves now', []);

  const fill = (s: Snapshot): void => {
    for (const metric of all) metric.reset();
    const hostNames = new Map<string, string>();
    for (const row of s.hosts) {
      hostNames.set(row.id, row.name);
      const labels = { host: row.name };
      host.up.set(labels, row.state === 'online' ? 1 : 0);
      host.maintenance.set(labels, row.maintenance);
      const usage = metrics.latest(row.id);
      if (usage === null) continue;
      host.cpu.set(labels, usage.cpuPercent);
      host.memoryUsed.set(labels, usage.memoryUsedMiB * MIB);
      host.memoryTotal.set(labels, usage.memoryTotalMiB * MIB);
      host.diskUsed.set(labels, usage.diskUsedMiB * MIB);
      host.diskTotal.set(labels, usage.diskTotalMiB * MIB);
      if (usage.netRxBytes !== undefined) host.rx.inc(labels, usage.netRxBytes);
      if (usage.netTxBytes !== undefined) host.tx.inc(labels, usage.netTxBytes);
      host.vms.set(labels, usage.vms);
    }
    const vmUse = new Map(
      s.hosts.flatMap((row) =>
        metrics.vmUsage(row.id).map((use) => [`${row.id}/${use.name}`, use]),
      ),
    );
    for (const row of s.activeVms) {
      const labels = {
        vm: row.name,
        host: row.host_id === null ? '' : (hostNames.get(row.host_id) ?? ''),
        profile: row.profile_id === null ? '' : (s.profiles.get(row.profile_id) ?? ''),
        kind: row.kind,
      };
      vm.state.set({ ...labels, state: row.state }, 1);
      const use = row.host_id === null ? undefined : vmUse.get(`${row.host_id}/${row.name}`);
      if (use === undefined) continue;
      vm.connected.set(labels, use.connections > 0 ? 1 : 0);
      vm.cpu.set(labels, use.cpuPercent);
      vm.memory.set(labels, use.memoryMiB * MIB);
    }
    for (const row of s.vmCounts) vmsBy.set({ state: row.state, kind: row.kind }, row.count);
    terminals.set({ state: 'enrolled' }, s.terminals.enrolled);
    terminals.set({ state: 'pending' }, s.terminals.total - s.terminals.enrolled);
    served.set(new Set(s.activeVms.flatMap((row) => row.terminal_id ?? [])).size);
  };
  return { registry, fill };
}

export function metricsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { registry, fill } = clusterRegistry(ctx.metrics);
  app.get('/metrics', {
    config: { auth: rule.viewer },
    schema: {
      // Prometheus' format, not the JSON API: left out of the OpenAPI document.
      hide: true,
      summary: 'The cluster’s metrics in Prometheus’ text format',
      response: {
        200: { content: { 'text/plain': { schema: Type.String() } } },
        ...errors(401, 403),
      },
    },
    handler: async (_request, reply) => {
      const s = await snapshot(ctx);
      // Filled and read in one go: prom-client reads every metric synchronously inside
      // metrics(), so two scrapes at once cannot mix their snapshots.
      fill(s);
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  });
}

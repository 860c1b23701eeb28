// Monitoring with a real LocalAgent and one real VM (the boot-counting QEMU guest): the
// agent's usage() measures the VM's QEMU (memory, and a CPU share once two samples are
// apart), the agent's Prometheus text has the host's and the VM's gauges, the controller's
// GET /metrics (viewers only) shows the host up and the VM with its labels, and the Munin
// plugin, run as munin-node runs it (a process through a labvirt_<graph> link), graphs the
// host from a listening app. Then /metrics' counts on each dialect (PostgreSQL's count()
// is a bigint) from plain rows.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentMetrics } from '../../src/agent/agent-metrics.js';
import type { HostUsage } from '../../src/agent/host-agent.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { delay, REPO_ROOT, tempDir, waitFor } from '../helpers/env.js';
import {
  guestProfile,
  GuestMode,
  json,
  startClient,
  vmFixture,
  waitForState,
  type VmFixture,
} from '../helpers/vm-fixture.js';

const sqlite = dialects.find((d) => d.name === 'sqlite')!;
const PLUGIN = join(REPO_ROOT, 'contrib/munin/labvirt_');

/** One sample of Prometheus' text format: name, labels, value. */
interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Parses the text format strictly: every line is a `# HELP`/`# TYPE` comment or a sample
 * `name{label="value",…} number`; anything else fails the test. Types are returned too.
 */
function parseProm(text: string): { samples: PromSample[]; types: Map<string, string> } {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(
      line,
    );
    assert.ok(sample !== null, `a Prometheus line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
    )) {
      labels[key!] = value!;
    }
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { samples, types };
}

/** The samples named `name` whose labels include `labels`. */
function find(
  samples: readonly PromSample[],
  name: string,
  labels: Record<string, string> = {},
): PromSample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function one(
  samples: readonly PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = find(samples, name, labels);
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}: ${JSON.stringify(found)}`);
  return found[0]!.value;
}

/** Runs the plugin through a link named like munin-node's (labvirt_cpu …), as a process. */
function munin(
  link: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [link, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('monitoring with a real VM', () => {
  let f: VmFixture;
  let vm: VmView;
  const onlyHost = async () => {
    const hosts = json<{ id: string; name: string; usage: HostUsage | null }[]>(
      await f.request({ method: 'GET', url: '/api/v1/hosts', as: f.users.viewer }),
      200,
    );
    assert.equal(hosts.length, 1);
    return hosts[0]!;
  };
  before(async () => {
    f = await vmFixture(sqlite);
    const profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    vm = await waitForState(f, (await startClient(f, profile.name)).id, 'running');
  });
  after(() => f?.close());

  it('usage() measures the VM’s QEMU: resident memory, and a CPU share between two samples', async () => {
    const first = await f.agent.usage();
    const mine = first.vmUsage?.find((v) => v.name === vm.name);
    assert.ok(mine !== undefined, `the VM is in ${JSON.stringify(first.vmUsage)}`);
    assert.ok(mine.memoryMiB > 0, `memory ${mine.memoryMiB}`);
    assert.equal(first.vms, 1);
    assert.ok(first.netRxBytes !== undefined && first.netRxBytes >= 0);
    assert.ok(first.netTxBytes !== undefined && first.netTxBytes >= 0);
    // QEMU's main loop wakes up however idle the guest: some ticks pass within seconds.
    const share = await waitFor(
      'a CPU share of the VM',
      async () => {
        await delay(1000);
        const use = (await f.agent.usage()).vmUsage?.find((v) => v.name === vm.name);
        return use !== undefined && use.cpuPercent > 0 ? use.cpuPercent : undefined;
      },
      60_000,
    );
    assert.ok(Number.isFinite(share) && share > 0, `cpu ${share}`);
  });

  it('the agent’s metrics are Prometheus text with the host’s and the VM’s gauges', async () => {
    const metrics = agentMetrics(f.agent);
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseProm(await metrics.render());
    for (const name of [
      'labvirt_host_cpu_percent',
      'labvirt_host_memory_used_bytes',
      'labvirt_host_memory_total_bytes',
      'labvirt_host_disk_used_bytes',
      'labvirt_host_disk_total_bytes',
      'labvirt_vms',
      'labvirt_vm_cpu_percent',
      'labvirt_vm_memory_bytes',
      'labvirt_vm_connections',
    ]) {
      assert.equal(types.get(name), 'gauge', name);
    }
    assert.equal(types.get('labvirt_host_network_receive_bytes_total'), 'counter');
    assert.equal(types.get('labvirt_host_network_transmit_bytes_total'), 'counter');
    assert.ok(one(samples, 'labvirt_host_memory_total_bytes') > 0);
    assert.ok(one(samples, 'labvirt_host_network_receive_bytes_total') >= 0);
    assert.equal(one(samples, 'labvirt_vms'), 1);
    assert.ok(one(samples, 'labvirt_vm_memory_bytes', { vm: vm.name }) > 2 ** 20);
    assert.ok(one(samples, 'labvirt_vm_cpu_percent', { vm: vm.name }) >= 0);
    assert.equal(one(samples, 'labvirt_vm_connections', { vm: vm.name }), 0);
  });

  it('GET /metrics: 401 without credentials, the host up and the VM by its labels for a viewer', async () => {
    problem(await f.request({ method: 'GET', url: '/metrics' }), 401, 'AUTH_REQUIRED');
    await f.app.metrics.sampleNow();
    await f.app.metrics.sampleNow();
    const host = await onlyHost();
    const response = await f.request({ method: 'GET', url: '/metrics', as: f.users.viewer });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.ok(response.body.includes(`labvirt_host_up{host="${host.name}"} 1\n`), response.body);
    const { samples, types } = parseProm(response.body);
    const h = { host: host.name };
    assert.equal(one(samples, 'labvirt_host_maintenance', h), 0);
    assert.ok(one(samples, 'labvirt_host_memory_total_bytes', h) > 0);
    assert.ok(one(samples, 'labvirt_host_disk_total_bytes', h) > 0);
    assert.ok(one(samples, 'labvirt_host_network_receive_bytes_total', h) >= 0);
    assert.equal(types.get('labvirt_host_network_receive_bytes_total'), 'counter');
    assert.equal(one(samples, 'labvirt_host_vms', h), 1);
    const labels = { vm: vm.name, host: host.name, profile: vm.profile!, kind: 'client' };
    assert.equal(one(samples, 'labvirt_vm_state', { ...labels, state: 'running' }), 1);
    assert.equal(one(samples, 'labvirt_vm_connected', labels), 0);
    assert.ok(one(samples, 'labvirt_vm_memory_bytes', labels) > 2 ** 20);
    assert.ok(one(samples, 'labvirt_vm_cpu_percent', labels) >= 0);
    assert.equal(one(samples, 'labvirt_vms', { state: 'running', kind: 'client' }), 1);
    assert.equal(one(samples, 'labvirt_terminals_served'), 0);
    // The hosts' samples carry the VM and the network rates since the previous sample.
    const vmUse = f.app.metrics.vmUsage(host.id).find((v) => v.name === vm.name);
    assert.ok(vmUse !== undefined && vmUse.memoryMiB > 0 && vmUse.connections === 0);
    const rates = f.app.metrics.netRates(host.id);
    assert.equal(rates.length, 1, 'a rate between the two samples');
    assert.ok(rates[0]!.rxBytesPerSecond >= 0 && rates[0]!.txBytesPerSecond >= 0);
    assert.equal(f.app.metrics.vmSeries(host.id, vm.name).length, 2);
  });

  it('the Munin plugin graphs the host from the hosts API of a listening controller', async () => {
    await f.app.metrics.sampleNow();
    const host = await onlyHost();
    assert.ok(host.usage !== null, 'the host has a sample');
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    const links = await tempDir('lv-munin-');
    try {
      for (const graph of ['cpu', 'memory', 'vms']) {
        await symlink(PLUGIN, join(links.path, `labvirt_${graph}`));
      }
      const env = { LABVIRT_URL: url, LABVIRT_TOKEN: f.users.viewer.token };
      const field = `host_${host.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
      const fieldOf = (line: string) => line.split('.')[0] ?? '';

      const suggest = await munin(join(links.path, 'labvirt_cpu'), ['suggest'], env);
      assert.deepEqual(suggest.stdout.split('\n').filter(Boolean), ['cpu', 'memory', 'vms']);
      const autoconf = await munin(join(links.path, 'labvirt_cpu'), ['autoconf'], env);
      assert.equal(autoconf.stdout, 'yes\n', autoconf.stderr);

      for (const graph of ['cpu', 'memory', 'vms']) {
        const link = join(links.path, `labvirt_${graph}`);
        const config = await munin(link, ['config'], env);
        assert.equal(config.code, 0, config.stderr);
        const lines = config.stdout.split('\n').filter(Boolean);
        assert.ok(
          lines.some((l) => /^graph_title LabVirt hosts: /.test(l)),
          config.stdout,
        );
        const label = lines.find((l) => l.endsWith(`.label ${host.name}`));
        assert.ok(label !== undefined, config.stdout);
        assert.ok(fieldOf(label).startsWith(field), label);
        assert.match(fieldOf(label), /^[A-Za-z_][A-Za-z0-9_]*$/, 'a munin-safe field name');

        const fetched = await munin(link, [], env);
        assert.equal(fetched.code, 0, fetched.stderr);
        const values = fetched.stdout.split('\n').filter(Boolean);
        assert.equal(values.length, 1, fetched.stdout);
        const value = /^([A-Za-z_][A-Za-z0-9_]*)\.value (\d+(?:\.\d+)?)$/.exec(values[0]!);
        assert.ok(value !== null, fetched.stdout);
        assert.equal(value[1], fieldOf(label));
        if (graph === 'vms') assert.equal(Number(value[2]), 1);
        if (graph === 'memory') assert.ok(Number(value[2]) > 0);
      }

      const refused = { LABVIRT_URL: url, LABVIRT_TOKEN: 'lvt_forged' };
      const no = await munin(join(links.path, 'labvirt_cpu'), ['autoconf'], refused);
      assert.match(no.stdout, /^no \(.*401/);
      const failed = await munin(join(links.path, 'labvirt_cpu'), [], refused);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /401/);
    } finally {
      await links.cleanup();
    }
  });
});

for (const dialect of dialects) {
  describe(`GET /metrics counts on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => {
      f = await createApiFixture(dialect);
    });
    after(() => f?.close());

    it('counts VMs by state and kind, terminals, and hosts without samples, from rows', async () => {
      const db = f.database.db;
      // Every row names every column: SQLite has no DEFAULT in a multi-row insert.
      const online = rows.host({
        name: 'rack-1',
        is_local: 0,
        address: 'https://rack-1:8445',
        maintenance: 0,
      });
      const drained = rows.host({
        name: 'rack-2',
        is_local: 0,
        address: 'https://rack-2:8445',
        state: 'offline',
        maintenance: 1,
      });
      const pending = rows.host({
        name: 'rack-3',
        is_local: 0,
        address: '',
        state: 'pending',
        maintenance: 0,
      });
      await db.insertInto('hosts').values([online, drained, pending]).execute();
      const profile = rows.profile({ name: 'desk' });
      await db.insertInto('profiles').values(profile).execute();
      const served = rows.terminal({ lab_id: f.labs.mine.id });
      const idle = rows.terminal({ lab_id: f.labs.mine.id });
      const waiting = rows.terminal();
      await db.insertInto('terminals').values([served, idle, waiting]).execute();
      await db
        .insertInto('vms')
        .values([
          rows.vm({
            name: 'vm-a',
            state: 'running',
            profile_id: profile.id,
            host_id: online.id,
            terminal_id: served.id,
          }),
          rows.vm({
            name: 'vm-b',
            state: 'starting',
            kind: 'admin',
            profile_id: profile.id,
            host_id: online.id,
          }),
          rows.vm({ state: 'stopped' }),
          rows.vm({ state: 'stopped' }),
          rows.vm({ state: 'crashed', kind: 'manual' }),
        ])
        .execute();

      const response = await f.request({ method: 'GET', url: '/metrics', as: f.users.viewer });
      assert.equal(response.statusCode, 200, response.body);
      const { samples } = parseProm(response.body);
      assert.equal(one(samples, 'labvirt_host_up', { host: 'rack-1' }), 1);
      assert.equal(one(samples, 'labvirt_host_up', { host: 'rack-2' }), 0);
      assert.equal(one(samples, 'labvirt_host_maintenance', { host: 'rack-2' }), 1);
      assert.deepEqual(
        find(samples, 'labvirt_host_up', { host: 'rack-3' }),
        [],
        'pending: no host yet',
      );
      assert.deepEqual(
        find(samples, 'labvirt_host_cpu_percent', { host: 'rack-1' }),
        [],
        'no sample',
      );
      assert.equal(one(samples, 'labvirt_vms', { state: 'running', kind: 'client' }), 1);
      assert.equal(one(samples, 'labvirt_vms', { state: 'starting', kind: 'admin' }), 1);
      assert.equal(one(samples, 'labvirt_vms', { state: 'stopped', kind: 'client' }), 2);
      assert.equal(one(samples, 'labvirt_vms', { state: 'crashed', kind: 'manual' }), 1);
      const labels = { host: 'rack-1', profile: 'desk' };
      assert.equal(
        one(samples, 'labvirt_vm_state', {
          ...labels,
          vm: 'vm-a',
          kind: 'client',
          state: 'running',
        }),
        1,
      );
      assert.equal(
        one(samples, 'labvirt_vm_state', {
          ...labels,
          vm: 'vm-b',
          kind: 'admin',
          state: 'starting',
        }),
        1,
      );
      assert.equal(
        find(samples, 'labvirt_vm_state').length,
        2,
        'ended VMs have no series of their own',
      );
      assert.equal(one(samples, 'labvirt_terminals', { state: 'enrolled' }), 2);
      assert.equal(one(samples, 'labvirt_terminals', { state: 'pending' }), 1);
      assert.equal(one(samples, 'labvirt_terminals_served'), 1);
      problem(
        await f.request({
          method: 'GET',
          url: '/metrics',
          headers: { authorization: 'Bearer lvt_forged' },
        }),
        401,
        'AUTH_REQUIRED',
      );
    });
  });
}

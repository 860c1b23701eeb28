// Bridged networking on real parts, in a bridge and network namespace this test makes:
// two Linux guests on the bridge get from the agent's dnsmasq exactly the addresses given
// to setDhcpHosts (and the same again after both restart); a terminal namespace connecting
// straight to a guest's port is seen by connection tracking, one connecting through the
// gateway by the gateway, each within 2 s of the connect and of the disconnect; TAPs the
// agent makes go with their VM; a missing bridge and a duplicate MAC start nothing.
// Through the controller: a lab with an address pool and two terminals, whose VMs (started
// by the terminal endpoint) lease exactly what the DHCP export lists, again after both stop.
// Needs root (bridges, namespaces, nftables, sysctls); everything made is removed after.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import type { AgentVm, AgentVmSpec, HostNetwork } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { tapName } from '../../src/agent/vm-network.js';
import type { SealedVersion } from '../../src/images/image-store.js';
import { macFromUuid } from '../../src/qemu/cmdline/validate.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import type { Database } from '../../src/db/schema.js';
import type { DhcpHostEntry } from '../../src/domain/dhcp-hosts.js';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { waitFor } from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import {
  guestAddresses,
  linuxGuestAccel,
  linuxGuestImage,
  LINUX_GUEST_BOOT_MS,
  LINUX_GUEST_MEMORY_MIB,
  LINUX_GUEST_PORT,
} from '../helpers/linux-guest.js';
import { realSupervisor } from '../helpers/supervisor.js';
import { killAll, liveQemus, publishedProfile } from '../helpers/vm-fixture.js';

const BRIDGE_CONF = '/etc/qemu/bridge.conf';
const NF_CALL_IPTABLES = '/proc/sys/net/bridge/bridge-nf-call-iptables';
const asRoot = process.getuid?.() === 0;

async function sh(...argv: string[]): Promise<string> {
  const result = await nodeCommandRunner.run(argv, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Runs every clean-up step, whatever fails, and reports the first failure at the end. */
async function all(steps: (() => Promise<unknown>)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) await step().catch((error: unknown) => errors.push(error));
  if (errors.length > 0) throw errors[0];
}

/**
 * A bridge with the host's address on it (e.g. 10.7.8.1/24), allowed to qemu-bridge-helper
 * in bridge.conf; returns what removes both (with any port left on it).
 */
async function makeBridge(bridge: string, hostCidr: string): Promise<() => Promise<void>> {
  const line = `allow ${bridge}`;
  await mkdir('/etc/qemu', { recursive: true });
  const hadConf = existsSync(BRIDGE_CONF);
  await appendFile(BRIDGE_CONF, `${line}\n`);
  const removeLine = async () => {
    const kept = (await readFile(BRIDGE_CONF, 'utf8')).split('\n').filter((l) => l !== line);
    if (!hadConf && kept.join('').trim() === '') await rm(BRIDGE_CONF, { force: true });
    else await writeFile(BRIDGE_CONF, kept.join('\n'));
  };
  const removeBridge = async () => {
    // TAPs left on the bridge (there should be none), then the bridge.
    const ports = await readdir(`/sys/class/net/${bridge}/brif`).catch(() => []);
    for (const port of ports) await sh('ip', 'link', 'del', port).catch(() => undefined);
    if (existsSync(`/sys/class/net/${bridge}`)) await sh('ip', 'link', 'del', bridge);
  };
  try {
    await sh('ip', 'link', 'add', bridge, 'type', 'bridge');
    await sh('ip', 'addr', 'add', hostCidr, 'dev', bridge);
    await sh('ip', 'link', 'set', bridge, 'up');
  } catch (error) {
    await all([removeBridge, removeLine]);
    throw error;
  }
  return () => all([removeBridge, removeLine]);
}

// A TCP client inside the terminal namespace, held open until its stdin ends.
const CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(2);
const socket = net.connect({ host, port: Number(port) }, () =>
  // When it connected, on the wall clock the test shares (its own, not the pipe's delay).
  console.log('connected ' + Date.now()),
);
socket.on('data', (data) => console.log('echo ' + data.toString().trim()));
process.stdin.on('data', (data) => socket.write(data));
process.stdin.on('end', () => socket.end());
socket.on('close', () => { console.log('closed'); process.exit(0); });
socket.on('error', (error) => { console.log('error ' + error.message); process.exit(1); });
`;

class NetnsClient {
  readonly lines: string[] = [];
  #child: ChildProcessWithoutNullStreams;

  constructor(netns: string, script: string, host: string, port: number) {
    this.#child = spawn('ip', ['netns', 'exec', netns, process.execPath, script, host, `${port}`]);
    let rest = '';
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.#child.stderr.resume();
  }

  /** Resolves when the client printed a line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<number> {
    return waitFor(
      `the client to say ${pattern}`,
      () => (this.lines.some((line) => pattern.test(line)) ? Date.now() : undefined),
      timeoutMs,
      5,
    );
  }

  /** When the client's connection was established (its own clock reading). */
  async connectedAt(): Promise<number> {
    await this.waitFor(/^connected \d+$/);
    const line = this.lines.find((each) => each.startsWith('connected '));
    return Number(line?.slice('connected '.length));
  }

  send(text: string): void {
    this.#child.stdin.write(`${text}\n`);
  }

  /** Ends the connection (FIN); returns when the client asked for it. */
  close(): number {
    this.#child.stdin.end();
    return Date.now();
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

describe(
  'bridged networking: managed DHCP, taps and connection tracking on real QEMU',
  {
    skip: asRoot ? false : 'needs root (bridges, network namespaces, nftables)',
  },
  () => {
    const id = randomBytes(3).toString('hex');
    const bridge = `lvt${id}`;
    const netns = `lvt${id}-term`;
    const veth = `lvt${id}t`;
    const table = `lvt${id}`;
    const subnet = `10.${randomInt(100, 250)}.${randomInt(1, 250)}`;
    const hostIp = `${subnet}.1`;
    const terminalIp = `${subnet}.50`;
    let nfCallBefore: string | undefined;
    let removeBridge: (() => Promise<void>) | undefined;
    let fx: StoreFixture;
    let version: SealedVersion;
    let clientScript: string;
    const agents: { agent: LocalAgent; supervisor: Supervisor; runRoot: string }[] = [];
    let agent: LocalAgent;
    let counter = 0;
    let runs = 0;

    async function startAgent(network: HostNetwork, options: { gatewayBind?: string } = {}) {
      const runRoot = join(fx.dir, `run${++runs}`);
      const supervisor = realSupervisor(runRoot, { images: fx.store });
      supervisor.setMaxListeners(0);
      const { agent: started } = await LocalAgent.start(supervisor, {
        images: fx.store,
        network,
        accel: await linuxGuestAccel(),
        ...options,
      });
      agents.push({ agent: started, supervisor, runRoot });
      return { agent: started, supervisor, runRoot };
    }

    function vmSpec(address: string | undefined, mac?: string): AgentVmSpec {
      const uuid = randomUUID();
      return {
        name: `net${id}-${++counter}`,
        uuid,
        memoryMiB: LINUX_GUEST_MEMORY_MIB,
        cpus: 1,
        nic: { model: 'virtio', mac: mac ?? macFromUuid(uuid) },
        diskBus: 'ide',
        image: version.ref,
        writes: 'discard',
        net: 'user',
        address,
        display: { protocol: 'rdp', guestPort: LINUX_GUEST_PORT, ticketed: false },
      };
    }

    async function serialAddresses(on: LocalAgent, name: string) {
      return guestAddresses((await on.serialLog(name)) ?? '');
    }

    /** Waits for the guest's first DHCP lease line; returns all it reported by then. */
    async function leased(on: LocalAgent, name: string) {
      return waitFor(
        `${name} to report its DHCP address`,
        async () => {
          const got = await serialAddresses(on, name);
          return got.length > 0 ? got : undefined;
        },
        LINUX_GUEST_BOOT_MS,
        250,
      );
    }

    async function view(name: string): Promise<AgentVm> {
      const vm = await agent.vm(name);
      assert.ok(vm !== undefined, `${name} runs`);
      return vm;
    }

    before(async () => {
      const image = await linuxGuestImage();
      fx = await storeFixture();
      await copyFile(image, join(fx.importDir, 'linux.raw'));
      version = await fx.store.import(join(fx.importDir, 'linux.raw'), newRef(), { format: 'raw' });
      clientScript = join(fx.dir, 'client.cjs');
      await writeFile(clientScript, CLIENT);

      removeBridge = await makeBridge(bridge, `${hostIp}/24`);
      // Bridged IPv4 through netfilter, and a ruleset that uses conntrack on the forward hook:
      // what connection tracking of bridged guests needs (see src/agent/conntrack.ts).
      nfCallBefore = (await readFile(NF_CALL_IPTABLES, 'utf8')).trim();
      await writeFile(NF_CALL_IPTABLES, '1\n');
      await sh('nft', 'add', 'table', 'inet', table);
      await sh(
        'nft',
        'add',
        'chain',
        'inet',
        table,
        'track',
        '{ type filter hook forward priority 0 ; policy accept ; }',
      );
      await sh(
        'nft',
        'add',
        'rule',
        'inet',
        table,
        'track',
        'ct',
        'state',
        'established',
        'accept',
      );
      // The terminal: a namespace on the bridge through a veth pair.
      await sh('ip', 'netns', 'add', netns);
      await sh('ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
      await sh('ip', 'link', 'set', veth, 'master', bridge, 'up');
      await sh('ip', '-n', netns, 'link', 'set', 'lo', 'up');
      await sh('ip', '-n', netns, 'addr', 'add', `${terminalIp}/24`, 'dev', 'eth0');
      await sh('ip', '-n', netns, 'link', 'set', 'eth0', 'up');

      ({ agent } = await startAgent(
        { mode: 'bridge', bridge, taps: 'helper', dhcp: true },
        { gatewayBind: hostIp },
      ));
    });

    after(async () => {
      await all([
        ...agents.map(
          ({ supervisor }) =>
            () =>
              killAll(supervisor.runDir),
        ),
        ...agents.map(
          ({ agent: each }) =>
            () =>
              each.stopDhcp(),
        ),
        ...agents.map(
          ({ agent: each }) =>
            () =>
              each.close(),
        ),
        ...agents.map(
          ({ runRoot }) =>
            () =>
              stopGatewayDaemon(runRoot),
        ),
        () => sh('ip', 'netns', 'del', netns),
        // Its peer went with the namespace; the kernel removes this end soon after.
        async () => sh('ip', 'link', 'del', veth).catch(() => undefined),
        async () => removeBridge?.(),
        () => sh('nft', 'delete', 'table', 'inet', table),
        async () => nfCallBefore !== undefined && writeFile(NF_CALL_IPTABLES, `${nfCallBefore}\n`),
        () => fx?.cleanup(),
      ]);
    });

    const vms: AgentVmSpec[] = [];
    const ips = [`${subnet}.21`, `${subnet}.22`];

    it('reports the bridge, and two guests get exactly the addresses set, again after a restart', async () => {
      assert.deepEqual((await agent.report()).network, {
        mode: 'bridge',
        bridge,
        taps: 'helper',
        dhcp: true,
      });
      vms.push(vmSpec(ips[0]), vmSpec(ips[1]));
      await agent.setDhcpHosts(
        vms.map((vm, i) => ({ mac: vm.nic.mac, ip: ips[i] ?? '', name: `pc-${i + 1}` })),
      );
      for (const round of ['first start', 'after a restart']) {
        await Promise.all(vms.map((vm) => agent.startVm(vm)));
        for (const [i, vm] of vms.entries()) {
          const got = await leased(agent, vm.name);
          assert.deepEqual(got, [{ ip: ips[i], mac: vm.nic.mac }], `${vm.name}, ${round}`);
        }
        if (round === 'first start') await Promise.all(vms.map((vm) => agent.stopVm(vm.name)));
      }
    });

    it('a terminal straight to a guest: connected via conntrack within 2 s, gone within 2 s', async () => {
      const vm = vms[0];
      assert.ok(vm !== undefined);
      assert.deepEqual((await view(vm.name)).connections, []);
      const client = new NetnsClient(netns, clientScript, ips[0] ?? '', LINUX_GUEST_PORT);
      try {
        const connected = await client.connectedAt();
        const seen = await waitFor(
          'the agent to see the connection',
          async () => {
            const list = (await view(vm.name)).connections;
            return list.length > 0 ? { list, at: Date.now() } : undefined;
          },
          10_000,
          50,
        );
        assert.ok(seen.at - connected < 2_000, `seen after ${Math.round(seen.at - connected)} ms`);
        assert.equal(seen.list.length, 1, JSON.stringify(seen.list));
        assert.equal(seen.list[0]?.via, 'conntrack');
        assert.match(
          seen.list[0]?.peer ?? '',
          new RegExp(`^${terminalIp.replaceAll('.', '\\.')}:\\d+$`),
        );
        client.send('hello');
        await client.waitFor(/^echo hello$/);
        const closed = client.close();
        const gone = await waitFor(
          'the agent to see the disconnect',
          async () => ((await view(vm.name)).connections.length === 0 ? Date.now() : undefined),
          10_000,
          50,
        );
        assert.ok(gone - closed < 2_000, `gone after ${Math.round(gone - closed)} ms`);
      } finally {
        client.kill();
      }
    });

    it('a terminal through the gateway on the bridge: connected via the gateway, once', async () => {
      const vm = vms[1];
      assert.ok(vm !== undefined);
      const running = await view(vm.name);
      assert.ok(running.display !== null, 'it has a gateway');
      const client = new NetnsClient(netns, clientScript, hostIp, running.display.port);
      try {
        const connected = await client.connectedAt();
        const seen = await waitFor(
          'the agent to see the connection',
          async () => {
            const list = (await view(vm.name)).connections;
            return list.length > 0 ? { list, at: Date.now() } : undefined;
          },
          10_000,
          50,
        );
        assert.ok(seen.at - connected < 2_000, `seen after ${Math.round(seen.at - connected)} ms`);
        client.send('through');
        await client.waitFor(/^echo through$/);
        // The relay's own flow (from the host to the guest) is not a second connection.
        const list = (await view(vm.name)).connections;
        assert.equal(list.length, 1, JSON.stringify(list));
        assert.equal(list[0]?.via, 'gateway');
        assert.match(
          list[0]?.peer ?? '',
          new RegExp(`^${terminalIp.replaceAll('.', '\\.')}:\\d+$`),
        );
        const closed = client.close();
        const gone = await waitFor(
          'the agent to see the disconnect',
          async () => ((await view(vm.name)).connections.length === 0 ? Date.now() : undefined),
          10_000,
          50,
        );
        assert.ok(gone - closed < 2_000, `gone after ${Math.round(gone - closed)} ms`);
      } finally {
        client.kill();
      }
    });

    it('refuses a second VM with the MAC of a running one, starting nothing', async () => {
      const first = vms[0];
      assert.ok(first !== undefined);
      const twin = vmSpec(`${subnet}.23`, first.nic.mac);
      await assert.rejects(agent.startVm(twin), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'MAC_IN_USE');
        assert.match(error.message, new RegExp(`${first.nic.mac}.*${first.name}`));
        return true;
      });
      assert.equal(await agent.vm(twin.name), undefined);
      const live = await liveQemus(agents[0]!.supervisor.runDir);
      assert.deepEqual([...live.keys()].sort(), vms.map((vm) => vm.name).sort());
    });

    it('pre-created taps: the agent makes the VM its TAP on the bridge and removes it after', async () => {
      // A second agent on the same bridge; the first one's DHCP server serves its VM too.
      const second = await startAgent({ mode: 'bridge', bridge, taps: 'precreated', dhcp: false });
      const vm = vmSpec(`${subnet}.24`);
      await agent.setDhcpHosts([
        ...vms.map((each, i) => ({ mac: each.nic.mac, ip: ips[i] ?? '', name: `pc-${i + 1}` })),
        { mac: vm.nic.mac, ip: `${subnet}.24`, name: 'pc-tap' },
      ]);
      const tap = tapName(vm.name);
      await second.agent.startVm(vm);
      assert.equal(
        (await readFile(`/sys/class/net/${tap}/master/uevent`, 'utf8')).includes(
          `INTERFACE=${bridge}`,
        ),
        true,
        'the TAP is on the bridge',
      );
      assert.deepEqual(await leased(second.agent, vm.name), [
        { ip: `${subnet}.24`, mac: vm.nic.mac },
      ]);
      await second.agent.stopVm(vm.name, { graceMs: 0 });
      await waitFor('the TAP to go', () =>
        existsSync(`/sys/class/net/${tap}`) ? undefined : true,
      );
    });

    it('a bridge that does not exist: refused at start and at a VM start, nothing left', async () => {
      const missing = `lvt${randomBytes(3).toString('hex')}`;
      await assert.rejects(
        startAgent({ mode: 'bridge', bridge: missing, taps: 'helper', dhcp: true }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'BRIDGE_NOT_FOUND');
          assert.match(error.message, new RegExp(`"${missing}".*labvirt host network-setup`));
          return true;
        },
      );
      // A bridge that goes away under a running agent: its next VM is refused before anything.
      const gone = `lvt${randomBytes(3).toString('hex')}`;
      await sh('ip', 'link', 'add', gone, 'type', 'bridge');
      let third;
      try {
        third = await startAgent({ mode: 'bridge', bridge: gone, taps: 'precreated', dhcp: false });
      } finally {
        await sh('ip', 'link', 'del', gone);
      }
      const vm = vmSpec(`${subnet}.25`);
      await assert.rejects(third.agent.startVm(vm), { code: 'BRIDGE_NOT_FOUND' });
      assert.deepEqual(await third.supervisor.runDir.names(), [], 'no run directory');
      assert.equal(existsSync(`/sys/class/net/${tapName(vm.name)}`), false, 'no TAP');
      assert.deepEqual(await third.agent.listVms(), []);
      // No DHCP server was started for the missing bridge either.
      for (let run = 1; run <= runs; run++) {
        assert.equal(existsSync(join(fx.dir, `run${run}`, `dnsmasq-${missing}`)), false);
      }
    });
  },
);

/** The rows of a profile whose published version 1 is the Linux guest (RDP on its port). */
function linuxProfile(db: Kysely<Database>, version: SealedVersion): Promise<string> {
  return publishedProfile(db, version, {
    name: `linux-${version.ref.profileId.slice(0, 6)}`,
    memory_mib: LINUX_GUEST_MEMORY_MIB,
    display: 'rdp',
    guest_port: LINUX_GUEST_PORT,
  });
}

describe(
  'bridged networking through the controller: terminals’ VMs get what the DHCP export lists',
  { skip: asRoot ? false : 'needs root (bridges)' },
  () => {
    const id = randomBytes(3).toString('hex');
    const bridge = `lvt${id}`;
    const subnet = `10.${randomInt(100, 250)}.${randomInt(1, 250)}`;
    const sqlite = dialects.find((dialect) => dialect.name === 'sqlite');
    let removeBridge: (() => Promise<void>) | undefined;
    let fx: StoreFixture;
    let api: ApiFixture;
    let supervisor: Supervisor;
    let agent: LocalAgent;

    before(async () => {
      assert.ok(sqlite !== undefined);
      const image = await linuxGuestImage();
      fx = await storeFixture();
      await copyFile(image, join(fx.importDir, 'linux.raw'));
      const version = await fx.store.import(join(fx.importDir, 'linux.raw'), newRef(), {
        format: 'raw',
      });
      removeBridge = await makeBridge(bridge, `${subnet}.1/24`);
      supervisor = realSupervisor(join(fx.dir, 'run'), { images: fx.store });
      supervisor.setMaxListeners(0);
      ({ agent } = await LocalAgent.start(supervisor, {
        images: fx.store,
        network: { mode: 'bridge', bridge, taps: 'helper', dhcp: true },
        accel: await linuxGuestAccel(),
      }));
      api = await createApiFixture(sqlite, {
        agents: [agent],
        images: fx.store,
        terminalRateLimit: { max: 100_000, windowMs: 60_000 },
        vmStopGraceMs: 0,
      });
      const db = api.database.db;
      const profile = await linuxProfile(db, version);
      const lab = api.labs.mine.id;
      await db.insertInto('lab_profiles').values({ lab_id: lab, profile_id: profile }).execute();
      await db
        .updateTable('labs')
        .set({ default_profile_id: profile })
        .where('id', '=', lab)
        .execute();
    });

    after(async () => {
      await all([
        async () => api?.app.close(),
        async () => supervisor && killAll(supervisor.runDir),
        async () => agent?.stopDhcp(),
        async () => agent?.close(),
        async () => supervisor && stopGatewayDaemon(supervisor.runDir.root),
        async () => api?.database.drop(),
        async () => removeBridge?.(),
        async () => fx?.cleanup(),
      ]);
    });

    const admin = () => api.users.admin;
    const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
      api.request({ method, url, as: admin(), ...(payload === undefined ? {} : { payload }) });

    /** Asks the terminal endpoint until the terminal's VM runs; returns that VM's row. */
    async function served(mac: string) {
      await waitFor(`terminal ${mac} to be served`, async () => {
        const response = await api.app.inject({
          method: 'GET',
          url: `/terminal/v1/config?mac=${mac}`,
          remoteAddress: '127.0.0.1',
        });
        if (response.statusCode === 202) return undefined;
        assert.equal(response.statusCode, 200, response.body);
        return true;
      });
      return api.database.db
        .selectFrom('vms')
        .innerJoin('terminals', 'terminals.id', 'vms.terminal_id')
        .select(['vms.id', 'vms.name'])
        .where('terminals.mac', '=', mac)
        .where('vms.state', '=', 'running')
        .executeTakeFirstOrThrow();
    }

    it('two terminals’ VMs lease exactly the exported addresses, again after both restart', async () => {
      const pool = `${subnet}.100-${subnet}.109`;
      const set = await call('PUT', `/api/v1/labs/${api.labs.mine.name}/address-pool`, { pool });
      assert.equal(set.statusCode, 200, set.body);
      const terminals = ['02:00:5e:10:00:01', '02:00:5e:10:00:02'];
      for (const [i, mac] of terminals.entries()) {
        const added = await call('POST', '/api/v1/terminals', {
          mac,
          lab: api.labs.mine.name,
          name: `pc-${i + 1}`,
        });
        assert.equal(added.statusCode, 201, added.body);
      }
      const exported = await call('GET', '/api/v1/dhcp/hosts?format=json');
      assert.equal(exported.statusCode, 200, exported.body);
      const entries = exported.json<DhcpHostEntry[]>();
      assert.deepEqual(entries.map((entry) => entry.terminal).sort(), terminals);
      for (const round of ['first sessions', 'after both restart']) {
        const vms = await Promise.all(terminals.map((mac) => served(mac)));
        for (const [i, mac] of terminals.entries()) {
          const vm = vms[i];
          const entry = entries.find((each) => each.terminal === mac);
          assert.ok(vm !== undefined && entry !== undefined);
          const leases = await waitFor(
            `${vm.name} to report its DHCP address`,
            async () => {
              const got = guestAddresses((await agent.serialLog(vm.name)) ?? '');
              return got.length > 0 ? got : undefined;
            },
            LINUX_GUEST_BOOT_MS,
            250,
          );
          assert.deepEqual(leases, [{ ip: entry.ip, mac: entry.mac }], `${mac}, ${round}`);
        }
        if (round === 'first sessions') {
          for (const vm of vms) {
            const stopped = await call('POST', `/api/v1/vms/${vm.id}/stop`, { force: true });
            assert.equal(stopped.statusCode, 200, stopped.body);
          }
        }
      }
      // The export did not change meanwhile.
      const again = (await call('GET', '/api/v1/dhcp/hosts?format=json')).json<DhcpHostEntry[]>();
      assert.deepEqual(again, entries);
    });
  },
);

// A lab of many enrolled terminals for the terminal endpoint's load test and benchmark
// (test/integration/terminal-config-load.test.ts, bench/terminal-config.ts): the rows are
// written straight into the database (a profile with a published version, a lab whose
// default it is, N terminals and, optionally, a running client VM for each), and the host
// agent is a fake that knows those VMs. A fake on purpose: these measure the HTTP endpoint
// and the database under many terminals at once, not QEMU; 500 real VMs do not fit on a
// test machine (the real agent's display and tickets are tested in agent-display.test.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AgentVm, AgentVmSpec, HostAgent } from '../../src/agent/host-agent.js';
import type { Database, NewVm } from '../../src/db/index.js';
import { rows } from './databases.js';
import { delay } from './env.js';
import { fakeAgent, fakeReport } from './fake-agent.js';

export interface LoadTerminal {
  readonly index: number;
  readonly id: string;
  readonly mac: string;
  readonly name: string;
}

export interface LoadLab {
  readonly labId: string;
  readonly labName: string;
  readonly profileId: string;
  readonly profileName: string;
  readonly versionId: string;
  readonly hostId: string;
  readonly terminals: readonly LoadTerminal[];
  /** The running client VM of each terminal (by terminal id), when asked for. */
  readonly vms: ReadonlyMap<string, { readonly name: string; readonly port: number }>;
}

/** The display port of the index-th VM: 5900, 5901… */
export const BASE_PORT = 5900;

/** The MAC of the index-th terminal (up to 65536 of them). */
export function loadMac(index: number): string {
  const hex = (byte: number) => byte.toString(16).padStart(2, '0');
  return `52:54:10:00:${hex((index >> 8) & 0xff)}:${hex(index & 0xff)}`;
}

/** The config request of the index-th terminal. */
export function configPath(index: number): string {
  return `/terminal/v1/config?mac=${loadMac(index)}`;
}

/**
 * Writes a lab of `count` enrolled terminals whose default profile (vnc display) has a
 * published version, on the host row the fake agent reports; with `running`, a running
 * client VM for each terminal, the index-th on display port BASE_PORT + index.
 */
export async function seedLoadLab(
  db: Kysely<Database>,
  count: number,
  options: { readonly running: boolean },
): Promise<LoadLab> {
  const now = new Date().toISOString();
  const tag = randomBytes(3).toString('hex');
  const profileId = randomUUID();
  const versionId = randomUUID();
  const labId = randomUUID();
  const hostId = randomUUID();
  const profileName = `load-profile-${tag}`;
  const labName = `load-lab-${tag}`;
  // VmService.hostId() finds its host by the agent's name.
  await db
    .insertInto('hosts')
    .values(rows.host({ id: hostId, name: fakeReport.name }))
    .execute();
  await db
    .insertInto('profiles')
    .values(
      rows.profile({ id: profileId, name: profileName, memory_mib: 512, cpus: 1, display: 'vnc' }),
    )
    .execute();
  await db
    .insertInto('versions')
    .values({
      id: versionId,
      profile_id: profileId,
      number: 1,
      parent_version_id: null,
      file: `${versionId}.qcow2`, // never opened: the agent is a fake
      format: 'qcow2',
      size_bytes: 1024 * 1024,
      sha256: '0'.repeat(64),
      created_by: null,
      created_at: now,
    })
    .execute();
  await db
    .updateTable('profiles')
    .set({ published_version_id: versionId })
    .where('id', '=', profileId)
    .execute();
  await db
    .insertInto('labs')
    .values(rows.lab({ id: labId, name: labName, default_profile_id: profileId }))
    .execute();
  await db.insertInto('lab_profiles').values({ lab_id: labId, profile_id: profileId }).execute();

  const terminals: LoadTerminal[] = Array.from({ length: count }, (_, index) => ({
    index,
    id: randomUUID(),
    mac: loadMac(index),
    name: `pc-${String(index).padStart(3, '0')}`,
  }));
  const vms = new Map<string, { name: string; port: number }>();
  // In chunks: one statement's parameters stay far under either dialect's limit.
  for (let start = 0; start < count; start += 250) {
    const chunk = terminals.slice(start, start + 250);
    await db
      .insertInto('terminals')
      .values(
        chunk.map((t) => ({
          id: t.id,
          mac: t.mac,
          name: t.name,
          lab_id: labId,
          ip: null,
          last_seen_at: null,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute();
    if (!options.running) continue;
    const rows: NewVm[] = chunk.map((t) => {
      const id = randomUUID();
      const name = `client-${tag}-${String(t.index).padStart(3, '0')}`;
      vms.set(t.id, { name, port: BASE_PORT + t.index });
      return {
        id,
        name,
        kind: 'client',
        profile_id: profileId,
        version_id: versionId,
        terminal_id: t.id,
        host_id: hostId,
        state: 'running',
        mac: `52:54:20:00:${loadMac(t.index).slice(-5)}`,
        created_at: now,
        updated_at: now,
      };
    });
    await db.insertInto('vms').values(rows).execute();
  }
  return { labId, labName, profileId, profileName, versionId, hostId, terminals, vms };
}

export interface LoadAgent {
  readonly agent: HostAgent;
  /** The VMs it runs, by name. */
  readonly running: Map<string, AgentVm>;
  /** The last ticket handed out for each VM. */
  readonly tickets: Map<string, string>;
  /** How many times startVm was called, per VM name. */
  readonly starts: Map<string, number>;
}

/**
 * A fake agent running the lab's VMs (display vnc on their port, nobody connected); its
 * startVm waits `startDelayMs` and for `startGate` (when given), then runs the VM on the
 * next free port.
 */
export function loadAgent(
  lab: LoadLab,
  options: { readonly startGate?: Promise<void>; readonly startDelayMs?: number } = {},
): LoadAgent {
  const running = new Map<string, AgentVm>();
  const tickets = new Map<string, string>();
  const starts = new Map<string, number>();
  const agentVm = (name: string, uuid: string, mac: string, port: number): AgentVm => ({
    name,
    uuid,
    pid: 10_000 + (port - BASE_PORT),
    state: 'running',
    runStatus: 'running',
    mac,
    vncSocket: `/nonexistent/${name}/vnc.sock`,
    discardWrites: true,
    startedAt: new Date().toISOString(),
    display: { protocol: 'vnc', port },
    connections: [],
  });
  for (const [terminalId, vm] of lab.vms) {
    running.set(vm.name, agentVm(vm.name, terminalId, '52:54:20:00:00:00', vm.port));
  }
  let nextPort = BASE_PORT + lab.vms.size;
  const agent = fakeAgent({
    listVms: async () => [...running.values()],
    vm: async (name) => running.get(name),
    startVm: async (spec: AgentVmSpec) => {
      starts.set(spec.name, (starts.get(spec.name) ?? 0) + 1);
      if (options.startDelayMs !== undefined) await delay(options.startDelayMs);
      await options.startGate;
      const vm = agentVm(spec.name, spec.uuid, spec.nic.mac, nextPort++);
      running.set(spec.name, vm);
      return vm;
    },
    ticket: async (name) => {
      if (!running.has(name)) return undefined;
      const ticket = randomBytes(6).toString('base64url'); // 8 characters
      tickets.set(name, ticket);
      return ticket;
    },
  });
  return { agent, running, tickets, starts };
}

// Who is asking at the terminal endpoint: a terminal knows nothing about itself but its
// MAC addresses (and its IP address, to us). A known MAC is that terminal; no MAC means the
// terminal registered by the source address; an unknown MAC is kept as a pending terminal
// for an administrator to enrol, or enrolled at once when its address is in a lab's subnet.
// A known terminal is read with its active VM in one query: the endpoint's hot path, where
// each query is a round trip to PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import { formatAddress, parseAddress } from '../../domain/subnets.js';
import type { Database, Terminal, Vm } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { audit } from './audit.js';
import { labForTerminalAddress } from './lab-subnets.js';
import { syncTerminalAddress } from './lab-addresses.js';
import { PrecompiledQuery } from './terminal-queries.js';
import { ACTIVE_STATES } from './vms.js';

/** Unknown MACs kept for enrolment at most: beyond, a flood of made-up MACs stores nothing. */
export const MAX_PENDING_TERMINALS = 1000;

/** How stale a terminal's last-seen record may get before a request refreshes it. */
const SEEN_REFRESH_MS = 60_000;

export interface TerminalRequest {
  /** Normalised (lowercase, colon-separated), deduplicated; empty: look up the address. */
  readonly macs: readonly string[];
  /** The address the request came from. */
  readonly source: string;
  readonly now: Date;
}

export interface AskingTerminal {
  readonly terminal: Terminal;
  /** Its active VM when it was read (none for a terminal this request enrolled). */
  readonly vm: Vm | undefined;
}

export async function identifyTerminal(
  db: Kysely<Database>,
  request: TerminalRequest,
  /** Told when the request enrolled the terminal (by its subnet). */
  onEnrolled: (terminal: Terminal) => void = () => undefined,
): Promise<AskingTerminal> {
  // IPv4-mapped IPv6 ('::ffff:10.0.0.7', from a dual-stack socket) as plain IPv4.
  const parsed = parseAddress(request.source);
  const source = parsed === undefined ? request.source : formatAddress(parsed);
  const asking = await findAsking(db, request.macs, source);
  if (asking !== undefined) {
    await noteSeen(db, asking.terminal, source, request.now);
    return asking;
  }
  const mac = request.macs[0];
  if (mac === undefined) throw new LabvirtError('TERMINAL_UNIDENTIFIED', { address: source });
  const enrolled = await enrolBySubnet(db, mac, source, request.now);
  if (enrolled !== undefined) {
    onEnrolled(enrolled);
    return { terminal: enrolled, vm: undefined };
  }
  await keepPending(db, mac, source, request.now);
  throw new LabvirtError('TERMINAL_PENDING', { mac });
}

/** Terminals and their active VMs (the join finds at most one: vms.terminal_id is unique). */
function withActiveVm(db: Kysely<Database>) {
  return db
    .selectFrom('terminals')
    .leftJoin('vms', (join) =>
      join.onRef('vms.terminal_id', '=', 'terminals.id').on('vms.state', 'in', ACTIVE_STATES),
    )
    .selectAll('terminals')
    .select([
      'vms.id as vm_id',
      'vms.name as vm_name',
      'vms.kind as vm_kind',
      'vms.profile_id as vm_profile_id',
      'vms.version_id as vm_version_id',
      'vms.terminal_id as vm_terminal_id',
      'vms.host_id as vm_host_id',
      'vms.state as vm_state',
      'vms.mac as vm_mac',
      'vms.idle_since as vm_idle_since',
      'vms.created_at as vm_created_at',
      'vms.updated_at as vm_updated_at',
    ]);
}
const byMacs = new PrecompiledQuery((db: Kysely<Database>, macs: readonly string[]) =>
  withActiveVm(db).where('terminals.mac', 'in', macs),
);
/** A terminal that sent no MAC: by the address it is registered by. */
const byAddress = new PrecompiledQuery((db: Kysely<Database>, [ip]: readonly string[]) =>
  withActiveVm(db).where('terminals.ip', '=', ip ?? ''),
);

async function findAsking(
  db: Kysely<Database>,
  macs: readonly string[],
  source: string,
): Promise<AskingTerminal | undefined> {
  const rows =
    macs.length === 0 ? await byAddress.execute(db, [source]) : await byMacs.execute(db, macs);
  // The first MAC the terminal listed that we know (its primary interface, usually).
  const row = macs.length === 0 ? rows[0] : firstListed(rows, macs);
  if (row === undefined) return undefined;
  const {
    vm_id,
    vm_name,
    vm_kind,
    vm_profile_id,
    vm_version_id,
    vm_terminal_id,
    vm_host_id,
    vm_state,
    vm_mac,
    vm_idle_since,
    vm_created_at,
    vm_updated_at,
    ...terminal
  } = row;
  if (vm_id === null) return { terminal, vm: undefined };
  // Joined: the VM's NOT NULL columns are set when its id is.
  const vm = {
    id: vm_id,
    name: vm_name,
    kind: vm_kind,
    profile_id: vm_profile_id,
    version_id: vm_version_id,
    terminal_id: vm_terminal_id,
    host_id: vm_host_id,
    state: vm_state,
    mac: vm_mac,
    idle_since: vm_idle_since,
    created_at: vm_created_at,
    updated_at: vm_updated_at,
  } satisfies Record<keyof Vm, unknown>;
  return { terminal, vm: vm as Vm };
}

function firstListed<T extends { mac: string }>(rows: readonly T[], macs: readonly string[]) {
  for (const mac of macs) {
    const row = rows.find((candidate) => candidate.mac === mac);
    if (row !== undefined) return row;
  }
  return undefined;
}

async function noteSeen(db: Kysely<Database>, terminal: Terminal, source: string, now: Date) {
  const last = terminal.last_seen_at === null ? 0 : Date.parse(terminal.last_seen_at);
  if (terminal.last_ip === source && now.getTime() - last < SEEN_REFRESH_MS) return;
  await db
    .updateTable('terminals')
    .set({ last_ip: source, last_seen_at: now.toISOString() })
    .where('id', '=', terminal.id)
    .execute();
}

async function enrolBySubnet(
  db: Kysely<Database>,
  mac: string,
  source: string,
  now: Date,
): Promise<Terminal | undefined> {
  const labId = (await labForTerminalAddress(db, source))?.id;
  if (labId === undefined) return undefined;
  const id = randomUUID();
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('terminals')
        .values(newTerminal(id, mac, labId, source, now))
        .execute();
      await syncTerminalAddress(tx, id, labId);
      await audit(
        tx,
        { principal: undefined, source },
        {
          action: 'terminal.enrol',
          targetType: 'terminal',
          targetId: id,
          details: { mac, by: 'subnet' },
        },
        now,
      );
    });
  } catch (error) {
    // A full pool: it waits, pending, for an administrator (who is told why on enrolling).
    if (error instanceof LabvirtError && error.code === 'POOL_EXHAUSTED') return undefined;
    if (!isUniqueViolation(error)) throw error;
    // The same terminal asked twice at once: the other request enrolled it.
  }
  return db.selectFrom('terminals').selectAll().where('mac', '=', mac).executeTakeFirstOrThrow();
}

async function keepPending(db: Kysely<Database>, mac: string, source: string, now: Date) {
  const { count } = await db
    .selectFrom('terminals')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('lab_id', 'is', null)
    .executeTakeFirstOrThrow();
  if (Number(count) >= MAX_PENDING_TERMINALS) return;
  try {
    await db
      .insertInto('terminals')
      .values(newTerminal(randomUUID(), mac, null, source, now))
      .execute();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

function newTerminal(id: string, mac: string, labId: string | null, source: string, now: Date) {
  return {
    id,
    mac,
    name: mac,
    lab_id: labId,
    ip: null,
    last_ip: source,
    last_seen_at: now.toISOString(),
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
}

// Who is asking at the terminal endpoint: a terminal knows nothing about itself but its
// MAC addresses (and its IP address, to us). A known MAC is that terminal; no MAC means the
// terminal registered by the source address; an unknown MAC is kept as a pending terminal
// for an administrator to enrol, or enrolled at once when its address is in a lab's subnet.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import { formatAddress, parseAddress } from '../../domain/subnets.js';
import type { Database, Terminal } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { audit } from './audit.js';
import { labForTerminalAddress } from './lab-subnets.js';
import { syncTerminalAddress } from './lab-addresses.js';

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

export async function identifyTerminal(
  db: Kysely<Database>,
  request: TerminalRequest,
  /** Told when the request enrolled the terminal (by its subnet). */
  onEnrolled: (terminal: Terminal) => void = () => undefined,
): Promise<Terminal> {
  // IPv4-mapped IPv6 ('::ffff:10.0.0.7', from a dual-stack socket) as plain IPv4.
  const parsed = parseAddress(request.source);
  const source = parsed === undefined ? request.source : formatAddress(parsed);
  const terminal = await findAsking(db, request.macs, source);
  if (terminal !== undefined) {
    await noteSeen(db, terminal, source, request.now);
    return terminal;
  }
  const mac = request.macs[0];
  if (mac === undefined) throw new LabvirtError('TERMINAL_UNIDENTIFIED', { address: source });
  const enrolled = await enrolBySubnet(db, mac, source, request.now);
  if (enrolled !== undefined) {
    onEnrolled(enrolled);
    return enrolled;
  }
  await keepPending(db, mac, source, request.now);
  throw new LabvirtError('TERMINAL_PENDING', { mac });
}

async function findAsking(
  db: Kysely<Database>,
  macs: readonly string[],
  source: string,
): Promise<Terminal | undefined> {
  if (macs.length === 0) {
    return db.selectFrom('terminals').selectAll().where('ip', '=', source).executeTakeFirst();
  }
  const found = await db.selectFrom('terminals').selectAll().where('mac', 'in', macs).execute();
  // The first MAC the terminal listed that we know (its primary interface, usually).
  for (const mac of macs) {
    const terminal = found.find((row) => row.mac === mac);
    if (terminal !== undefined) return terminal;
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

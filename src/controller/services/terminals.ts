// Terminals: the lab's thin clients, known by MAC. A terminal without a lab is pending
// enrolment (it asked for its configuration before an admin enrolled it).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Terminal } from '../../db/schema.js';
import { audit, type Actor } from './audit.js';
import { isUniqueViolation } from '../../db/errors.js';
import { findLab } from './labs.js';
import { onlyOne } from './only-one.js';

export type TerminalState = 'pending' | 'enrolled' | 'disabled';

export interface TerminalView {
  readonly id: string;
  readonly mac: string;
  readonly name: string;
  readonly lab: string | null;
  readonly state: TerminalState;
  readonly ip: string | null;
  readonly lastSeenAt: string | null;
  readonly createdAt: string;
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replaceAll('-', ':');
}

export async function findTerminal(db: Kysely<Database>, ref: string): Promise<Terminal> {
  const terminal = await db
    .selectFrom('terminals')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('mac', '=', normalizeMac(ref))]))
    .executeTakeFirst();
  if (terminal === undefined) throw new LabvirtError('TERMINAL_NOT_FOUND', { terminal: ref });
  return terminal;
}

function stateOf(terminal: Terminal): TerminalState {
  if (terminal.enabled === 0) return 'disabled';
  return terminal.lab_id === null ? 'pending' : 'enrolled';
}

async function view(db: Kysely<Database>, terminals: Terminal[]): Promise<TerminalView[]> {
  const labs = new Map(
    (await db.selectFrom('labs').select(['id', 'name']).execute()).map((lab) => [lab.id, lab.name]),
  );
  return terminals.map((terminal) => ({
    id: terminal.id,
    mac: terminal.mac,
    name: terminal.name,
    lab: terminal.lab_id === null ? null : (labs.get(terminal.lab_id) ?? null),
    state: stateOf(terminal),
    ip: terminal.ip,
    lastSeenAt: terminal.last_seen_at,
    createdAt: terminal.created_at,
  }));
}

export async function listTerminals(
  db: Kysely<Database>,
  filter: { lab?: string; state?: TerminalState },
): Promise<TerminalView[]> {
  let query = db.selectFrom('terminals').selectAll().orderBy('name').orderBy('mac');
  if (filter.lab !== undefined)
    query = query.where('lab_id', '=', (await findLab(db, filter.lab, 'query.lab')).id);
  const all = await view(db, await query.execute());
  return filter.state === undefined
    ? all
    : all.filter((terminal) => terminal.state === filter.state);
}

export async function showTerminal(db: Kysely<Database>, ref: string): Promise<TerminalView> {
  return onlyOne(await view(db, [await findTerminal(db, ref)]));
}

export async function addTerminal(
  db: Kysely<Database>,
  actor: Actor,
  input: { mac: string; lab: string; name?: string },
  now: Date,
): Promise<TerminalView> {
  const mac = normalizeMac(input.mac);
  const lab = await findLab(db, input.lab, 'lab');
  const id = randomUUID();
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('terminals')
        .values({
          id,
          mac,
          name: input.name ?? mac,
          lab_id: lab.id,
          ip: null,
          last_seen_at: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      await audit(
        tx,
        actor,
        {
          action: 'terminal.add',
          targetType: 'terminal',
          targetId: id,
          details: { mac, lab: lab.name },
        },
        now,
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new LabvirtError('TERMINAL_EXISTS', { mac }, { field: 'mac' });
    throw error;
  }
  return showTerminal(db, id);
}

export interface TerminalChanges {
  readonly lab?: string | null;
  readonly name?: string;
  readonly enabled?: boolean;
}

export async function updateTerminal(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  changes: TerminalChanges,
  now: Date,
): Promise<TerminalView> {
  const terminal = await findTerminal(db, ref);
  const labId =
    changes.lab === undefined
      ? undefined
      : changes.lab === null
        ? null
        : (await findLab(db, changes.lab, 'lab')).id;
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('terminals')
      .set({
        ...(labId !== undefined ? { lab_id: labId } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', terminal.id)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'terminal.update',
        targetType: 'terminal',
        targetId: terminal.id,
        details: { ...changes },
      },
      now,
    );
  });
  return showTerminal(db, terminal.id);
}

export async function removeTerminal(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  now: Date,
): Promise<void> {
  const terminal = await findTerminal(db, ref);
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('terminals').where('id', '=', terminal.id).execute();
    await audit(
      tx,
      actor,
      {
        action: 'terminal.remove',
        targetType: 'terminal',
        targetId: terminal.id,
        details: { mac: terminal.mac },
      },
      now,
    );
  });
}

/** The lab a terminal belongs to, for lab-scoped authorization (undefined when pending/unknown). */
export async function labOfTerminal(
  db: Kysely<Database>,
  ref: string,
): Promise<string | undefined> {
  // Only "no such terminal" means "no lab"; a database failure must not pass for it.
  const terminal = await findTerminal(db, ref).catch((error: unknown) => {
    if (error instanceof LabvirtError && error.code === 'TERMINAL_NOT_FOUND') return undefined;
    throw error;
  });
  return terminal?.lab_id ?? undefined;
}

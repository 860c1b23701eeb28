// Enrolment of hosts: `host add` makes a pending row and a one-time join token; the
// host's agent joins with it and gets credentials of its own (contracts §1). Only hashes
// of the token and of the agent's secret are stored.
import { randomUUID, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Host } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { hashSecret, newSecret, sameSecret } from '../auth/tokens.js';
import { audit, type Actor } from './audit.js';

export const JOIN_TOKEN_PREFIX = 'lvj1';
export const JOIN_TOKEN_TTL_MS = 3600_000;
const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;

/** Where refusals are told (the request's logger): a refused join is worth a warning. */
export type EnrolmentLog = (details: Record<string, unknown>, message: string) => void;

export interface NewHostInput {
  readonly name: string;
  readonly cpuRatio?: number;
  readonly sharedStore?: boolean;
}

export interface AddedHost {
  readonly host: Host;
  readonly joinToken: string;
  readonly expiresAt: string;
}

/** `lvj1.<secret>.<controller cert sha256 | none>`: the agent pins the certificate it names. */
export function newJoinToken(controllerCertSha256: string | null): string {
  return `${JOIN_TOKEN_PREFIX}.${newSecret()}.${controllerCertSha256 ?? 'none'}`;
}

/** What to run on the new host; `origin` is the controller URL the admin reached. */
export function joinCommand(origin: string, token: string, name: string): string {
  return `labvirt agent --join ${origin} --token ${token} --name ${name}`;
}

export function checkHostName(name: string): string {
  if (!HOST_NAME.test(name))
    throw new LabvirtError('HOST_NAME_INVALID', { name }, { field: 'name' });
  return name;
}

export async function addHost(
  db: Kysely<Database>,
  actor: Actor,
  input: NewHostInput,
  controllerCertSha256: string | null,
  now: Date,
): Promise<AddedHost> {
  const name = checkHostName(input.name);
  const joinToken = newJoinToken(controllerCertSha256);
  const expiresAt = new Date(now.getTime() + JOIN_TOKEN_TTL_MS).toISOString();
  const id = randomUUID();
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('hosts')
        .values({
          id,
          name,
          address: '',
          is_local: 0,
          state: 'pending',
          state_reason: null,
          cpus: null,
          memory_mib: null,
          monitoring_url: null,
          last_seen_at: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          join_token_hash: hashSecret(joinToken),
          join_expires_at: expiresAt,
          ...(input.cpuRatio !== undefined ? { cpu_ratio: input.cpuRatio } : {}),
          ...(input.sharedStore !== undefined ? { shared_store: input.sharedStore ? 1 : 0 } : {}),
        })
        .execute();
      await audit(
        tx,
        actor,
        {
          action: 'host.add',
          targetType: 'host',
          targetId: id,
          details: { name, cpuRatio: input.cpuRatio, sharedStore: input.sharedStore, expiresAt },
        },
        now,
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new LabvirtError('HOST_EXISTS', { name }, { field: 'name' });
    throw error;
  }
  const host = await db
    .selectFrom('hosts')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return { host, joinToken, expiresAt };
}

export interface JoinInput {
  readonly token: string;
  readonly name: string;
  /** The agent API's https URL. */
  readonly url: string;
  /** The agent's self-signed certificate (PEM), which the controllers pin. */
  readonly certificate: string;
}

export interface JoinAnswer {
  readonly hostId: string;
  readonly name: string;
  readonly agentSecret: string;
  readonly controllerSecret: string;
}

export function checkAgentUrl(url: string, option = 'url'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LabvirtError('OPTION_INVALID', { option, reason: 'not a URL' }, { field: option });
  }
  if (parsed.protocol !== 'https:' || parsed.username !== '' || parsed.password !== '')
    throw new LabvirtError(
      'OPTION_INVALID',
      { option, reason: 'the agent’s URL must be https://HOST:PORT' },
      { field: option },
    );
  // As given, less a trailing slash: the agent's routes are below it.
  return url.replace(/\/+$/, '');
}

function checkCertificate(pem: string): string {
  try {
    new X509Certificate(pem);
  } catch {
    throw new LabvirtError(
      'OPTION_INVALID',
      { option: 'certificate', reason: 'not a PEM certificate' },
      { field: 'certificate' },
    );
  }
  return pem;
}

/**
 * A join refused: logged at warn and audited (its own transaction: nothing else is
 * written), then thrown.
 */
async function refuse(
  db: Kysely<Database>,
  actor: Actor,
  log: EnrolmentLog,
  error: LabvirtError,
  details: Record<string, unknown>,
  now: Date,
): Promise<never> {
  const facts = { ...details, code: error.code, source: actor.source };
  log(facts, 'host join refused');
  await audit(db, actor, { action: 'host.join-refused', targetType: 'host', details: facts }, now);
  throw error;
}

/**
 * Spends a join token: single use even under concurrent joins (the update that clears the
 * token is conditional on it still being there, so exactly one wins).
 */
export async function joinHost(
  db: Kysely<Database>,
  actor: Actor,
  input: JoinInput,
  log: EnrolmentLog,
  now: Date,
): Promise<JoinAnswer> {
  const tokenHash = hashSecret(input.token);
  const claimed = { claimed: input.name.slice(0, 64) };
  const invalid = () =>
    refuse(db, actor, log, new LabvirtError('JOIN_TOKEN_INVALID'), claimed, now);
  const host = await db
    .selectFrom('hosts')
    .selectAll()
    .where('join_token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (
    host === undefined ||
    host.join_token_hash === null ||
    !sameSecret(host.join_token_hash, tokenHash) ||
    host.state !== 'pending' ||
    host.join_expires_at === null ||
    host.join_expires_at <= now.toISOString()
  )
    return invalid();
  if (host.name !== input.name) {
    // The token stays: the right agent may still join with it.
    return refuse(
      db,
      actor,
      log,
      new LabvirtError('HOST_IDENTITY_MISMATCH', { enrolled: host.name, claimed: claimed.claimed }),
      { ...claimed, host: host.name },
      now,
    );
  }
  const url = checkAgentUrl(input.url);
  const certificate = checkCertificate(input.certificate);
  const agentSecret = newSecret();
  const controllerSecret = newSecret();
  const joined = await db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('hosts')
      .set({
        join_token_hash: null,
        join_expires_at: null,
        address: url,
        agent_certificate: certificate,
        agent_secret_hash: hashSecret(agentSecret),
        controller_secret: controllerSecret,
        state: 'offline',
        state_reason: null,
        updated_at: now.toISOString(),
      })
      .where('id', '=', host.id)
      .where('join_token_hash', '=', tokenHash)
      .where('state', '=', 'pending')
      .where('join_expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await audit(
      tx,
      actor,
      {
        action: 'host.join',
        targetType: 'host',
        targetId: host.id,
        details: { name: host.name, url },
      },
      now,
    );
    return true;
  });
  // Another join with the same token got there first.
  if (!joined) return invalid();
  return { hostId: host.id, name: host.name, agentSecret, controllerSecret };
}

/** An agent's start: its advertised URL may have changed. */
export async function helloHost(
  db: Kysely<Database>,
  actor: Actor,
  hostId: string,
  url: string,
  now: Date,
): Promise<Host> {
  const address = checkAgentUrl(url);
  await db.transaction().execute(async (tx) => {
    const host = await tx
      .selectFrom('hosts')
      .select(['address', 'name'])
      .where('id', '=', hostId)
      .executeTakeFirst();
    if (host === undefined) throw new LabvirtError('AGENT_CREDENTIAL_INVALID');
    if (host.address === address) return;
    await tx
      .updateTable('hosts')
      .set({ address, updated_at: now.toISOString() })
      .where('id', '=', hostId)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'host.update',
        targetType: 'host',
        targetId: hostId,
        details: { address, previous: host.address },
      },
      now,
    );
  });
  return db.selectFrom('hosts').selectAll().where('id', '=', hostId).executeTakeFirstOrThrow();
}

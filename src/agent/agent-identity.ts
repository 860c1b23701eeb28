// What makes `labvirt agent --data DIR` the enrolled host it is: agent.json (its host id and
// name, the controller it joined and that controller's pin, its own secret, the hash of the
// controller's secret), its key and self-signed certificate (the controllers pin it), and
// the join token it was given. Secrets are written 0600, atomically (never half a file).
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabvirtError, phrase } from '../domain/errors.js';
import { isLoopback } from '../controller/listen-address.js';

export const AGENT_JSON = 'agent.json';
export const AGENT_KEY = 'agent-key.pem';
export const AGENT_CERT = 'agent-cert.pem';

export interface AgentIdentity {
  readonly hostId: string;
  readonly name: string;
  /** The controller's origin, as joined. */
  readonly controllerUrl: string;
  /** sha256 (hex) of the controller's certificate; null for plain HTTP on loopback. */
  readonly controllerCertSha256: string | null;
  /** What the agent presents to the controller (Bearer). */
  readonly agentSecret: string;
  /** sha256 (hex) of what the controllers present to this agent. */
  readonly controllerSecretHash: string;
}

function tokenError(reason: string): LabvirtError {
  return new LabvirtError('OPTION_INVALID', { option: '--token', reason: phrase(reason) });
}

export interface JoinToken {
  readonly secret: string;
  /** sha256 (hex, lower case) of the controller's certificate; null: it serves plain HTTP. */
  readonly controllerCertSha256: string | null;
}

/** `lvj1.<43-char base64url secret>.<sha256 hex | none>`. */
export function parseJoinToken(token: string): JoinToken {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts[0] !== 'lvj1') {
    throw tokenError(
      'not a LabVirt join token: it looks like lvj1.SECRET.FINGERPRINT (copy it whole from labvirt host add)',
    );
  }
  const [, secret = '', pin = ''] = parts;
  if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) {
    throw tokenError(
      'the token’s secret part is damaged (copy the token whole from labvirt host add)',
    );
  }
  if (pin !== 'none' && !/^[0-9a-fA-F]{64}$/.test(pin)) {
    throw tokenError(
      'the token’s certificate fingerprint is damaged (copy the token whole from labvirt host add)',
    );
  }
  return { secret, controllerCertSha256: pin === 'none' ? null : pin.toLowerCase() };
}

/**
 * The controller's origin for a join: https needs the token's fingerprint (it is pinned);
 * plain http is allowed only to this machine (JOIN_INSECURE) and with a token that says so.
 */
export function joinTarget(url: string, token: JoinToken): { url: string; pin: string | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LabvirtError('OPTION_INVALID', {
      option: '--join',
      reason: phrase('give the controller’s URL, like https://controller.example:8443'),
    });
  }
  if (parsed.protocol === 'https:') {
    if (token.controllerCertSha256 === null) {
      throw tokenError(
        'this token is for a controller serving plain HTTP, but the URL is https://: use the join command the controller printed',
      );
    }
    return { url: parsed.origin, pin: token.controllerCertSha256 };
  }
  if (parsed.protocol !== 'http:') {
    throw new LabvirtError('OPTION_INVALID', {
      option: '--join',
      reason: phrase('use an https:// URL'),
    });
  }
  if (!isLoopback(parsed.hostname.replace(/^\[(.*)\]$/, '$1'))) {
    throw new LabvirtError('JOIN_INSECURE');
  }
  if (token.controllerCertSha256 !== null) {
    throw tokenError(
      'this token is for a controller serving HTTPS (it names its certificate): use an https:// URL',
    );
  }
  return { url: parsed.origin, pin: null };
}

/** Writes a file whole or not at all, readable by its owner only (unless `mode` says more). */
export async function writeSecretFile(path: string, content: string, mode = 0o600): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content, { mode, flag: 'wx' });
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function writeAgentIdentity(dir: string, identity: AgentIdentity): Promise<void> {
  await writeSecretFile(join(dir, AGENT_JSON), `${JSON.stringify(identity, null, 2)}\n`);
}

const FIELDS = ['hostId', 'name', 'controllerUrl', 'agentSecret', 'controllerSecretHash'] as const;

/** agent.json of DIR; undefined when the agent has not joined yet. */
export async function readAgentIdentity(dir: string): Promise<AgentIdentity | undefined> {
  const path = join(dir, AGENT_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const invalid = () =>
    new LabvirtError('OPTION_INVALID', {
      option: '--data',
      reason: phrase('{path} is damaged: join again with --join and a new token', { path }),
    });
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  const pin = value['controllerCertSha256'];
  if (
    typeof value !== 'object' ||
    FIELDS.some((field) => typeof value[field] !== 'string' || value[field] === '') ||
    (pin !== null && typeof pin !== 'string')
  ) {
    throw invalid();
  }
  return value as unknown as AgentIdentity;
}

/**
 * The agent's key (0600) and self-signed certificate in DIR, made on the first start. Long
 * lived: the controllers pin it, so it is its identity, not a CA's promise.
 */
export async function ensureAgentCertificate(
  dir: string,
  commonName: string,
): Promise<{ key: string; cert: string; created: boolean }> {
  const keyPath = join(dir, AGENT_KEY);
  const certPath = join(dir, AGENT_CERT);
  const existing = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]).catch(
    () => undefined,
  );
  if (existing !== undefined) return { key: existing[0], cert: existing[1], created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { generate } = await import('selfsigned');
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 24 * 3600_000),
    notAfterDate: new Date(now.getTime() + 30 * 365 * 24 * 3600_000),
  });
  // The key first, both whole or not at all: a half-written certificate beside its key
  // would fail every later start (and a missing one makes both anew).
  await writeSecretFile(keyPath, pems.private);
  await writeSecretFile(certPath, pems.cert, 0o644);
  return { key: pems.private, cert: pems.cert, created: true };
}

const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;

/** The host's name as the controller knows it (the rule of POST /hosts). */
export function checkAgentName(name: string): string {
  if (!HOST_NAME.test(name)) throw new LabvirtError('HOST_NAME_INVALID', { name });
  return name;
}

// What the idle-cost benchmark puts on a LabVirt it measures: the boot-sector guest's
// profile, a lab of N terminals (rows written straight into the database: they cost
// nothing to make and need no VMs), running client VMs started through the API, and an
// event-stream listener (what an open web console holds). Also the embedded default, a
// `labvirt server` process of this build on SQLite with this machine as its local host.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/index.js';
import { cliEnv, freePort, writeLauncher } from '../../test/helpers/cli-server.js';
import { waitFor } from '../../test/helpers/env.js';
import { importGuestProfile, type ApiCall } from '../../test/helpers/guest-profile-api.js';

/** An admin's API call that must answer `status`; its JSON body (Cluster.ok's shape). */
export type Api = ApiCall;

/** The API of a plain-HTTP server as the holder of `token`. */
export function httpApi(base: string, token: string): Api {
  return async <T>(method: string, path: string, body?: unknown, status = 200) => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(300_000),
    });
    const text = await response.text();
    if (response.status !== status)
      throw new Error(`${method} ${path} → ${response.status} ${text.slice(0, 400)}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
}

/** The boot-sector guest (waits for the power button), imported from `importDir`. */
export async function guestProfile(api: Api, name: string, importDir: string): Promise<void> {
  await importGuestProfile(api, name, importDir);
}

/** A lab (through the API) with `count` enrolled terminals written into the database. */
export async function seedTerminals(api: Api, db: Kysely<Database>, count: number): Promise<void> {
  const lab = await api<{ id: string }>(
    'POST',
    '/labs',
    { name: `idle-${randomUUID().slice(0, 6)}` },
    201,
  );
  const now = new Date().toISOString();
  const hex = (byte: number) => byte.toString(16).padStart(2, '0');
  for (let start = 0; start < count; start += 250) {
    const rows = Array.from({ length: Math.min(250, count - start) }, (_, i) => start + i).map(
      (index) => ({
        id: randomUUID(),
        mac: `52:54:30:00:${hex(index >> 8)}:${hex(index & 0xff)}`,
        name: `idle-pc-${String(index).padStart(4, '0')}`,
        lab_id: lab.id,
        ip: null,
        last_seen_at: null,
        created_at: now,
        updated_at: now,
      }),
    );
    await db.insertInto('terminals').values(rows).execute();
  }
}

/** Starts `count` client VMs of `profile` (a few at a time) and waits until all run. */
export async function startVms(api: Api, profile: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 4) {
    const batch = Math.min(4, count - start);
    const views = await Promise.all(
      Array.from({ length: batch }, () => api<{ id: string }>('POST', '/vms', { profile }, 201)),
    );
    ids.push(...views.map((view) => view.id));
  }
  await waitFor(
    `${count} VMs running`,
    async () => {
      const views = await Promise.all(ids.map((id) => api<{ state: string }>('GET', `/vms/${id}`)));
      const bad = views.find((view) => !['starting', 'running'].includes(view.state));
      if (bad !== undefined) throw new Error(`a VM is ${bad.state}`);
      return views.every((view) => view.state === 'running') ? true : undefined;
    },
    120_000,
    500,
  );
  return ids;
}

/** An open GET /events stream (its data read and dropped); close() ends it. */
export async function openListener(
  base: string,
  token: string,
  ca?: string,
): Promise<{ close(): void }> {
  const url = `${base}/api/v1/events`;
  const headers = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
  const request = url.startsWith('https:')
    ? httpsGet(url, { headers, ...(ca === undefined ? {} : { ca }), agent: false })
    : httpGet(url, { headers, agent: false });
  const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
  if (response.statusCode !== 200) throw new Error(`GET /events → ${response.statusCode}`);
  response.resume();
  request.on('error', () => undefined);
  return { close: () => request.destroy() };
}

/** Runs the launcher with ARGS and `input` to its end; throws unless it exits 0. */
export async function runCli(
  launcher: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<void> {
  const child = spawn(process.execPath, [launcher, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`labvirt ${args.join(' ')}: exit ${code}: ${stderr}`);
}

export interface EmbeddedServer {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  readonly dataDir: string;
  output(): string;
}

const ADMIN = { user: 'idle-admin', password: 'idle bench admin password 1' };

/** `labvirt server --data DIR/data` (SQLite, this machine its local host), with an admin's token. */
export async function startEmbedded(
  dir: string,
  nodeArgs: readonly string[] = [],
): Promise<EmbeddedServer> {
  const launcher = await writeLauncher(dir);
  const dataDir = join(dir, 'data');
  await mkdir(join(dataDir, 'import'), { recursive: true });
  const env = cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    'server',
    '--data',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--log-format',
    'json',
    '--gateway-bind',
    '127.0.0.1',
  ];
  const child = spawn(process.execPath, [...nodeArgs, launcher, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // Until it is handed over, a server that started is this function's to end.
  try {
    await waitFor(
      'labvirt server to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`labvirt server exited: ${output}`);
        const answer = await fetch(`${url}/api/v1/health`).catch(() => undefined);
        return answer?.status === 200 ? true : undefined;
      },
      60_000,
      50,
    );
    await runCli(
      launcher,
      ['user', 'add', ADMIN.user, '--role', 'admin', '--password-stdin', '--data', dataDir],
      env,
      `${ADMIN.password}\n`,
    );
    const answer = await fetch(`${url}/api/v1/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: ADMIN.user, password: ADMIN.password, name: 'idle bench' }),
    });
    if (answer.status !== 201) throw new Error(`POST /auth/tokens → ${answer.status}`);
    const { token } = (await answer.json()) as { token: string };
    return { child, url, token, dataDir, output: () => output };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

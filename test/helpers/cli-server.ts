// Running the real `labvirt server` and the CLI commands against it, with their own
// environment (config directory, language, database) and standard input.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LABVIRT_BIN, type CliResult } from './env.js';

/**
 * A launcher of the CLI of the build these files are part of, written into `dir` (bin/labvirt
 * runs dist/; a helper's own dist-NAME must run its own), to run with this node.
 */
export async function writeLauncher(dir: string): Promise<string> {
  const main = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const path = join(dir, 'labvirt.mjs');
  await writeFile(
    path,
    `import { main } from ${JSON.stringify(main)};\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  return path;
}

/** The environment of a CLI run: nothing of the caller's language, config or server. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const cleared = new Set([
    'LANG',
    'LANGUAGE',
    'LC_ALL',
    'LC_MESSAGES',
    'LABVIRT_URL',
    'LABVIRT_TOKEN',
    'LABVIRT_DATABASE_URL',
    'XDG_CONFIG_HOME',
  ]);
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !cleared.has(name)),
  );
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Runs `bin/labvirt ARGS` with `input` on its standard input. */
export function runCliWith(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; input?: string; cwd?: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(LABVIRT_BIN, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => undefined); // a command may exit before reading
    child.stdin.end(options.input ?? '');
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export interface SpawnedServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** Milliseconds from spawn to the first HTTP answer. */
  readonly readyMs: number;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `labvirt server --listen 127.0.0.1:PORT ARGS` and waits for its first HTTP answer. */
export async function spawnServer(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; port?: number },
): Promise<SpawnedServer> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(LABVIRT_BIN, ['server', '--listen', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(child, 'exit');
  // A readiness wait, not a timing check (server-startup.solo measures that): on a loaded
  // 2-core CI machine, with QEMU tests beside it, a start once printed nothing for 20 s.
  const deadline = started + (options.timeoutMs ?? 60_000);
  let readyMs: number | undefined;
  while (readyMs === undefined) {
    if (child.exitCode !== null) throw new Error(`labvirt server exited: ${output}`);
    try {
      await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
      readyMs = performance.now() - started;
    } catch {
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`labvirt server did not answer: ${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return {
    child,
    url,
    readyMs,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Adds the admin USER (with `user add --data DATA`) and logs the CLI in to SERVER as them. */
export async function addAdminAndLogin(
  server: SpawnedServer,
  data: string,
  options: { env: NodeJS.ProcessEnv; cwd: string; user: string; password: string },
): Promise<void> {
  const { env, cwd, user, password } = options;
  const added = await runCliWith(
    ['user', 'add', user, '--role', 'admin', '--password-stdin', '--data', data],
    { env, cwd, input: `${password}\n` },
  );
  assert.equal(added.code, 0, added.stderr);
  const login = await runCliWith(['login', server.url, '--user', user, '--password-stdin'], {
    env,
    cwd,
    input: `${password}\n`,
  });
  assert.equal(login.code, 0, login.stderr);
}

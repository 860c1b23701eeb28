// Daemons the agent starts and leaves running (dnsmasq, the gateway daemon): spawned
// detached with their output in a log file, and ended by pid once checked to be theirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { ProcessTable } from './process-table.js';

export interface SpawnDetachedOptions {
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Its working directory ('/' by default: it holds no directory of the agent's busy). */
  readonly cwd?: string | undefined;
  /** Called at once with the child: a missing binary's 'error' comes on the next tick. */
  readonly watch?: ((child: ChildProcess) => void) | undefined;
}

/**
 * In a session of its own, output appended to logPath: it never holds the agent's (or a
 * test runner's) pipes open, and outlives it. Errors of the spawn go to `watch`'s listeners
 * (ignored without one).
 */
export async function spawnDetached(
  argv: readonly string[],
  logPath: string,
  options: SpawnDetachedOptions = {},
): Promise<ChildProcess> {
  const [binary, ...args] = argv;
  if (binary === undefined) throw new Error('spawnDetached: empty argv');
  const log = await open(logPath, 'a', 0o600);
  try {
    const child = spawn(binary, args, {
      detached: true,
      cwd: options.cwd ?? '/',
      stdio: ['ignore', log.fd, log.fd],
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    if (options.watch === undefined) child.on('error', () => undefined);
    else options.watch(child);
    child.unref();
    return child;
  } finally {
    await log.close();
  }
}

/**
 * SIGTERM, then SIGKILL if it is still there after graceMs; resolves once it is gone (or
 * killed). The caller has checked the pid is the process it means.
 */
export async function terminatePid(
  processes: ProcessTable,
  pid: number,
  options: { readonly graceMs?: number; readonly pollMs?: number } = {},
): Promise<void> {
  processes.signal(pid, 'SIGTERM');
  const deadline = Date.now() + (options.graceMs ?? 5_000);
  while ((await processes.liveCmdline(pid)) !== undefined) {
    if (Date.now() > deadline) {
      processes.signal(pid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}

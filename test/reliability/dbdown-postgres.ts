// A private PostgreSQL cluster for the database-down test: initdb into a temp directory (as
// the postgres user, who must own it), its own loopback port and no Unix socket, so it can be
// stopped and started again without touching the machine's shared cluster on 5432.
import { existsSync } from 'node:fs';
import { chown, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort } from '../helpers/cli-server.js';
import { runProcess, tempDir } from '../helpers/env.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  readonly url: string;
  readonly port: number;
  /** Whether this helper last started it (and did not stop it since). */
  readonly running: boolean;
  /** pg_ctl start, waiting until it accepts connections. */
  start(): Promise<void>;
  /** pg_ctl stop: fast (sessions told 57P01) or immediate (killed, like a crash). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Its server log (for a failure's message). */
  log(): Promise<string>;
  /** Stops it if it runs and removes its directory. */
  destroy(): Promise<void>;
}

function ids(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** As root, the postgres user runs the cluster's commands (initdb refuses root). */
async function asPostgres(program: string, args: readonly string[]): Promise<void> {
  const argv =
    process.getuid?.() === 0 ? ['-u', 'postgres', '--', join(BIN, program), ...args] : args;
  const command = process.getuid?.() === 0 ? 'runuser' : join(BIN, program);
  const result = await runProcess(command, argv);
  if (result.code !== 0)
    throw new Error(`${program} ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
}

export async function privatePostgres(): Promise<PrivatePostgres> {
  const { path: dir, cleanup } = await tempDir('lv-dbdown-pg-');
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  let running = false;
  try {
    if (process.getuid?.() === 0) {
      const { uid, gid } = ids('postgres');
      await chown(dir, uid, gid);
    }
    await asPostgres('initdb', [
      '-D',
      data,
      '-U',
      'labvirt',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    const port = await freePort();
    // Loopback only, no Unix socket; durability is not what this test is about.
    await appendFile(
      join(data, 'postgresql.conf'),
      [
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = ''`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );
    if (process.getuid?.() === 0) {
      const { uid, gid } = ids('postgres');
      await writeFile(logFile, '');
      await chown(logFile, uid, gid);
    }
    const self: PrivatePostgres = {
      url: `postgres://labvirt@127.0.0.1:${port}/postgres`,
      port,
      get running() {
        return running;
      },
      async start() {
        await asPostgres('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
        running = true;
      },
      async stop(mode) {
        await asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
        running = false;
      },
      log: async () => (await runProcess('tail', ['-n', '40', logFile])).stdout,
      async destroy() {
        // Not only when `running`: a start that timed out may still have left a postmaster.
        if (running || existsSync(join(data, 'postmaster.pid')))
          await self.stop('immediate').catch(() => undefined);
        await cleanup();
      },
    };
    return self;
  } catch (error) {
    if (running) await runProcess(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

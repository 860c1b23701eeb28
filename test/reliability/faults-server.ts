// The embedded `labvirt server` (SQLite, in-process agent) as a process the fault tests can
// SIGKILL and start again on the same data directory and port, with what they look at
// besides the API: the QEMU processes whose argv names its directory (/proc), the run and
// overlay directories, the image store's files, and the SQLite file (opened with the
// project's own openDatabase, only while the server is down).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { openDatabase, type LabvirtDb } from '../../src/db/connect.js';
import { ClusterProcess } from '../helpers/cluster.js';
import { cliEnv, freePort, writeLauncher } from '../helpers/cli-server.js';
import { importGuestProfile } from '../helpers/guest-profile-api.js';
import { processAlive, tempDir, waitFor, type CliResult } from '../helpers/env.js';
import { qemusUnder } from '../helpers/proc-scan.js';

const ADMIN = { user: 'fault-admin', password: 'fault admin password 1' } as const;

export interface Qemu {
  readonly pid: number;
  readonly uuid: string;
  readonly name: string;
  readonly argv: readonly string[];
}

export interface VmView {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly terminal: string | null;
  readonly pid: number | null;
}

export class FaultServer {
  readonly dir: string;
  readonly data: string;
  readonly overlays: string;
  readonly process: ClusterProcess;
  token = '';
  readonly #launcher: string;
  readonly #port: number;
  readonly #cleanup: () => Promise<void>;

  private constructor(dir: string, launcher: string, port: number, cleanup: () => Promise<void>) {
    this.dir = dir;
    this.data = join(dir, 'data');
    this.overlays = join(dir, 'overlays');
    this.#launcher = launcher;
    this.#port = port;
    this.#cleanup = cleanup;
    this.process = new ClusterProcess('server', launcher);
  }

  /** A data directory with an admin (API token) and the server running on it. */
  static async create(): Promise<FaultServer> {
    const temp = await tempDir('lv-flt-');
    const dir = await realpath(temp.path);
    const server = new FaultServer(dir, await writeLauncher(dir), await freePort(), temp.cleanup);
    try {
      await mkdir(join(server.data, 'import'), { recursive: true });
      const added = await server.cli(
        ['user', 'add', ADMIN.user, '--role', 'admin', '--password-stdin', '--data', server.data],
        `${ADMIN.password}\n`,
      );
      assert.equal(added.code, 0, added.stderr);
      await server.start();
      const token = await server.request('POST', '/auth/tokens', {
        username: ADMIN.user,
        password: ADMIN.password,
        name: 'faults',
      });
      assert.equal(token.status, 201, token.text);
      server.token = (JSON.parse(token.text) as { token: string }).token;
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  cli(args: readonly string[], input = ''): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [this.#launcher, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: cliEnv({ XDG_CONFIG_HOME: join(this.dir, 'config') }),
        cwd: this.dir,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Starts the server (same data, port and overlay directory each time) and waits for it. */
  async start(): Promise<void> {
    assert.equal(this.process.running, false, 'the server is already running');
    this.process.spawn(
      [
        'server',
        '--data',
        this.data,
        '--listen',
        `127.0.0.1:${this.#port}`,
        '--overlay-dir',
        this.overlays,
        '--log-format',
        'json',
        '--terminal-rate-limit',
        '100000',
      ],
      cliEnv({ XDG_CONFIG_HOME: join(this.dir, 'config') }),
    );
    await waitFor(
      'the server to answer',
      async () => {
        if (!this.process.running) throw new Error(`server exited: ${this.process.output()}`);
        const answer = await fetch(`${this.url}/api/v1/health`, {
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
        return answer?.status === 200 ? true : undefined;
      },
      60_000,
      50,
    );
  }

  /** SIGKILL: the process ends at once, whatever it was doing. */
  kill(): Promise<void> {
    return this.process.kill('SIGKILL');
  }

  /** SIGTERM: an orderly stop (VMs are left running, as always). */
  stop(): Promise<void> {
    return this.process.kill('SIGTERM');
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    const answer = await fetch(
      `${this.url}${path.startsWith('/terminal/') ? '' : '/api/v1'}${path}`,
      {
        method,
        headers: {
          ...(this.token === '' ? {} : { authorization: `Bearer ${this.token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(300_000),
      },
    );
    return { status: answer.status, text: await answer.text() };
  }

  /** The admin's request, asserted to answer `status`; its JSON body. */
  async ok<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const answer = await this.request(method, path, body);
    assert.equal(
      answer.status,
      status,
      `${method} ${path} → ${answer.status} ${answer.text.slice(0, 500)}`,
    );
    return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T;
  }

  /** The boot-sector guest's profile `name`, imported through the API. */
  guestProfile(name: string): Promise<{ id: string }> {
    return importGuestProfile(
      (method, path, body, status) => this.ok(method, path, body, status),
      name,
      join(this.data, 'import'),
    );
  }

  /** A lab open at all hours on `profile` with `count` enrolled terminals; their MACs. */
  async lab(name: string, profile: string, count: number, tag: number): Promise<string[]> {
    await this.ok('POST', '/labs', { name }, 201);
    await this.ok('PUT', `/labs/${name}/profiles`, { profiles: [profile], default: profile });
    await this.ok('PUT', `/labs/${name}/timetable`, { slots: [], outside: 'default' });
    const hex = (n: number) => n.toString(16).padStart(2, '0');
    const macs: string[] = [];
    for (let i = 0; i < count; i++) {
      const mac = `02:4c:57:${hex(tag)}:00:${hex(i)}`;
      await this.ok('POST', '/terminals', { mac, lab: name, name: `${name}-${i}` }, 201);
      macs.push(mac);
    }
    return macs;
  }

  activeVms(): Promise<VmView[]> {
    return this.ok<VmView[]>('GET', '/vms?state=active');
  }

  /** The live QEMU processes whose argv names this server's directory, read from /proc. */
  qemus(): Promise<Qemu[]> {
    return qemusUnder(this.dir);
  }

  /** The VM directories of the run directory (RUN/vms/NAME). */
  runDirs(): Promise<string[]> {
    return readdir(join(this.data, 'run', 'vms')).catch(() => []);
  }

  /**
   * The QEMUs that wrote their pidfile (RUN/vms/NAME/qemu.pid: after daemonizing, so the
   * pid is the VM's, not its short-lived parent's), alive, with their uuid from /proc.
   */
  async pidfileQemus(): Promise<Qemu[]> {
    const live = await this.qemus();
    const found: Qemu[] = [];
    for (const name of await this.runDirs()) {
      const text = await readFile(join(this.data, 'run', 'vms', name, 'qemu.pid'), 'utf8').catch(
        () => '',
      );
      const qemu = live.find((q) => q.pid === Number.parseInt(text, 10) && q.name === name);
      if (qemu !== undefined) found.push(qemu);
    }
    return found;
  }

  /** The per-VM overlay directories (OVERLAYS/NAME). */
  overlayDirs(): Promise<string[]> {
    return readdir(this.overlays).catch(() => []);
  }

  /** The image store's files, store-relative ("versions/P/V.qcow2", "tmp/work/X.qcow2"). */
  async storeFiles(): Promise<string[]> {
    const root = join(this.data, 'images');
    const files: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (entry.isDirectory()) await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
        else files.push(`${prefix}${entry.name}`);
      }
    };
    await walk(root, '');
    return files.sort();
  }

  /** `use` with the SQLite file open (the server must be down: one writer, nothing cached). */
  async withDb<T>(use: (db: LabvirtDb['db']) => Promise<T>): Promise<T> {
    assert.equal(this.process.running, false, 'the database is read with the server down');
    const database = await openDatabase({ dataDir: this.data });
    try {
      return await use(database.db);
    } finally {
      await database.close();
    }
  }

  /** SIGKILLs this directory's QEMUs and waits for them to go. */
  async killQemus(): Promise<void> {
    for (const qemu of await this.qemus()) {
      try {
        process.kill(qemu.pid, 'SIGKILL');
      } catch {
        continue;
      }
      await waitFor(
        'a killed QEMU to go',
        async () => ((await processAlive(qemu.pid)) ? undefined : true),
        20_000,
      );
    }
  }

  /** Ends the server, its QEMUs and gateway daemon; removes the directory. */
  async close(): Promise<void> {
    await this.process.kill('SIGKILL').catch(() => undefined);
    await this.killQemus().catch((error: unknown) => console.error(`faults: ${String(error)}`));
    await stopGatewayDaemon(join(this.data, 'run')).catch(() => undefined);
    await this.#cleanup().catch(() => undefined);
  }
}

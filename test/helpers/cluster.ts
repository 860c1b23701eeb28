// A cluster on this machine for the cluster tests (issue 8): controller processes
// (`labvirt server --no-local-host`, HTTPS with a self-signed certificate, PostgreSQL) and
// agent processes (`labvirt agent`, each with its own data, run and image directories, on a
// loopback port), an admin with an API token, and what the tests look at: the API, the
// database, the processes' logs and the QEMU processes under each agent's directory.
// Everything a cluster started is ended by close(), the QEMUs by their pidfiles.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { ACTIVE_STATES } from '../../src/controller/services/vms.js';
import { cliEnv, freePort, writeLauncher } from './cli-server.js';
import { dialects, type TestDatabase } from './databases.js';
import { importGuestProfile } from './guest-profile-api.js';
import { delay, processAlive, tempDir, waitFor, type CliResult } from './env.js';
import { qemusUnder } from './proc-scan.js';

export const ADMIN = { user: 'cluster-admin', password: 'cluster admin password 1' } as const;

export interface ClusterTls {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  /** sha256 (hex) of the certificate's DER: the join token's pin. */
  readonly sha256: string;
}

/** A self-signed certificate for 127.0.0.1 (selfsigned), written into `dir`. */
export async function makeTls(dir: string): Promise<ClusterTls> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const certPath = join(dir, 'controller-cert.pem');
  const keyPath = join(dir, 'controller-key.pem');
  await writeFile(certPath, pems.cert);
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  const der = new X509Certificate(pems.cert).raw;
  return {
    certPath,
    keyPath,
    cert: pems.cert,
    sha256: createHash('sha256').update(der).digest('hex'),
  };
}

/** A process of the cluster: its output so far (every start of it), and ways to end it. */
export class ClusterProcess {
  readonly label: string;
  readonly #launcher: string;
  #child: ChildProcess | undefined;
  #output = '';
  #exited: Promise<unknown> | undefined;

  constructor(label: string, launcher: string) {
    this.label = label;
    this.#launcher = launcher;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return (
      this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
    );
  }

  /** All it printed (stdout and stderr), over all its starts. */
  output(): string {
    return this.#output;
  }

  spawn(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
    this.#output += `\n--- ${this.label}: ${args.join(' ')}\n`;
    const child = spawn(process.execPath, [this.#launcher, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
    this.#exited = once(child, 'exit').catch(() => undefined);
    this.#child = child;
    return child;
  }

  /** Sends `signal` and waits for the process to go. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill(signal);
    await this.#exited;
  }
}

export interface ClusterController {
  readonly index: number;
  readonly url: string;
  readonly dataDir: string;
  readonly process: ClusterProcess;
  /** Starts it again with the same flags (same port, data directory and database). */
  restart(): Promise<void>;
}

export interface AgentOptions {
  readonly cpus: number;
  readonly memoryMiB: number;
  /** The host's vCPU overcommit ratio (labvirt host add --cpu-ratio). */
  readonly cpuRatio?: number;
}

export interface ClusterAgent {
  readonly name: string;
  /** Its --data directory (agent.json, run/, images/). */
  readonly dir: string;
  readonly options: AgentOptions;
  readonly process: ClusterProcess;
  /** The one-time token it joined with (spent). */
  readonly joinToken: string;
  /** The URL it printed at its latest start. */
  url: string;
  /** Starts it again with the same flags less --join/--token: it runs from agent.json. */
  restart(): Promise<void>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

export interface HostAdded {
  readonly host: { readonly id: string; readonly name: string };
  readonly joinToken: string;
  readonly joinCommand: string;
}

export interface QemuProcess {
  readonly pid: number;
  readonly uuid: string;
  readonly name: string;
  readonly mac: string | undefined;
  /** The agent whose directory its argv names (undefined: none of this cluster's). */
  readonly agent: string | undefined;
  readonly argv: readonly string[];
}

/** Its agent.json (what `labvirt agent --join` wrote). */
export interface AgentJson {
  readonly hostId: string;
  readonly name: string;
  readonly controllerUrl: string;
  readonly agentSecret: string;
}

const AGENT_LINE = /LabVirt agent listening on (https:\/\/\S+)/;

export class Cluster {
  readonly dir: string;
  readonly database: TestDatabase;
  readonly tls: ClusterTls;
  readonly controllers: ClusterController[] = [];
  readonly agents = new Map<string, ClusterAgent>();
  /** The admin's API token. */
  token = '';
  readonly #cleanup: () => Promise<void>;
  readonly #launcher: string;
  /** Every agent directory made, also of agents that failed to start (their QEMUs go too). */
  readonly #agentDirs = new Set<string>();
  readonly #processes: ClusterProcess[] = [];

  private constructor(
    dir: string,
    database: TestDatabase,
    tls: ClusterTls,
    launcher: string,
    cleanup: () => Promise<void>,
  ) {
    this.#launcher = launcher;
    this.dir = dir;
    this.database = database;
    this.tls = tls;
    this.#cleanup = cleanup;
  }

  /** A PostgreSQL database, a certificate and `controllers` controller processes, with the admin. */
  static async start(options: { controllers?: number } = {}): Promise<Cluster> {
    const temp = await tempDir('lv-cl-');
    const dir = await realpath(temp.path);
    const postgres = dialects.find((dialect) => dialect.name === 'postgres');
    assert.ok(postgres);
    const database = await postgres.create({ migrate: false });
    const cluster = new Cluster(
      dir,
      database,
      await makeTls(dir),
      await writeLauncher(dir),
      temp.cleanup,
    );
    try {
      const first = await cluster.addController();
      const added = await cluster.cli(
        ['user', 'add', ADMIN.user, '--role', 'admin', '--password-stdin'],
        `${ADMIN.password}\n`,
      );
      assert.equal(added.code, 0, added.stderr);
      const token = await cluster.api('POST', '/auth/tokens', {
        body: { username: ADMIN.user, password: ADMIN.password, name: 'cluster test' },
        token: null,
      });
      assert.equal(token.status, 201, token.text);
      cluster.token = token.json<{ token: string }>().token;
      const login = await cluster.cli(
        ['login', first.url, '--user', ADMIN.user, '--password-stdin'],
        `${ADMIN.password}\n`,
      );
      assert.equal(login.code, 0, login.stderr);
      for (let i = 1; i < (options.controllers ?? 1); i++) await cluster.addController();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** The environment of the CLI and the processes: this cluster's database, config and CA. */
  env(): NodeJS.ProcessEnv {
    return cliEnv({
      XDG_CONFIG_HOME: join(this.dir, 'config'),
      LABVIRT_DATABASE_URL: this.database.options.url,
      NODE_EXTRA_CA_CERTS: this.tls.certPath,
    });
  }

  /** `labvirt ARGS` as the logged-in admin (after start), with `input` on stdin. */
  cli(args: readonly string[], input?: string): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [this.#launcher, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: this.env(),
        cwd: this.dir,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdin.on('error', () => undefined); // a command may exit before reading
      child.stdin.end(input ?? '');
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  #process(label: string): ClusterProcess {
    const proc = new ClusterProcess(label, this.#launcher);
    this.#processes.push(proc);
    return proc;
  }

  /**
   * Another controller process on the same database. Its image store is the first one's
   * (a symbolic link: shared storage), as several controllers of one cluster have.
   */
  async addController(): Promise<ClusterController> {
    const index = this.controllers.length;
    const dataDir = join(this.dir, `controller-${index}`);
    await mkdir(join(dataDir, 'import'), { recursive: true });
    if (index === 0) await mkdir(join(dataDir, 'images'), { recursive: true });
    else await symlink(join(this.dir, 'controller-0', 'images'), join(dataDir, 'images'));
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const proc = this.#process(`controller-${index}`);
    const args = [
      'server',
      '--data',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--no-local-host',
      '--tls-cert',
      this.tls.certPath,
      '--tls-key',
      this.tls.keyPath,
      '--log-format',
      'json',
      // All requests come from 127.0.0.1: the per-address limit would refuse the load test.
      '--terminal-rate-limit',
      '100000',
    ];
    const controller: ClusterController = {
      index,
      url,
      dataDir,
      process: proc,
      restart: async () => {
        await proc.kill('SIGKILL');
        proc.spawn(args, this.env());
        await this.#waitHealthy(controller);
      },
    };
    proc.spawn(args, this.env());
    this.controllers.push(controller);
    await this.#waitHealthy(controller);
    return controller;
  }

  async #waitHealthy(controller: ClusterController): Promise<void> {
    await waitFor(
      `${controller.process.label} to answer on ${controller.url}`,
      async () => {
        if (!controller.process.running)
          throw new Error(`${controller.process.label} exited: ${controller.process.output()}`);
        const answer = await this.api('GET', '/health', { controller, token: null }).catch(
          () => undefined,
        );
        return answer?.status === 200 ? true : undefined;
      },
      60_000,
      100,
    );
  }

  /** A request to a controller's /api/v1 (the first one by default) as the admin. */
  api(
    method: string,
    path: string,
    options: {
      body?: unknown;
      controller?: ClusterController;
      /** null: no Authorization header. */
      token?: string | null;
      headers?: Record<string, string>;
      /** A path outside /api/v1 (the terminal endpoint). */
      raw?: boolean;
    } = {},
  ): Promise<ApiAnswer> {
    const controller = options.controller ?? this.controllers[0];
    assert.ok(controller, 'a controller');
    const url = new URL(`${options.raw === true ? '' : '/api/v1'}${path}`, controller.url);
    const token = options.token === undefined ? this.token : options.token;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const request = https.request(
        url,
        {
          method,
          ca: this.tls.cert,
          agent: false,
          timeout: 300_000, // a lab start waits for all its VMs (and their images)
          headers: {
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('error', reject);
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text,
              json: <T>() => JSON.parse(text) as T,
            }),
          );
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  /** The admin's request, asserted to answer `status`; its JSON body. */
  async ok<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const answer = await this.api(method, path, body === undefined ? {} : { body });
    assert.equal(
      answer.status,
      status,
      `${method} ${path} → ${answer.status} ${answer.text.slice(0, 500)}`,
    );
    return (answer.text === '' ? undefined : answer.json<T>()) as T;
  }

  /** `labvirt host add NAME --json` (with --cpu-ratio when given). */
  async addHost(name: string, cpuRatio?: number): Promise<HostAdded> {
    const ratio = cpuRatio === undefined ? [] : ['--cpu-ratio', String(cpuRatio)];
    const added = await this.cli(['host', 'add', name, ...ratio, '--json']);
    assert.equal(added.code, 0, `host add ${name}: ${added.stderr}${added.stdout}`);
    const result = JSON.parse(added.stdout) as HostAdded;
    assert.match(result.joinToken, /^lvj1\.[A-Za-z0-9_-]{43}\.[0-9a-f]{64}$/);
    assert.ok(result.joinCommand.includes(result.joinToken), result.joinCommand);
    return result;
  }

  /** The directory an agent of this name uses (made, and remembered for the clean-up). */
  async agentDir(name: string): Promise<string> {
    const dir = join(this.dir, `agent-${name}`);
    await mkdir(dir, { recursive: true });
    this.#agentDirs.add(dir);
    return dir;
  }

  /** The argv of `labvirt agent` for this agent, joining with `join` when given. */
  agentArgs(
    name: string,
    dir: string,
    options: AgentOptions,
    join?: { url: string; token: string },
  ): string[] {
    return [
      'agent',
      ...(join === undefined ? [] : ['--join', join.url, '--token', join.token, '--name', name]),
      '--data',
      dir,
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      'off',
      '--gateway-bind',
      '127.0.0.1',
      '--cpus',
      String(options.cpus),
      '--memory-mib',
      String(options.memoryMiB),
    ];
  }

  /** Enrols a host (host add) and starts its agent with the join command; waits for online. */
  async addAgent(name: string, options: AgentOptions): Promise<ClusterAgent> {
    const added = await this.addHost(name, options.cpuRatio);
    const url = this.controllers[0]?.url ?? '';
    const dir = await this.agentDir(name);
    const proc = this.#process(`agent-${name}`);
    const agent: ClusterAgent = {
      name,
      dir,
      options,
      process: proc,
      joinToken: added.joinToken,
      url: '',
      restart: async () => {
        await proc.kill('SIGKILL');
        agent.url = await this.#startAgentProcess(proc, this.agentArgs(name, dir, options));
      },
    };
    agent.url = await this.#startAgentProcess(
      proc,
      this.agentArgs(name, dir, options, { url, token: added.joinToken }),
    );
    this.agents.set(name, agent);
    await this.waitHost(name, (host) => host.state === 'online');
    return agent;
  }

  /** Spawns an agent process and waits for its listening line; its URL. */
  async #startAgentProcess(proc: ClusterProcess, args: readonly string[]): Promise<string> {
    const before = proc.output().length;
    proc.spawn(args, this.env());
    return waitFor(
      `${proc.label} to print its listening line`,
      () => {
        const printed = AGENT_LINE.exec(proc.output().slice(before));
        if (printed?.[1] !== undefined) return printed[1];
        if (!proc.running) throw new Error(`${proc.label} exited: ${proc.output().slice(before)}`);
        return undefined;
      },
      60_000,
      50,
    );
  }

  /** Runs `labvirt agent ARGS` to its end (a join that must be refused); its result. */
  async runAgent(
    args: readonly string[],
    timeoutMs = 60_000,
  ): Promise<CliResult & { timedOut: boolean }> {
    const proc = this.#process('agent-once');
    const child = proc.spawn(args, this.env());
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.on('data', (chunk: string) => (stderr += chunk));
    const exit = once(child, 'exit') as Promise<[number | null]>;
    const timer = delay(timeoutMs).then(() => 'timeout' as const);
    const result = await Promise.race([exit, timer]);
    if (result === 'timeout') {
      await proc.kill('SIGKILL');
      return { code: null, stdout, stderr, timedOut: true };
    }
    return { code: result[0], stdout, stderr, timedOut: false };
  }

  async agentJson(name: string): Promise<AgentJson> {
    const agent = this.agents.get(name);
    assert.ok(agent, `agent ${name}`);
    return JSON.parse(await readFile(join(agent.dir, 'agent.json'), 'utf8')) as AgentJson;
  }

  /** Waits until the API shows host NAME as `test` says; the host's view. */
  async waitHost<T extends { state: string }>(
    name: string,
    test: (host: T) => boolean,
    timeoutMs = 90_000,
  ): Promise<T> {
    let last = '';
    return waitFor(
      `host ${name} to be as expected (last seen: ${last})`,
      async () => {
        const answer = await this.api('GET', `/hosts/${encodeURIComponent(name)}`).catch(
          () => undefined,
        );
        if (answer?.status !== 200) return undefined;
        const host = answer.json<T>();
        last = answer.text;
        return test(host) ? host : undefined;
      },
      timeoutMs,
      250,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last: ${last.slice(0, 400)}`);
    });
  }

  /** Active VM rows (starting, running, stopping), with their host's and terminal's names. */
  async activeVms(): Promise<
    {
      id: string;
      name: string;
      state: string;
      host: string | null;
      terminal_id: string | null;
      mac: string;
    }[]
  > {
    return this.database.db
      .selectFrom('vms')
      .leftJoin('hosts', 'hosts.id', 'vms.host_id')
      .select([
        'vms.id',
        'vms.name',
        'vms.state',
        'vms.terminal_id',
        'vms.mac',
        'hosts.name as host',
      ])
      .where('vms.state', 'in', ACTIVE_STATES)
      .execute();
  }

  /** The live QEMU processes whose argv names a directory of this cluster, read from /proc. */
  async qemuProcesses(): Promise<QemuProcess[]> {
    const agents = [...this.agents.values()];
    return (await qemusUnder(this.dir)).map((qemu) => ({
      ...qemu,
      mac: /mac=([0-9a-f:]{17})/i.exec(qemu.argv.join(' '))?.[1]?.toLowerCase(),
      agent: agents.find((agent) => qemu.argv.some((arg) => arg.includes(`${agent.dir}/`)))?.name,
    }));
  }

  /** Every QEMU pidfile under the agents' run directories. */
  async #pidfiles(): Promise<string[]> {
    const files: string[] = [];
    for (const dir of this.#agentDirs) {
      const vms = join(dir, 'run', 'vms');
      for (const name of await readdir(vms).catch(() => [] as string[]))
        files.push(join(vms, name, 'qemu.pid'));
    }
    return files;
  }

  /** SIGKILLs every QEMU of the agents' run directories (by pidfile) and waits for them to go. */
  async killQemus(): Promise<void> {
    const pids = new Set<number>();
    for (const file of await this.#pidfiles()) {
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 1) pids.add(pid);
    }
    // A QEMU whose pidfile is gone (its directory removed half-way) but whose argv names
    // this cluster's directory: this test's, and nobody else's.
    for (const qemu of await this.qemuProcesses()) pids.add(qemu.pid);
    for (const pid of pids) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (!/qemu-system/.test(argv[0] ?? '') || !argv.some((arg) => arg.includes(this.dir)))
        continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
      await waitFor(
        'a killed QEMU to go',
        async () => ((await processAlive(pid)) ? undefined : true),
        20_000,
      );
    }
  }

  /** Ends every process this cluster started, its QEMUs and gateway daemons; drops the database. */
  async close(): Promise<void> {
    // For a look at what the processes said: LABVIRT_TEST_CLUSTER_LOGS=FILE keeps it.
    const keep = process.env['LABVIRT_TEST_CLUSTER_LOGS'];
    if (keep !== undefined) await writeFile(keep, this.logs()).catch(() => undefined);
    for (const proc of this.#processes) await proc.kill('SIGKILL').catch(() => undefined);
    await this.killQemus().catch((error: unknown) => console.error(`cluster: ${String(error)}`));
    for (const dir of this.#agentDirs)
      await stopGatewayDaemon(join(dir, 'run')).catch(() => undefined);
    await this.database
      .drop()
      .catch((error: unknown) => console.error(`cluster: ${String(error)}`));
    await this.#cleanup().catch(() => undefined);
  }

  /**
   * A profile of the project's boot-sector test guest (1 vCPU, 32 MiB, VNC: it prints its
   * line and halts, so a dozen of them cost nothing) imported through the API and
   * published; its version's id and sha256 as the database has them.
   */
  async guestProfile(name: string): Promise<{ id: string; versionId: string; sha256: string }> {
    const controller = this.controllers[0];
    assert.ok(controller);
    const profile = await importGuestProfile(
      (method, path, body, status) => this.ok(method, path, body, status),
      name,
      join(controller.dataDir, 'import'),
    );
    const row = await this.database.db
      .selectFrom('profiles')
      .innerJoin('versions', 'versions.id', 'profiles.published_version_id')
      .select(['versions.id', 'versions.sha256'])
      .where('profiles.id', '=', profile.id)
      .executeTakeFirstOrThrow();
    return { id: profile.id, versionId: row.id, sha256: row.sha256 };
  }

  /**
   * A lab open at all hours on `profile`, with `count` enrolled terminals (MACs
   * 02:4c:56:LL:00:NN), placing its VMs by `placement`; the terminals' MACs.
   */
  async lab(
    name: string,
    options: { profile: string; terminals: number; placement: 'spread' | 'pack'; tag: number },
  ): Promise<string[]> {
    await this.ok('POST', '/labs', { name }, 201);
    await this.ok('PUT', `/labs/${name}/profiles`, {
      profiles: [options.profile],
      default: options.profile,
    });
    await this.ok('PUT', `/labs/${name}/timetable`, { slots: [], outside: 'default' });
    await this.ok('PATCH', `/labs/${name}`, { placement: options.placement });
    const hex = (n: number) => n.toString(16).padStart(2, '0');
    const macs: string[] = [];
    for (let i = 0; i < options.terminals; i++) {
      const mac = `02:4c:56:${hex(options.tag)}:00:${hex(i)}`;
      await this.ok('POST', '/terminals', { mac, lab: name, name: `${name}-${i}` }, 201);
      macs.push(mac);
    }
    return macs;
  }

  /** Every process's output, for a failure's message. */
  logs(): string {
    return this.#processes.map((proc) => proc.output()).join('\n');
  }
}

/** The JSON lines (pino's entries) of a process's output; other lines are left out. */
export function logEntries(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** How many of `items` fall into each key. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

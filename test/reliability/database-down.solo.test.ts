// Database down (issue 10): the real `labvirt server` (this build, through a launcher) on a
// private PostgreSQL cluster, its local host running the client VMs of three terminals. The
// cluster is stopped (pg_ctl -m fast: sessions told 57P01, then connections refused; and
// -m immediate: sessions killed as in a crash) while the API and the terminals keep asking:
// every answer is a quick 503 DATABASE_UNAVAILABLE with Retry-After (no 500, no stack); the
// QEMUs, their overlays and the server process are untouched, the outage is logged once.
// When PostgreSQL returns, the same server answers 200 again, each terminal gets its same
// VM, and the database's active rows are exactly the QEMUs that run.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { openDatabase, type LabvirtDb } from '../../src/db/index.js';
import { ACTIVE_STATES } from '../../src/controller/services/vms.js';
import { cliEnv, freePort, writeLauncher } from '../helpers/cli-server.js';
import { delay, processAlive, tempDir, waitFor } from '../helpers/env.js';
import { importGuestProfile, type ApiCall } from '../helpers/guest-profile-api.js';
import { privatePostgres, type PrivatePostgres } from './dbdown-postgres.js';
import { faultInjected, invariant } from './ledger.js';

const ADMIN = { user: 'dbdown-admin', password: 'database down admin password 1' };
const MACS = ['52:54:00:db:d0:01', '52:54:00:db:d0:02', '52:54:00:db:d0:03'];
/** "Quickly": refused connections fail at once; this only catches a hang (noisy CI). */
const QUICK_MS = 10_000;

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly headers: Headers;
  readonly text: string;
}

interface RunningVm {
  readonly name: string;
  readonly pid: number;
  readonly overlays: readonly string[];
}

describe('database down: PostgreSQL stopped while VMs run and terminals ask', () => {
  let pg: PrivatePostgres;
  let dir: string;
  let cleanupDir: () => Promise<void>;
  let dataDir: string;
  let server: ChildProcess | undefined;
  let output = '';
  let url = '';
  let token = '';
  /** VM name of each terminal (by MAC), as the terminal endpoint first told it. */
  const served = new Map<string, string>();
  /** VM id of each VM name, from the API before any outage. */
  const idOf = new Map<string, string>();
  let qemus: RunningVm[] = [];

  async function call(method: string, path: string, body?: unknown, auth = true): Promise<Answer> {
    const started = performance.now();
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      ms: performance.now() - started,
      headers: response.headers,
      text,
    };
  }

  const api: ApiCall = async <T>(method: string, path: string, body?: unknown, status = 200) => {
    const answer = await call(method, `/api/v1${path}`, body);
    if (answer.status !== status)
      throw new Error(`${method} ${path} → ${answer.status} ${answer.text.slice(0, 400)}`);
    return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T;
  };

  const ask = (mac: string) =>
    call('GET', `/terminal/v1/config?mac=${mac}&format=json`, undefined, false);

  /** The QEMUs of the run directory whose pidfile names a live process. */
  async function runningQemus(): Promise<RunningVm[]> {
    const root = join(dataDir, 'run', 'vms');
    const names = await readdir(root).catch(() => [] as string[]);
    const found: RunningVm[] = [];
    for (const name of names.sort()) {
      const pid = Number.parseInt(
        await readFile(join(root, name, 'qemu.pid'), 'utf8').catch(() => ''),
        10,
      );
      if (!Number.isInteger(pid) || !(await processAlive(pid))) continue;
      const record = JSON.parse(await readFile(join(root, name, 'vm.json'), 'utf8')) as {
        overlays: string[];
      };
      found.push({ name, pid, overlays: record.overlays });
    }
    return found;
  }

  /** The database's active VM rows, read straight from PostgreSQL. */
  async function activeRows(): Promise<{ id: string; name: string; state: string }[]> {
    let database: LabvirtDb | undefined;
    try {
      database = await openDatabase({ url: pg.url });
      return await database.db
        .selectFrom('vms')
        .select(['id', 'name', 'state'])
        .where('state', 'in', ACTIVE_STATES)
        .orderBy('name')
        .execute();
    } finally {
      await database?.close();
    }
  }

  async function runLauncher(
    launcher: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    input: string,
  ) {
    const child = spawn(process.execPath, [launcher, ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(input);
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, `labvirt ${args.join(' ')}: ${stderr}`);
  }

  before(async () => {
    pg = await privatePostgres();
    await pg.start();
    ({ path: dir, cleanup: cleanupDir } = await tempDir('lv-dbdown-'));
    dataDir = join(dir, 'data');
    await mkdir(join(dataDir, 'import'), { recursive: true });
    const launcher = await writeLauncher(dir);
    const env = cliEnv({ XDG_CONFIG_HOME: join(dir, 'config'), LABVIRT_DATABASE_URL: pg.url });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
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
    const child = spawn(process.execPath, [launcher, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    server = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
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
    await runLauncher(
      launcher,
      ['user', 'add', ADMIN.user, '--role', 'admin', '--password-stdin', '--data', dataDir],
      env,
      `${ADMIN.password}\n`,
    );
    const login = await call(
      'POST',
      '/api/v1/auth/tokens',
      { username: ADMIN.user, password: ADMIN.password, name: 'dbdown' },
      false,
    );
    assert.equal(login.status, 201, login.text);
    token = (JSON.parse(login.text) as { token: string }).token;

    await importGuestProfile(api, 'dbdown-guest', join(dataDir, 'import'));
    await api('POST', '/labs', { name: 'dbdown-lab' }, 201);
    await api('PUT', '/labs/dbdown-lab/profiles', {
      profiles: ['dbdown-guest'],
      default: 'dbdown-guest',
    });
    for (const mac of MACS) await api('POST', '/terminals', { mac, lab: 'dbdown-lab' }, 201);
    // Each terminal asks until its VM runs (202 with Retry-After, then 200), as boot.sh does.
    for (const mac of MACS) {
      const config = await waitFor(
        `terminal ${mac} to be served`,
        async () => {
          const answer = await ask(mac);
          if (answer.status === 202) return undefined;
          assert.equal(answer.status, 200, answer.text);
          return JSON.parse(answer.text) as { vm: string };
        },
        120_000,
        250,
      );
      served.set(mac, config.vm);
    }
    const vms = await api<{ id: string; name: string; state: string }[]>('GET', '/vms');
    for (const vm of vms) idOf.set(vm.name, vm.id);
    qemus = await runningQemus();
    assert.deepEqual(
      qemus.map((vm) => vm.name),
      [...served.values()].sort(),
      'one QEMU per terminal before the outage',
    );
  });

  after(async () => {
    if (process.env['DBDOWN_LOG']) await writeFile(process.env['DBDOWN_LOG'], output);
    if (server !== undefined && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      if ((await Promise.race([exited, delay(15_000)])) === undefined) server.kill('SIGKILL');
      await exited;
    }
    // The server leaves its VMs running when it stops: end them by their pidfiles.
    if (dataDir !== undefined) {
      for (const vm of await runningQemus()) process.kill(vm.pid, 'SIGKILL');
      await stopGatewayDaemon(join(dataDir, 'run')).catch(() => undefined);
      await delay(300);
    }
    await cleanupDir?.();
    await pg?.destroy();
  });

  /** What a 503 for an unreachable database must look like. */
  function assertUnavailable(answer: Answer, what: string): void {
    assert.equal(answer.status, 503, `${what}: ${answer.status} ${answer.text}`);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
    const problem = JSON.parse(answer.text) as { code: string; status: number };
    assert.equal(problem.code, 'DATABASE_UNAVAILABLE', what);
    assert.equal(problem.status, 503, what);
    const retry = Number(answer.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry > 0 && retry <= 60, `${what}: Retry-After ${retry}`);
    assert.ok(answer.ms < QUICK_MS, `${what} took ${Math.round(answer.ms)} ms`);
    assert.doesNotMatch(answer.text, /\n\s+at |node_modules|\.js:\d+/, `${what}: no stack trace`);
  }

  const unreachableLines = () =>
    output.split('\n').filter((line) => line.includes('database is unreachable'));

  for (const mode of ['fast', 'immediate'] as const) {
    it(`pg_ctl stop -m ${mode}: 503 with Retry-After, VMs untouched, recovery when it returns`, async () => {
      const before = await runningQemus();
      const loggedBefore = unreachableLines().length;
      const outputBefore = output.length;
      faultInjected(`PostgreSQL stopped (pg_ctl -m ${mode})`);
      await pg.stop(mode);
      try {
        await outage(mode, before, loggedBefore, outputBefore);
      } finally {
        // A failure above must not leave the next case without its database.
        if (!pg.running) await pg.start();
      }
    });
  }

  async function outage(
    mode: 'fast' | 'immediate',
    before: RunningVm[],
    loggedBefore: number,
    outputBefore: number,
  ): Promise<void> {
    const stoppedAt = Date.now();

    await invariant(
      `database down (${mode}): API answers 503 DATABASE_UNAVAILABLE with Retry-After, quickly, no stack`,
      async () => {
        assertUnavailable(await call('GET', '/api/v1/labs'), 'GET /labs');
        assertUnavailable(await call('GET', '/api/v1/vms'), 'GET /vms');
        assertUnavailable(
          await call('PATCH', '/api/v1/labs/dbdown-lab', { description: 'changed while down' }),
          'PATCH /labs/dbdown-lab',
        );
        assertUnavailable(
          await call(
            'POST',
            '/api/v1/auth/login',
            { username: ADMIN.user, password: ADMIN.password },
            false,
          ),
          'POST /auth/login',
        );
        assertUnavailable(await call('GET', '/api/v1/health', undefined, false), 'GET /health');
      },
    );
    await invariant(
      `database down (${mode}): the terminal endpoint answers 503 with Retry-After`,
      async () => {
        for (const mac of MACS) assertUnavailable(await ask(mac), `terminal ${mac}`);
      },
    );

    // The outage lasts past a few rounds of the hosts refresh (5 s) and, for the fast
    // stop, a round of the idle and timetable policy (15 s), terminals asking meanwhile.
    const outageMs = mode === 'fast' ? 17_000 : 7_000;
    while (Date.now() - stoppedAt < outageMs) {
      for (const mac of MACS) assert.equal((await ask(mac)).status, 503);
      await delay(1000);
    }

    await invariant(
      `database down (${mode}): same QEMU pids alive, overlays present, server up`,
      async () => {
        assert.ok(
          server !== undefined && server.exitCode === null && server.pid !== undefined,
          'server running',
        );
        assert.ok(await processAlive(server.pid), 'server process alive');
        const now = await runningQemus();
        assert.deepEqual(
          now.map((vm) => [vm.name, vm.pid]),
          before.map((vm) => [vm.name, vm.pid]),
          'the same QEMUs, same pids',
        );
        for (const vm of now) for (const overlay of vm.overlays) await access(overlay);
      },
    );
    await invariant(
      `database down (${mode}): logged as unreachable once, not per failure; no 500 logged`,
      () => {
        const during = unreachableLines().length - loggedBefore;
        assert.ok(
          during >= 1,
          `the outage is logged: ${output.slice(outputBefore, outputBefore + 2000)}`,
        );
        assert.ok(during <= 2, `logged ${during} times in ${outageMs} ms`);
        assert.doesNotMatch(output.slice(outputBefore), /"request failed"|"statusCode":500/);
      },
    );

    await pg.start();
    await invariant(`database back (${mode}): the same server answers 200 again`, async () => {
      const answer = await waitFor(
        'GET /labs to answer 200',
        async () => {
          const got = await call('GET', '/api/v1/labs');
          return got.status === 200 ? got : undefined;
        },
        30_000,
        250,
      );
      const lab = (JSON.parse(answer.text) as { name: string; description: string }[]).find(
        (row) => row.name === 'dbdown-lab',
      );
      assert.ok(lab !== undefined, 'the lab is listed again');
      assert.notEqual(lab.description, 'changed while down', 'a refused change left no trace');
      assert.equal(
        (
          await call(
            'POST',
            '/api/v1/auth/login',
            { username: ADMIN.user, password: ADMIN.password },
            false,
          )
        ).status,
        200,
      );
      const patched = await call('PATCH', '/api/v1/labs/dbdown-lab', {
        description: `back after ${mode}`,
      });
      assert.equal(patched.status, 200, patched.text);
    });
    await invariant(
      `inv4: database back (${mode}): each terminal gets its same VM (same id)`,
      async () => {
        for (const mac of MACS) {
          const answer = await ask(mac);
          assert.equal(answer.status, 200, answer.text);
          assert.equal((JSON.parse(answer.text) as { vm: string }).vm, served.get(mac));
        }
        const vms = await api<{ id: string; name: string; state: string }[]>('GET', '/vms');
        assert.deepEqual(
          vms.map((vm) => [vm.name, vm.id, vm.state]).sort(),
          [...idOf].map(([name, id]) => [name, id, 'running']).sort(),
        );
      },
    );
    await invariant(
      `inv5: database back (${mode}): active rows are exactly the running QEMUs`,
      async () => {
        const rows = await activeRows();
        const running = await runningQemus();
        assert.deepEqual(
          rows.map((row) => [row.name, row.id, row.state]),
          running.map((vm) => [vm.name, idOf.get(vm.name), 'running']),
        );
        assert.deepEqual(
          running.map((vm) => vm.pid),
          qemus.map((vm) => vm.pid),
          'the first QEMUs still',
        );
      },
    );
    await waitFor('the server to log the database back', () =>
      output.slice(outputBefore).includes('database answers again') ? true : undefined,
    );
  }
});

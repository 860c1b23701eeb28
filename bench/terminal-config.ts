// The terminal endpoint under a lab's worth of load (issue 5, targets from issue 9): 500
// enrolled terminals with running VMs asking GET /terminal/v1/config over 200 concurrent
// keep-alive connections (autocannon), spread over the 500 terminals' URLs, against a bare
// Fastify route on the same machine answering a JSON body of the same size. Prints
// requests/s, p50 and p99 for both, the ratios, and whether the targets are met: config
// p99 ≤ 20 ms, and at least 50% of bare Fastify's requests/s.
//
// The host agent is a fake (test/helpers/terminal-load.ts): this measures the HTTP
// endpoint and the database, not QEMU; 500 real VMs do not fit on this machine. Each server
// runs in a child process of its own, so the load generator does not share its thread.
//
// Run: npm run build && node dist/bench/terminal-config.js [--quick] [--seconds N]
//      [--connections N] [--postgres URL]   (PostgreSQL too when a URL or LABVIRT_TEST_DATABASE_URL is given)
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { buildApp } from '../src/controller/app.js';
import { numberOption, option, QUICK } from './lib/options.js';
import { dialects } from '../test/helpers/databases.js';
import {
  BASE_PORT,
  configPath,
  loadAgent,
  loadMac,
  seedLoadLab,
} from '../test/helpers/terminal-load.js';

const TERMINALS = 500;
const TARGET_P99_MS = 20;
const TARGET_SHARE = 0.5;

interface Measured {
  readonly label: string;
  readonly requests: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** Concurrent connections: 200 (issue 5), or --connections N. */
const CONNECTIONS = numberOption('--connections', 200);

// ---- The servers, each in a child process ------------------------------------------

/** Child: LabVirt on a fresh database of the dialect, with the 500-terminal lab. */
async function serveLabvirt(dialectName: string): Promise<void> {
  const dialect = dialects.find((d) => d.name === dialectName);
  if (dialect === undefined) throw new Error(`no dialect ${dialectName}`);
  const database = await dialect.create();
  const lab = await seedLoadLab(database.db, TERMINALS, { running: true });
  const app = await buildApp({
    db: database.db,
    agents: [loadAgent(lab).agent],
    // The whole load comes from one address: the per-address limit must not refuse it.
    terminalRateLimit: { max: 1_000_000_000, windowMs: 60_000 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await untilParentLets((app.server.address() as AddressInfo).port);
  await app.close();
  await database.drop();
}

/** Child: a bare Fastify route answering the same JSON body every time. */
async function serveBare(body: unknown): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/terminal/v1/config', async () => body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  await untilParentLets((app.server.address() as AddressInfo).port);
  await app.close();
}

/** Tells the parent the port, then waits until it closes our standard input. */
async function untilParentLets(port: number): Promise<void> {
  console.log(`READY ${port}`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
}

interface Server {
  readonly port: number;
  stop(): Promise<void>;
}

async function startServer(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const script = fileURLToPath(import.meta.url);
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(
    process.execPath,
    [script, '--serve', ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^READY (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`server ${args.join(' ')} exited (${code})`)));
  });
  return {
    port,
    stop: async () => {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`server ${args.join(' ')} exited with ${code}`);
    },
  };
}

// ---- The load ------------------------------------------------------------------------

/** One request per terminal (all at once): each must be 200 and that terminal's own. */
async function check(port: number): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    return await Promise.all(
      Array.from(
        { length: TERMINALS },
        (_, index) =>
          new Promise<string>((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port, path: configPath(index), agent }, (response) => {
                let body = '';
                response.setEncoding('utf8');
                response.on('data', (chunk: string) => (body += chunk));
                response.on('end', () => {
                  const config = JSON.parse(body) as { terminal?: { mac?: string }; port?: number };
                  if (
                    response.statusCode !== 200 ||
                    config.terminal?.mac !== loadMac(index) ||
                    config.port !== BASE_PORT + index
                  ) {
                    reject(new Error(`terminal #${index}: ${response.statusCode} ${body}`));
                  } else resolve(body);
                });
              })
              .on('error', reject);
          }),
      ),
    );
  } finally {
    agent.destroy();
  }
}

/** autocannon with CONNECTIONS connections for `seconds`, round-robin over the terminals. */
async function load(label: string, port: number, seconds: number): Promise<Measured> {
  let next = 0;
  const times: number[] = [];
  let finished: (result: autocannon.Result) => void = () => undefined;
  let failed: (error: unknown) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${port}`,
      connections: CONNECTIONS,
      duration: seconds,
      requests: [
        {
          method: 'GET',
          // Each request is the next terminal's: all 500 asking, not one asking 500 times.
          setupRequest: (request) => ({ ...request, path: configPath(next++ % TERMINALS) }),
        },
      ],
    },
    (error, result) => (error ? failed(error) : finished(result)),
  );
  // autocannon's own histogram keeps whole milliseconds; these keep the fractions.
  instance.on('response', (_client, status, _bytes, responseTime) => {
    if (status >= 200 && status < 300) times.push(responseTime);
  });
  const errorKinds = new Map<string, number>();
  instance.on('reqError', (error: Error) => {
    const kind = 'code' in error ? String(error.code) : error.message;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  });
  const result = await done;
  if (errorKinds.size > 0) console.error(`${label}: errors`, Object.fromEntries(errorKinds));
  times.sort((a, b) => a - b);
  const at = (share: number) => times[Math.min(times.length - 1, Math.floor(share * times.length))];
  return {
    label,
    requests: result.requests.total,
    perSecond: result.requests.total / seconds,
    p50: at(0.5) ?? Number.NaN,
    p99: at(0.99) ?? Number.NaN,
    non2xx: result.non2xx,
    errors: result.errors, // timeouts included
  };
}

async function measure(label: string, port: number, quick: boolean, seconds: number) {
  await load(`${label} (warm-up)`, port, quick ? 1 : 3); // JIT, pools, caches
  const measured = await load(label, port, seconds);
  console.error(
    `${label}: ${measured.requests} requests, ${measured.non2xx} not 2xx, ${measured.errors} errors`,
  );
  return measured;
}

async function main(): Promise<void> {
  const quick = QUICK;
  const seconds = numberOption('--seconds', quick ? 3 : 10);
  const postgresUrl = option('--postgres') ?? process.env['LABVIRT_TEST_DATABASE_URL'];
  const targets = postgresUrl ? ['sqlite', 'postgres'] : ['sqlite'];
  const env = postgresUrl ? { LABVIRT_TEST_DATABASE_URL: postgresUrl } : {};
  const loadBefore = loadavg()[0] ?? 0;
  const results: Measured[] = [];
  let sample: string | undefined;
  for (const dialect of targets) {
    const server = await startServer(['labvirt', dialect], env);
    try {
      const bodies = await check(server.port);
      // The bare route answers a body of LabVirt's (median) size.
      sample ??= [...bodies].sort((a, b) => a.length - b.length)[Math.floor(bodies.length / 2)];
      const name = dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      results.push(await measure(`LabVirt config (${name})`, server.port, quick, seconds));
    } finally {
      await server.stop();
    }
  }
  const bare = await startServer(['bare'], { BENCH_BODY: sample ?? '{}' });
  let baseline: Measured;
  try {
    baseline = await measure('bare Fastify', bare.port, quick, seconds);
  } finally {
    await bare.stop();
  }
  console.error(`body: ${sample?.length} bytes (median of LabVirt's answers)`);
  // The figures mean little on a busy machine: say how busy it was.
  const busy = `load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after`;
  const ms = (value: number) => value.toFixed(1);
  const verdict = (met: boolean) => (met ? 'met' : 'missed');
  console.log(
    [
      `${TERMINALS} terminals, ${CONNECTIONS} connections, ${seconds} s each (autocannon); ` +
        `${cpus().length} CPUs, ${busy}`,
      '',
      '| server | requests/s | p50 ms | p99 ms | vs bare req/s | vs bare p99 | p99 ≤ 20 ms | ≥ 50% of bare req/s |',
      '|---|---:|---:|---:|---:|---:|---|---|',
      `| bare Fastify | ${baseline.perSecond.toFixed(0)} | ${ms(baseline.p50)} | ${ms(baseline.p99)} | 1.00x | 1.00x | | |`,
      ...results.map((r) => {
        const share = r.perSecond / baseline.perSecond;
        return (
          `| ${r.label} | ${r.perSecond.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ` +
          `${share.toFixed(2)}x | ${(r.p99 / baseline.p99).toFixed(1)}x | ` +
          `${verdict(r.p99 <= TARGET_P99_MS)} | ${verdict(share >= TARGET_SHARE)} |`
        );
      }),
    ].join('\n'),
  );
  const failed = [baseline, ...results].filter((r) => r.non2xx > 0 || r.errors > 0);
  if (failed.length > 0) {
    console.error(`not every request was answered 2xx: ${failed.map((r) => r.label).join(', ')}`);
    process.exitCode = 1;
  }
}

const serving = option('--serve');
if (serving === 'labvirt')
  await serveLabvirt(process.argv[process.argv.indexOf('--serve') + 2] ?? '');
else if (serving === 'bare') await serveBare(JSON.parse(process.env['BENCH_BODY'] ?? '{}'));
else await main();

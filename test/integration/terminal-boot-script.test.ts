// The terminal boot script, run for real under dash and busybox sh against a small HTTP
// server that answers like the config route (202 first, then the config rendered by the
// real query parser and formats), with stand-in clients that record their argv.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatMessage, LabvirtError } from '../../src/domain/errors.js';
import { bootScript } from '../../src/terminal/boot-script.js';
import { terminalClients, type TerminalConfig } from '../../src/terminal/config.js';
import { renderConfig } from '../../src/terminal/formats.js';
import { parseConfigQuery } from '../../src/terminal/query.js';
import { tempDir } from '../helpers/env.js';

const MAC = '52:54:00:aa:bb:07';
const TITLE = 'LabVirt: debian 12 (pc 07)';

function config(protocol: TerminalConfig['protocol'], ticket: string): TerminalConfig {
  const port = { rdp: 40001, vnc: 40002, spice: 40003 }[protocol];
  return {
    terminal: { name: 'pc 07', mac: MAC },
    lab: 'lab-a',
    profile: 'debian 12',
    vm: 'lab-a-pc-07',
    protocol,
    host: '127.0.0.1',
    port,
    ticket: protocol === 'rdp' ? null : ticket,
    ticketExpiresAt: protocol === 'rdp' ? null : '2026-11-29T18:00:00.000Z',
    screen: { fullscreen: true, width: null, height: null },
  };
}

interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

interface Seen {
  readonly query: URLSearchParams;
  readonly at: number;
  readonly answer: Answer;
}

type First = 'starting' | 'forbidden' | 'none';

/** Answers like the config route: each answer a fresh ticket (tk0, tk1...). */
class ConfigServer {
  readonly seen: Seen[] = [];
  #server: http.Server;

  constructor(respond: (query: URLSearchParams, n: number) => Answer) {
    this.#server = http.createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      const answer =
        url.pathname === '/terminal/v1/config'
          ? respond(url.searchParams, this.seen.length)
          : { status: 404, body: 'no such route' };
      this.seen.push({ query: url.searchParams, at: Date.now(), answer });
      response.writeHead(answer.status, answer.headers ?? {});
      response.end(answer.body);
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function problem(error: LabvirtError): Answer {
  const detail = formatMessage(error.code, error.params);
  return {
    status: error.status,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: JSON.stringify({
      type: 'urn:x',
      title: detail,
      status: error.status,
      detail,
      code: error.code,
    }),
  };
}

function scripted(protocol: TerminalConfig['protocol'], first: First) {
  return (query: URLSearchParams, n: number): Answer => {
    if (n === 0 && first === 'starting')
      return { status: 202, headers: { 'retry-after': '1' }, body: '{"status":"starting"}' };
    if (n === 0 && first === 'forbidden') {
      return problem(new LabvirtError('TERMINAL_DISABLED', { mac: `"${MAC}"` }));
    }
    try {
      const parsed = parseConfigQuery(Object.fromEntries(query));
      const rendered = renderConfig(config(protocol, `tk${n}`), parsed.format, parsed.clients);
      return {
        status: 200,
        headers: { 'content-type': rendered.contentType },
        body: rendered.body,
      };
    } catch (error) {
      if (error instanceof LabvirtError) return problem(error);
      throw error;
    }
  };
}

interface Run {
  readonly program: string;
  readonly args: string[];
  readonly vncPassword: string;
  readonly file: string[];
}

/** Each stand-in client appends what it was given to the log, then exits 0. */
const standIn = `#!/bin/sh
{
  printf '=== %s\\n' "\${0##*/}"
  for arg in "$@"; do printf 'arg %s\\n' "$arg"; done
  printf 'pw %s\\n' "\${VNC_PASSWORD-}"
  case \${1-} in
    *.vv) while IFS= read -r line; do printf 'file %s\\n' "$line"; done <"$1" ;;
  esac
} >>"$LABVIRT_TEST_LOG"
`;

function parseRuns(log: string): Run[] {
  return log
    .split(/^=== /m)
    .slice(1)
    .map((record) => {
      const [program = '', ...rest] = record.split('\n');
      const values = (prefix: string) =>
        rest.filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
      return {
        program,
        args: values('arg '),
        vncPassword: values('pw ')[0] ?? '',
        file: values('file '),
      };
    });
}

interface Outcome {
  readonly code: number | null;
  readonly stderr: string;
  readonly runs: Run[];
  readonly seen: Seen[];
  readonly leftovers: string[];
}

interface Options {
  readonly protocol: TerminalConfig['protocol'];
  readonly first: First;
  readonly clients: string;
  readonly env?: Record<string, string>;
  readonly respond?: (query: URLSearchParams, n: number) => Answer;
  /** Sends SIGTERM once stderr matches (a script that only meets errors runs forever). */
  readonly stopWhen?: RegExp;
  /** PATH directories before the stand-in clients' (default /usr/bin:/bin after them). */
  readonly path?: (clientsDir: string) => string;
}

const shells: { name: string; argv: string[] }[] = [
  { name: 'dash', argv: ['dash'] },
  { name: 'busybox sh', argv: ['busybox', 'sh'] },
];

describe('terminal boot script', () => {
  let root: { path: string; cleanup: () => Promise<void> };
  let clientsDir: string;
  let busyboxDir: string;
  let counter = 0;
  /** Its absolute path: the wget-only PATH has no busybox command, only its applets. */
  let busybox: string;

  before(async () => {
    for (const shell of ['dash', 'busybox']) {
      const found = spawnSync('sh', ['-c', `command -v ${shell}`]);
      assert.equal(found.status, 0, `${shell} is not installed: run scripts/setup.sh`);
    }
    busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
    root = await tempDir('lv-boot-');
    clientsDir = join(root.path, 'clients');
    await mkdir(clientsDir);
    for (const client of terminalClients) {
      await writeFile(join(clientsDir, client), standIn);
      await chmod(join(clientsDir, client), 0o755);
    }
    // A PATH of busybox applets only: wget and no curl.
    busyboxDir = join(root.path, 'busybox');
    await mkdir(busyboxDir);
    const applets = spawnSync('busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n');
    for (const applet of applets.filter((name) => /^[a-z0-9_.[-]+$/.test(name))) {
      await symlink(busybox, join(busyboxDir, applet));
    }
  });
  after(() => root?.cleanup());

  async function boot(shell: string[], options: Options): Promise<Outcome> {
    const dir = join(root.path, `run-${counter++}`);
    await mkdir(dir);
    const server = new ConfigServer(options.respond ?? scripted(options.protocol, options.first));
    try {
      const url = await server.start();
      const script = join(dir, 'boot.sh');
      await writeFile(script, bootScript(url));
      const log = join(dir, 'runs.log');
      await writeFile(log, '');
      const path = options.path?.(clientsDir) ?? `${clientsDir}:/usr/bin:/bin`;
      const child = spawn(shell[0]!, [...shell.slice(1), script], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          PATH: path,
          TMPDIR: dir,
          LABVIRT_TEST_LOG: log,
          LABVIRT_CLIENTS: options.clients,
          LABVIRT_MAC: MAC,
          LABVIRT_MAX_RUNS: '2',
          // 0, so that a wait of a second comes from the server's Retry-After: 1.
          LABVIRT_RETRY_WAIT: '0',
          LABVIRT_ERROR_WAIT: '1',
          LABVIRT_RECONNECT_WAIT: '0',
          ...options.env,
        },
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (options.stopWhen?.test(stderr)) child.kill('SIGTERM');
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      const leftovers = (await readdir(dir)).filter((name) => name.startsWith('labvirt.'));
      return {
        code,
        stderr,
        runs: parseRuns(await readFile(log, 'utf8')),
        seen: server.seen,
        leftovers,
      };
    } finally {
      await server.close();
    }
  }

  const formats = (outcome: Outcome) =>
    outcome.seen.map((seen) => `${seen.query.get('format')}:${seen.answer.status}`);

  for (const shell of shells) {
    describe(`under ${shell.name} with curl`, () => {
      it('rdp: waits out the 202, runs xfreerdp, and asks again after it exits', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'rdp',
          first: 'starting',
          clients: 'xfreerdp remote-viewer vncviewer',
        });
        assert.equal(outcome.code, 0, outcome.stderr);
        // remote-viewer is installed, so a .vv file is asked for first; rdp has none (409).
        assert.deepEqual(formats(outcome), ['vv:202', 'vv:409', 'args:200', 'vv:409', 'args:200']);
        const waited = outcome.seen[1]!.at - outcome.seen[0]!.at;
        assert.ok(waited >= 900, `retried after ${waited} ms, before Retry-After: 1`);
        const args = outcome.seen[2]!.query;
        assert.equal(args.get('mac'), MAC);
        assert.equal(args.get('client'), 'xfreerdp,remote-viewer,vncviewer');
        const expected = ['/v:127.0.0.1:40001', '/cert:tofu', '/sec:tls', '/f', `/t:${TITLE}`];
        assert.deepEqual(outcome.runs, [
          { program: 'xfreerdp', args: expected, vncPassword: '', file: [] },
          { program: 'xfreerdp', args: expected, vncPassword: '', file: [] },
        ]);
        assert.deepEqual(outcome.leftovers, [], 'the temporary directory is removed');
      });

      it('vnc with remote-viewer: a fresh .vv file per connection', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'vnc',
          first: 'starting',
          clients: 'remote-viewer vncviewer',
        });
        assert.equal(outcome.code, 0, outcome.stderr);
        assert.deepEqual(formats(outcome), ['vv:202', 'vv:200', 'vv:200']);
        assert.equal(outcome.runs.length, 2);
        for (const [i, run] of outcome.runs.entries()) {
          assert.equal(run.program, 'remote-viewer');
          assert.equal(run.args.length, 1);
          assert.match(run.args[0]!, /\/display\.vv$/);
          assert.deepEqual(run.file, [
            '[virt-viewer]',
            'type=vnc',
            'host=127.0.0.1',
            'port=40002',
            `password=tk${i + 1}`,
            'fullscreen=1',
            `title=${TITLE}`,
            'delete-this-file=1',
          ]);
        }
        assert.deepEqual(outcome.leftovers, []);
      });

      it('vnc with vncviewer only: the ticket in VNC_PASSWORD, HOST::PORT', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'vnc',
          first: 'starting',
          clients: 'vncviewer',
        });
        assert.equal(outcome.code, 0, outcome.stderr);
        assert.deepEqual(formats(outcome), ['args:202', 'args:200', 'args:200']);
        assert.equal(outcome.seen[1]!.query.get('client'), 'vncviewer');
        assert.deepEqual(
          outcome.runs.map((run) => [run.program, run.args, run.vncPassword]),
          [
            ['vncviewer', ['-FullScreen', '127.0.0.1::40002'], 'tk1'],
            ['vncviewer', ['-FullScreen', '127.0.0.1::40002'], 'tk2'],
          ],
        );
      });

      it('spice with vncviewer preferred: remote-viewer with the ticket in the URI', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'spice',
          first: 'none',
          clients: 'vncviewer remote-viewer',
        });
        assert.equal(outcome.code, 0, outcome.stderr);
        assert.deepEqual(formats(outcome), ['args:200', 'args:200']);
        assert.equal(outcome.seen[0]!.query.get('client'), 'vncviewer,remote-viewer');
        assert.deepEqual(
          outcome.runs.map((run) => [run.program, run.args]),
          [0, 1].map((n) => [
            'remote-viewer',
            ['--full-screen', '--title', TITLE, `spice://127.0.0.1:40003?password=tk${n}`],
          ]),
        );
      });

      it('a refusal: says the server’s detail, waits, asks again; MACs from the interfaces', async () => {
        const net = join(root.path, `net-${shell.name.replace(' ', '-')}`);
        for (const [iface, mac] of [
          ['lo', '00:00:00:00:00:00'],
          ['eth0', '52:54:00:aa:bb:07'],
          ['eth1', '52:54:00:aa:bb:08'],
          ['wlan0', '00:00:00:00:00:00'],
        ] as const) {
          await mkdir(join(net, iface), { recursive: true });
          await writeFile(join(net, iface, 'address'), `${mac}\n`);
        }
        const outcome = await boot(shell.argv, {
          protocol: 'rdp',
          first: 'forbidden',
          clients: 'rdesktop',
          env: { LABVIRT_MAC: '', LABVIRT_NET_DIR: net, LABVIRT_ONCE: '1' },
        });
        assert.equal(outcome.code, 0, outcome.stderr);
        assert.deepEqual(formats(outcome), ['args:403', 'args:200']);
        assert.match(
          outcome.stderr,
          /labvirt: terminal "52:54:00:aa:bb:07" is disabled: an administrator can enable it again \(HTTP 403\)/,
        );
        const waited = outcome.seen[1]!.at - outcome.seen[0]!.at;
        assert.ok(waited >= 900, `asked again after ${waited} ms`);
        assert.equal(outcome.seen[0]!.query.get('mac'), '52:54:00:aa:bb:07,52:54:00:aa:bb:08');
        assert.deepEqual(outcome.runs, [
          {
            program: 'rdesktop',
            args: ['-f', '-T', TITLE, '127.0.0.1:40001'],
            vncPassword: '',
            file: [],
          },
        ]);
      });

      it('no answer: says so, retries, and cleans up when terminated', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'rdp',
          first: 'none',
          clients: 'xfreerdp',
          env: { LABVIRT_URL: 'http://127.0.0.1:1' },
          stopWhen: /(labvirt: no answer from http:\/\/127\.0\.0\.1:1: .+\n){2}/,
        });
        assert.equal(outcome.code, 143, outcome.stderr);
        assert.deepEqual(outcome.seen, []);
        assert.deepEqual(outcome.leftovers, [], 'the temporary directory is removed');
      });

      it('runs nothing the terminal has not installed, whatever the server says', async () => {
        const outcome = await boot(shell.argv, {
          protocol: 'rdp',
          first: 'none',
          clients: 'xfreerdp',
          env: { LABVIRT_ONCE: '1' },
          respond: () => ({ status: 200, body: 'rdesktop\n-f\nhost:1\n' }),
        });
        assert.equal(outcome.code, 1);
        assert.match(outcome.stderr, /not installed here: rdesktop/);
        assert.deepEqual(outcome.runs, []);
      });
    });
  }

  it('under dash with GNU wget: the refusal’s detail, then the client', async (t) => {
    const gnu = spawnSync('wget', ['--version'], { encoding: 'utf8' });
    if (gnu.error !== undefined || !gnu.stdout.includes('GNU Wget')) {
      t.skip('GNU wget is not installed');
      return;
    }
    const outcome = await boot(['dash'], {
      protocol: 'vnc',
      first: 'forbidden',
      clients: 'vncviewer',
      env: { LABVIRT_FETCHER: 'wget', LABVIRT_ONCE: '1' },
    });
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(formats(outcome), ['args:403', 'args:200']);
    assert.match(outcome.stderr, /terminal "52:54:00:aa:bb:07" is disabled: .* \(HTTP 403\)/);
    assert.deepEqual(
      outcome.runs.map((run) => [run.program, run.args, run.vncPassword]),
      [['vncviewer', ['-FullScreen', '127.0.0.1::40002'], 'tk1']],
    );
  });

  describe('under busybox sh with busybox wget only', () => {
    const onlyBusybox = (clients: string) => `${busyboxDir}:${clients}`;

    it('has wget and no curl on that PATH', () => {
      const found = spawnSync(busybox, ['sh', '-c', 'command -v wget; command -v curl'], {
        env: { PATH: onlyBusybox(clientsDir) },
        encoding: 'utf8',
      });
      assert.equal(found.error, undefined);
      assert.notEqual(found.status, 0);
      assert.equal(found.stdout, `${busyboxDir}/wget\n`);
    });

    it('rdp: 202, the vv refusal without a body, then xfreerdp twice', async () => {
      const outcome = await boot([busybox, 'sh'], {
        protocol: 'rdp',
        first: 'starting',
        clients: 'xfreerdp remote-viewer',
        path: onlyBusybox,
      });
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.deepEqual(formats(outcome), ['vv:202', 'vv:409', 'args:200', 'vv:409', 'args:200']);
      assert.deepEqual(
        outcome.runs.map((run) => run.program),
        ['xfreerdp', 'xfreerdp'],
      );
      assert.deepEqual(outcome.runs[0]!.args.slice(0, 2), ['/v:127.0.0.1:40001', '/cert:tofu']);
      assert.deepEqual(outcome.leftovers, []);
    });

    it('vnc with remote-viewer, and a refusal reported by its status', async () => {
      const outcome = await boot([busybox, 'sh'], {
        protocol: 'vnc',
        first: 'forbidden',
        clients: 'remote-viewer',
        path: onlyBusybox,
      });
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.deepEqual(formats(outcome), ['vv:403', 'vv:200', 'vv:200']);
      assert.match(outcome.stderr, /HTTP 403/);
      assert.deepEqual(
        outcome.runs.map((run) => run.file.find((line) => line.startsWith('password='))),
        ['password=tk1', 'password=tk2'],
      );
    });
  });

  it('bakes in only a plain server URL, quoted for sh', () => {
    assert.match(
      bootScript('http://10.0.0.1:8080/'),
      /^LABVIRT_URL=\$\{LABVIRT_URL:-'http:\/\/10\.0\.0\.1:8080'\}$/m,
    );
    assert.match(bootScript(), /^LABVIRT_URL=\$\{LABVIRT_URL:-''\}$/m);
    // Quotes and $( in the path stay data when the shell reads the line.
    const hostile = "http://x/a'b$(touch${IFS}pwned)`id`";
    const line = bootScript(hostile)
      .split('\n')
      .find((text) => text.startsWith('LABVIRT_URL='));
    const value = spawnSync('dash', ['-c', `${line}\nprintf %s "$LABVIRT_URL"`], {
      encoding: 'utf8',
      env: {},
    });
    assert.equal(value.stdout, new URL(hostile).href);
    for (const bad of ['ftp://x', 'http://u:p@x', 'http://x/?q=1', 'not a url']) {
      assert.throws(() => bootScript(bad), { code: 'URL_INVALID' });
    }
  });

  it('passes checkbashisms and shellcheck where installed', (t) => {
    const script = bootScript('http://127.0.0.1:8080');
    let ran = 0;
    for (const [tool, args] of [
      ['checkbashisms', ['-p', '-x', '-']],
      ['shellcheck', ['-s', 'sh', '-']],
    ] as const) {
      const result = spawnSync(tool, args, { input: script, encoding: 'utf8' });
      if (result.error !== undefined) continue;
      ran++;
      assert.equal(result.status, 0, `${tool}: ${result.stdout}${result.stderr}`);
    }
    if (ran === 0) t.skip('neither checkbashisms nor shellcheck is installed');
  });
});

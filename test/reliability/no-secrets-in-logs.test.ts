// No secret in the server's log: the real `labvirt server` process (this build's, through a
// launcher), at --log-level debug, in both --log-format json and text. A failed login, a
// login (session cookie, CSRF token), an API token made and used, a console WebSocket asked
// with a ticket in its URL (a forged ticket: the URL is logged before it is checked, so a
// real one would be logged the same), a sign-in link's token, a password change and a login
// with the new password; then none of those secrets is anywhere in stdout or stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, freePort, writeLauncher } from '../helpers/cli-server.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { hostileInputs, invariant } from './ledger.js';

const USER = 'root';

/** Runs this build's `labvirt ARGS`; resolves with its exit code and output. */
async function labvirt(
  launcher: string,
  args: readonly string[],
  input = '',
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [launcher, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: cliEnv(),
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

describe('no secret in the server’s log', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let launcher: string;
  let data: string;
  let password = `first password ${randomBytes(6).toString('hex')}`;

  before(async () => {
    dir = await tempDir('lv-secrets-');
    launcher = await writeLauncher(dir.path);
    data = join(dir.path, 'data');
    const added = await labvirt(
      launcher,
      ['user', 'add', USER, '--role', 'admin', '--password-stdin', '--data', data],
      `${password}\n`,
    );
    assert.equal(added.code, 0, added.output);
  });
  after(() => dir?.cleanup());

  for (const format of ['json', 'text'] as const) {
    it(`--log-format ${format}: no password, token, cookie, CSRF token or ticket`, async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const server = spawn(
        process.execPath,
        [
          launcher,
          'server',
          '--data',
          data,
          '--listen',
          `127.0.0.1:${port}`,
          '--no-local-host',
          '--log-level',
          'debug',
          '--log-format',
          format,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() },
      );
      let output = '';
      server.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      server.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const exited = once(server, 'exit');
      try {
        const secrets = await exercise(
          url,
          () => output,
          format,
          () => server.exitCode,
        );
        hostileInputs('secret sent to the server', Object.keys(secrets).length);
        if (server.exitCode === null) server.kill('SIGTERM');
        await exited;
        await invariant(
          'no password, token, cookie, CSRF token or ticket in the server’s log',
          () => {
            assert.ok(output.includes('incoming request') || output.includes('/api/v1/'), output);
            // The URLs that carried a ticket and a sign-in token were logged, redacted.
            assert.match(output, /ticket=\[redacted\]/, 'the console URL is in the log');
            assert.match(output, /token=\[redacted\]/, 'the sign-in URL is in the log');
            for (const [what, secret] of Object.entries(secrets)) {
              assert.ok(secret.length >= 8, `${what} is a real secret`);
              const line = output.split('\n').find((l) => l.includes(secret));
              assert.equal(line, undefined, `the ${what} is in the log (${format}): ${line}`);
            }
          },
        );
      } finally {
        if (server.exitCode === null) server.kill('SIGKILL');
      }
    });
  }

  /** Does what puts secrets on the wire; returns them by name. */
  async function exercise(
    url: string,
    output: () => string,
    format: string,
    exitCode: () => number | null,
  ): Promise<Record<string, string>> {
    await waitFor(
      'the server answers',
      async () => {
        assert.equal(exitCode(), null, output());
        return (await fetch(`${url}/api/v1/health`).catch(() => undefined))?.ok === true
          ? true
          : undefined;
      },
      60_000,
    );
    const post = (path: string, body: object, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const wrong = `wrong password ${randomBytes(6).toString('hex')}`;
    assert.equal(
      (await post('/api/v1/auth/login', { username: USER, password: wrong })).status,
      401,
    );

    const login = await post('/api/v1/auth/login', { username: USER, password });
    assert.equal(login.status, 200, await login.clone().text());
    const cookie = /labvirt_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(cookie);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const session = { cookie: `labvirt_session=${cookie}`, 'x-csrf-token': csrfToken };

    const made = await post('/api/v1/auth/tokens', { username: USER, password, name: format });
    assert.equal(made.status, 201);
    const { token } = (await made.json()) as { token: string };
    const me = await fetch(`${url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(me.status, 200);

    // The console's WebSocket takes its ticket in the URL (a browser cannot set headers).
    const ticket = randomBytes(32).toString('base64url');
    const ws = await fetch(`${url}/api/v1/vms/${randomUUID()}/console/ws?ticket=${ticket}`, {
      headers: { cookie: session.cookie, origin: url },
    });
    assert.ok(ws.status >= 400 && ws.status < 500, `console ws → ${ws.status}`);
    // A sign-in link's token: in the page's URL, then posted.
    const link = randomBytes(24).toString('base64url');
    await (await fetch(`${url}/sign-in?token=${link}`)).arrayBuffer();
    assert.equal((await post('/api/v1/auth/link', { token: link })).status, 401);

    const old = password;
    password = `next password ${randomBytes(6).toString('hex')}`;
    const changed = await fetch(`${url}/api/v1/users/${USER}/password`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...session },
      body: JSON.stringify({ currentPassword: old, password }),
    });
    assert.ok(changed.status < 300, `password change → ${changed.status}`);
    const again = await post('/api/v1/auth/login', { username: USER, password });
    assert.equal(again.status, 200);
    const newCookie = /labvirt_session=([^;]+)/.exec(again.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(newCookie);
    return {
      'wrong password': wrong,
      password: old,
      'new password': password,
      'session cookie': cookie,
      'new session cookie': newCookie,
      'CSRF token': csrfToken,
      'API token': token,
      'console ticket': ticket,
      'sign-in link token': link,
    };
  }
});

// startServer in-process: TLS, reverse proxies, a port in use, and a machine without QEMU
// (the real binary, with a PATH that has node but no QEMU).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HostAgent } from '../../src/agent/host-agent.js';
import { openDatabase } from '../../src/db/index.js';
import { startServer, type RunningServer } from '../../src/controller/server.js';
import { createUser } from '../../src/controller/services/users.js';
import { fails } from '../helpers/assertions.js';
import { fakeAgent as fakeHostAgent } from '../helpers/fake-agent.js';
import { tempDir } from '../helpers/env.js';
import { cliEnv, spawnServer } from '../helpers/cli-server.js';

const fakeAgent = (): Promise<{ agent: HostAgent; adopted: string[] }> =>
  Promise.resolve({ adopted: [], agent: fakeHostAgent() });

async function withUser(server: RunningServer): Promise<void> {
  await createUser(
    server.database.db,
    { principal: undefined, source: 'cli' },
    { username: 'ana', role: 'admin', password: 'ana password 1' },
    new Date(),
  );
}

describe('startServer', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ path: dir, cleanup } = await tempDir('lv-start-')));
  after(() => cleanup());

  it('records the client address from X-Forwarded-For only for trusted proxies', async () => {
    for (const [trustProxy, expected] of [
      [undefined, '127.0.0.1'],
      [['127.0.0.1'], '203.0.113.7'],
      [1, '203.0.113.7'],
    ] as const) {
      const server = await startServer({
        dataDir: join(dir, `proxy-${String(trustProxy)}`),
        host: '127.0.0.1',
        port: 0,
        trustProxy,
        startAgent: fakeAgent,
      });
      try {
        await withUser(server);
        const response = await fetch(`${server.url}/api/v1/auth/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
          body: JSON.stringify({ username: 'ana', password: 'ana password 1' }),
        });
        assert.equal(response.status, 201);
        const event = await server.database.db
          .selectFrom('audit_events')
          .select('source_ip')
          .where('action', '=', 'token.create')
          .executeTakeFirstOrThrow();
        assert.equal(event.source_ip, expected, `trustProxy ${String(trustProxy)}`);
      } finally {
        await server.close();
      }
    }
  });

  it('serves HTTPS with --tls-cert/--tls-key, with Secure session cookies', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const server = await startServer({
      dataDir: join(dir, 'tls'),
      host: '127.0.0.1',
      port: 0,
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
      startAgent: fakeAgent,
    });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      await withUser(server);
      const answer = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const req = request(
          `${server.url}/api/v1/auth/login`,
          {
            method: 'POST',
            ca: readFileSync(cert),
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie']) });
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ username: 'ana', password: 'ana password 1' }));
      });
      assert.equal(answer.status, 200);
      assert.match(answer.cookie, /; Secure/);
      assert.match(answer.cookie, /; HttpOnly/);
    } finally {
      await server.close();
    }
  });

  it('says which address is in use, and leaves nothing open', async () => {
    const first = await startServer({
      dataDir: join(dir, 'busy1'),
      host: '127.0.0.1',
      port: 0,
      startAgent: fakeAgent,
    });
    try {
      const port = Number(new URL(first.url).port);
      await assert.rejects(
        startServer({
          dataDir: join(dir, 'busy2'),
          host: '127.0.0.1',
          port,
          startAgent: fakeAgent,
        }),
        fails('LISTEN_FAILED', {
          address: `127.0.0.1:${port}`,
          reason: 'the address is already in use',
        }),
      );
    } finally {
      await first.close();
    }
  });

  it('starts without QEMU, says what to install, and marks the host unavailable', async () => {
    const bin = join(dir, 'node-only');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    const data = join(dir, 'no-qemu');
    const server = await spawnServer(['--data', data], {
      env: cliEnv({ PATH: bin }),
      cwd: dir,
    });
    try {
      assert.match(server.output(), /QEMU is not usable/);
      assert.match(server.output(), /apt-get install qemu-system-x86/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const database = await openDatabase({ dataDir: data });
    try {
      const host = await database.db.selectFrom('hosts').selectAll().executeTakeFirstOrThrow();
      assert.equal(host.state, 'unavailable');
      assert.match(host.state_reason ?? '', /qemu-system-x86/);
    } finally {
      await database.close();
    }
  });
});

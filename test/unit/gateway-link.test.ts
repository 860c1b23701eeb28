// GatewayLink after the agent's close: a connection that was on its way is dropped, not
// kept open (its socket would keep the agent's process alive). A plain Unix socket server
// stands in for the daemon; the process table is a fake that answers for its pid.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GatewayLink } from '../../src/agent/gateway-client.js';
import { DAEMON_FILE, gatewayDaemonPaths } from '../../src/agent/gateway-protocol.js';

describe('GatewayLink detach', () => {
  let dir: string;
  before(async () => {
    dir = resolve(await mkdtemp(join(tmpdir(), 'lv-gwlink-')));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('drops a connection that arrives after detach; ensure() then gives nothing', async () => {
    const paths = gatewayDaemonPaths(dir);
    await writeFile(paths.pidfile, '4242\n');
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket));
    await new Promise<void>((done) => server.listen(paths.socket, done));
    try {
      const link: GatewayLink = new GatewayLink(dir, {
        processes: {
          // The agent closes while the link looks for its daemon.
          liveCmdline: async (pid) => {
            link.detach();
            return pid === 4242 ? [process.execPath, `/x/${DAEMON_FILE}`, dir] : undefined;
          },
          signal: () => undefined,
        },
      });
      assert.equal(await link.ensure(false), undefined);
      const socket = await waitForSocket(accepted);
      await new Promise<void>((done) => {
        if (socket.closed) done();
        else socket.once('close', () => done());
      });
      assert.equal(await link.ensure(true), undefined, 'no new daemon or connection');
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((done) => server.close(done));
    }
  });
});

async function waitForSocket(accepted: Socket[]): Promise<Socket> {
  for (let i = 0; i < 500 && accepted[0] === undefined; i++) {
    await new Promise((done) => setTimeout(done, 10));
  }
  assert.ok(accepted[0] !== undefined, 'no connection came');
  return accepted[0];
}

// The agent's DHCP server on a real dnsmasq, on a bridge this test makes (no VM): it starts
// detached (its own log, never the test's pipes), a second manager (an agent restart)
// adopts it instead of starting another, a new hosts file reaches it by SIGHUP, it stops;
// a bridge without an address or one that is not there is a clear error, nothing left.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DnsmasqManager } from '../../src/agent/dnsmasq.js';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import { processAlive, tempDir, waitFor } from '../helpers/env.js';

async function sh(...argv: string[]): Promise<void> {
  const result = await nodeCommandRunner.run(argv, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr.trim()}`);
}

describe(
  'the managed dnsmasq on a real bridge',
  { skip: process.getuid?.() === 0 ? false : 'needs root (a bridge, DHCP on port 67)' },
  () => {
    const id = randomBytes(3).toString('hex');
    const bridge = `lvt${id}`;
    const bare = `lvt${id}b`;
    let dir: string;
    let cleanup: () => Promise<void>;
    const managers: DnsmasqManager[] = [];
    const manager = (on: string, sub = on) => {
      const made = new DnsmasqManager({ bridge: on, dir: join(dir, `dnsmasq-${sub}`) });
      managers.push(made);
      return made;
    };

    before(async () => {
      ({ path: dir, cleanup } = await tempDir('lv-dnsmasq-'));
      await sh('ip', 'link', 'add', bridge, 'type', 'bridge');
      await sh(
        'ip',
        'addr',
        'add',
        `10.${randomInt(100, 250)}.${randomInt(1, 250)}.1/24`,
        'dev',
        bridge,
      );
      await sh('ip', 'link', 'set', bridge, 'up');
      await sh('ip', 'link', 'add', bare, 'type', 'bridge');
    });

    after(async () => {
      for (const each of managers) await each.stop().catch(() => undefined);
      await sh('ip', 'link', 'del', bridge).catch(() => undefined);
      await sh('ip', 'link', 'del', bare).catch(() => undefined);
      await cleanup?.();
    });

    it('starts, is adopted by a second manager, re-reads its hosts on SIGHUP, stops', async () => {
      const first = manager(bridge);
      assert.deepEqual(await first.start(), { adopted: false });
      const pid = first.pid;
      assert.ok(pid !== undefined && (await processAlive(pid)));
      const log = () => readFile(first.paths.log, 'utf8');
      await waitFor('dnsmasq to read its hosts file', async () =>
        /read .*dhcp-hosts/.test(await log()) ? true : undefined,
      );

      const second = manager(bridge);
      assert.deepEqual(await second.start(), { adopted: true });
      assert.equal(second.pid, pid);

      await second.setHosts([{ mac: '52:54:00:aa:bb:01', ip: '10.0.0.9', name: 'pc-1' }]);
      assert.equal(
        await readFile(second.paths.hostsFile, 'utf8'),
        '52:54:00:aa:bb:01,10.0.0.9,pc-1\n',
      );
      await waitFor('dnsmasq to re-read its hosts file', async () =>
        ((await log()).match(/read .*dhcp-hosts/g) ?? []).length >= 2 ? true : undefined,
      );
      assert.equal(await processAlive(pid), true, 'SIGHUP did not end it');

      await second.stop();
      await waitFor('dnsmasq to end', async () => ((await processAlive(pid)) ? undefined : true));
      assert.equal(existsSync(second.paths.pidfile), false);
    });

    it('a dnsmasq gone meanwhile is started again by setHosts, never signalled blindly', async () => {
      const first = manager(bridge);
      await first.start();
      const pid = first.pid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      await waitFor('dnsmasq to end', async () => ((await processAlive(pid)) ? undefined : true));
      await first.setHosts([{ mac: '52:54:00:aa:bb:02', ip: '10.0.0.10', name: 'pc-2' }]);
      const again = first.pid;
      assert.ok(again !== undefined && again !== pid && (await processAlive(again)));
      await first.stop();
    });

    it('a bridge without an IPv4 address, or none at all: a clear error, nothing running', async () => {
      await assert.rejects(manager(bare).start(), { code: 'BRIDGE_NO_ADDRESS' });
      await assert.rejects(manager(`lvt${id}x`).start(), { code: 'BRIDGE_NOT_FOUND' });
      assert.equal(existsSync(join(dir, `dnsmasq-${bare}`)), false, 'nothing made');
    });

    it('a dnsmasq that cannot start or is not installed: DHCP_SERVER_FAILED saying why', async () => {
      const failing = new DnsmasqManager({
        bridge,
        dir: join(dir, 'failing'),
        binary: '/bin/false',
      });
      await assert.rejects(failing.start(), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DHCP_SERVER_FAILED');
        assert.match(
          error.message,
          new RegExp(`bridge ${bridge} did not start: it exited \\(1\\)`),
        );
        return true;
      });
      assert.equal(failing.pid, undefined);
      const missing = new DnsmasqManager({
        bridge,
        dir: join(dir, 'missing'),
        binary: '/nonexistent/dnsmasq',
      });
      await assert.rejects(
        missing.start(),
        /is not installed: install the Debian package dnsmasq-base/,
      );
    });
  },
);

// `labvirt host network-setup --apply` on a real kernel: a bridge, an uplink, an address,
// br_netfilter's sysctl and the nft table, made inside a network namespace of the test's
// own (bridges, nft tables and net.bridge.* sysctls are per namespace), with the plan's
// files under a temporary root (LABVIRT_NETWORK_SETUP_ROOT) instead of the real /etc.
// Removing the namespace in `after` removes everything the CLI made there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import { cliEnv } from '../helpers/cli-server.js';
import { tempDir, type CliResult } from '../helpers/env.js';

const hex = randomBytes(3).toString('hex');
const ns = `lvs${hex}`;
const bridge = `lvs${hex}`;
const uplink = `lvs${hex}u`;
const peer = `lvs${hex}p`;
const address = `10.77.${randomBytes(1)[0]! % 250}.1/24`;
const SYSCTL = '/proc/sys/net/bridge/bridge-nf-call-iptables';

async function sh(...argv: string[]): Promise<string> {
  const result = await nodeCommandRunner.run(argv);
  assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}
const inNs = (...argv: string[]) => sh('ip', 'netns', 'exec', ns, ...argv);
const linkJson = async (...args: string[]) =>
  (JSON.parse(await inNs('ip', '-j', ...args)) as Record<string, unknown>[])[0]!;

describe('labvirt host network-setup --apply', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let cli: string;
  let nsMade = false;

  /** The CLI of this build (bin/labvirt's two lines, importing the dist this test runs from). */
  function labvirt(args: string[], options: { root?: string; uid?: number } = {}) {
    const asUser =
      options.uid === undefined
        ? []
        : ['setpriv', `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups'];
    const env = cliEnv({ LABVIRT_NETWORK_SETUP_ROOT: options.root ?? join(dir, 'root') });
    return new Promise<CliResult>((resolve, reject) => {
      const child = spawn(
        'ip',
        ['netns', 'exec', ns, ...asUser, process.execPath, cli, 'host', 'network-setup', ...args],
        { stdio: ['ignore', 'pipe', 'pipe'], env },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const args = ['--bridge', bridge, '--uplink', uplink, '--address', address, '--apply'];

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lvs-'));
    await chmod(dir, 0o755); // the non-root run reads the CLI wrapper
    cli = join(dir, 'labvirt.mjs');
    const main = new URL('../../src/cli/main.js', import.meta.url).href;
    await writeFile(
      cli,
      `import { main } from '${main}';\nprocess.exitCode = await main(process.argv.slice(2));\n`,
    );
    await sh('ip', 'netns', 'add', ns);
    nsMade = true;
    await inNs('ip', 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', peer);
    // Off, as on a host without it, so --apply has to turn it on.
    await inNs('sysctl', '-w', 'net.bridge.bridge-nf-call-iptables=0');
  });

  after(async () => {
    // The bridge, the veths, the nft table and the namespace's sysctl go with it.
    if (nsMade) await sh('ip', 'netns', 'del', ns);
    await cleanup();
  });

  it('makes the bridge, its address, bridge.conf, the sysctl and the nft table', async () => {
    const result = await labvirt(args);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`warning: ${uplink} joins bridge ${bridge}`));
    const link = await linkJson('-d', 'link', 'show', 'dev', bridge);
    assert.equal((link.linkinfo as { info_kind: string }).info_kind, 'bridge');
    assert.ok((link.flags as string[]).includes('UP'), 'the bridge is up');
    const addrs = (await linkJson('addr', 'show', 'dev', bridge)).addr_info as {
      local: string;
      prefixlen: number;
    }[];
    assert.ok(
      addrs.some((a) => `${a.local}/${a.prefixlen}` === address),
      JSON.stringify(addrs),
    );
    assert.equal((await linkJson('link', 'show', 'dev', uplink)).master, bridge);
    const conf = await readFile(join(dir, 'root/etc/qemu/bridge.conf'), 'utf8');
    assert.ok(conf.split('\n').includes(`allow ${bridge}`), conf);
    assert.equal((await inNs('cat', SYSCTL)).trim(), '1');
    assert.match(await inNs('nft', 'list', 'table', 'inet', 'labvirt'), /ct state established/);
    assert.match(
      await readFile(join(dir, 'root/etc/sysctl.d/60-labvirt.conf'), 'utf8'),
      /^net\.bridge\.bridge-nf-call-iptables = 1$/m,
    );
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('['));
    assert.equal(lines.length, 11, result.stdout);
    assert.ok(
      lines.some((line) => line.includes(' done: sysctl -w ')),
      result.stdout,
    );
  });

  it('a second --apply finds everything done and skips it', async () => {
    const result = await labvirt(args);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('['));
    assert.equal(lines.length, 11, result.stdout);
    for (const line of lines) assert.match(line, /^\[\d+\/11\] skipped, already done: /);
    const conf = await readFile(join(dir, 'root/etc/qemu/bridge.conf'), 'utf8');
    assert.equal(conf, `allow ${bridge}\n`, 'the line is not added twice');
  });

  it('bad input, a non-root user or printing only change nothing', async () => {
    const other = `lvs${hex}b`;
    const root = join(dir, 'untouched');
    const cases: [string[], RegExp, number | undefined][] = [
      [['--bridge', 'bad name!', '--apply'], /interface name "bad name!" is not valid/, undefined],
      [
        ['--bridge', other, '--uplink', 'lvsnone0', '--apply'],
        /uplink "lvsnone0" is not/,
        undefined,
      ],
      [['--bridge', other, '--address', '10.77.0.1/99', '--apply'], /bridge address/, undefined],
      [
        ['--bridge', peer, '--apply'],
        new RegExp(`"${peer}" exists and is not a bridge`),
        undefined,
      ],
      [['--bridge', other, '--taps', 'maybe', '--apply'], /--taps/, undefined],
      [['--bridge', other, '--apply'], /needs root/, 65534],
    ];
    for (const [argv, message, uid] of cases) {
      const result = await labvirt(argv, { root, ...(uid !== undefined ? { uid } : {}) });
      assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.equal(result.stdout, '');
    }
    const printed = await labvirt(['--bridge', other, '--address', '10.77.0.1/24'], { root });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`^ip link add name ${other} type bridge$`, 'm'));
    const links = JSON.parse(await inNs('ip', '-j', 'link', 'show')) as { ifname: string }[];
    assert.deepEqual(links.map((l) => l.ifname).sort(), ['lo', bridge, peer, uplink].sort());
    await assert.rejects(readdir(root), { code: 'ENOENT' }, 'no file was written');
  });
});

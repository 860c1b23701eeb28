// `labvirt lab set-pool` and `labvirt dhcp export` end to end: the real server (SQLite),
// the CLI logged in as an admin. The export is exactly the file (dnsmasq's lines are
// checked by dnsmasq itself); refusals are one line on stderr, exit code 2, and nothing
// changed after them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/env.js';
import {
  addAdminAndLogin,
  cliEnv,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';

const PASSWORD = 'correct horse battery';

interface Entry {
  lab: string;
  terminal: string;
  mac: string;
  ip: string;
  name: string;
}

describe('labvirt lab set-pool and dhcp export over the API (SQLite)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: SpawnedServer;
  const env = () => cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') });
  const cli = (...args: string[]) => runCliWith(args, { env: env(), cwd: dir });
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr, '');
    return result.stdout;
  };
  const refused = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout} ${result.stderr}`);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${result.stderr}`);
    assert.match(lines[0]!, /^labvirt: error: /);
    return lines[0]!;
  };
  const state = async () => ({
    labs: await ok('lab', 'list', '--json'),
    terminals: await ok('terminal', 'list', '--json'),
  });

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-dcli-'));
    const data = join(dir, 'data');
    server = await spawnServer(['--data', data], { env: env(), cwd: dir });
    await addAdminAndLogin(server, data, { env: env(), cwd: dir, user: 'ana', password: PASSWORD });
    await ok('lab', 'create', 'Sala A');
    await ok('lab', 'create', 'Sala B');
    await ok('terminal', 'add', '02:00:00:00:0a:01', '--lab', 'Sala A', '--name', 'PC 1');
    await ok('terminal', 'add', '02:00:00:00:0a:02', '--lab', 'Sala A', '--name', 'PC 2');
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('set-pool gives the lab’s terminals addresses, shown by lab and terminal lists', async () => {
    assert.equal(await ok('dhcp', 'export'), '');
    assert.equal(
      await ok('lab', 'set-pool', 'Sala A', '10.40.0.0/29'),
      'Lab Sala A: address pool 10.40.0.1-10.40.0.6; its 2 terminals have addresses from it.\n',
    );
    assert.match(await ok('lab', 'list'), /^Sala A +2 +- +10\.40\.0\.1-10\.40\.0\.6 /m);
    assert.match(await ok('lab', 'show', 'Sala A'), /^Address pool: +10\.40\.0\.1-10\.40\.0\.6$/m);
    const labs = JSON.parse(await ok('lab', 'list', '--json')) as { addressPool: string | null }[];
    assert.deepEqual(
      labs.map((lab) => lab.addressPool),
      ['10.40.0.1-10.40.0.6', null],
    );
    const list = await ok('terminal', 'list');
    assert.match(list.split('\n')[0]!, /VM ADDRESS/);
    assert.match(list, /^02:00:00:00:0a:01 +PC 1 +Sala A +enrolled +- +- +10\.40\.0\.1 /m);
    assert.match(list, /^02:00:00:00:0a:02 +PC 2 +Sala A +enrolled +- +- +10\.40\.0\.2 /m);
    const terminals = JSON.parse(await ok('terminal', 'list', '--json')) as {
      address: string;
      vmMac: string;
    }[];
    assert.deepEqual(
      terminals.map((t) => t.address),
      ['10.40.0.1', '10.40.0.2'],
    );

    // A terminal added later gets the next address, and is in the export.
    await ok('terminal', 'add', '02:00:00:00:0b:01', '--lab', 'Sala B');
    await ok('terminal', 'move', '02:00:00:00:0b:01', '--lab', 'Sala A');
    const entries = JSON.parse(await ok('dhcp', 'export', '--format', 'json')) as Entry[];
    assert.deepEqual(
      entries.map((entry) => [entry.ip, entry.name, entry.terminal]),
      [
        ['10.40.0.1', 'pc-1', '02:00:00:00:0a:01'],
        ['10.40.0.2', 'pc-2', '02:00:00:00:0a:02'],
        ['10.40.0.3', 't-020000000b01', '02:00:00:00:0b:01'],
      ],
    );
    const vmMacs = entries.map((entry) => entry.mac);
    assert.deepEqual(
      vmMacs,
      [...terminals.map((t) => t.vmMac), entries[2]!.mac],
      'the terminals’ VM MACs',
    );
    assert.deepEqual(JSON.parse(await ok('dhcp', 'export', '--json')), entries);

    // Exactly the files, nothing around them.
    const dnsmasq = await ok('dhcp', 'export');
    assert.equal(dnsmasq, entries.map((e) => `${e.mac},${e.ip},${e.name}\n`).join(''));
    assert.equal(await ok('dhcp', 'export', '--format', 'dnsmasq', '--lab', 'Sala A'), dnsmasq);
    assert.equal(await ok('dhcp', 'export', '--lab', 'Sala B'), '');
    assert.equal(
      await ok('dhcp', 'export', '--format', 'dhcpd'),
      entries
        .map((e) => `host ${e.name} { hardware ethernet ${e.mac}; fixed-address ${e.ip}; }\n`)
        .join(''),
    );
    // dnsmasq reads each line as a --dhcp-host (what a --dhcp-hostsfile line is).
    for (const line of dnsmasq.trimEnd().split('\n')) {
      const check = spawnSync(
        '/usr/sbin/dnsmasq',
        ['--test', '--conf-file=/dev/null', `--dhcp-host=${line}`],
        { encoding: 'utf8' },
      );
      assert.equal(check.status, 0, `${line}: ${check.stderr}`);
      assert.match(check.stderr, /syntax check OK/);
    }
  });

  it('refusals name what is wrong and change nothing', async () => {
    const before = await state();
    assert.match(
      await refused('lab', 'set-pool', 'Sala B', '10.40.0.4-10.40.0.9'),
      /overlaps pool 10\.40\.0\.1-10\.40\.0\.6 of lab "Sala A"/,
    );
    assert.match(
      await refused('lab', 'set-pool', 'Sala A', '10.50.0.9-10.50.0.1'),
      /reversed: 10\.50\.0\.9 comes after 10\.50\.0\.1/,
    );
    assert.match(await refused('lab', 'set-pool', 'Sala A', '10.0.0.0/8'), /16777214 addresses/);
    assert.match(
      await refused('lab', 'set-pool', 'Sala A', '10.50.0.1-10.50.0.2'),
      /has 2 addresses, too few for its 3 terminals/,
    );
    assert.match(await refused('lab', 'set-pool', 'Sala Z', '10.50.0.1-10.50.0.9'), /Sala Z/);
    assert.match(await refused('lab', 'set-pool', 'Sala A'), /RANGE or --clear/);
    assert.match(
      await refused('lab', 'set-pool', 'Sala A', '10.50.0.1-10.50.0.9', '--clear'),
      /RANGE or --clear/,
    );
    assert.match(await refused('dhcp', 'export', '--format', 'bind'), /json.*dnsmasq.*dhcpd/);
    assert.match(await refused('dhcp', 'export', '--lab', 'Sala Z'), /Sala Z/);
    assert.deepEqual(await state(), before);
  });

  it('set-pool --clear takes the addresses back', async () => {
    assert.equal(
      await ok('lab', 'set-pool', 'Sala A', '--clear'),
      'Lab Sala A has no address pool now.\n',
    );
    assert.equal(await ok('dhcp', 'export'), '');
    const help = await ok('dhcp', 'export', '--help');
    assert.match(help, /--dhcp-hostsfile/);
  });
});

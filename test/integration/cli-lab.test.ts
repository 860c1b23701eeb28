// `labvirt lab set-profiles|timetable|subnets|start|stop` and `labvirt terminal
// pending|enrol|add --ip` end to end: the real server (SQLite), the CLI logged in as an
// admin; refusals as one line on stderr with exit code 2, and nothing changed after them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/index.js';
import { rows } from '../helpers/databases.js';
import { tempDir } from '../helpers/env.js';
import {
  addAdminAndLogin,
  cliEnv,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';

const PASSWORD = 'correct horse battery';

function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^labvirt: error: /);
  return lines[0]!;
}

interface Timetable {
  outside: string;
  slots: { text: string }[];
  now: { state: string; profile?: string };
}

describe('labvirt lab and terminal commands over the API (SQLite)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: SpawnedServer;
  let data = '';
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
    return oneErrorLine(result.stderr);
  };
  const timetable = async () =>
    JSON.parse(await ok('lab', 'timetable', 'Sala A', '--json')) as Timetable;

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-lcli-'));
    data = join(dir, 'data');
    server = await spawnServer(['--data', data], { env: env(), cwd: dir });
    await addAdminAndLogin(server, data, { env: env(), cwd: dir, user: 'ana', password: PASSWORD });
    await ok('profile', 'create', 'Windows');
    await ok('profile', 'create', 'Linux');
    await ok('lab', 'create', 'Sala A', '--timezone', 'UTC');
    await ok('lab', 'create', 'Sala B');
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('set-profiles: the lab’s profiles and its default one', async () => {
    const shown = await ok(
      'lab',
      'set-profiles',
      'Sala A',
      'Windows',
      'Linux',
      '--default',
      'Linux',
    );
    assert.match(shown, /^Default profile: +Linux$/m);
    assert.match(shown, /^Profiles: +Linux,Windows$/m);
    const error = await refused('lab', 'set-profiles', 'Sala A', 'Windows', '--default', 'Linux');
    assert.match(error, /profile "Linux" is not one of the profiles of lab "Sala A"/);
    const json = JSON.parse(await ok('lab', 'show', 'Sala A', '--json')) as {
      profiles: string[];
      defaultProfile: string;
    };
    assert.deepEqual([json.profiles, json.defaultProfile], [['Linux', 'Windows'], 'Linux']);
  });

  it('timetable: set, shown with what applies now, refused when wrong, cleared', async () => {
    const set = JSON.parse(
      await ok(
        'lab',
        'timetable',
        'Sala A',
        '--set',
        'mon-fri 08:00-10:00 Windows',
        '--set',
        'sat 09:00-24:00 Linux',
        '--outside',
        'closed',
        '--json',
      ),
    ) as Timetable;
    assert.deepEqual(
      set.slots.map((slot) => slot.text),
      ['mon-fri 08:00-10:00 Windows', 'sat 09:00-24:00 Linux'],
    );
    assert.equal(set.outside, 'closed');
    assert.ok(['open', 'closed'].includes(set.now.state));
    const text = await ok('lab', 'timetable', 'Sala A');
    assert.match(text, /^Outside the timetable: +closed$/m);
    // The next boundary on the lab's clock (UTC here, so it reads as the API's instant).
    const now = (await timetable()).now as { until?: string; opensAt?: string };
    const next = (now.until ?? now.opensAt ?? '').slice(0, 16).replace('T', ' ');
    const line =
      /^Now: +(open, with profile (Windows|Linux), until|closed \(outside the timetable\), opens at) (mon|tue|wed|thu|fri|sat|sun) (.*)$/m.exec(
        text,
      );
    assert.ok(line, text);
    assert.equal(line[4], next);
    assert.match(text, /^mon,tue,wed,thu,fri +08:00 +10:00 +Windows$/m);
    assert.match(text, /^sat +09:00 +24:00 +Linux$/m);

    const bad = await refused('lab', 'timetable', 'Sala A', '--set', 'mon-fri 10:00-08:00 Windows');
    assert.match(bad, /write it like mon-fri 08:00-10:00 PROFILE/);
    const overlap = await refused(
      'lab',
      'timetable',
      'Sala A',
      '--set',
      'mon 08:00-10:00 Windows',
      '--set',
      'mon 09:00-11:00 Linux',
    );
    assert.match(overlap, /"mon 08:00-10:00 Windows" and "mon 09:00-11:00 Linux" overlap/);
    await refused('lab', 'timetable', 'Sala A', '--outside', 'sometimes');
    assert.deepEqual(await timetable(), set, 'nothing changed');

    // --outside alone keeps the slots.
    await ok('lab', 'timetable', 'Sala A', '--outside', 'default');
    const kept = await timetable();
    assert.equal(kept.outside, 'default');
    assert.equal(kept.slots.length, 2);
    const cleared = await ok('lab', 'timetable', 'Sala A', '--clear');
    assert.match(cleared, /No timetable: the default profile all the time\./);
    assert.match(cleared, /^Now: +open, with profile Linux$/m);
  });

  it('subnets: normalised, listed, refused when another lab has them', async () => {
    assert.equal(
      await ok('lab', 'subnets', 'Sala A', '10.1.2.3/24', 'FD00::1/64'),
      '10.1.2.0/24\nfd00::/64\n',
    );
    assert.deepEqual(JSON.parse(await ok('lab', 'subnets', 'Sala A', '--json')), [
      '10.1.2.0/24',
      'fd00::/64',
    ]);
    const taken = await refused('lab', 'subnets', 'Sala B', '10.1.2.0/24');
    assert.match(taken, /subnet 10\.1\.2\.0\/24 already belongs to lab "Sala A"/);
    const bad = await refused('lab', 'subnets', 'Sala B', '10.1.2.0/99');
    assert.match(bad, /subnet "10\.1\.2\.0\/99" is not valid/);
    assert.match(await ok('lab', 'show', 'Sala A'), /^Subnets: +10\.1\.2\.0\/24,fd00::\/64$/m);
    assert.equal(await ok('lab', 'subnets', 'Sala B'), 'Lab Sala B has no subnets.\n');
    await ok('lab', 'subnets', 'Sala A', '--clear');
    assert.deepEqual(JSON.parse(await ok('lab', 'subnets', 'Sala A', '--json')), []);
  });

  it('terminals: add --ip, pending, enrol', async () => {
    const added = JSON.parse(
      await ok(
        'terminal',
        'add',
        '52:54:00:aa:00:01',
        '--lab',
        'Sala A',
        '--ip',
        '10.1.2.10',
        '--json',
      ),
    ) as { ip: string; lastIp: string | null };
    assert.deepEqual([added.ip, added.lastIp], ['10.1.2.10', null]);
    const taken = await refused(
      'terminal',
      'add',
      '52:54:00:aa:00:02',
      '--lab',
      'Sala A',
      '--ip',
      '10.1.2.10',
    );
    assert.match(taken, /address 10\.1\.2\.10 is already registered to terminal 52:54:00:aa:00:01/);
    assert.equal(await ok('terminal', 'pending'), 'No terminal is waiting to be enrolled.\n');

    // A terminal that asked for its configuration before anyone enrolled it.
    const database = await openDatabase({ dataDir: data });
    try {
      await database.db
        .insertInto('terminals')
        .values(rows.terminal({ mac: '52:54:00:aa:00:03', name: 'unknown', last_ip: '10.1.2.77' }))
        .execute();
    } finally {
      await database.close();
    }
    const pending = await ok('terminal', 'pending');
    assert.match(pending, /^MAC +NAME +LAB +STATE +IP +LAST IP +VM ADDRESS +LAST SEEN$/m);
    assert.match(pending, /^52:54:00:aa:00:03 +unknown +- +pending +- +10\.1\.2\.77 +- +-$/m);
    const enrolled = await ok(
      'terminal',
      'enrol',
      '52:54:00:AA:00:03',
      '--lab',
      'Sala B',
      '--name',
      'Back row',
    );
    assert.equal(enrolled, 'Terminal 52:54:00:aa:00:03 (Back row) enrolled in lab Sala B.\n');
    const again = await refused('terminal', 'enrol', '52:54:00:aa:00:03', '--lab', 'Sala A');
    assert.match(again, /already enrolled in lab "Sala B"/);
    assert.deepEqual(JSON.parse(await ok('terminal', 'pending', '--json')), []);
  });

  it('lab add (create) with --idle-minutes', async () => {
    const added = JSON.parse(
      await ok('lab', 'add', 'Sala C', '--idle-minutes', '20', '--json'),
    ) as { idleMinutes: number | null };
    assert.equal(added.idleMinutes, 20);
    assert.match(await refused('lab', 'add', 'Sala D', '--idle-minutes', 'soon'), /idleMinutes/);
    assert.match(await refused('lab', 'add', 'Sala D', '--idle-minutes', '0'), /idleMinutes/);
  });

  it('lab start and stop: an unknown lab is refused in one line', async () => {
    for (const action of ['start', 'stop']) {
      const error = await refused('lab', action, 'Nowhere');
      assert.match(error, /no lab "Nowhere"/);
    }
  });

  it('lab stop prints how many VMs it ended; lab start on a closed lab says so', async () => {
    assert.equal(await ok('lab', 'stop', 'Sala A'), 'Stopped 0 VMs.\n');
    assert.deepEqual(JSON.parse(await ok('lab', 'stop', 'Sala A', '--json')), { stopped: 0 });
    // Sala B has a terminal but no profile to run: closed.
    assert.match(await refused('lab', 'start', 'Sala B'), /"Sala B"/);
  });
});

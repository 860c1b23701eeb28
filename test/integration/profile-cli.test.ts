// `labvirt profile ...` end to end: the real server (SQLite) with an import directory and
// an ISO library, the CLI logged in as an admin. Import by path (a file in the server's
// import directory) and by upload (anywhere else), with progress on stderr; the settings,
// versions and clone commands; bad input as one line on stderr and exit code 2.
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256File, tempDir } from '../helpers/env.js';
import {
  addAdminAndLogin,
  cliEnv,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';
import { storeFiles } from '../helpers/image-store.js';
import { MIB, writeRawImage } from '../helpers/profile-images.js';

const PASSWORD = 'correct horse battery';

function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^labvirt: error: /);
  return lines[0]!;
}

/** The plain progress lines (stderr is not a terminal here): increasing, ending at 100%. */
function progressLines(stderr: string, label: string): number[] {
  const seen = [...stderr.matchAll(new RegExp(`^${label}: (\\d+)%$`, 'gm'))].map((m) =>
    Number(m[1]),
  );
  assert.ok(seen.length >= 2, `progress shown: ${stderr}`);
  assert.equal(seen.at(-1), 100);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!);
  return seen;
}

interface Version {
  number: number;
  published: boolean;
  sha256: string;
  chainDepth: number;
}

describe('labvirt profile over the API (SQLite)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: SpawnedServer;
  let data = '';
  let importDir = '';
  let elsewhere = '';
  const env = () => cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') });
  const cli = (...args: string[]) => runCliWith(args, { env: env(), cwd: dir });
  const versions = async (profile: string): Promise<Version[]> => {
    const listed = await cli('profile', 'versions', profile, '--json');
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout) as Version[];
  };

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-pcli-'));
    data = join(dir, 'data');
    importDir = join(dir, 'import');
    elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(join(dir, 'iso'));
    await writeFile(join(dir, 'iso', 'install.iso'), 'not really an ISO');
    // What an interrupted import and upload left: removed when the server starts.
    await mkdir(join(data, 'images', 'tmp', 'work'), { recursive: true });
    await writeFile(join(data, 'images', 'tmp', 'work', `${randomUUID()}.qcow2`), 'partial');
    await mkdir(join(importDir, '.uploads'), { recursive: true });
    await writeFile(join(importDir, '.uploads', `${randomUUID()}.upload`), 'partial');
    server = await spawnServer(
      ['--data', data, '--import-dir', importDir, '--iso-dir', join(dir, 'iso')],
      { env: env(), cwd: dir },
    );
    await addAdminAndLogin(server, data, { env: env(), cwd: dir, user: 'ana', password: PASSWORD });
    assert.deepEqual(await storeFiles(join(data, 'images')), [], 'partial files removed at start');
    assert.deepEqual(await storeFiles(join(importDir, '.uploads')), []);
    await writeRawImage(join(importDir, 'disk.img'), 8 * MIB, 'a');
    await writeRawImage(join(elsewhere, 'other.img'), 8 * MIB, 'b');
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('creates a profile with settings, shows and changes them', async () => {
    const created = await cli(
      'profile',
      'create',
      'golden',
      '--memory',
      '1024',
      '--cpus',
      '2',
      '--display',
      'vnc',
      '--cdrom',
      'install.iso',
      '--data-disks',
      '512,1024',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Profile golden created/);
    const set = await cli('profile', 'set', 'golden', '--nic', 'e1000', '--guest-port', '5900');
    assert.equal(set.code, 0, set.stderr);
    const shown = JSON.parse((await cli('profile', 'show', 'golden', '--json')).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(shown['memoryMiB'], 1024);
    assert.equal(shown['nicModel'], 'e1000');
    assert.equal(shown['guestPort'], 5900);
    assert.equal(shown['cdrom'], 'install.iso');
    assert.deepEqual(shown['dataDisks'], [{ sizeMiB: 512 }, { sizeMiB: 1024 }]);
    const table = await cli('profile', 'list');
    assert.match(table.stdout, /^golden +1024 +2 +vnc +none$/m);
  });

  it('refuses an ISO outside the library and bad numbers, in one line, exit 2', async () => {
    for (const args of [
      ['profile', 'set', 'golden', '--cdrom', '../../../etc/passwd'],
      ['profile', 'set', 'golden', '--cdrom', 'missing.iso'],
      ['profile', 'set', 'golden', '--memory', 'lots'],
      ['profile', 'create', '../evil'],
    ]) {
      const result = await cli(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      oneErrorLine(result.stderr);
    }
  });

  it('imports a file of the server’s import directory by path, with progress', async () => {
    const result = await cli(
      'profile',
      'import',
      'golden',
      join(importDir, 'disk.img'),
      '--format',
      'raw',
    );
    assert.equal(result.code, 0, result.stderr);
    progressLines(result.stderr, 'Working');
    assert.doesNotMatch(result.stderr, /Uploading/, 'sent as a path, not uploaded');
    assert.match(result.stdout, /Version 1 of profile golden imported and published/);
    const [v1] = await versions('golden');
    assert.equal(v1?.published, true);
    const files = await storeFiles(join(data, 'images'));
    assert.equal(files.length, 1);
    const path = join(data, 'images', files[0]!);
    assert.equal((await stat(path)).mode & 0o777, 0o444);
    assert.equal(v1?.sha256, await sha256File(path));
  });

  it('uploads a file from anywhere else, with progress; --json prints the final job', async () => {
    assert.equal((await cli('profile', 'create', 'uploaded')).code, 0);
    const result = await cli(
      'profile',
      'import',
      'uploaded',
      join(elsewhere, 'other.img'),
      '--format',
      'raw',
    );
    assert.equal(result.code, 0, result.stderr);
    progressLines(result.stderr, 'Uploading');
    progressLines(result.stderr, 'Working');
    const json = await cli('profile', 'import', 'uploaded', join(elsewhere, 'other.img'), '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '', 'no progress with --json');
    const job = JSON.parse(json.stdout) as { state: string; progress: number; result: Version };
    assert.equal(job.state, 'succeeded');
    assert.equal(job.progress, 100);
    assert.equal(job.result.number, 2);
    assert.deepEqual(
      (await versions('uploaded')).map((v) => [v.number, v.published]),
      [
        [1, true],
        [2, false],
      ],
    );
  });

  it('a bad image: one line, exit 2, nothing registered, nothing left', async () => {
    assert.equal((await cli('profile', 'create', 'victim')).code, 0);
    await writeFile(join(elsewhere, 'notes.txt'), 'not a disk image\n');
    const before = await storeFiles(join(data, 'images'));
    for (const file of [join(elsewhere, 'notes.txt'), join(dir, 'no-such.img')]) {
      const result = await cli('profile', 'import', 'victim', file);
      assert.equal(result.code, 2, result.stderr);
      oneErrorLine(
        result.stderr
          .split('\n')
          .filter((l) => !/^\w+: \d+%$/.test(l))
          .join('\n'),
      );
    }
    assert.deepEqual(await versions('victim'), []);
    assert.deepEqual(await storeFiles(join(data, 'images')), before);
    assert.deepEqual(await storeFiles(join(importDir, '.uploads')), []);
  });

  it('clones (linked and full), flattens, rolls back and deletes versions', async () => {
    const linked = await cli('profile', 'clone', 'golden', 'golden-linked');
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(linked.stdout, /Profile golden-linked is a clone of golden/);
    assert.equal((await versions('golden-linked'))[0]?.chainDepth, 2);

    const full = await cli('profile', 'clone', 'golden', 'golden-full', '--full');
    assert.equal(full.code, 0, full.stderr);
    progressLines(full.stderr, 'Working');
    assert.equal((await versions('golden-full'))[0]?.chainDepth, 1);

    const flat = await cli('profile', 'flatten', 'golden-linked');
    assert.equal(flat.code, 0, flat.stderr);
    progressLines(flat.stderr, 'Working');
    assert.deepEqual(
      (await versions('golden-linked')).map((v) => [v.number, v.chainDepth, v.published]),
      [
        [1, 2, false],
        [2, 1, true],
      ],
    );
    const published = await cli('profile', 'delete-version', 'golden-linked', '2');
    assert.equal(published.code, 2);
    assert.match(oneErrorLine(published.stderr), /published/);
    const rolled = await cli('profile', 'rollback', 'golden-linked', '1');
    assert.equal(rolled.code, 0, rolled.stderr);
    const deleted = await cli('profile', 'delete-version', 'golden-linked', '2');
    assert.equal(deleted.code, 0, deleted.stderr);
    const table = await cli('profile', 'versions', 'golden-linked');
    assert.match(
      table.stdout,
      /^VERSION +PUBLISHED +SIZE \(MiB\) +CHAIN +BY +CREATED +NOTE\n1 +\* /,
    );
    const gone = await cli('profile', 'delete', 'golden-full');
    assert.equal(gone.code, 0, gone.stderr);
  });
});

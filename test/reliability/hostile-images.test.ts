// Hostile disk images through the product's user-facing edges (POST /profiles/:name/import
// from the import directory, the upload, the ISO library), all in one place: a qcow2 backed
// by /etc/passwd or by a relative path out of the import directory, an external data file,
// a 1 PiB disk, symlinks and "../" names leading out. Each is refused with a catalogued 4xx
// (a problem+json, or the import job's error), nothing is registered in the database, no
// file is left in the store, and the host files they point at keep their sha256. A raw disk
// carrying a qcow2 header (what a guest can write) stays data: the VM started from it, with
// it as its CD-ROM too, opens no backing file (QEMU's argv and its open files say so).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { VmView } from '../../src/controller/services/vms.js';
import { problem } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { sha256File } from '../helpers/env.js';
import {
  hugeQcow2,
  qcow2BackedBy,
  qcow2WithDataFile,
  qemuImgCli,
  rawDiskWithQcow2Header,
} from '../helpers/hostile-images.js';
import { storeFiles } from '../helpers/image-store.js';
import { waitJob, type JobBody } from '../helpers/profile-images.js';
import { json, vmFixture, waitForState, type VmFixture } from '../helpers/vm-fixture.js';
import { hostileInputs, invariant } from './ledger.js';

const PROFILE = { memoryMiB: 32, cpus: 1, nicModel: 'virtio', diskBus: 'ide', display: 'vnc' };

describe('hostile images through the API', () => {
  let f: VmFixture;
  let importDir = '';
  let storeRoot = '';
  /** Host files the images point at, outside the import directory: never changed. */
  const hostFiles = new Map<string, string>();
  const at = (name: string) => join(importDir, name);
  const outside = (name: string) => join(f.dir, name);

  const admin = (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: unknown) =>
    f.request({ method, url: `/api/v1${url}`, as: f.users.admin, payload: payload as object });

  before(async () => {
    f = await vmFixture(dialects.find((d) => d.name === 'sqlite')!);
    importDir = join(f.dir, 'import');
    storeRoot = join(f.dir, 'images');
    await writeFile(outside('host-secret.raw'), randomBytes(1024 * 1024));
    json(await admin('POST', '/profiles', { name: 'victim', ...PROFILE }), 201);
  });
  after(() => f?.close());

  const hashHostFiles = async () => {
    for (const path of ['/etc/passwd', outside('host-secret.raw'), outside('host-data.raw')]) {
      hostFiles.set(path, await sha256File(path).catch(() => 'absent'));
    }
  };

  /** Nothing registered, nothing in the store, host files as they were. */
  const nothingHappened = async (what: string) => {
    const versions = await f.database.db.selectFrom('versions').select('id').execute();
    assert.deepEqual(versions, [], `${what}: no version registered`);
    const victim = await f.database.db
      .selectFrom('profiles')
      .select(['published_version_id', 'cdrom'])
      .where('name', '=', 'victim')
      .executeTakeFirstOrThrow();
    assert.deepEqual(victim, { published_version_id: null, cdrom: null }, what);
    assert.deepEqual(await storeFiles(storeRoot), [], `${what}: no file, partial or whole`);
    assert.deepEqual(await readdir(at('.uploads')).catch(() => []), [], `${what}: no upload`);
    for (const [path, sha256] of hostFiles) {
      assert.equal(await sha256File(path).catch(() => 'absent'), sha256, `${what}: ${path}`);
    }
  };

  /** A 4xx problem at once, or a job that fails with a 4xx: the catalogued code either way. */
  const refusedWith = async (response: LightMyRequestResponse, code: string, what: string) => {
    if (response.statusCode !== 202) {
      problem(response, 400, code, what);
      return;
    }
    const { job, seen }: { job: JobBody; seen: number[] } = await waitJob(
      f,
      response.json<JobBody>().id,
    );
    assert.equal(job.state, 'failed', `${what}: ${JSON.stringify(job)}`);
    assert.equal(job.error?.code, code, `${what}: ${JSON.stringify(job.error)}`);
    assert.ok(job.error.status >= 400 && job.error.status < 500, what);
    assert.ok(job.error.detail.length > 0, what);
    assert.ok(!seen.includes(100), `${what}: never reported done`);
  };

  const refusesImport = async (kind: string, cases: [payload: object, code: string][]) => {
    await hashHostFiles();
    hostileInputs(`hostile image: ${kind}`, cases.length);
    await invariant(
      `inv6: ${kind} refused (catalogued 4xx, nothing stored or registered, host files unchanged)`,
      async () => {
        for (const [payload, code] of cases) {
          const what = `${kind} ${JSON.stringify(payload)}`;
          await refusedWith(await admin('POST', '/profiles/victim/import', payload), code, what);
          await nothingHappened(what);
        }
      },
    );
  };

  it('a qcow2 backed by /etc/passwd, or by a relative path out of the import directory', async () => {
    const etc = qcow2BackedBy(at('etc.qcow2'));
    const relative = qcow2BackedBy(at('relative.qcow2'), '../host-secret.raw');
    const missing = qcow2BackedBy(at('missing.qcow2'), '../../x');
    // A symlink inside the import directory does not make its target inside.
    await symlink(outside('host-secret.raw'), at('inside-link.raw'));
    const linked = qcow2BackedBy(at('linked.qcow2'), 'inside-link.raw');
    await refusesImport('backing file outside', [
      [{ path: etc }, 'IMAGE_BACKING_OUTSIDE'],
      [{ path: etc, format: 'qcow2' }, 'IMAGE_BACKING_OUTSIDE'],
      [{ path: relative }, 'IMAGE_BACKING_OUTSIDE'],
      [{ path: missing }, 'IMAGE_BACKING_OUTSIDE'],
      [{ path: linked }, 'IMAGE_BACKING_OUTSIDE'],
    ]);
  });

  it('a qcow2 with an external data file (a host file, /etc/passwd)', async () => {
    const passwd = await qcow2WithDataFile(at('passwd-data.qcow2'));
    assert.match(qemuImgCli('info', '--output=json', passwd), /"data-file": "\/etc\/passwd"/);
    const file = at('host-data.qcow2');
    qemuImgCli(
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      `data_file=${outside('host-data.raw')}`,
      file,
      '1M',
    );
    await writeFile(outside('host-data.raw'), randomBytes(1024 * 1024));
    await refusesImport('external data file', [
      [{ path: passwd }, 'IMAGE_DATA_FILE'],
      [{ path: passwd, format: 'qcow2' }, 'IMAGE_DATA_FILE'],
      [{ path: file }, 'IMAGE_DATA_FILE'],
    ]);
  });

  it('a qcow2 of 1 PiB: refused before qemu-img reads it, nothing allocated', async () => {
    const huge = hugeQcow2(at('huge.qcow2'), '1P');
    await refusesImport('huge virtual size', [
      [{ path: huge }, 'IMAGE_TOO_LARGE'],
      [{ path: huge, format: 'qcow2' }, 'IMAGE_TOO_LARGE'],
    ]);
    assert.deepEqual(await readdir(join(storeRoot, 'tmp', 'work')).catch(() => []), []);
  });

  it('symlinks and "../" names out of the import directory: 400 before any job', async () => {
    await symlink('/etc/passwd', at('passwd-link.img'));
    await symlink(f.dir, at('escape'));
    await refusesImport('import path out of the import directory', [
      [{ path: at('passwd-link.img'), format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: 'passwd-link.img', format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: 'escape/host-secret.raw', format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: '../host-secret.raw', format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: `${importDir}/../host-secret.raw`, format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: `${importDir}/./../../../../etc/passwd` }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: '/etc/passwd', format: 'raw' }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: outside('host-secret.raw') }, 'IMPORT_SOURCE_OUTSIDE'],
      [{ path: '%2e%2e%2fhost-secret.raw' }, 'FILE_NOT_FOUND'],
      [{ path: 'disk.img\u0000../../etc/passwd' }, 'FIELD_INVALID'],
    ]);
  });

  it('an upload named "../../etc/passwd" is only a name in messages', async () => {
    await hashHostFiles();
    hostileInputs('hostile image: upload named with a traversal', 1);
    const image = await import('node:fs/promises').then((fs) =>
      fs.readFile(qcow2BackedBy(outside('upload.qcow2'))),
    );
    const response = await f.request({
      method: 'PUT',
      url: `/api/v1/profiles/victim/upload?name=${encodeURIComponent('../../etc/passwd')}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: image,
      as: f.users.admin,
    });
    await invariant('inv6: a hostile upload is refused and its name reaches no path', async () => {
      await refusedWith(response, 'IMAGE_BACKING_OUTSIDE', 'upload');
      await nothingHappened('upload');
    });
  });

  it('the ISO library: a symlink to a host file or a "../" name is no CD-ROM', async () => {
    await hashHostFiles();
    await symlink('/etc/passwd', join(f.isoDir, 'passwd.iso'));
    await symlink(outside('host-secret.raw'), join(f.isoDir, 'secret.iso'));
    const cases: [string, string][] = [
      ['passwd.iso', 'ISO_NOT_FOUND'],
      ['secret.iso', 'ISO_NOT_FOUND'],
      ['..', 'ISO_NAME_INVALID'],
      ['...', 'ISO_NAME_INVALID'],
      ['a..iso', 'ISO_NAME_INVALID'],
      ['../etc/passwd', 'FIELD_INVALID'],
      ['/etc/passwd', 'FIELD_INVALID'],
    ];
    hostileInputs('hostile image: ISO name out of the library', cases.length);
    await invariant(
      'inv6: an ISO outside the library is refused, the profile unchanged',
      async () => {
        for (const [cdrom, code] of cases) {
          problem(await admin('PATCH', '/profiles/victim', { cdrom }), 400, code, cdrom);
          await nothingHappened(`cdrom ${cdrom}`);
        }
      },
    );
  });

  it('a raw disk with a qcow2 header stays raw: its VM opens no backing file', async () => {
    const disk = await rawDiskWithQcow2Header(at('guest-disk.img'), outside('h.qcow2'));
    await rawDiskWithQcow2Header(join(f.isoDir, 'header.iso'), outside('h2.qcow2'));
    await hashHostFiles();
    hostileInputs('hostile image: raw disk with a qcow2 header', 2);
    // Detected, it would be a qcow2 backed by /etc/passwd: refused.
    await refusesImport('raw disk with a qcow2 header, format detected', [
      [{ path: disk }, 'IMAGE_BACKING_OUTSIDE'],
    ]);
    json(
      await admin('POST', '/profiles', { name: 'raw-header', ...PROFILE, cdrom: 'header.iso' }),
      201,
    );
    const started = json<JobBody>(
      await admin('POST', '/profiles/raw-header/import', { path: disk, format: 'raw' }),
      202,
    );
    const { job } = await waitJob(f, started.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    const row = await f.database.db.selectFrom('versions').select('file').executeTakeFirstOrThrow();
    const version = join(storeRoot, row.file);
    const vm = json<VmView>(await admin('POST', '/vms', { profile: 'raw-header' }), 201);
    await waitForState(f, vm.id, 'running');
    const record = await f.supervisor.runDir.readRecord(vm.name);
    const pid = await f.supervisor.runDir.readPid(vm.name);
    assert.ok(record !== undefined && pid !== undefined);
    const open = await openFiles(pid);
    await invariant(
      'inv6: a raw disk with a qcow2 header is data: no backing file opened',
      async () => {
        // The guest-visible content is the raw disk, byte for byte, in a qcow2 of its own.
        qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', disk, version);
        const info = JSON.parse(qemuImgCli('info', '-U', '--output=json', '-f', 'qcow2', version));
        assert.equal(info['backing-filename'], undefined);
        // Every block node names its format: QEMU probes nothing.
        const nodes = blockdevs(record.argv);
        assert.ok(nodes.length >= 2, record.argv.join(' '));
        for (const node of nodes)
          assert.ok(node.driver === 'qcow2' || node.driver === 'raw', JSON.stringify(node));
        const cdrom = nodes.find((node) => node.file.filename === join(f.isoDir, 'header.iso'));
        assert.equal(cdrom?.driver, 'raw', 'the ISO is opened as raw');
        for (const arg of record.argv) assert.doesNotMatch(arg, /\/etc\/passwd|host-secret/);
        // What QEMU really holds open: its overlay, the version and the ISO; no host file.
        assert.ok(open.includes(version), open.join('\n'));
        for (const path of open) assert.ok(!hostFiles.has(path), `QEMU opened ${path}`);
        for (const [path, sha256] of hostFiles)
          assert.equal(await sha256File(path).catch(() => 'absent'), sha256, path);
      },
    );
  });
});

interface Blockdev {
  readonly driver: string;
  readonly file: { readonly filename: string };
}

function blockdevs(argv: readonly string[]): Blockdev[] {
  return argv.flatMap((arg, i) =>
    argv[i - 1] === '-blockdev' ? [JSON.parse(arg) as Blockdev] : [],
  );
}

/** The files a process holds open, from /proc. */
async function openFiles(pid: number): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const links = await Promise.all(
    (await readdir(dir)).map((fd) => readlink(join(dir, fd)).catch(() => '')),
  );
  return links.filter((link) => link.startsWith('/'));
}

// Hostile names through the API, in every name a user can give (lab, profile, clone,
// terminal, user, host, API token, ISO, import file; and the ids in paths): "../" games,
// absolute paths, encoded dots, NUL, backslashes and very long names are refused with a 400
// (or a 404 for a reference that names nothing), change nothing in the database and make
// no file in the data directory or where they point. Free text (descriptions, a version's
// note) keeps them as inert text. Shell metacharacters are refused in names too; where they
// are accepted (descriptions, the note, an import file's name) a real import, a real client
// VM and a real admin session (qemu-img, QEMU) run with them and no canary file appears:
// they reach processes only as argv elements, literally, or not at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { fingerprint, PASSWORD } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { waitJob, type JobBody } from '../helpers/profile-images.js';
import { json, vmFixture, waitForState, type VmFixture } from '../helpers/vm-fixture.js';
import { hostileInputs, invariant } from './ledger.js';

const PROFILE = { memoryMiB: 32, cpus: 1, nicModel: 'virtio', diskBus: 'ide', display: 'vnc' };
const TERMINAL_MAC = '52:54:00:4e:4e:01';

const TRAVERSALS = [
  '../../etc/passwd',
  '..',
  '.',
  '/abs/evil',
  '%2e%2e%2f',
  '..%2F..%2Fevil',
  'ok/../../evil',
  '..\\..\\evil',
  '.hidden',
  'a\u0000b',
  'x'.repeat(300),
  '../'.repeat(40) + 'evil',
];

const tag = randomBytes(4).toString('hex');
/** Where each shell payload would leave its canary, if a shell ever ran it. */
const canary = (n: number) => `/tmp/pwned-${tag}-${n}`;
const SHELL = [
  `$(touch ${canary(1)})`,
  `\`touch ${canary(2)}\``,
  `x; touch ${canary(3)}`,
  `x | touch ${canary(4)}`,
  `x && touch ${canary(5)}`,
  `x\ntouch ${canary(6)}\n`,
  `'; touch ${canary(7)}; '`,
  `"; touch ${canary(8)}; "`,
];
/** An import file name (no "/"): its canaries are relative, so also looked for in cwds. */
const SHELL_FILE = `disk $(touch pwned-${tag}-f1); touch pwned-${tag}-f2 | \`touch pwned-${tag}-f3\`.img`;

describe('hostile names through the API', () => {
  let f: VmFixture;
  let importDir = '';
  const admin = (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: unknown) =>
    f.request({ method, url: `/api/v1${url}`, as: f.users.admin, payload: payload as object });
  const canaries = () => [
    ...SHELL.map((_, i) => canary(i + 1)),
    ...[1, 2, 3].flatMap((n) =>
      [process.cwd(), importDir, f.dir, '/tmp', '/'].map((dir) => join(dir, `pwned-${tag}-f${n}`)),
    ),
  ];

  before(async () => {
    f = await vmFixture(dialects.find((d) => d.name === 'sqlite')!);
    importDir = join(f.dir, 'import');
    json(await admin('POST', '/profiles', { name: 'victim', ...PROFILE }), 201);
    json(await admin('POST', '/terminals', { mac: TERMINAL_MAC, lab: 'lab-mine' }), 201);
  });
  after(() => f?.close());

  /** Every name field, as the request that sets it. */
  const nameRequests = (name: string): [string, 'POST' | 'PATCH', string, object][] => [
    ['lab name', 'POST', '/labs', { name }],
    ['lab rename', 'PATCH', '/labs/lab-mine', { name }],
    ['profile name', 'POST', '/profiles', { name, ...PROFILE }],
    ['profile rename', 'PATCH', '/profiles/victim', { name }],
    ['clone name', 'POST', '/profiles/victim/clone', { name }],
    ['terminal name', 'POST', '/terminals', { mac: '52:54:00:4e:4e:02', lab: 'lab-mine', name }],
    ['terminal rename', 'PATCH', `/terminals/${TERMINAL_MAC}`, { name }],
    ['user name', 'POST', '/users', { username: name, role: 'viewer', password: PASSWORD }],
    ['host name', 'POST', '/hosts', { name }],
    ['token name', 'POST', '/auth/tokens', { username: 'admin', password: PASSWORD, name }],
    ['ISO name', 'PATCH', '/profiles/victim', { cdrom: name }],
    ['import file name', 'POST', '/profiles/victim/import', { path: name, format: 'raw' }],
    ['rollback version', 'POST', '/profiles/victim/rollback', { version: name }],
  ];
  const pathRefs = ['/labs', '/profiles', '/terminals', '/users', '/hosts', '/vms'];

  /** The data directory's files: what a name must never add to. */
  const dataFiles = async () =>
    (await readdir(f.dir, { recursive: true })).filter((p) => !p.startsWith('run')).sort();

  const refusedEverywhere = async (kind: string, names: readonly string[]) => {
    const rows = await fingerprint(f.database);
    const files = await dataFiles();
    let tried = 0;
    await invariant(
      `inv6: ${kind} in every name refused (400), nothing stored, no file made`,
      async () => {
        for (const name of names) {
          for (const [field, method, url, payload] of nameRequests(name)) {
            const response = await admin(method, url, payload);
            tried++;
            const ok =
              response.statusCode === 400 ||
              (field === 'rollback version' && response.statusCode === 404);
            assert.ok(
              ok,
              `${field} ${JSON.stringify(name)} → ${response.statusCode} ${response.body}`,
            );
            assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
          }
          for (const ref of pathRefs) {
            const response = await admin('GET', `${ref}/${encodeURIComponent(name)}`);
            tried++;
            assert.ok(
              [400, 404].includes(response.statusCode),
              `GET ${ref}/${JSON.stringify(name)} → ${response.statusCode}`,
            );
          }
        }
        assert.deepEqual(await fingerprint(f.database), rows, 'no row changed');
        assert.deepEqual(await dataFiles(), files, 'no file made in the data directory');
        for (const name of names.filter((n) => n.includes('evil'))) {
          for (const base of [f.dir, importDir, f.isoDir, join(f.dir, 'images')]) {
            const target = resolve(base, name);
            assert.ok(!existsSync(target), `${target} exists`);
          }
        }
      },
    );
    hostileInputs(kind, tried);
  };

  it('path traversal in every name: refused, no row, no file', async () => {
    await refusedEverywhere('path traversal name', TRAVERSALS);
  });

  it('shell metacharacters in every name: refused, no row, no file', async () => {
    await refusedEverywhere('shell metacharacter name', SHELL);
    await invariant('inv6: no shell ran a refused name', () => {
      for (const path of canaries()) assert.ok(!existsSync(path), `${path} appeared`);
    });
  });

  it('free text keeps traversals and metacharacters as inert text', async () => {
    const texts = [...TRAVERSALS, ...SHELL].filter((t) => !t.includes('\u0000') && t.length <= 500);
    hostileInputs('hostile free text (descriptions)', texts.length * 2);
    const files = await dataFiles();
    await invariant(
      'hostile descriptions are stored and shown literally, no file made',
      async () => {
        for (const text of texts) {
          const lab = json<{ description: string }>(
            await admin('PATCH', '/labs/lab-mine', { description: text }),
            200,
          );
          assert.equal(lab.description, text);
          const profile = json<{ description: string }>(
            await admin('PATCH', '/profiles/victim', { description: text }),
            200,
          );
          assert.equal(profile.description, text);
        }
        for (const [url, body] of [
          ['/labs/lab-mine', { description: 'a\u0000b' }],
          ['/profiles/victim', { description: 'x'.repeat(501) }],
        ] as const) {
          assert.equal(
            (await admin('PATCH', url, body)).statusCode,
            400,
            JSON.stringify(body).slice(0, 40),
          );
        }
        assert.deepEqual(await dataFiles(), files);
      },
    );
  });

  it('metacharacters that are accepted reach qemu-img and QEMU only as argv elements', async () => {
    const description = SHELL.join(' ');
    json(await admin('POST', '/profiles', { name: 'shell-meta', description, ...PROFILE }), 201);
    await writeGuestDisk(join(importDir, SHELL_FILE), GuestMode.waitForPowerButton);
    const started = json<JobBody>(
      await admin('POST', '/profiles/shell-meta/import', { path: SHELL_FILE, format: 'raw' }),
      202,
    );
    const { job } = await waitJob(f, started.id);
    const noCanary = () => {
      for (const path of canaries()) assert.ok(!existsSync(path), `${path} appeared`);
    };
    await invariant('inv6: qemu-img ran no shell on an import file name', noCanary);
    assert.equal(
      job.state,
      'succeeded',
      `qemu-img took the file name as one argument: ${JSON.stringify(job)}`,
    );
    const client = json<VmView>(await admin('POST', '/vms', { profile: 'shell-meta' }), 201);
    await waitForState(f, client.id, 'running');
    // An admin session: its VM, then a version whose note is the payloads.
    const session = json<{ vm: VmView }>(
      await admin('POST', '/profiles/shell-meta/admin-session', {}),
      201,
    );
    await waitForState(f, session.vm.id, 'running');
    const argvs = await Promise.all(
      [client, session.vm].map(
        async (vm) => (await f.supervisor.runDir.readRecord(vm.name))?.argv ?? [],
      ),
    );
    json(await admin('POST', `/vms/${session.vm.id}/stop`, { force: true }), 200);
    const published = json<{ versionId: string }>(
      await admin('POST', '/profiles/shell-meta/admin-session/publish', { note: description }),
      200,
    );
    const versions = json<{ id: string; note: string }[]>(
      await admin('GET', '/profiles/shell-meta/versions'),
      200,
    );
    hostileInputs('shell metacharacters run through qemu-img and QEMU', SHELL.length + 3);
    await invariant(
      'inv6: no user input reaches a shell (no canary file; the note kept literally)',
      () => {
        noCanary();
        for (const argv of argvs) {
          assert.ok(argv.length > 0, 'the VM recorded its argv');
          for (const text of SHELL) {
            const carrying = argv.filter((arg) => arg.includes(canary(SHELL.indexOf(text) + 1)));
            for (const arg of carrying) assert.ok(arg.includes(text), `split into argv: ${arg}`);
          }
        }
        assert.equal(versions.find((v) => v.id === published.versionId)?.note, description);
      },
    );
  });
});

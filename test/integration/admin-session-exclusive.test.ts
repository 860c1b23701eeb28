// Invariant 3 under concurrency, on both dialects: 50 requests at once, mixing client VM
// starts and admin session opens (some with --force) on a profile whose policy is
// `exclusive`, never leave an administrative VM and a client VM of that profile running at
// the same time. Checked on the real processes: the run directory's VMs whose pidfile
// names a live process with the recorded argv (/proc), sampled all along; and on the rows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dialects } from '../helpers/databases.js';
import { delay } from '../helpers/env.js';
import {
  guestProfile,
  GuestMode,
  liveQemus,
  vmFixture,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';

const ALLOWED_REFUSALS = new Set([
  'ADMIN_SESSION_EXCLUSIVE',
  'ADMIN_SESSION_EXISTS',
  'ADMIN_SESSION_CLIENTS_RUNNING',
]);

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

for (const dialect of dialects) {
  describe(`exclusive admin sessions under concurrency on ${dialect.name}`, () => {
    let f: VmFixture;
    let p: TestProfile;
    before(async () => {
      // A short grace: a forced open may catch clients still in their BIOS, deaf to ACPI.
      f = await vmFixture(dialect, { vmStopGraceMs: 1_000 });
      p = await guestProfile(f, { mode: GuestMode.waitForPowerButton, policy: 'exclusive' });
      await f.app.vms.readyToPlace(); // registered once, so the first client start is not slower
    });
    after(() => f?.close());

    it('50 concurrent client starts and admin opens: never an admin VM and a client VM at once', async (t) => {
      const samples: { admin: string[]; clients: string[] }[] = [];
      let sampling = true;
      const monitor = (async () => {
        while (sampling) {
          const names = [...(await liveQemus(f.supervisor.runDir)).keys()];
          samples.push({
            admin: names.filter((name) => name.startsWith('admin-')),
            clients: names.filter((name) => name.startsWith('client-')),
          });
          await delay(5);
        }
      })();

      // All sent at once; client starts lead, so the opens meet clients starting and running.
      const kinds = [
        ...Array<string>(10).fill('client'),
        ...shuffle([
          ...Array<string>(15).fill('client'),
          ...Array<string>(15).fill('open'),
          ...Array<string>(10).fill('open-force'),
        ]),
      ];
      const answers = await Promise.all(
        kinds.map((kind) =>
          kind === 'client'
            ? f.request({
                method: 'POST',
                url: '/api/v1/vms',
                as: f.users.operator,
                payload: { profile: p.name },
              })
            : f.request({
                method: 'POST',
                url: `/api/v1/profiles/${p.name}/admin-session`,
                as: f.users.admin,
                payload: kind === 'open-force' ? { force: true } : {},
              }),
        ),
      );
      await delay(500); // a little longer: anything starting late would show
      sampling = false;
      await monitor;

      const outcome = answers.map((answer, index) => {
        if (answer.statusCode === 201) return `${kinds[index]}:201`;
        assert.equal(answer.statusCode, 409, answer.body);
        const code = answer.json<{ code: string }>().code;
        assert.ok(ALLOWED_REFUSALS.has(code), code);
        return `${kinds[index]}:${code}`;
      });
      const counts = new Map<string, number>();
      for (const o of outcome) counts.set(o, (counts.get(o) ?? 0) + 1);
      t.diagnostic(JSON.stringify(Object.fromEntries(counts)));
      const opened = outcome.filter((o) => o.startsWith('open') && o.endsWith(':201'));
      assert.ok(opened.length <= 1, `one admin session at most: ${opened.join(', ')}`);

      const both = samples.filter((s) => s.admin.length > 0 && s.clients.length > 0);
      assert.deepEqual(both, [], 'never an admin VM and a client VM running at once');
      assert.ok(samples.length > 20, `${samples.length} samples`);
      assert.ok(
        samples.some((s) => s.admin.length + s.clients.length > 0),
        'VMs were seen running',
      );

      // The rows agree with the processes.
      const db = f.database.db;
      const sessions = await db.selectFrom('admin_sessions').selectAll().execute();
      assert.equal(sessions.length, opened.length);
      const active = await db
        .selectFrom('vms')
        .select(['name', 'kind'])
        .where('state', 'in', ['starting', 'running', 'stopping'])
        .execute();
      const live = [...(await liveQemus(f.supervisor.runDir)).keys()].sort();
      assert.deepEqual(active.map((vm) => vm.name).sort(), live, 'one row per live VM');
      if (sessions.length === 1) {
        assert.deepEqual(
          active.filter((vm) => vm.kind === 'client'),
          [],
          'no client under the session',
        );
      }
    });
  });
}

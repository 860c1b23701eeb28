// A VM's end is told twice, at once: by the stop that asked for it and by its agent's exit
// event. On PostgreSQL (read committed) both transactions read the row active; the end must
// still be recorded once (one state change, one vm.end audit), or the row's updated_at moves
// after the "vm stopped" event went out (api-events once failed on exactly that).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';

const ROUNDS = 10;

for (const dialect of dialects) {
  describe(`a VM end told twice at once on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => {
      f = await createApiFixture(dialect);
    });
    after(() => f?.close());

    it(`is recorded once: one caller ends the row, one vm.end audited (${ROUNDS} rounds)`, async () => {
      const db = f.database.db;
      for (let round = 0; round < ROUNDS; round++) {
        const vm = rows.vm({ kind: 'manual', state: 'stopping' });
        await db.insertInto('vms').values(vm).execute();
        const ended = {
          name: vm.name,
          state: 'stopped',
          reason: undefined,
          stopMethod: undefined,
        } as const;
        const results = await Promise.all([f.app.vms.markEnded(ended), f.app.vms.markEnded(ended)]);
        assert.deepEqual(results.sort(), [false, true], `round ${round}: one of the two ended it`);
        const audits = await db
          .selectFrom('audit_events')
          .select('id')
          .where('action', '=', 'vm.end')
          .where('target_id', '=', vm.id)
          .execute();
        assert.equal(audits.length, 1, `round ${round}: one vm.end in the audit log`);
        const row = await db
          .selectFrom('vms')
          .select('state')
          .where('id', '=', vm.id)
          .executeTakeFirstOrThrow();
        assert.equal(row.state, 'stopped');
      }
    });
  });
}

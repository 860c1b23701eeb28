// A lab's placement policy (issue 8): spread over the hosts by default, or pack onto few;
// set at create and by PATCH, shown in the lab's view, audited; anything else is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiFixture, problem, snapshot, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';

for (const dialect of dialects) {
  describe(`lab placement on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());

    it('spread by default; pack at create; changed by PATCH and audited', async () => {
      assert.equal(f.labs.mine.placement, 'spread');
      const created = await f.request({
        method: 'POST',
        url: '/api/v1/labs',
        as: f.users.admin,
        payload: { name: 'Sala P', placement: 'pack' },
      });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json<{ placement: string }>().placement, 'pack');
      const changed = await f.request({
        method: 'PATCH',
        url: '/api/v1/labs/Sala%20P',
        as: f.users.admin,
        payload: { placement: 'spread' },
      });
      assert.equal(changed.json<{ placement: string }>().placement, 'spread');
      const audited = await f.database.db
        .selectFrom('audit_events')
        .select('details')
        .where('action', '=', 'lab.update')
        .execute();
      assert.ok(audited.some((row) => JSON.parse(row.details).placement === 'spread'));
      const listed = await f.request({ method: 'GET', url: '/api/v1/labs', as: f.users.viewer });
      assert.ok(listed.json<{ placement: string }[]>().every((lab) => lab.placement === 'spread'));
    });

    it('another policy is one 400 and changes nothing', async () => {
      const before = await snapshot(f.database);
      for (const placement of ['random', '', 1, null]) {
        problem(
          await f.request({
            method: 'PATCH',
            url: `/api/v1/labs/${f.labs.mine.id}`,
            as: f.users.admin,
            payload: { placement },
          }),
          400,
        );
      }
      assert.deepEqual(await snapshot(f.database), before);
    });
  });
}

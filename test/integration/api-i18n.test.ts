// The API's errors in the caller's language: Accept-Language, else the user's saved
// language, else English. The expected Spanish is read from po/es.po here, independently
// of the server's own catalogue loading.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { po } from 'gettext-parser';
import {
  formatMessage,
  messageTemplate,
  type ErrorCode,
  type ErrorParams,
} from '../../src/domain/errors.js';
import { createApiFixture, problem, type ApiFixture, type ApiUser } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { REPO_ROOT } from '../helpers/env.js';

const spanish = po.parse(readFileSync(join(REPO_ROOT, 'po/es.po'))).translations[''] ?? {};

/** The message as es.po has it (English where es.po has no translation yet). */
function inSpanish(code: ErrorCode, params: ErrorParams): string {
  return formatMessage(code, params, (msgid) => spanish[msgid]?.msgstr[0] || msgid);
}

for (const dialect of dialects) {
  describe(`API messages in the caller's language on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());

    const anonymous = (headers: Record<string, string>) =>
      f.request({ method: 'GET', url: '/api/v1/labs', headers });

    it('es.po translates the messages used here', () => {
      for (const code of ['AUTH_REQUIRED', 'FIELD_UNKNOWN', 'LAB_NOT_FOUND'] as const) {
        const translated = spanish[messageTemplate(code)]?.msgstr[0];
        assert.ok(translated && translated !== messageTemplate(code), `${code} is translated`);
      }
    });

    it('English by default', async () => {
      for (const headers of [
        {},
        { 'accept-language': 'fr-FR, de;q=0.8' },
        { 'accept-language': '*' },
      ]) {
        const response = await anonymous(headers);
        const body = problem(response, 401, 'AUTH_REQUIRED');
        assert.equal(body.detail, messageTemplate('AUTH_REQUIRED'));
        assert.equal(body.title, body.detail);
        assert.equal(response.headers['content-language'], 'en');
      }
    });

    it('Accept-Language: es gives Spanish titles and details', async () => {
      const expected = inSpanish('AUTH_REQUIRED', {});
      for (const header of ['es', 'es-MX', 'fr;q=0.9, es;q=0.5', 'en;q=0.1, es']) {
        const response = await anonymous({ 'accept-language': header });
        const body = problem(response, 401, 'AUTH_REQUIRED', header);
        assert.equal(body.detail, expected, header);
        assert.equal(body.title, expected, header);
        assert.equal(response.headers['content-language'], 'es', header);
      }
      const english = problem(await anonymous({ 'accept-language': 'en, es;q=0.5' }), 401);
      assert.equal(english.detail, messageTemplate('AUTH_REQUIRED'));
    });

    it('validation errors are translated with their parameters filled in', async () => {
      const response = await f.request({
        method: 'POST',
        url: '/api/v1/labs',
        payload: { name: 'x', colour: 'blue' },
        headers: { 'accept-language': 'es' },
        as: f.users.admin,
      });
      const body = problem(response, 400, 'FIELD_UNKNOWN');
      assert.equal(body.field, 'colour');
      assert.equal(body.detail, inSpanish('FIELD_UNKNOWN', { field: 'colour' }));
      assert.ok(body.detail.includes('colour'));
    });

    it('a user’s saved language is used when the request names none, and wins over one', async () => {
      const viewer: ApiUser = await f.freshToken(f.users.viewer);
      const notFound = (headers: Record<string, string> = {}) =>
        f.request({ method: 'GET', url: '/api/v1/labs/nowhere', headers, as: viewer });
      assert.equal(
        problem(await notFound(), 404).detail,
        formatMessage('LAB_NOT_FOUND', { lab: 'nowhere' }),
      );
      const saved = await f.request({
        method: 'PATCH',
        url: '/api/v1/auth/me',
        payload: { language: 'es' },
        as: viewer,
      });
      assert.equal(saved.statusCode, 200, saved.body);
      assert.equal(saved.json<{ language: string }>().language, 'es');
      const expected = inSpanish('LAB_NOT_FOUND', { lab: 'nowhere' });
      assert.equal(problem(await notFound(), 404).detail, expected);
      assert.equal(problem(await notFound({ 'accept-language': 'en' }), 404).detail, expected);
      // Back to no preference: the request's header decides again.
      await f.request({
        method: 'PATCH',
        url: '/api/v1/auth/me',
        payload: { language: null },
        as: viewer,
      });
      assert.equal(
        problem(await notFound(), 404).detail,
        formatMessage('LAB_NOT_FOUND', { lab: 'nowhere' }),
      );
      assert.equal(problem(await notFound({ 'accept-language': 'es' }), 404).detail, expected);
    });

    it('an unknown route answers in the caller’s language too', async () => {
      const response = await f.request({
        method: 'GET',
        url: '/api/v1/nothing',
        headers: { 'accept-language': 'es' },
      });
      const body = problem(response, 404, 'ROUTE_NOT_FOUND');
      assert.equal(
        body.detail,
        inSpanish('ROUTE_NOT_FOUND', { method: 'GET', url: '/api/v1/nothing' }),
      );
    });
  });
}

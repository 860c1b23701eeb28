// GET /api/v1/i18n and /i18n/:locale: the web console's catalogues, public, from the same
// po/ files the API's own messages use. The expected Spanish is read from po/es.po here,
// independently of the server's catalogue loader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { po } from 'gettext-parser';
import { messageTemplate } from '../../src/domain/errors.js';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { REPO_ROOT } from '../helpers/env.js';

interface WebCatalogue {
  locale: string;
  pluralForms: string;
  messages: Record<string, string[]>;
}

const spanishPo = po.parse(readFileSync(join(REPO_ROOT, 'po/es.po')));
const ENGLISH = { locale: 'en', pluralForms: 'nplurals=2; plural=(n != 1);', messages: {} };

const sqlite = dialects.find((dialect) => dialect.name === 'sqlite')!;

describe('the web console catalogues', () => {
  let f: ApiFixture;
  let spanish: WebCatalogue;
  before(async () => {
    f = await createApiFixture(sqlite);
    const response = await f.request({ method: 'GET', url: '/api/v1/i18n/es' });
    assert.equal(response.statusCode, 200, response.body);
    spanish = response.json<WebCatalogue>();
  });
  after(() => f?.close());

  it('lists the languages, English first, without logging in', async () => {
    const response = await f.request({ method: 'GET', url: '/api/v1/i18n' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { locales: ['en', 'es'] });
  });

  it("gives Spanish: es.po's header rule and its translated messages", () => {
    assert.equal(spanish.locale, 'es');
    assert.equal(spanish.pluralForms, spanishPo.headers['Plural-Forms']);
    const template = messageTemplate('AUTH_REQUIRED');
    assert.deepEqual(spanish.messages[template], [
      spanishPo.translations['']![template]!.msgstr[0],
    ]);
    assert.ok(Object.keys(spanish.messages).length > 100, 'the whole catalogue');
  });

  it('has exactly the complete entries of es.po: no fuzzy, no empty, plurals whole', () => {
    const expected: Record<string, string[]> = {};
    for (const [context, entries] of Object.entries(spanishPo.translations)) {
      for (const entry of Object.values(entries)) {
        if (entry.msgid === '') continue;
        if ((entry.comments?.flag ?? '').includes('fuzzy')) continue;
        const forms = entry.msgid_plural === undefined ? entry.msgstr.slice(0, 1) : entry.msgstr;
        if (forms.length === 0 || forms.includes('')) continue;
        expected[context ? `${context}\u0004${entry.msgid}` : entry.msgid] = forms;
      }
    }
    assert.deepEqual(spanish.messages, expected);
    const plural = Object.entries(spanishPo.translations[''] ?? {}).find(
      ([, entry]) => entry.msgid_plural !== undefined,
    );
    if (plural) assert.equal(spanish.messages[plural[0]]?.length, 2, 'both plural forms');
  });

  it('matches a regional tag to its language, and anything else to English', async () => {
    const regional = await f.request({ method: 'GET', url: '/api/v1/i18n/es-AR' });
    assert.deepEqual(regional.json(), spanish);
    for (const locale of ['en', 'en-GB', 'fr', 'xx-YY', '..%2F..%2Fetc', 'es%00']) {
      const response = await f.request({ method: 'GET', url: `/api/v1/i18n/${locale}` });
      assert.equal(response.statusCode, 200, locale);
      assert.deepEqual(response.json(), ENGLISH, locale);
    }
  });

  it('refuses a locale too long to be one', async () => {
    problem(
      await f.request({ method: 'GET', url: `/api/v1/i18n/${'a'.repeat(100)}` }),
      400,
      'FIELD_TOO_LONG',
    );
  });

  it('is the same for a logged-in user, whatever their own language', async () => {
    const response = await f.request({
      method: 'GET',
      url: '/api/v1/i18n/es',
      as: f.users.viewer,
      headers: { 'accept-language': 'en' },
    });
    assert.deepEqual(response.json(), spanish);
  });
});

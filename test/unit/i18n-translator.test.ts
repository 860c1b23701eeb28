import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { loadCatalogs, localeFromFileName, type Catalog } from '../../src/i18n/catalogs.js';
import { compilePluralExpression, parsePluralForms } from '../../src/i18n/plural.js';
import {
  availableLocales,
  createTranslator,
  localeFromEnv,
  N_,
  negotiateLocale,
  parseAcceptLanguage,
  translateError,
  translator,
} from '../../src/i18n/translator.js';

// A Polish-like fixture: three plural forms, a fuzzy entry, an empty one and a context.
const fixture = `msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"

msgid "hello {name}"
msgstr "witaj {name}"

#, fuzzy
msgid "stale"
msgstr "nieaktualne"

msgid "untranslated"
msgstr ""

msgctxt "verb"
msgid "Start"
msgstr "Uruchom"

msgid "{n} VM"
msgid_plural "{n} VMs"
msgstr[0] "{n} maszyna"
msgstr[1] "{n} maszyny"
msgstr[2] "{n} maszyn"
`;

describe('catalogue loading', () => {
  let directory = '';
  let catalog: Catalog;
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'labvirt-i18n-'));
    writeFileSync(join(directory, 'pl.po'), fixture);
    writeFileSync(join(directory, 'README'), 'not a catalogue');
    const catalogs = loadCatalogs(directory);
    assert.deepEqual([...catalogs.keys()], ['pl']);
    catalog = catalogs.get('pl')!;
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('translates and fills placeholders after translation', () => {
    const tr = createTranslator('pl', catalog);
    assert.equal(tr.t('hello {name}', { name: 'Ana' }), 'witaj Ana');
    assert.equal(tr.t('hello {name}'), 'witaj {name}', 'unknown placeholders stay visible');
    assert.equal(tr.t('hello {name}', { name: '{other}', other: 'x' }), 'witaj {other}');
  });

  it('falls back to the msgid for fuzzy, empty and missing entries', () => {
    const tr = createTranslator('pl', catalog);
    assert.equal(tr.t('stale'), 'stale');
    assert.equal(tr.t('untranslated'), 'untranslated');
    assert.equal(tr.t('never seen {x}', { x: 1 }), 'never seen 1');
  });

  it('keeps contexts apart', () => {
    const tr = createTranslator('pl', catalog);
    assert.equal(tr.tc('verb', 'Start'), 'Uruchom');
    assert.equal(tr.t('Start'), 'Start');
    assert.equal(tr.tc('noun', 'Start'), 'Start');
  });

  it('selects plural forms with the catalogue rule', () => {
    const tr = createTranslator('pl', catalog);
    const forms = [1, 2, 5, 12, 22, 25, 0].map((n) => tr.tn('{n} VM', '{n} VMs', n));
    assert.deepEqual(forms, [
      '1 maszyna',
      '2 maszyny',
      '5 maszyn',
      '12 maszyn',
      '22 maszyny',
      '25 maszyn',
      '0 maszyn',
    ]);
  });

  it('treats a missing directory as no translations', () => {
    assert.equal(loadCatalogs(join(directory, 'absent')).size, 0);
  });

  it('names locales after their files', () => {
    assert.equal(localeFromFileName('pt_BR.po'), 'pt-BR');
    assert.equal(localeFromFileName('es.po'), 'es');
  });
});

describe('plural rules', () => {
  it('evaluates C expressions without eval', () => {
    const rule = compilePluralExpression('n != 1');
    assert.deepEqual([0, 1, 2].map(rule), [1, 0, 1]);
    const french = compilePluralExpression('(n > 1)');
    assert.deepEqual([0, 1, 2].map(french), [0, 0, 1]);
    assert.equal(compilePluralExpression('0')(7), 0);
    assert.equal(compilePluralExpression('n%0')(7), 0, 'no division by zero');
    assert.equal(compilePluralExpression('!(n == 1)')(1), 0);
  });

  it('refuses anything that is not a plural expression', () => {
    for (const source of ['process.exit(1)', 'n ==', '(n', 'n ? 1', 'n; 1']) {
      assert.throws(() => compilePluralExpression(source), SyntaxError, source);
    }
  });

  it('falls back to n != 1 for an unreadable header and clamps to nplurals', () => {
    const broken = parsePluralForms('nplurals=2; plural=require("fs");');
    assert.deepEqual([broken.nplurals, broken.plural(1), broken.plural(3)], [2, 0, 1]);
    const overflowing = parsePluralForms('nplurals=2; plural=n;');
    assert.equal(overflowing.plural(5), 0);
    assert.equal(parsePluralForms(undefined).plural(2), 1);
  });
});

describe('locale negotiation', () => {
  const available = ['en', 'es', 'pt-BR'];

  it('orders Accept-Language by q-value, then position', () => {
    assert.deepEqual(parseAcceptLanguage('fr;q=0.5, es-AR, en;q=0.8, de;q=0, *'), [
      'es-AR',
      'en',
      'fr',
    ]);
    assert.deepEqual(parseAcceptLanguage('a;q=0.9,b;q=0.9,c;q=bogus'), ['a', 'b']);
  });

  it('prefers the saved preference, then the header, then English', () => {
    assert.equal(negotiateLocale('en-US,en;q=0.9', 'es', available), 'es');
    assert.equal(negotiateLocale('es-AR', 'xx', available), 'es');
    assert.equal(negotiateLocale('fr, es;q=0.3, en;q=0.2', null, available), 'es');
    assert.equal(negotiateLocale('en;q=0.4, es-MX;q=0.6', undefined, available), 'es');
    assert.equal(negotiateLocale('pt', undefined, available), 'pt-BR');
    assert.equal(negotiateLocale('fr, de', undefined, available), 'en');
    assert.equal(negotiateLocale(undefined, undefined, available), 'en');
    assert.equal(negotiateLocale('', '', available), 'en');
  });

  it('reads LC_ALL, LC_MESSAGES, LANG, then LANGUAGE', () => {
    const env = { LC_ALL: '', LC_MESSAGES: 'es_ES.UTF-8', LANG: 'en_US.UTF-8' };
    assert.equal(localeFromEnv(env, available), 'es');
    assert.equal(localeFromEnv({ ...env, LC_ALL: 'C' }, available), 'en');
    assert.equal(localeFromEnv({ LANG: 'C.UTF-8', LANGUAGE: 'es' }, available), 'en');
    assert.equal(localeFromEnv({ LANGUAGE: 'es_AR:en' }, available), 'es');
    assert.equal(localeFromEnv({ LANG: 'POSIX' }, available), 'en');
    assert.equal(localeFromEnv({ LANG: 'pt_BR.UTF-8@x' }, available), 'pt-BR');
    assert.equal(localeFromEnv({ LANG: 'de_DE.UTF-8' }, available), 'en');
    assert.equal(localeFromEnv({}, available), 'en');
  });
});

describe('the shipped catalogues', () => {
  it('offer English and Spanish', () => {
    assert.deepEqual(availableLocales().slice(0, 2), ['en', 'es']);
  });

  it('give cached translators, English for unknown locales', () => {
    assert.equal(translator('es-AR'), translator('es-AR'));
    assert.equal(translator('es-AR').locale, 'es');
    assert.equal(translator('xx').locale, 'en');
    assert.equal(translator('en').t('a {b}', { b: 'c' }), 'a c');
    assert.equal(translator('en').tn('{n} VM', '{n} VMs', 2), '2 VMs');
    assert.equal(translator('en').tn('{n} VM', '{n} VMs', 1), '1 VM');
  });

  it('translate errors by code and fill in their parameters', () => {
    const error = new LabvirtError('LAB_NOT_FOUND', { lab: 'aula-3' });
    assert.equal(translateError(error, translator('en')), error.message);
    assert.equal(translateError(error, translator('es')), 'no existe el laboratorio "aula-3"');
  });

  it('marks strings for extraction without changing them', () => {
    assert.equal(N_('a {b}'), 'a {b}');
  });
});

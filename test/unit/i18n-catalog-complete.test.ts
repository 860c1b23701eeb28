// Guards the workflow: a new user-facing string must reach po/labvirt.pot and be translated
// in po/es.po. When these fail, run `npm run i18n` and translate the new entries in po/es.po.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { po, type GetTextTranslations } from 'gettext-parser';
import { buildTemplate, repoRoot } from '../../scripts/extract-messages.js';
import { isFuzzy } from '../../src/i18n/catalogs.js';

const fix = 'run `npm run i18n`, then translate the empty or fuzzy entries of po/es.po';

/** "context\u0004msgid\u0000plural" for every real entry (not the header or obsolete ones). */
function keys(catalog: GetTextTranslations): Set<string> {
  const result = new Set<string>();
  for (const [context, entries] of Object.entries(catalog.translations)) {
    for (const entry of Object.values(entries)) {
      if (entry.msgid === '') continue;
      result.add(`${context}\u0004${entry.msgid}\u0000${entry.msgid_plural ?? ''}`);
    }
  }
  return result;
}

const placeholders = (text: string): string[] => [...new Set(text.match(/\{\w+\}/g) ?? [])].sort();

const readPo = (name: string): GetTextTranslations =>
  po.parse(readFileSync(join(repoRoot, 'po', name)));

describe('message catalogues', () => {
  it('po/labvirt.pot is up to date with the source', () => {
    const committed = keys(readPo('labvirt.pot'));
    const current = keys(buildTemplate());
    const missing = [...current].filter((key) => !committed.has(key));
    const stale = [...committed].filter((key) => !current.has(key));
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] }, fix);
  });

  it('po/es.po translates every message, keeping its placeholders', () => {
    const spanish = readPo('es.po');
    const problems: string[] = [];
    for (const [context, entries] of Object.entries(readPo('labvirt.pot').translations)) {
      for (const { msgid, msgid_plural: plural } of Object.values(entries)) {
        if (msgid === '') continue;
        const entry = spanish.translations[context]?.[msgid];
        if (!entry) problems.push(`missing: ${msgid}`);
        else if (isFuzzy(entry)) problems.push(`fuzzy: ${msgid}`);
        else if (entry.msgstr.length === 0 || entry.msgstr.some((form) => form === ''))
          problems.push(`untranslated: ${msgid}`);
        else {
          const expected = placeholders(`${msgid} ${plural ?? ''}`);
          for (const form of entry.msgstr) {
            // A plural form may leave out {n} (e.g. "one VM"), never add or drop others.
            const got = placeholders(form);
            const same = (list: string[]) => list.filter((name) => name !== '{n}' || !plural);
            if (same(got).join() !== same(expected).join())
              problems.push(`placeholders ${got.join()} ≠ ${expected.join()}: ${msgid}`);
          }
        }
      }
    }
    assert.deepEqual(problems, [], fix);
  });

  it('po/es.po passes msgfmt --check-format', () => {
    const result = spawnSync('msgfmt', ['--check-format', '-o', '/dev/null', 'po/es.po'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.equal(result.error, undefined, 'msgfmt is missing: install Debian package gettext');
    assert.equal(result.status, 0, result.stderr);
  });

  it('extracts t, tn, tc and N_ calls, bare or on any object, with references', () => {
    const root = mkdtempSync(join(tmpdir(), 'labvirt-extract-'));
    try {
      mkdirSync(join(root, 'src'));
      const source = [
        "const table = { a: N_('from a table') };",
        "tr.t('plain {x}', { x: 1 });",
        '// TRANSLATORS: shown on the terminal screen',
        "io.t('commented');",
        "request.tr.tn('{n} VM', '{n} VMs', count);",
        "this.tr.tc('verb', 'Start');",
        't(variable);',
        "other('not marked');",
      ].join('\n');
      writeFileSync(join(root, 'src', 'sample.ts'), source);
      const table = buildTemplate(root).translations;
      assert.equal(table['']?.['from a table']?.comments?.reference, 'src/sample.ts:1');
      assert.equal(table['']?.['plain {x}']?.comments?.flag, 'python-brace-format');
      assert.equal(table['']?.['commented']?.comments?.extracted, 'shown on the terminal screen');
      assert.equal(table['']?.['{n} VM']?.msgid_plural, '{n} VMs');
      assert.equal(table['verb']?.['Start']?.msgctxt, 'verb');
      assert.equal(table['']?.['not marked'], undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("extracts the web console's strings from web/src, .tsx with JSX included", () => {
    const root = mkdtempSync(join(tmpdir(), 'labvirt-extract-'));
    try {
      mkdirSync(join(root, 'src'));
      mkdirSync(join(root, 'web/src/pages'), { recursive: true });
      writeFileSync(join(root, 'src', 'server.ts'), "tr.t('Labs');\n");
      const page = [
        'export function Labs({ n }: { n: number }) {',
        '  const { t, tn, tc } = useI18n();',
        '  return (',
        '    <Page title={t("Labs")}>',
        "      <Button aria-label={t('Start lab {name}', { name })}>{tc('verb', 'Start')}</Button>",
        "      <p>{tn('one VM', '{count} VMs', n, { count: n })}</p>",
        '    </Page>',
        '  );',
        '}',
      ].join('\n');
      writeFileSync(join(root, 'web/src/pages', 'labs.tsx'), page);
      writeFileSync(join(root, 'web/src', 'nav.ts'), "export const items = [N_('Hosts')];\n");
      const table = buildTemplate(root).translations;
      // One entry for a string both sides use, with both references.
      assert.equal(
        table['']?.['Labs']?.comments?.reference,
        'src/server.ts:1\nweb/src/pages/labs.tsx:4',
      );
      assert.equal(table['']?.['Start lab {name}']?.comments?.flag, 'python-brace-format');
      assert.equal(table['verb']?.['Start']?.msgctxt, 'verb');
      assert.equal(table['']?.['one VM']?.msgid_plural, '{count} VMs');
      assert.equal(table['']?.['Hosts']?.comments?.reference, 'web/src/nav.ts:1');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

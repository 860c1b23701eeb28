// Loads the gettext catalogues (po/*.po) into memory. They are read synchronously: the set
// is small, and a translator must be usable from the first request or CLI line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { po, type GetTextTranslation } from 'gettext-parser';
import { parsePluralForms, type PluralRule } from './plural.js';

/** From dist/src/i18n/ the repository root is three levels up. */
export const defaultPoDirectory = new URL('../../../po/', import.meta.url);

export interface Catalog {
  /** BCP 47 tag taken from the file name: es.po → "es", pt_BR.po → "pt-BR". */
  readonly locale: string;
  readonly nplurals: number;
  readonly plural: PluralRule;
  /** The Plural-Forms header as written (the web console evaluates it itself). */
  readonly pluralForms?: string;
  /** Translated forms by messageKey(); only entries usable as translations are kept. */
  readonly messages: ReadonlyMap<string, readonly string[]>;
}

/** gettext's own key: the context and the msgid joined by EOT. */
export function messageKey(context: string | undefined, msgid: string): string {
  return context ? `${context}\u0004${msgid}` : msgid;
}

export function isFuzzy(entry: GetTextTranslation): boolean {
  return (entry.comments?.flag ?? '').split(',').some((flag) => flag.trim() === 'fuzzy');
}

/** Parse one .po file's text. Fuzzy and untranslated entries are left out so they fall back. */
export function parseCatalog(locale: string, source: string | Buffer): Catalog {
  const parsed = po.parse(source);
  const headers = Object.fromEntries(
    Object.entries(parsed.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const { nplurals, plural } = parsePluralForms(headers['plural-forms']);
  const messages = new Map<string, string[]>();
  for (const [context, entries] of Object.entries(parsed.translations)) {
    for (const entry of Object.values(entries)) {
      if (entry.msgid === '' || isFuzzy(entry)) continue; // '' is the header
      const forms = entry.msgid_plural === undefined ? entry.msgstr.slice(0, 1) : entry.msgstr;
      // A partly translated plural would show English for some n: treat it as untranslated.
      if (forms.length === 0 || forms.some((form) => form === '')) continue;
      messages.set(messageKey(context, entry.msgid), forms);
    }
  }
  const pluralForms = headers['plural-forms'];
  return { locale, nplurals, plural, messages, ...(pluralForms ? { pluralForms } : {}) };
}

/** "pt_BR" → "pt-BR", "ES" → "es": the file-name convention to a BCP 47 tag. */
export function localeFromFileName(name: string): string {
  const [language = '', region] = name.replace(/\.po$/, '').split(/[_-]/);
  return region ? `${language.toLowerCase()}-${region.toUpperCase()}` : language.toLowerCase();
}

/** The *.po files of a directory by locale (a missing directory means no translations). */
export function catalogFiles(
  directory: URL | string = defaultPoDirectory,
): Map<string, URL | string> {
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith('.po'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  return new Map(
    names
      .sort()
      .map((name) => [
        localeFromFileName(name),
        typeof directory === 'string' ? join(directory, name) : new URL(name, directory),
      ]),
  );
}

/** Every *.po in a directory, parsed. */
export function loadCatalogs(directory: URL | string = defaultPoDirectory): Map<string, Catalog> {
  const catalogs = new Map<string, Catalog>();
  for (const [locale, path] of catalogFiles(directory))
    catalogs.set(locale, parseCatalog(locale, readFileSync(path)));
  return catalogs;
}

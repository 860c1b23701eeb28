// Translators over the gettext catalogues, and the choice of locale for a request (Accept-
// Language, the user's saved preference) or a CLI run (LC_ALL/LC_MESSAGES/LANG/LANGUAGE).
// English is the source language: its "translation" is the msgid itself.
import { readFileSync } from 'node:fs';
import { formatMessage, type LabvirtError } from '../domain/errors.js';
import { catalogFiles, messageKey, parseCatalog, type Catalog } from './catalogs.js';
import { germanicPlural } from './plural.js';

export type MessageParams = Readonly<Record<string, string | number>>;

export interface Translator {
  readonly locale: string;
  /** Translate msgid, then fill its {name} placeholders from params. */
  t(msgid: string, params?: MessageParams): string;
  /** Plural: picks the form for n; {n} is filled with n unless params say otherwise. */
  tn(singular: string, plural: string, n: number, params?: MessageParams): string;
  /** Translate msgid in a context (msgctxt), for words that differ by use. */
  tc(context: string, msgid: string, params?: MessageParams): string;
}

export const sourceLocale = 'en';

/**
 * Marks a string for extraction where no translator exists yet (constant tables); the
 * caller translates it later with tr.t(value). Returns its argument unchanged.
 */
export function N_<T extends string>(msgid: T): T {
  return msgid;
}

/** Fill {name} placeholders; unknown names stay visible, as in the error catalogue. */
export function interpolate(template: string, params: MessageParams = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    Object.hasOwn(params, key) ? String(params[key]) : whole,
  );
}

/** A translator over one catalogue; no catalogue gives English. Not cached. */
export function createTranslator(locale: string, catalog: Catalog | undefined): Translator {
  const lookup = (key: string): readonly string[] | undefined => catalog?.messages.get(key);
  const pluralIndex = catalog?.plural ?? germanicPlural;
  return {
    locale,
    t: (msgid, params) => interpolate(lookup(msgid)?.[0] ?? msgid, params),
    tc: (context, msgid, params) =>
      interpolate(lookup(messageKey(context, msgid))?.[0] ?? msgid, params),
    tn: (singular, plural, n, params) => {
      const forms = lookup(singular);
      const chosen = forms?.[pluralIndex(n)] ?? (germanicPlural(n) ? plural : singular);
      return interpolate(chosen, { n, ...params });
    },
  };
}

let files: ReadonlyMap<string, URL | string> | undefined;
const parsed = new Map<string, Catalog>();
const translators = new Map<string, Translator>();

/**
 * The catalogue in po/ for an available locale, parsed on first use: a server or CLI start
 * in English parses none (parsing every file cost a start ~80 ms).
 */
export function defaultCatalog(locale: string): Catalog | undefined {
  let catalog = parsed.get(locale);
  const path = (files ??= catalogFiles()).get(locale);
  if (catalog === undefined && path !== undefined) {
    catalog = parseCatalog(locale, readFileSync(path));
    parsed.set(locale, catalog);
  }
  return catalog;
}

/** The locales there are messages for, English first. */
export function availableLocales(): string[] {
  const translated = [...(files ??= catalogFiles()).keys()].filter(
    (locale) => locale !== sourceLocale,
  );
  return [sourceLocale, ...translated.sort()];
}

/** "es_AR.UTF-8@euro" → "es-ar": comparable form of a POSIX or BCP 47 tag. */
function normalizeTag(tag: string): string {
  return tag
    .trim()
    .replace(/[.@].*$/, '')
    .replace(/_/g, '-')
    .toLowerCase();
}

/**
 * The available locale serving tag: an exact match, else the same language ("es-AR" → "es"),
 * else, for a bare language, any region of it ("pt" → "pt-BR"). undefined when none.
 */
export function matchLocale(tag: string, available: readonly string[]): string | undefined {
  const wanted = normalizeTag(tag);
  if (wanted === '') return undefined;
  const language = wanted.split('-')[0];
  return (
    available.find((locale) => locale.toLowerCase() === wanted) ??
    available.find((locale) => locale.toLowerCase() === language) ??
    available.find((locale) => locale.toLowerCase().split('-')[0] === language)
  );
}

/** The translator for the best catalogue for locale ('es-AR' → es; unknown → English). */
export function translator(locale: string): Translator {
  // Cached by the matched locale, so arbitrary input cannot grow the cache.
  const matched = matchLocale(locale, availableLocales()) ?? sourceLocale;
  let result = translators.get(matched);
  if (!result) {
    result = createTranslator(matched, defaultCatalog(matched));
    translators.set(matched, result);
  }
  return result;
}

/** Accept-Language ranges by preference: q-value descending, header order among equals. */
export function parseAcceptLanguage(header: string): string[] {
  return header
    .split(',')
    .map((part, index) => {
      const [range = '', ...parameters] = part.split(';').map((piece) => piece.trim());
      const qParameter = parameters.find((parameter) => /^q=/i.test(parameter));
      const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
      return { range, q: Number.isFinite(q) ? q : 0, index };
    })
    .filter(({ range, q }) => range !== '' && range !== '*' && q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map(({ range }) => range);
}

/** A user's saved preference wins when available, then Accept-Language, then English. */
export function negotiateLocale(
  acceptLanguage: string | undefined,
  preferred?: string | null,
  available: readonly string[] = availableLocales(),
): string {
  if (preferred) {
    const match = matchLocale(preferred, available);
    if (match) return match;
  }
  for (const range of parseAcceptLanguage(acceptLanguage ?? '')) {
    const match = matchLocale(range, available);
    if (match) return match;
  }
  return sourceLocale;
}

/**
 * The CLI's locale: the first set of LC_ALL, LC_MESSAGES, LANG, then LANGUAGE's first entry.
 * "C" and "POSIX" (the untranslated locale) and anything unavailable give English.
 */
export function localeFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  available: readonly string[] = availableLocales(),
): string {
  const value =
    [env.LC_ALL, env.LC_MESSAGES, env.LANG].find((variable) => variable) ??
    env.LANGUAGE?.split(':')[0] ??
    '';
  const tag = value.replace(/[.@].*$/, '');
  if (tag === '' || tag === 'C' || tag === 'POSIX') return sourceLocale;
  return matchLocale(tag, available) ?? sourceLocale;
}

/** An error's message in the translator's language. */
export function translateError(error: LabvirtError, tr: Translator): string {
  return formatMessage(error.code, error.params, (msgid) => tr.t(msgid));
}

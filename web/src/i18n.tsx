// Translations from the server's gettext catalogues (GET /api/v1/i18n/:locale), with the
// catalogue's own plural rule (parsed, never evaluated) and `{name}` placeholders.
// Strings are marked t('…'), tn('…', '…', n), tc('context', '…') with literal first
// arguments, so scripts/extract-messages.ts finds them.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { api, setApiLanguage } from './api';
import { parsePluralForms, type PluralRule } from '../../src/i18n/plural';
import type { I18nCatalogue } from './types';

export type Params = Record<string, string | number>;

export interface I18n {
  t(msgid: string, params?: Params): string;
  tn(singular: string, plural: string, n: number, params?: Params): string;
  tc(context: string, msgid: string, params?: Params): string;
  locale: string;
  formatDate(iso: string | null | undefined): string;
  formatNumber(n: number, options?: Intl.NumberFormatOptions): string;
  /** Switch language; saved to the user (PATCH /auth/me) when logged in. */
  setLocale(locale: string): Promise<void>;
}

interface Loaded {
  locale: string;
  messages: Record<string, string[]>;
  plural: PluralRule;
}

const english: Loaded = { locale: 'en', messages: {}, plural: (n) => (n !== 1 ? 1 : 0) };
const STORAGE_KEY = 'labvirt.language';

let loggedIn = false;
/** The session says whether a language choice is the user's to save. */
export function setLanguagePersisted(value: boolean): void {
  loggedIn = value;
}

/** The locale before login: the last choice on this browser, else the browser's language. */
export function browserLocale(): string {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved) return saved;
  } catch {
    // Storage may be off (privacy modes).
  }
  return (navigator.language || 'en').split('-')[0]?.toLowerCase() || 'en';
}

function interpolate(text: string, params?: Params): string {
  if (params === undefined) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

async function loadCatalogue(locale: string): Promise<Loaded> {
  if (locale === 'en') return english;
  try {
    const answer = await api.get<I18nCatalogue>('/i18n/' + encodeURIComponent(locale));
    return {
      locale: answer.locale,
      messages: answer.messages,
      plural: parsePluralForms(answer.pluralForms).plural,
    };
  } catch {
    return english; // no catalogue: English beats an empty page
  }
}

function makeI18n(loaded: Loaded, setLocale: (locale: string) => Promise<void>): I18n {
  const { locale, messages, plural } = loaded;
  const dates = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  return {
    locale,
    setLocale,
    t: (msgid, params) => interpolate(messages[msgid]?.[0] || msgid, params),
    tc: (context, msgid, params) =>
      interpolate(messages[context + '\u0004' + msgid]?.[0] || msgid, params),
    tn: (singular, pluralText, n, params) => {
      const forms = messages[singular];
      const translated = forms?.[plural(n)];
      const text = translated || (n === 1 ? singular : pluralText);
      return interpolate(text, params);
    },
    formatDate: (iso) => {
      if (!iso) return '';
      const date = new Date(iso);
      return Number.isNaN(date.getTime()) ? iso : dates.format(date);
    },
    formatNumber: (n, options) => new Intl.NumberFormat(locale, options).format(n),
  };
}

const I18nContext = createContext<I18n>(makeI18n(english, async () => {}));
const LoaderContext = createContext<(locale: string) => Promise<void>>(async () => {});

export function I18nProvider({ children }: { children: ReactNode }) {
  const [loaded, setLoaded] = useState<Loaded>(english);

  /** Shows a locale without saving it (the session's saved language, at start). */
  const applyLocale = useCallback(async (locale: string) => {
    const next = await loadCatalogue(locale);
    setLoaded(next);
  }, []);

  const setLocale = useCallback(
    async (locale: string) => {
      try {
        window.localStorage.setItem(STORAGE_KEY, locale);
      } catch {
        // not remembered on this browser; the user's setting still is
      }
      if (loggedIn) await api.patch('/auth/me', { language: locale });
      await applyLocale(locale);
    },
    [applyLocale],
  );

  useEffect(() => {
    document.documentElement.lang = loaded.locale;
    setApiLanguage(loaded.locale);
  }, [loaded.locale]);

  const value = useMemo(() => makeI18n(loaded, setLocale), [loaded, setLocale]);
  return (
    <LoaderContext.Provider value={applyLocale}>
      <I18nContext.Provider value={value}>{children}</I18nContext.Provider>
    </LoaderContext.Provider>
  );
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}

/** For the session: show a locale without saving it. */
export function useApplyLocale(): (locale: string) => Promise<void> {
  return useContext(LoaderContext);
}

/** The languages offered, each named in itself. */
export const languages: readonly { locale: string; name: string }[] = [
  { locale: 'en', name: 'English' },
  { locale: 'es', name: 'Español' },
];

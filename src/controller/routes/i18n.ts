// GET /i18n and /i18n/:locale: the gettext catalogues the web console translates with, the
// same ones (po/*.po, as loaded for the API's own messages: fuzzy and partial entries left
// out, so they fall back to English) — public, since the login page is translated too.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import {
  availableLocales,
  defaultCatalog,
  matchLocale,
  sourceLocale,
} from '../../i18n/translator.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Strict } from '../schemas.js';

/** English's rule, and any catalogue's without a Plural-Forms header. */
export const DEFAULT_PLURAL_FORMS = 'nplurals=2; plural=(n != 1);';

export const I18nCatalogueSchema = Type.Object(
  {
    locale: Type.String(),
    pluralForms: Type.String(),
    messages: Type.Record(Type.String(), Type.Array(Type.String()), {
      description: 'Translated forms by msgid, or by context and msgid joined by U+0004',
    }),
  },
  { $id: 'I18nCatalogue' },
);

export interface I18nCatalogue {
  readonly locale: string;
  readonly pluralForms: string;
  readonly messages: Record<string, readonly string[]>;
}

/** The catalogue serving a requested locale ("es-AR" → es); English (no messages) if none. */
export function webCatalogue(requested: string): I18nCatalogue {
  const locale = matchLocale(requested, availableLocales()) ?? sourceLocale;
  const catalog = defaultCatalog(locale);
  if (locale === sourceLocale || catalog === undefined)
    return { locale: sourceLocale, pluralForms: DEFAULT_PLURAL_FORMS, messages: {} };
  return {
    locale,
    pluralForms: catalog.pluralForms ?? DEFAULT_PLURAL_FORMS,
    messages: Object.fromEntries(catalog.messages),
  };
}

export function i18nRoutes(app: FastifyInstance, _ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(I18nCatalogueSchema);
  const tags = ['i18n'];

  r.get('/i18n', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary: 'List the languages the console and the API speak (English first)',
      response: { 200: Strict({ locales: Type.Array(Type.String()) }) },
    },
    handler: async () => ({ locales: availableLocales() }),
  });

  r.get('/i18n/:locale', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary: "A language's translated messages (an unknown language gives English's, none)",
      params: Strict({ locale: Type.String({ minLength: 1, maxLength: 35 }) }),
      response: { 200: Type.Ref('I18nCatalogue'), ...errors(400) },
    },
    handler: async (request) => webCatalogue(request.params.locale),
  });
}

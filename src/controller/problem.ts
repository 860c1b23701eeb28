// Errors leave the API as RFC 9457 problem+json: a stable code, the field at fault and a
// message in the caller's language. Validation failures are mapped to the same catalogue,
// so they are translated like everything else.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { negotiateLocale, translator } from '../i18n/translator.js';
import {
  formatMessage,
  isLabvirtError,
  LabvirtError,
  type ErrorCode,
  type ErrorParams,
} from '../domain/errors.js';
import { databaseUnreachable } from '../db/unreachable.js';

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** `/labs/0/name` → `labs[0].name`; the root is called "body". */
function fieldName(path: string, child?: unknown): string {
  const parts = path.split('/').filter((part) => part.length > 0);
  if (typeof child === 'string') parts.push(child);
  if (parts.length === 0) return 'body';
  return parts
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

/**
 * Every value a union of constants allows at this path. Ajv reports a failed anyOf branch
 * by branch, so the first error alone would say "role must be one of: admin".
 */
function allowedAt(errors: readonly AjvError[], path: string): string {
  const values = errors
    .filter((error) => error.instancePath === path)
    .flatMap((error) =>
      error.keyword === 'const'
        ? [error.params['allowedValue']]
        : error.keyword === 'enum' && Array.isArray(error.params['allowedValues'])
          ? (error.params['allowedValues'] as unknown[])
          : [],
    );
  return [...new Set(values.map(String))].join(', ');
}

export function validationError(
  error: AjvError,
  context: string | undefined,
  all: readonly AjvError[] = [error],
): LabvirtError {
  const prefix = context === 'querystring' ? 'query.' : context === 'params' ? 'path.' : '';
  const p = error.params;
  const field = prefix + fieldName(error.instancePath);
  const make = (code: ErrorCode, params: ErrorParams, at = field) =>
    new LabvirtError(code, { field: at, ...params }, { field: at });
  switch (error.keyword) {
    case 'required':
      return make(
        'FIELD_REQUIRED',
        {},
        prefix + fieldName(error.instancePath, p['missingProperty']),
      );
    case 'additionalProperties':
      return make(
        'FIELD_UNKNOWN',
        {},
        prefix + fieldName(error.instancePath, p['additionalProperty']),
      );
    case 'type':
      return make('FIELD_TYPE', { type: String(p['type']) });
    case 'maxLength':
      return make('FIELD_TOO_LONG', { limit: Number(p['limit']) });
    case 'minLength':
      return make('FIELD_TOO_SHORT', { limit: Number(p['limit']) });
    case 'minimum':
      return make('FIELD_TOO_SMALL', { limit: Number(p['limit']) });
    case 'maximum':
      return make('FIELD_TOO_LARGE', { limit: Number(p['limit']) });
    case 'maxItems':
    case 'maxProperties':
      return make('FIELD_TOO_MANY', { limit: Number(p['limit']) });
    case 'enum':
    case 'const':
      return make('FIELD_NOT_ALLOWED', { allowed: allowedAt(all, error.instancePath) });
    default:
      return make('FIELD_INVALID', {});
  }
}

/** Everything that can go wrong in a request, as one of ours. */
export function toLabvirtError(error: unknown, requestId: string): LabvirtError {
  if (isLabvirtError(error)) return error;
  const fastify = error as Partial<FastifyError> & {
    validation?: AjvError[];
    validationContext?: string;
  };
  if (Array.isArray(fastify.validation) && fastify.validation[0] !== undefined) {
    return validationError(fastify.validation[0], fastify.validationContext, fastify.validation);
  }
  switch (fastify.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new LabvirtError('BODY_MALFORMED', {}, { field: 'body' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LabvirtError('BODY_TOO_LARGE', {}, { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new LabvirtError('MEDIA_TYPE_UNSUPPORTED', {}, { field: 'body' });
  }
  // The static files' plugins (the web console, the API docs) refuse some paths themselves,
  // a NUL in it (@fastify/static) or a directory such as /assets/. (@fastify/send): a bad
  // URL, not a fault of ours.
  if (fastify.code === 'FST_STATIC_FORBIDDEN_PATH' || fastify.name === 'ForbiddenError')
    return new LabvirtError('URL_MALFORMED', {});
  if (error instanceof SyntaxError)
    return new LabvirtError('BODY_MALFORMED', {}, { field: 'body' });
  // A stopped or restarting database is "try again" (503), not a fault of ours (500).
  const unreachable = databaseUnreachable(error);
  if (unreachable !== undefined)
    return new LabvirtError('DATABASE_UNAVAILABLE', { detail: unreachable }, { cause: error });
  return new LabvirtError('INTERNAL', { requestId }, { cause: error });
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly field?: string;
  /** The message's values by name, so programs (an agent, the CLI) can rebuild the error. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly instance: string;
  readonly requestId: string;
}

export function problemOf(
  error: LabvirtError,
  request: FastifyRequest,
  translate: (msgid: string) => string,
): Problem {
  const message = formatMessage(error.code, error.params, translate);
  return {
    type: `urn:labvirt:problem:${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: message,
    status: error.status,
    detail: message,
    code: error.code,
    ...(error.field !== undefined ? { field: error.field } : {}),
    params: error.params,
    instance: request.url.split('?')[0] ?? request.url,
    requestId: request.id,
  };
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(problem);
}

/** Fastify's frameworkErrors: what the router refuses before any route or hook runs. */
export function sendFrameworkProblem(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const code =
    error.code === 'FST_ERR_BAD_URL'
      ? 'URL_MALFORMED'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'URL_TOO_LONG'
        : 'INTERNAL';
  // No route, so no decorated request: the language comes from the header alone.
  const tr = translator(negotiateLocale(request.headers['accept-language']));
  void reply.header('Content-Language', tr.locale);
  const labvirt = new LabvirtError(code, { requestId: request.id });
  void sendProblem(
    reply,
    problemOf(labvirt, request, (msgid) => tr.t(msgid)),
  );
}

// The REST client: paths under /api/v1, JSON in and out, the session's CSRF token on
// changes, problem+json errors thrown as ApiError.
import type { Problem } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

let csrfToken: string | null = null;
let language: string | null = null;
const unauthorizedListeners = new Set<() => void>();

/** Set by the session once it knows the token (login, or GET /auth/session). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The locale the server should answer errors in. */
export function setApiLanguage(locale: string | null): void {
  language = locale;
}

/** Called on any 401, so the session can send the user to the login page. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function problemOf(response: Response): Promise<Problem> {
  const fallback: Problem = {
    title: response.statusText || `HTTP ${response.status}`,
    detail: '',
    code: 'HTTP_' + String(response.status),
    status: response.status,
  };
  try {
    const body = (await response.json()) as Partial<Problem>;
    if (typeof body.title === 'string') return { ...fallback, ...body } as Problem;
  } catch {
    // Not JSON (a proxy's page): the status line is all there is.
  }
  return fallback;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  if (language !== null) headers['Accept-Language'] = language;
  let response: Response;
  try {
    response = await fetch('/api/v1' + path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new ApiError(0, {
      title: 'Network error',
      detail: error instanceof Error ? error.message : String(error),
      code: 'NETWORK',
    });
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    const isSessionCall = path.startsWith('/auth/');
    if (response.status === 401 && !isSessionCall) unauthorizedListeners.forEach((l) => l());
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) return (await response.json()) as T;
  return (await response.text()) as T;
}

export const api = {
  get: <T>(path: string): Promise<T> => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}): Promise<T> => request<T>('POST', path, body),
  put: <T>(path: string, body: unknown): Promise<T> => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown): Promise<T> => request<T>('PATCH', path, body),
  del: async (path: string): Promise<void> => {
    await request<unknown>('DELETE', path);
  },
};

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : '?' + text;
}

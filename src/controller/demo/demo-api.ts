// The demo sets itself up through the API (app.inject, as its own admin with an API token),
// so it makes exactly what the same requests from the web or the CLI would make: the
// same checks, the same jobs, the same audit entries.
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../app.js';

/** A refused request: the problem's detail, in the caller's language. */
export class DemoApiError extends Error {
  readonly status: number;

  constructor(status: number, detail: string) {
    super(detail);
    this.name = 'DemoApiError';
    this.status = status;
  }
}

export interface DemoApi {
  get<T>(path: string): Promise<T>;
  /** The resource, or undefined when the API answers 404. */
  find<T>(path: string): Promise<T | undefined>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  del(path: string): Promise<void>;
}

export function demoApi(app: FastifyInstance, token: string, language: string): DemoApi {
  const call = async <T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ) => {
    const response = await app.inject({
      method,
      url: `${API_PREFIX}${path}`,
      headers: { authorization: `Bearer ${token}`, 'accept-language': language },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    if (response.statusCode >= 400) {
      let detail = response.body;
      try {
        const problem = response.json<{ detail?: string; title?: string }>();
        detail = problem.detail ?? problem.title ?? detail;
      } catch {
        // not JSON: the body as it is
      }
      throw new DemoApiError(response.statusCode, `${method} ${path}: ${detail}`);
    }
    return (response.statusCode === 204 ? undefined : response.json()) as T;
  };
  return {
    get: (path) => call('GET', path),
    find: async (path) => {
      try {
        return await call('GET', path);
      } catch (error) {
        if (error instanceof DemoApiError && error.status === 404) return undefined;
        throw error;
      }
    },
    post: (path, body = {}) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    del: async (path) => {
      await call('DELETE', path);
    },
  };
}

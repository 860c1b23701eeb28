// Every route declares who may call it (route config `auth`); a route without a rule
// makes the app refuse to start. Roles are ordered: viewer < operator < admin.
import type { FastifyRequest } from 'fastify';

export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

export type AuthRule =
  /** Anyone, logged in or not (login itself, health, API docs, the terminal endpoint). */
  | { readonly access: 'public' }
  /** At least this role, anywhere. */
  | { readonly access: 'role'; readonly role: Role }
  /**
   * Admins, and operators granted the lab this request is about. `lab` reads the lab's id
   * or name from the (validated) request; it runs after validation, so it may read the body.
   */
  | { readonly access: 'lab'; readonly lab: LabResolver }
  /**
   * An enrolled host's agent: `Authorization: Bearer <its agent secret>` and
   * `X-Labvirt-Host: <its host id>`, which must be the secret's host (else refused and
   * logged). Sets request.agentHost. Only the /api/v1/agent/ routes use it.
   */
  | { readonly access: 'agent' };

/** The lab (id or name) a request is about; undefined when it is about none. */
export type LabResolver = (
  request: FastifyRequest,
) => string | undefined | Promise<string | undefined>;

export const rule = {
  public: { access: 'public' } as const,
  viewer: { access: 'role', role: 'viewer' } as const,
  operator: { access: 'role', role: 'operator' } as const,
  admin: { access: 'role', role: 'admin' } as const,
  lab: (lab: LabResolver): AuthRule => ({ access: 'lab', lab }),
  agent: { access: 'agent' } as const,
} satisfies Record<string, AuthRule | ((...args: never[]) => AuthRule)>;

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(minimum);
}

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly language: string | null;
  readonly via: 'session' | 'token';
  readonly sessionId?: string;
  /** The API token used, so logout can revoke it. */
  readonly tokenId?: string;
  readonly csrfToken?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRule;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** The host whose agent made the request (routes with rule.agent). */
    agentHost: { readonly id: string; readonly name: string } | undefined;
  }
}

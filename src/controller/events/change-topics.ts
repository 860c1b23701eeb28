// Which list a change made through the API touches, so the web console re-reads only that
// one (`changed` events): the first path segment under /api/v1, for successful changes.
import type { ChangeTopic } from './event-bus.js';

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const TOPICS: ReadonlyMap<string, ChangeTopic> = new Map(
  Object.entries({
    labs: 'labs',
    terminals: 'terminals',
    // Admin sessions, versions, rollback, clone, import and upload live under /profiles.
    profiles: 'profiles',
    hosts: 'hosts',
    // An agent's join or hello changes its host's row.
    agent: 'hosts',
    users: 'users',
    vms: 'vms',
    dhcp: 'dhcp',
    audit: 'audit',
    jobs: 'jobs',
  } satisfies Record<string, ChangeTopic>),
);

/**
 * The topic of a finished request, or undefined when it changed nothing a list shows: a
 * read, a failure, a route of no list (a VM's console ticket), or a sign-in. The caller's
 * own profile (PATCH /auth/me: their language) is a user's.
 */
export function changeTopic(
  method: string,
  path: string,
  status: number,
  prefix = '/api/v1',
): ChangeTopic | undefined {
  if (!CHANGING.has(method.toUpperCase()) || status < 200 || status >= 300) return undefined;
  const bare = path.split('?')[0] ?? '';
  if (!bare.startsWith(`${prefix}/`)) return undefined;
  const [first, second, third] = bare.slice(prefix.length + 1).split('/');
  if (first === 'auth') return second === 'me' ? 'users' : undefined;
  // A console ticket changes no VM.
  if (first === 'vms' && third === 'console') return undefined;
  return first === undefined ? undefined : TOPICS.get(first);
}

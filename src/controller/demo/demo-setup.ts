// `labvirt server --demo`: a demo profile made from the project's small Linux guest, a demo
// lab open at all hours with two enrolled terminals whose VMs are started, and an admin
// user `demo` with a password nobody knows, who signs in by a one-time link. Idempotent:
// what a previous start made is reused as it is (an administrator may have changed it).
// What this start made is undone when a later step fails, so a failed start leaves no
// half-made demo (no profile without a version, above all).
import { randomUUID } from 'node:crypto';
import { copyFile, link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database } from '../../db/schema.js';
import type { Translator } from '../../i18n/translator.js';
import type { SignInLinks, SignInLink } from '../auth/sign-in-links.js';
import { newSecret } from '../auth/tokens.js';
import type { Actor } from '../services/audit.js';
import { createToken } from '../services/credentials.js';
import { createUser, findUser } from '../services/users.js';
import { demoApi, type DemoApi } from './demo-api.js';

export const DEMO_USER = 'demo';
export const DEMO_PROFILE = 'demo';
export const DEMO_LAB = 'demo';
/** The demo terminals: names and (locally administered) MAC addresses. */
export const DEMO_TERMINALS = [
  { name: 'demo-1', mac: '02:4c:56:de:00:01' },
  { name: 'demo-2', mac: '02:4c:56:de:00:02' },
] as const;
/** The guest needs little: Debian's kernel and a busybox initramfs. */
const DEMO_PROFILE_SETTINGS = {
  memoryMiB: 128,
  cpus: 1,
  nicModel: 'virtio',
  diskBus: 'ide',
  display: 'rdp',
  guestPort: 3389,
} as const;
const JOB_POLL_MS = 500;

export interface DemoOptions {
  readonly app: FastifyInstance;
  readonly db: Kysely<Database>;
  /** The Linux guest's raw image (built or found by buildLinuxGuest). */
  readonly image: string;
  /** An import directory of the server's image store: the image is imported from there. */
  readonly importDir: string;
  readonly links: SignInLinks;
  readonly tr: Translator;
  /** Progress lines for the terminal. */
  readonly say: (line: string) => void;
  readonly now?: () => Date;
}

export interface DemoResult {
  /** The one-time sign-in link of the demo user. */
  readonly link: SignInLink;
  readonly started: number;
  readonly running: number;
}

interface Named {
  readonly id: string;
  readonly name: string;
}
interface JobView {
  readonly id: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly progress: number;
  readonly error: { readonly detail: string } | null;
}

/** Sets the demo up (or finds it set up) and starts its VMs; DEMO_FAILED when it cannot. */
export async function setUpDemo(options: DemoOptions): Promise<DemoResult> {
  const now = options.now ?? (() => new Date());
  const actor: Actor = { principal: undefined, source: 'cli' };
  const user = await demoUser(options, actor, now());
  // The demo's own credential for its requests, revoked when it is done.
  const token = await createToken(options.db, actor, user, 'demo setup', now());
  const api = demoApi(options.app, token.token, options.tr.locale);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    await demoProfile(api, options, undo);
    await demoLab(api, options, undo);
    const started = await api.post<{
      started: number;
      running: number;
      failed: { terminal: string; reason: string }[];
    }>(`/labs/${DEMO_LAB}/start`);
    if (started.failed.length > 0) {
      undo.push(() => api.post(`/labs/${DEMO_LAB}/stop`));
      throw new Error(started.failed.map((f) => `${f.terminal}: ${f.reason}`).join('; '));
    }
    options.say(
      options.tr.t('demo lab: {started} VMs started, {running} already running', {
        started: started.started,
        running: started.running,
      }),
    );
    return { link: options.links.create(user.id), ...started };
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw new LabvirtError(
      'DEMO_FAILED',
      { reason: error instanceof Error ? error.message : String(error) },
      { cause: error },
    );
  } finally {
    await api.del(`/auth/tokens/${token.id}`).catch(() => undefined);
  }
}

/** The admin `demo`, made with a random password nobody is told (they sign in by link). */
async function demoUser(options: DemoOptions, actor: Actor, now: Date) {
  const existing = await options.db
    .selectFrom('users')
    .selectAll()
    .where('username', '=', DEMO_USER)
    .executeTakeFirst();
  if (existing !== undefined) {
    if (existing.role !== 'admin' || existing.disabled !== 0)
      throw new LabvirtError('DEMO_FAILED', {
        reason: options.tr.t('the user {user} exists but is not an enabled administrator', {
          user: DEMO_USER,
        }),
      });
    return existing;
  }
  const created = await createUser(
    options.db,
    actor,
    { username: DEMO_USER, role: 'admin', password: newSecret() },
    now,
  );
  options.say(options.tr.t('made the administrator {user}', { user: DEMO_USER }));
  return findUser(options.db, created.id);
}

/** The demo profile with the guest as its published version (imported unless it has one). */
async function demoProfile(
  api: DemoApi,
  options: DemoOptions,
  undo: (() => Promise<unknown>)[],
): Promise<void> {
  const tr = options.tr;
  type ProfileView = Named & { publishedVersion: string | null };
  let profile = await api.find<ProfileView>(`/profiles/${DEMO_PROFILE}`);
  if (profile === undefined) {
    profile = await api.post<ProfileView>(`/profiles`, {
      name: DEMO_PROFILE,
      description: tr.t('LabVirt’s small Linux guest (Debian’s kernel and busybox)'),
      ...DEMO_PROFILE_SETTINGS,
    });
    undo.push(() => api.del(`/profiles/${DEMO_PROFILE}`));
    options.say(tr.t('made the profile {profile}', { profile: DEMO_PROFILE }));
  }
  if (profile.publishedVersion !== null) return;

  // The import takes files from an import directory only: a link (or copy) of the image.
  const source = join(options.importDir, `labvirt-demo-guest-${randomUUID()}.raw`);
  await link(options.image, source).catch(() => copyFile(options.image, source));
  try {
    const job = await api.post<JobView>(`/profiles/${DEMO_PROFILE}/import`, {
      path: source,
      format: 'raw',
    });
    let shown = -1;
    for (let view = job; ; view = await api.get<JobView>(`/jobs/${job.id}`)) {
      const percent = Math.floor(view.progress / 10) * 10;
      if (percent > shown) {
        options.say(tr.t('importing the demo guest: {percent}%', { percent }));
        shown = percent;
      }
      if (view.state === 'failed') throw new Error(view.error?.detail ?? 'import failed');
      if (view.state === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
  } finally {
    await rm(source, { force: true });
  }
  options.say(
    tr.t('published the demo guest as version 1 of {profile}', { profile: DEMO_PROFILE }),
  );
}

/** The demo lab (open at all hours, the demo profile by default) and its two terminals. */
async function demoLab(
  api: DemoApi,
  options: DemoOptions,
  undo: (() => Promise<unknown>)[],
): Promise<void> {
  const tr = options.tr;
  if ((await api.find<Named>(`/labs/${DEMO_LAB}`)) === undefined) {
    await api.post(`/labs`, {
      name: DEMO_LAB,
      description: tr.t('A demo lab: two terminals on the demo profile, open at all hours'),
    });
    undo.push(() => api.del(`/labs/${DEMO_LAB}`));
    await api.put(`/labs/${DEMO_LAB}/profiles`, {
      profiles: [DEMO_PROFILE],
      default: DEMO_PROFILE,
    });
    // No slots, and the default profile outside them: open all the time.
    await api.put(`/labs/${DEMO_LAB}/timetable`, { slots: [], outside: 'default' });
    options.say(tr.t('made the lab {lab}', { lab: DEMO_LAB }));
  }
  for (const terminal of DEMO_TERMINALS) {
    if ((await api.find<Named>(`/terminals/${terminal.mac}`)) !== undefined) continue;
    await api.post(`/terminals`, { mac: terminal.mac, lab: DEMO_LAB, name: terminal.name });
    undo.push(() => api.del(`/terminals/${terminal.mac}`));
    options.say(
      tr.t('enrolled the terminal {terminal} ({mac})', {
        terminal: terminal.name,
        mac: terminal.mac,
      }),
    );
  }
}

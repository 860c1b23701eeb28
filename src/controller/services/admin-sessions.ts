// Admin sessions: a writable draft layer on a profile's published version, booted as the
// profile's administrative VM. It ends with publish (the draft, sealed, becomes the new
// published version in one transaction: running clients keep theirs, later ones get it) or
// discard. At most one per profile (a unique row). Under the `exclusive` policy no client
// VM of the profile runs while it is open: opening and client starts decide under the same
// per-profile lock (lockProfile), and rows are written before any process starts and end
// only once the process is gone (see vms.ts), so the rule holds for the processes.
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AdminPolicy, AdminSession, Database, Profile, Vm } from '../../db/schema.js';
import { LabvirtError } from '../../domain/errors.js';
import type { ImageStore } from '../../images/image-store.js';
import { StoreLayout, type VersionRef } from '../../images/store-layout.js';
import { audit, type Actor } from './audit.js';
import { findProfile } from './profiles.js';
import { ACTIVE_STATES, lockProfile, specOf, system, type VmService, type VmView } from './vms.js';

/**
 * Takes the profile's lock and reads the session again under it: another request may have
 * published or discarded it since it was first read.
 */
async function lockedSession(
  tx: Transaction<Database>,
  profileId: string,
  sessionId: string,
): Promise<{ locked: Profile; current: AdminSession }> {
  const locked = await lockProfile(tx, profileId);
  const current = await tx
    .selectFrom('admin_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .executeTakeFirst();
  if (current === undefined) {
    throw new LabvirtError('ADMIN_SESSION_NOT_FOUND', { profile: locked.name });
  }
  return { locked, current };
}

export interface AdminSessionView {
  readonly id: string;
  readonly profile: string;
  readonly profileId: string;
  readonly policy: AdminPolicy;
  readonly baseVersionId: string;
  /** The id the draft will have as a version once published. */
  readonly draftId: string;
  readonly vm: VmView | null;
  readonly openedBy: string | null;
  readonly openedAt: string;
}

export interface OpenOptions {
  /** The exclusive policy for this session, whatever the profile's. */
  readonly exclusive?: boolean;
  /** Under exclusive: shut the profile's running client VMs down first. */
  readonly force?: boolean;
}

export interface PublishResult {
  readonly versionId: string;
  readonly number: number;
  readonly sha256: string;
  readonly sizeBytes: number;
}

const isActive = (state: string) => (ACTIVE_STATES as readonly string[]).includes(state);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Store-relative names parse the same whatever the store's root (pure). */
const names = new StoreLayout('/');

export class AdminSessionService {
  readonly #vms: VmService;
  readonly #images: ImageStore | undefined;
  readonly #now: () => Date;

  constructor(vms: VmService, images: ImageStore | undefined, now: () => Date) {
    this.#vms = vms;
    this.#images = images;
    this.#now = now;
  }

  #store(): ImageStore {
    if (this.#images === undefined) throw new LabvirtError('IMAGE_STORE_NOT_CONFIGURED');
    return this.#images;
  }

  async #session(profile: Profile): Promise<AdminSession> {
    const session = await this.#vms.db
      .selectFrom('admin_sessions')
      .selectAll()
      .where('profile_id', '=', profile.id)
      .executeTakeFirst();
    if (session === undefined) {
      throw new LabvirtError('ADMIN_SESSION_NOT_FOUND', { profile: profile.name });
    }
    return session;
  }

  #draftRef(session: AdminSession): VersionRef {
    return names.refOf(session.draft_file);
  }

  async status(profileRef: string): Promise<AdminSessionView> {
    const profile = await findProfile(this.#vms.db, profileRef);
    return this.#view(profile, await this.#session(profile));
  }

  async open(
    profileRef: string,
    actor: Actor,
    options: OpenOptions = {},
  ): Promise<AdminSessionView> {
    const db = this.#vms.db;
    const profile = await findProfile(db, profileRef);
    const decide = (locked: Profile, session: unknown) => {
      if (locked.published_version_id === null) {
        throw new LabvirtError('PROFILE_NO_IMAGE', { profile: locked.name });
      }
      if (session !== undefined) {
        throw new LabvirtError('ADMIN_SESSION_EXISTS', { profile: locked.name });
      }
      return locked.published_version_id;
    };
    // The refusals first, before anything else is needed (store, agent).
    decide(
      profile,
      await db
        .selectFrom('admin_sessions')
        .select('id')
        .where('profile_id', '=', profile.id)
        .executeTakeFirst(),
    );
    const store = this.#store();
    await this.#vms.readyToPlace();
    let toStop: Vm[] = [];
    let sessionId = '';
    let base = '';
    let draft: VersionRef = { profileId: profile.id, versionId: randomUUID() };
    const row = await this.#vms.insertVm(async (tx, vmId) => {
      const locked = await lockProfile(tx, profile.id);
      const existing = await tx
        .selectFrom('admin_sessions')
        .select('id')
        .where('profile_id', '=', locked.id)
        .executeTakeFirst();
      const baseVersionId = decide(locked, existing);
      base = baseVersionId;
      const policy: AdminPolicy = options.exclusive ? 'exclusive' : locked.admin_policy;
      if (policy === 'exclusive') {
        const clients = await tx
          .selectFrom('vms')
          .selectAll()
          .where('profile_id', '=', locked.id)
          .where('kind', '=', 'client')
          .where('state', 'in', ACTIVE_STATES)
          .execute();
        if (clients.length > 0 && options.force !== true) {
          throw new LabvirtError('ADMIN_SESSION_CLIENTS_RUNNING', {
            profile: locked.name,
            count: clients.length,
          });
        }
        toStop = clients;
      }
      draft = { profileId: locked.id, versionId: randomUUID() };
      sessionId = randomUUID();
      // Its draft is written in the controller's store: a host that shares it.
      const hostId = await this.#vms.placeVm(tx, {
        profile: locked,
        versionId: baseVersionId,
        admin: true,
      });
      const vm = this.#vms.newRow(vmId, 'admin', locked, baseVersionId, hostId);
      await tx
        .insertInto('admin_sessions')
        .values({
          id: sessionId,
          profile_id: locked.id,
          base_version_id: baseVersionId,
          draft_file: store.layout.file(draft),
          vm_id: vmId,
          policy,
          opened_by: actor.principal?.userId ?? null,
          opened_at: this.#now().toISOString(),
        })
        .execute();
      return {
        row: vm,
        audit: {
          action: 'admin-session.open',
          details: {
            profile: locked.name,
            policy,
            base: baseVersionId,
            stopped: toStop.map((client) => client.name),
          },
        },
      };
    }, actor);
    try {
      // Under exclusive with --force: the clients go before the admin VM comes.
      await Promise.all(toStop.map((client) => this.#stopVm(client, actor)));
      await store.createLayer({ profileId: profile.id, versionId: base }, draft);
    } catch (error) {
      await this.#vms.abandon(row);
      await this.#undoOpen(sessionId, row, draft);
      throw error;
    }
    try {
      await this.#vms.launch(row, { ...specOf(row, profile), image: draft, writes: 'keep' });
    } catch (error) {
      await this.#undoOpen(sessionId, row, draft);
      throw error;
    }
    return this.status(profile.id);
  }

  /** Stops a VM (clients for an exclusive session, the admin VM on a forced discard). */
  async #stopVm(client: Vm, actor: Actor): Promise<void> {
    for (let waited = 0; ; waited += 50) {
      const row = await this.#vms.find(client.id);
      if (!isActive(row.state)) return;
      if (row.state !== 'starting') return this.#vms.stopRow(row, actor, { force: false });
      if (waited > 60_000)
        throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
      await delay(50);
    }
  }

  async #undoOpen(sessionId: string, row: Vm, draft: VersionRef): Promise<void> {
    const current = await this.#vms.find(row.id);
    if (isActive(current.state)) return; // it runs after all: the session stays open
    await this.#images?.remove(draft).catch(() => undefined);
    await this.#vms.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('admin_sessions').where('id', '=', sessionId).execute();
      await audit(
        tx,
        system,
        {
          action: 'admin-session.open-failed',
          targetType: 'profile',
          targetId: draft.profileId,
          details: { vm: row.name, state: current.state },
        },
        this.#now(),
      );
    });
  }

  /** Boots the administrative VM again on the draft (after it was powered off). */
  async boot(profileRef: string, actor: Actor): Promise<AdminSessionView> {
    const profile = await findProfile(this.#vms.db, profileRef);
    const session = await this.#session(profile);
    await this.#refuseRunning(profile, session);
    await this.#vms.readyToPlace();
    const row = await this.#vms.insertVm(async (tx, vmId) => {
      const { locked, current } = await lockedSession(tx, profile.id, session.id);
      if (current.vm_id !== null) {
        const vm = await tx
          .selectFrom('vms')
          .select('state')
          .where('id', '=', current.vm_id)
          .executeTakeFirst();
        if (vm !== undefined && isActive(vm.state)) {
          throw new LabvirtError('ADMIN_VM_RUNNING', { profile: locked.name });
        }
      }
      await tx
        .updateTable('admin_sessions')
        .set({ vm_id: vmId })
        .where('id', '=', session.id)
        .execute();
      const hostId = await this.#vms.placeVm(tx, {
        profile: locked,
        versionId: current.base_version_id,
        admin: true,
      });
      return {
        row: this.#vms.newRow(vmId, 'admin', locked, current.base_version_id, hostId),
        audit: { action: 'admin-session.boot', details: { profile: locked.name } },
      };
    }, actor);
    await this.#vms.launch(row, {
      ...specOf(row, profile),
      image: this.#draftRef(session),
      writes: 'keep',
    });
    return this.status(profile.id);
  }

  /** Seals the draft and makes it the published version, in one transaction. */
  async publish(profileRef: string, actor: Actor, note = ''): Promise<PublishResult> {
    const db = this.#vms.db;
    const profile = await findProfile(db, profileRef);
    const session = await this.#session(profile);
    await this.#refuseRunning(profile, session);
    const draft = this.#draftRef(session);
    const sealed = await this.#store().seal(draft);
    return db.transaction().execute(async (tx) => {
      const { locked } = await lockedSession(tx, profile.id, session.id);
      const { max } = await tx
        .selectFrom('versions')
        .select((eb) => eb.fn.max<number | null>('number').as('max'))
        .where('profile_id', '=', locked.id)
        .executeTakeFirstOrThrow();
      const number = Number(max ?? 0) + 1;
      await tx
        .insertInto('versions')
        .values({
          id: draft.versionId,
          profile_id: locked.id,
          number,
          parent_version_id: session.base_version_id,
          file: session.draft_file,
          format: 'qcow2',
          size_bytes: sealed.sizeBytes,
          sha256: sealed.sha256,
          note,
          created_by: actor.principal?.userId ?? null,
          created_at: this.#now().toISOString(),
        })
        .execute();
      await tx
        .updateTable('profiles')
        .set({ published_version_id: draft.versionId, updated_at: this.#now().toISOString() })
        .where('id', '=', locked.id)
        .execute();
      await tx.deleteFrom('admin_sessions').where('id', '=', session.id).execute();
      await audit(
        tx,
        actor,
        {
          action: 'admin-session.publish',
          targetType: 'profile',
          targetId: locked.id,
          details: { version: draft.versionId, number, parent: session.base_version_id },
        },
        this.#now(),
      );
      return {
        versionId: draft.versionId,
        number,
        sha256: sealed.sha256,
        sizeBytes: sealed.sizeBytes,
      };
    });
  }

  /** Deletes the draft; with force, stops a running administrative VM first. */
  async discard(
    profileRef: string,
    actor: Actor,
    options: { force?: boolean } = {},
  ): Promise<void> {
    const db = this.#vms.db;
    const profile = await findProfile(db, profileRef);
    const session = await this.#session(profile);
    if (options.force === true && session.vm_id !== null) {
      const vm = await this.#vms.find(session.vm_id).catch(() => undefined);
      if (vm !== undefined && isActive(vm.state)) await this.#stopVm(vm, actor);
    }
    await this.#refuseRunning(profile, session);
    await db.transaction().execute(async (tx) => {
      await lockProfile(tx, profile.id);
      const deleted = await tx
        .deleteFrom('admin_sessions')
        .where('id', '=', session.id)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) {
        throw new LabvirtError('ADMIN_SESSION_NOT_FOUND', { profile: profile.name });
      }
      await audit(
        tx,
        actor,
        {
          action: 'admin-session.discard',
          targetType: 'profile',
          targetId: profile.id,
          details: { draft: session.draft_file },
        },
        this.#now(),
      );
    });
    await this.#store().remove(this.#draftRef(session));
  }

  async #refuseRunning(profile: Profile, session: AdminSession): Promise<void> {
    if (session.vm_id === null) return;
    const vm = await this.#vms.db
      .selectFrom('vms')
      .select('state')
      .where('id', '=', session.vm_id)
      .executeTakeFirst();
    if (vm !== undefined && isActive(vm.state)) {
      throw new LabvirtError('ADMIN_VM_RUNNING', { profile: profile.name });
    }
  }

  async #view(profile: Profile, session: AdminSession): Promise<AdminSessionView> {
    const vm =
      session.vm_id === null ? null : await this.#vms.view(session.vm_id).catch(() => null);
    return {
      id: session.id,
      profile: profile.name,
      profileId: profile.id,
      policy: session.policy,
      baseVersionId: session.base_version_id,
      draftId: this.#draftRef(session).versionId,
      vm,
      openedBy: session.opened_by,
      openedAt: session.opened_at,
    };
  }
}

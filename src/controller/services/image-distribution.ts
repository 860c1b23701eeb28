// Which versions each host's store holds, and getting them there: before a VM of a version
// starts on a host (ensureOn), when a host comes online (recordHeld, then prefetch of the
// published versions it may run), and when a version is published (prefetchAll). The agent
// fetches the layers itself from the controller (agent-images route, image-fetcher.ts);
// this side names them, base first, and records what arrived in host_images.
import type { Kysely } from 'kysely';
import type { ImageLayer, HostAgent } from '../../agent/host-agent.js';
import type { Database } from '../../db/schema.js';
import { LabvirtError } from '../../domain/errors.js';

/** What the distribution tells (pino's and Fastify's loggers fit). */
export interface DistributionLog {
  info(facts: object, message: string): void;
  warn(facts: object, message: string): void;
}

export interface ImageDistributionDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly log?: DistributionLog | undefined;
}

/** A longer chain than the store allows is a broken parent link, not a chain. */
const MAX_CHAIN = 64;

/** The layers of a version's chain, base first, from the versions' parent links. */
export async function layersOf(db: Kysely<Database>, versionId: string): Promise<ImageLayer[]> {
  const layers: ImageLayer[] = [];
  const seen = new Set<string>();
  for (let id: string | null = versionId; id !== null;) {
    if (seen.has(id) || seen.size >= MAX_CHAIN)
      throw new LabvirtError('IMAGE_CHAIN_TOO_DEEP', { path: versionId, max: MAX_CHAIN });
    seen.add(id);
    const row = await db
      .selectFrom('versions')
      .select(['id', 'profile_id', 'parent_version_id', 'sha256', 'size_bytes'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined)
      throw new LabvirtError('VERSION_NOT_FOUND', { profile: '?', version: id });
    layers.push({
      profileId: row.profile_id,
      versionId: row.id,
      sha256: row.sha256,
      sizeBytes: Number(row.size_bytes),
    });
    id = row.parent_version_id;
  }
  return layers.reverse();
}

/** The first wait before a failed prefetch is tried again, and the longest. */
const PREFETCH_RETRY_MS = 60_000;
const PREFETCH_RETRY_MAX_MS = 60 * 60_000;

const quiet: DistributionLog = { info: () => undefined, warn: () => undefined };

export class ImageDistribution {
  readonly #db: Kysely<Database>;
  readonly #now: () => Date;
  readonly #log: DistributionLog;
  /** ensureOn calls under way by host and version: a second caller shares the first. */
  readonly #inFlight = new Map<string, Promise<{ fetched: readonly string[] }>>();
  /** Prefetches that failed, by host and version: when to try again. */
  readonly #failed = new Map<string, { retryAt: number; delayMs: number }>();
  /** Background prefetches, for idle(). */
  readonly #background = new Set<Promise<void>>();

  constructor(deps: ImageDistributionDeps) {
    this.#db = deps.db;
    this.#now = deps.now;
    this.#log = deps.log ?? quiet;
  }

  layersOf(versionId: string): Promise<ImageLayer[]> {
    return layersOf(this.#db, versionId);
  }

  /**
   * Makes the host's store hold the version's whole chain (the agent fetches what it
   * lacks; this may take minutes), then records every layer in host_images.
   */
  ensureOn(
    hostId: string,
    agent: HostAgent,
    versionId: string,
  ): Promise<{ fetched: readonly string[] }> {
    const key = `${hostId}\n${versionId}`;
    let running = this.#inFlight.get(key);
    if (running === undefined) {
      running = this.#ensure(hostId, agent, versionId).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, running);
    }
    return running;
  }

  async #ensure(hostId: string, agent: HostAgent, versionId: string) {
    const layers = await this.layersOf(versionId);
    const result = await agent.ensureImage(layers);
    if (result.fetched.length > 0)
      this.#log.info(
        { host: hostId, version: versionId, fetched: result.fetched },
        'image copied to host',
      );
    await this.#record(
      hostId,
      layers.map((layer) => layer.versionId),
    );
    return result;
  }

  /** Replaces the host's host_images rows with what its store holds now (versions known here). */
  async recordHeld(hostId: string, agent: HostAgent): Promise<void> {
    const held = [...new Set((await agent.listImages()).map((ref) => ref.versionId))];
    const now = this.#now().toISOString();
    await this.#db.transaction().execute(async (trx) => {
      const known =
        held.length === 0
          ? []
          : await trx.selectFrom('versions').select('id').where('id', 'in', held).execute();
      await trx.deleteFrom('host_images').where('host_id', '=', hostId).execute();
      if (known.length > 0)
        await trx
          .insertInto('host_images')
          .values(known.map((row) => ({ host_id: hostId, version_id: row.id, created_at: now })))
          .execute();
    });
  }

  /**
   * Starts copying, in the background, the published version of every profile the host
   * may run (a profile with no profile_hosts rows runs anywhere). Nothing for a drained
   * host or one that shares the controller's store. Resolves once the work is started.
   */
  async prefetch(hostId: string, agent: HostAgent): Promise<void> {
    const host = await this.#db
      .selectFrom('hosts')
      .select(['name', 'is_local', 'maintenance', 'shared_store'])
      .where('id', '=', hostId)
      .executeTakeFirst();
    if (
      host === undefined ||
      host.is_local === 1 ||
      host.maintenance === 1 ||
      host.shared_store === 1
    )
      return;
    const profiles = await this.#db
      .selectFrom('profiles')
      .select(['name', 'published_version_id'])
      .where('published_version_id', 'is not', null)
      .where((eb) => {
        const rules = eb
          .selectFrom('profile_hosts')
          .select('profile_hosts.host_id')
          .whereRef('profile_hosts.profile_id', '=', 'profiles.id');
        return eb.or([
          eb.not(eb.exists(rules)),
          eb.exists(rules.where('profile_hosts.host_id', '=', hostId)),
        ]);
      })
      // What the host holds already needs nothing (the pool asks every round).
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('host_images')
              .select('host_images.version_id')
              .where('host_images.host_id', '=', hostId)
              .whereRef('host_images.version_id', '=', 'profiles.published_version_id'),
          ),
        ),
      )
      .orderBy('name')
      .execute();
    if (profiles.length === 0) return;
    const work = (async () => {
      // One at a time: a host's disk and the controller's uplink are shared by all.
      for (const profile of profiles) {
        const version = profile.published_version_id;
        if (version === null) continue;
        const key = `${hostId}\n${version}`;
        const failed = this.#failed.get(key);
        if (failed !== undefined && failed.retryAt > this.#now().getTime()) continue;
        try {
          await this.ensureOn(hostId, agent, version);
          this.#failed.delete(key);
        } catch (error) {
          // The pool asks every round: a copy that failed (corrupt, refused, a full disk)
          // waits 1 min, then 2, 4… up to an hour, instead of starting again every 5 s.
          const delay = Math.min(
            PREFETCH_RETRY_MAX_MS,
            failed === undefined ? PREFETCH_RETRY_MS : failed.delayMs * 2,
          );
          this.#failed.set(key, { retryAt: this.#now().getTime() + delay, delayMs: delay });
          this.#log.warn(
            { host: host.name, profile: profile.name, version, err: error, retryInMs: delay },
            'prefetching an image to a host failed',
          );
        }
      }
    })();
    this.#background.add(work);
    void work.finally(() => this.#background.delete(work));
  }

  /** prefetch on each of these hosts (the online ones, after a version is published). */
  async prefetchAll(hosts: Iterable<{ hostId: string; agent: HostAgent }>): Promise<void> {
    for (const { hostId, agent } of hosts) {
      await this.prefetch(hostId, agent).catch((error: unknown) =>
        this.#log.warn({ host: hostId, err: error }, 'prefetching images to a host failed'),
      );
    }
  }

  /** Waits for the background prefetches started so far (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  async #record(hostId: string, versionIds: readonly string[]): Promise<void> {
    if (versionIds.length === 0) return;
    const now = this.#now().toISOString();
    await this.#db
      .insertInto('host_images')
      .values(versionIds.map((id) => ({ host_id: hostId, version_id: id, created_at: now })))
      .onConflict((oc) => oc.columns(['host_id', 'version_id']).doNothing())
      .execute();
  }
}

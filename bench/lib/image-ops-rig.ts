// The controller's image services on a throwaway machine for bench/image-ops.ts: a fresh
// SQLite database and image store in a temp dir, the in-process LocalAgent on real QEMU,
// and the services the API's routes call (cloneLinked, AdminSessionService, rollback).
// The store times its own createLayer and seal, so each operation can be split into what
// the store spends and the rest. close() quits every QEMU and removes the temp dir.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { localSupervisor } from '../../src/agent/local-host.js';
import { AgentPool } from '../../src/controller/agents/agent-pool.js';
import { AdminSessionService } from '../../src/controller/services/admin-sessions.js';
import type { Actor } from '../../src/controller/services/audit.js';
import { JobRegistry } from '../../src/controller/services/jobs.js';
import { cloneLinked } from '../../src/controller/services/profiles.js';
import { rollback, type ImagesContext } from '../../src/controller/services/versions.js';
import { VmService } from '../../src/controller/services/vms.js';
import { migrateToLatest, openDatabase, type LabvirtDb } from '../../src/db/index.js';
import { ImageStore, type SealedVersion } from '../../src/images/image-store.js';
import type { VersionRef } from '../../src/images/store-layout.js';
import type { StoredFile } from '../../src/images/stored-file.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import { killAll, publishedProfile } from '../../test/helpers/vm-fixture.js';

const actor: Actor = { principal: undefined, source: 'bench' };

/** An ImageStore that remembers how long its latest createLayer and seal took. */
class TimedStore extends ImageStore {
  layerMs = Number.NaN;
  sealMs = Number.NaN;

  override async createLayer(parent: VersionRef, target: VersionRef): Promise<StoredFile> {
    const start = performance.now();
    try {
      return await super.createLayer(parent, target);
    } finally {
      this.layerMs = performance.now() - start;
    }
  }

  override async seal(target: VersionRef): Promise<SealedVersion> {
    const start = performance.now();
    try {
      return await super.seal(target);
    } finally {
      this.sealMs = performance.now() - start;
    }
  }
}

/** A profile whose published version is an empty qcow2 of `size` (qemu-img's notation). */
export interface Golden {
  readonly label: string;
  readonly name: string;
  readonly version: SealedVersion;
}

/** One round's figures for one golden image, milliseconds. */
export interface RoundTimes {
  readonly bare: number;
  readonly clone: number;
  readonly cloneLayer: number;
  readonly cloneSeal: number;
  readonly open: number;
  readonly openLayer: number;
  readonly stop: number;
  readonly publish: number;
  readonly publishSeal: number;
}

async function timed<T>(action: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await action();
  return [performance.now() - start, result];
}

interface Parts {
  readonly dir: string;
  readonly database: LabvirtDb;
  readonly store: TimedStore;
  readonly supervisor: Supervisor;
  readonly agent: LocalAgent;
}

export class ImageOpsRig {
  readonly #parts: Parts;
  readonly #vms: VmService;
  readonly #sessions: AdminSessionService;
  readonly #ctx: ImagesContext & { images: ImageStore };
  #clones = 0;
  #closed: Promise<void> | undefined;

  private constructor(parts: Parts) {
    this.#parts = parts;
    const { database, store, agent } = parts;
    const db = database.db;
    const now = () => new Date();
    const agents = new AgentPool({ db, now, local: agent });
    // The admin VM boots only its BIOS (the disk is empty): no guest would answer the
    // power button, so a stop quits QEMU at once, as a forced stop does.
    this.#vms = new VmService({ db, agents, now, stopGraceMs: 0 });
    this.#sessions = new AdminSessionService(this.#vms, store, now);
    this.#ctx = { db, images: store, jobs: new JobRegistry(), now };
  }

  static async start(): Promise<ImageOpsRig> {
    const dir = await mkdtemp(join(tmpdir(), 'labvirt-bench-imgops-'));
    const made: { -readonly [K in keyof Parts]?: Parts[K] } = { dir };
    try {
      made.database = await openDatabase({ dataDir: dir });
      await migrateToLatest(made.database.db);
      await mkdir(join(dir, 'import'));
      const root = join(dir, 'images');
      made.store = new TimedStore({ root, importDirs: [join(dir, 'import')] });
      made.supervisor = localSupervisor(join(dir, 'run'), { images: made.store });
      made.agent = (await LocalAgent.start(made.supervisor, { images: made.store })).agent;
      return new ImageOpsRig(made as Parts);
    } catch (error) {
      await cleanUp(made);
      throw error;
    }
  }

  /** Imports an empty `size` qcow2 and publishes it as version 1 of a new profile. */
  async golden(label: string, size: string): Promise<Golden> {
    const source = join(this.#parts.dir, 'import', `${randomUUID()}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', source, size]);
    const name = `golden-${size.toLowerCase()}`;
    const version = await this.#parts.store.import(source, {
      profileId: randomUUID(),
      versionId: randomUUID(),
    });
    await rm(source);
    await publishedProfile(this.#parts.database.db, version, { name });
    return { label, name, version };
  }

  /**
   * One round on `golden`: the bare `qemu-img create -b`, a linked clone, then an admin
   * session opened, its VM stopped, and the draft published; the golden version is then
   * published again (rollback, not timed) so every round layers on the same one-layer chain.
   */
  async round(golden: Golden): Promise<RoundTimes> {
    const store = this.#parts.store;
    const bareLayer = join(this.#parts.dir, `bare-${randomUUID()}.qcow2`);
    const [bare] = await timed(() => this.#bare(golden, bareLayer));
    await rm(bareLayer); // not timed: no layer of LabVirt's is deleted either
    const cloneName = `${golden.name}-clone-${++this.#clones}`;
    const [clone] = await timed(() => cloneLinked(this.#ctx, actor, golden.name, cloneName));
    const cloneLayer = store.layerMs;
    const cloneSeal = store.sealMs;
    const [open, session] = await timed(() => this.#sessions.open(golden.name, actor));
    const openLayer = store.layerMs;
    if (session.vm?.state !== 'running') {
      throw new Error(`${golden.name}: the admin VM is ${session.vm?.state ?? 'missing'}`);
    }
    const vmName = session.vm.name;
    const [stop] = await timed(() => this.#vms.stop(vmName, actor, { force: true }));
    const [publish] = await timed(() => this.#sessions.publish(golden.name, actor));
    const publishSeal = store.sealMs;
    await rollback(this.#ctx, actor, golden.name, golden.version.ref.versionId);
    return { bare, clone, cloneLayer, cloneSeal, open, openLayer, stop, publish, publishSeal };
  }

  /** The least a linked layer costs: one qemu-img process, no checks, no rows. */
  async #bare(golden: Golden, dest: string): Promise<void> {
    const parent = golden.version.path;
    await nodeCommandRunner.run([
      'qemu-img',
      'create',
      '-q',
      ...['-f', 'qcow2', '-F', 'qcow2', '-b', parent, dest],
    ]);
  }

  /** Quits every QEMU of the run directory, then removes everything (once). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#vms.close();
      await cleanUp(this.#parts);
    })();
    return this.#closed;
  }
}

/** Whatever of the parts was made: every QEMU killed, the agent, its gateway, the files. */
async function cleanUp(parts: Partial<Parts>): Promise<void> {
  try {
    if (parts.supervisor !== undefined) {
      await killAll(parts.supervisor.runDir);
      await parts.agent?.close();
      await stopGatewayDaemon(parts.supervisor.runDir.root);
    }
  } finally {
    await parts.database?.close().catch(() => undefined);
    if (parts.dir !== undefined) await rm(parts.dir, { recursive: true, force: true });
  }
}

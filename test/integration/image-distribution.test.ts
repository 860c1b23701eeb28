// Image distribution (issue 8): a controller listening on HTTPS (self-signed, pinned by the
// agents) serves sealed versions to enrolled hosts; a fresh agent store gets a version's
// chain through LocalAgent.ensureImage and ImageFetcher (digests equal, files 0444,
// qemu-img check passes); a download cut half way resumes with a Range from the part's
// size; a tampered file is discarded whole; a wrong secret or certificate is refused; the
// distribution records host_images and prefetches only what a host may run.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { ControllerClient, certificateSha256 } from '../../src/agent/controller-client.js';
import { ImageFetcher, type FetcherLog } from '../../src/agent/image-fetcher.js';
import type { ImageLayer } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { hashSecret } from '../../src/controller/auth/tokens.js';
import { ImageDistribution } from '../../src/controller/services/image-distribution.js';
import { ImageStore, type SealedVersion } from '../../src/images/image-store.js';
import { QemuImg } from '../../src/qemu/image/qemu-img.js';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { tempDir } from '../helpers/env.js';
import { fakeAgent } from '../helpers/fake-agent.js';
import { realSupervisor } from '../helpers/supervisor.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as LogLine);
    done();
  }
  downloads(version: string): LogLine[] {
    return this.lines.filter(
      (line) => line.msg === 'image layer download' && line['version'] === version,
    );
  }
}

/**
 * A TCP relay to the controller that cuts its first connection once `cutAfter` bytes came
 * back (the TLS session simply dies half way through the body); later ones pass whole.
 */
async function cuttingProxy(port: number, cutAfter: number) {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const first = ++connections === 1;
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    let relayed = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      relayed += chunk.length;
      if (first && relayed > cutAfter) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${address.port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

const MIB = 1024 * 1024;

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path);
  for await (const chunk of file.createReadStream()) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

for (const dialect of dialects) {
  describe(`image distribution on ${dialect.name}`, () => {
    const log = new LogCapture();
    const cleanups: (() => Promise<void>)[] = [];
    let f: ApiFixture;
    let dir: string;
    let controllerStore: ImageStore;
    let url: string;
    let port: number;
    let pin: string;
    let base: SealedVersion;
    let layer: SealedVersion;
    let other: SealedVersion;
    let profileA: string;
    const host = { id: randomUUID(), secret: randomBytes(32).toString('base64url') };
    const otherHost = { id: randomUUID() };
    const drainedHost = { id: randomUUID(), secret: randomBytes(32).toString('base64url') };

    const layerOf = (v: SealedVersion): ImageLayer => ({
      ...v.ref,
      sha256: v.sha256,
      sizeBytes: v.sizeBytes,
    });
    const client = (options: { secret?: string; pin?: string; url?: string } = {}) =>
      new ControllerClient({
        url: options.url ?? url,
        pinnedSha256: options.pin ?? pin,
        hostId: host.id,
        agentSecret: options.secret ?? host.secret,
        timeoutMs: 60_000,
      });
    /** A fresh agent store and a LocalAgent on it fetching from the controller. */
    const freshAgent = async (name: string, controller = client(), log?: FetcherLog) => {
      const root = join(dir, name);
      const store = new ImageStore({ root: join(root, 'images') });
      const fetcher = new ImageFetcher({ store, controller, retryDelayMs: 100, log });
      const supervisor = realSupervisor(join(root, 'run'), { images: store });
      const { agent } = await LocalAgent.start(supervisor, { images: store, name, fetcher });
      cleanups.push(() => agent.close());
      return { store, fetcher, agent, root: join(root, 'images') };
    };

    before(async () => {
      const temp = await tempDir('lv-dist-');
      cleanups.push(temp.cleanup);
      dir = temp.path;
      const importDir = join(dir, 'import');
      await mkdir(importDir);
      controllerStore = new ImageStore({ root: join(dir, 'controller'), importDirs: [importDir] });
      // Incompressible content, so the file is megabytes and a cut lands in its middle.
      await writeFile(join(importDir, 'base.raw'), randomBytes(4 * MIB));
      await writeFile(join(importDir, 'other.raw'), randomBytes(MIB));
      profileA = randomUUID();
      const profileB = randomUUID();
      base = await controllerStore.import(join(importDir, 'base.raw'), {
        profileId: profileA,
        versionId: randomUUID(),
      });
      const layerRef = { profileId: profileA, versionId: randomUUID() };
      await controllerStore.createLayer(base.ref, layerRef);
      layer = { ...(await controllerStore.seal(layerRef)) };
      other = await controllerStore.import(join(importDir, 'other.raw'), {
        profileId: profileB,
        versionId: randomUUID(),
      });

      const pems = await generate([{ name: 'commonName', value: 'controller' }], {
        keySize: 2048,
      });
      pin = certificateSha256(pems.cert);
      f = await createApiFixture(dialect, {
        agents: [fakeAgent()],
        images: controllerStore,
        https: { key: Buffer.from(pems.private), cert: Buffer.from(pems.cert) },
        logger: { level: 'info', stream: log },
      });
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      port = (f.app.server.address() as net.AddressInfo).port;
      url = `https://127.0.0.1:${port}`;

      const db = f.database.db;
      const now = new Date().toISOString();
      const enrolled = (id: string, name: string, secret: string, extra = {}) =>
        rows.host({
          id,
          name,
          address: `https://${name}.invalid:8445`,
          is_local: 0,
          agent_certificate: pems.cert,
          agent_secret_hash: hashSecret(secret),
          // Every row the same columns: SQLite has no DEFAULT in a multi-row VALUES.
          maintenance: 0,
          ...extra,
        });
      await db
        .insertInto('hosts')
        .values([
          enrolled(host.id, 'h1', host.secret),
          enrolled(otherHost.id, 'h2', randomBytes(16).toString('hex')),
          enrolled(drainedHost.id, 'h3', drainedHost.secret, { maintenance: 1 }),
        ])
        .execute();
      await db
        .insertInto('profiles')
        .values([rows.profile({ id: profileA }), rows.profile({ id: profileB })])
        .execute();
      const version = (v: SealedVersion, n: number, parent: string | null) => ({
        id: v.ref.versionId,
        profile_id: v.ref.profileId,
        number: n,
        parent_version_id: parent,
        file: v.file,
        format: 'qcow2',
        size_bytes: v.sizeBytes,
        sha256: v.sha256,
        created_by: null,
        created_at: now,
      });
      await db
        .insertInto('versions')
        .values([
          version(base, 1, null),
          version(layer, 2, base.ref.versionId),
          version(other, 1, null),
        ])
        .execute();
      await db
        .updateTable('profiles')
        .set({ published_version_id: layer.ref.versionId })
        .where('id', '=', profileA)
        .execute();
      await db
        .updateTable('profiles')
        .set({ published_version_id: other.ref.versionId })
        .where('id', '=', profileB)
        .execute();
      // Profile B runs on h2 only; A has no rule (any host).
      await db
        .insertInto('profile_hosts')
        .values({ profile_id: profileB, host_id: otherHost.id })
        .execute();
    });
    after(async () => {
      await f?.close();
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    });

    it('gives a fresh agent store the whole chain through LocalAgent.ensureImage', async () => {
      const { agent, store } = await freshAgent('a1');
      const layers = await new ImageDistribution({
        db: f.database.db,
        now: () => new Date(),
      }).layersOf(layer.ref.versionId);
      assert.deepEqual(
        layers.map((l) => l.versionId),
        [base.ref.versionId, layer.ref.versionId],
        'base first',
      );
      const result = await agent.ensureImage(layers);
      assert.deepEqual(result.fetched, [base.ref.versionId, layer.ref.versionId]);
      for (const v of [base, layer]) {
        const path = store.pathOf(v.ref);
        assert.equal(await sha256Of(path), v.sha256);
        assert.equal((await stat(path)).mode & 0o777, 0o444);
      }
      const check = await new QemuImg().check(store.pathOf(layer.ref), 'qcow2');
      assert.ok(check.ok, 'qemu-img check passes on the top layer (its backing resolves)');
      assert.equal((await store.checkVersion(layer.ref)).length, 2);
      // Nothing is fetched twice.
      assert.deepEqual((await agent.ensureImage(layers)).fetched, []);
      assert.deepEqual(await filesUnder(join(store.root, 'tmp')), []);
    });

    it('resumes a download cut half way with a Range from the part’s size', async () => {
      const proxy = await cuttingProxy(port, Math.floor(base.sizeBytes / 2));
      cleanups.push(proxy.close);
      const told: { facts: Record<string, unknown>; message: string }[] = [];
      const tell = (facts: object, message: string) =>
        told.push({ facts: facts as Record<string, unknown>, message });
      const { store, fetcher } = await freshAgent('a2', client({ url: proxy.url }), {
        info: tell,
        warn: tell,
      });
      const before = log.downloads(base.ref.versionId).length;
      await fetcher.fetch(layerOf(base));
      assert.equal(await sha256Of(store.pathOf(base.ref)), base.sha256);
      const asked = log.downloads(base.ref.versionId).slice(before);
      assert.equal(asked.length, 2, JSON.stringify(asked));
      assert.equal(asked[0]?.['offset'], 0);
      const resumedAt = Number(asked[1]?.['offset']);
      assert.ok(resumedAt > 0 && resumedAt < base.sizeBytes, `resumed at ${resumedAt}`);
      // The part's size when the fetcher resumed is the Range the controller was asked for.
      const resuming = told.find((line) => line.message === 'resuming image layer download');
      assert.equal(resuming?.facts['offset'], resumedAt, JSON.stringify(told));
      assert.equal(proxy.connections(), 2);
      assert.deepEqual(await filesUnder(join(store.root, 'tmp')), []);
    });

    it('shares one download between concurrent fetches of a version', async () => {
      const { store, fetcher } = await freshAgent('a3');
      const before = log.downloads(other.ref.versionId).length;
      await Promise.all([fetcher.fetch(layerOf(other)), fetcher.fetch(layerOf(other))]);
      assert.equal(log.downloads(other.ref.versionId).length - before, 1);
      assert.equal(await sha256Of(store.pathOf(other.ref)), other.sha256);
    });

    it('discards a tampered file: IMAGE_TRANSFER_CORRUPT, nothing in versions/ nor a part', async () => {
      const { store, fetcher, agent } = await freshAgent('a4');
      const path = controllerStore.pathOf(other.ref);
      const flip = async () => {
        await chmod(path, 0o644);
        const file = await open(path, 'r+');
        const byte = Buffer.alloc(1);
        await file.read(byte, 0, 1, 4096);
        byte[0] = byte[0]! ^ 0xff;
        await file.write(byte, 0, 1, 4096);
        await file.close();
        await chmod(path, 0o444);
      };
      await flip();
      try {
        await assert.rejects(agent.ensureImage([layerOf(other)]), (error: Error) => {
          assert.equal((error as { code?: string }).code, 'IMAGE_TRANSFER_CORRUPT');
          assert.match(error.message, new RegExp(other.sha256));
          return true;
        });
      } finally {
        await flip();
      }
      assert.deepEqual(await filesUnder(store.root), []);
      assert.equal(await stat(fetcher.partPath(layerOf(other))).catch(() => undefined), undefined);
      // A wrong digest recorded is refused the same way.
      await assert.rejects(fetcher.fetch({ ...layerOf(other), sha256: '0'.repeat(64) }), {
        code: 'IMAGE_TRANSFER_CORRUPT',
      });
      assert.deepEqual(await filesUnder(store.root), []);
    });

    it('refuses a wrong agent secret (401) and a controller certificate other than the pin', async () => {
      const path = `/api/v1/agent/images/${base.ref.versionId}`;
      const refused = await client({ secret: 'not-the-secret' }).download(path);
      assert.equal(refused.status, 401);
      const problem = await client().problemOf(refused);
      assert.equal(problem.code, 'AGENT_CREDENTIAL_INVALID');

      const before = log.downloads(base.ref.versionId).length;
      await assert.rejects(client({ pin: 'ab'.repeat(32) }).download(path), {
        code: 'CONTROLLER_CERTIFICATE_MISMATCH',
      });
      const { fetcher, store } = await freshAgent('a5', client({ pin: 'ab'.repeat(32) }));
      await assert.rejects(fetcher.fetch(layerOf(base)), {
        code: 'CONTROLLER_CERTIFICATE_MISMATCH',
      });
      assert.equal(log.downloads(base.ref.versionId).length, before, 'no request reached it');
      assert.deepEqual(await filesUnder(store.root), []);

      const unknown = await client().download(`/api/v1/agent/images/${randomUUID()}`);
      assert.equal(unknown.status, 404);
      assert.equal((await client().problemOf(unknown)).code, 'VERSION_NOT_FOUND');
      const ranged = await client().download(path, { offset: 1000 });
      assert.equal(ranged.status, 206);
      assert.equal(Number(ranged.headers['content-length']), base.sizeBytes - 1000);
      assert.equal(ranged.headers['x-labvirt-sha256'], base.sha256);
      ranged.body.resume();
    });

    it('records host_images after ensureOn and replaces them with recordHeld', async () => {
      const db = f.database.db;
      const distribution = new ImageDistribution({ db, now: () => new Date() });
      const { agent } = await freshAgent('a6');
      const held = async () =>
        (
          await db
            .selectFrom('host_images')
            .select('version_id')
            .where('host_id', '=', host.id)
            .execute()
        )
          .map((row) => row.version_id)
          .sort();
      const [one, two] = await Promise.all([
        distribution.ensureOn(host.id, agent, layer.ref.versionId),
        distribution.ensureOn(host.id, agent, layer.ref.versionId),
      ]);
      assert.equal(one, two, 'concurrent calls for one (host, version) share one');
      assert.deepEqual(await held(), [base.ref.versionId, layer.ref.versionId].sort());
      await db
        .insertInto('host_images')
        .values({ host_id: host.id, version_id: other.ref.versionId, created_at: 'x' })
        .execute();
      await distribution.recordHeld(host.id, agent);
      assert.deepEqual(await held(), [base.ref.versionId, layer.ref.versionId].sort());
    });

    it('prefetches the published versions of the profiles a host may run, on no drained host', async () => {
      const db = f.database.db;
      const distribution = new ImageDistribution({ db, now: () => new Date() });
      const { agent, store } = await freshAgent('a7');
      await distribution.prefetch(drainedHost.id, agent);
      await distribution.idle();
      assert.deepEqual(await filesUnder(store.root), [], 'a drained host gets nothing');

      // As the pool does when a host comes online: host_images says what this store holds
      // (prefetch skips what it lists; earlier tests recorded versions on this host).
      await distribution.recordHeld(host.id, agent);
      await distribution.prefetch(host.id, agent);
      await distribution.idle();
      const files = await filesUnder(join(store.root, 'versions'));
      assert.deepEqual(
        files,
        [controllerStore.layout.file(base.ref), controllerStore.layout.file(layer.ref)]
          .map((file) => file.slice('versions/'.length))
          .sort(),
        'profile A (any host) and not profile B (h2 only)',
      );
      const rowsHeld = await db
        .selectFrom('host_images')
        .select('version_id')
        .where('host_id', '=', host.id)
        .execute();
      assert.ok(!rowsHeld.some((row) => row.version_id === other.ref.versionId));
    });

    it('a failed prefetch waits before it is tried again, longer each time', async () => {
      const db = f.database.db;
      let clock = Date.parse('2026-01-01T00:00:00Z');
      const distribution = new ImageDistribution({ db, now: () => new Date(clock) });
      let attempts = 0;
      const agent = fakeAgent({
        listImages: async () => [],
        ensureImage: async () => {
          attempts++;
          throw new Error('disk full');
        },
      });
      await distribution.recordHeld(host.id, agent); // holds nothing: the version is wanted
      const round = async () => {
        await distribution.prefetch(host.id, agent);
        await distribution.idle();
      };
      await round();
      assert.equal(attempts, 1);
      await round(); // the pool's next round, 5 s later
      clock += 5_000;
      await round();
      assert.equal(attempts, 1, 'not again within the first minute');
      clock += 60_000;
      await round();
      assert.equal(attempts, 2, 'again after a minute');
      clock += 60_000;
      await round();
      assert.equal(attempts, 2, 'the second wait is two minutes');
      clock += 60_000;
      await round();
      assert.equal(attempts, 3);
    });
  });
}

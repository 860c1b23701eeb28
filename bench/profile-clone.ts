// How long a linked clone takes through the controller's service (cloneLinked: the
// checks, the layer, its seal and the database rows, as POST /profiles/:p/clone does),
// on a 1 MiB golden image and on a 20 GiB sparse one: it must not depend on the image's
// size. Run: npm run build && node dist/bench/profile-clone.js
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { migrateToLatest, openDatabase } from '../src/db/index.js';
import { ImageStore } from '../src/images/image-store.js';
import { JobRegistry } from '../src/controller/services/jobs.js';
import { cloneLinked } from '../src/controller/services/profiles.js';
import { registerVersion } from '../src/controller/services/version-jobs.js';
import type { ImagesContext } from '../src/controller/services/versions.js';
import type { Actor } from '../src/controller/services/audit.js';
import { median, ROUNDS } from './lib/stats.js';

const actor: Actor = { principal: undefined, source: 'bench' };

const images: readonly { label: string; size: string; writeMiB: number }[] = [
  { label: '1 MiB', size: '1M', writeMiB: 0 },
  { label: '20 GiB sparse', size: '20G', writeMiB: 0 },
  { label: '20 GiB, 256 MiB written', size: '20G', writeMiB: 256 },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'labvirt-bench-clone-'));
  const database = await openDatabase({ dataDir: dir });
  try {
    await migrateToLatest(database.db);
    const importDir = join(dir, 'import');
    await mkdir(importDir);
    const store = new ImageStore({ root: join(dir, 'images'), importDirs: [importDir] });
    const ctx: ImagesContext = {
      db: database.db,
      images: store,
      jobs: new JobRegistry(),
      now: () => new Date(),
    };
    const rows: { label: string; clone: number }[] = [];
    for (const image of images) {
      const source = join(importDir, `${randomUUID()}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', source, image.size]);
      if (image.writeMiB > 0) {
        const command = `write -P 0x5a 0 ${image.writeMiB}M`;
        execFileSync('qemu-io', ['-f', 'qcow2', '-c', command, source], { stdio: 'ignore' });
      }
      const profileId = randomUUID();
      const name = `golden-${rows.length}`;
      const now = new Date().toISOString();
      await database.db
        .insertInto('profiles')
        .values({
          id: profileId,
          name,
          memory_mib: 1024,
          cpus: 1,
          nic_model: 'virtio',
          disk_bus: 'ide',
          display: 'rdp',
          guest_port: null,
          cdrom: null,
          admin_policy: 'shared',
          published_version_id: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const sealed = await store.import(source, { profileId, versionId: randomUUID() });
      await registerVersion(ctx as ImagesContext & { images: ImageStore }, actor, {
        profileId,
        sealed,
        parentVersionId: null,
        note: '',
        publish: 'always',
        action: 'bench.import',
      });
      const times: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const start = performance.now();
        await cloneLinked(ctx, actor, name, `${name}-clone-${round}`);
        times.push(performance.now() - start);
      }
      rows.push({ label: image.label, clone: median(times) });
      console.error(
        `${image.label}: virtual ${sealed.virtualSize} bytes, file ${sealed.sizeBytes} bytes`,
      );
    }
    const small = rows[0]?.clone ?? 1;
    console.log(
      [
        `linked clone through the service (SQLite): median of ${ROUNDS} rounds, milliseconds`,
        '',
        '| golden image | linked clone | vs 1 MiB |',
        '|---|---:|---:|',
        ...rows.map(
          (row) =>
            `| ${row.label} | ${row.clone.toFixed(1)} | ${(row.clone / small).toFixed(2)}x |`,
        ),
      ].join('\n'),
    );
  } finally {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

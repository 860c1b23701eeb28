// How long opening an admin session takes on a 1 MiB golden image and on a 20 GiB sparse
// one: through the controller's service (AdminSessionService.open: the profile lock, the
// rows, ImageStore.createLayer on the published version, and the administrative VM started
// by the in-process agent on real QEMU), until QEMU runs the VM. It must not depend on the
// image's size. Each round discards the session (the VM is quit) before the next.
// Run: npm run build && node dist/bench/admin-session-open.js
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalAgent } from '../src/agent/local-agent.js';
import { localSupervisor } from '../src/agent/local-host.js';
import { AdminSessionService } from '../src/controller/services/admin-sessions.js';
import { AgentPool } from '../src/controller/agents/agent-pool.js';
import { VmService } from '../src/controller/services/vms.js';
import { migrateToLatest, openDatabase } from '../src/db/index.js';
import { ImageStore } from '../src/images/image-store.js';
import { median, ROUNDS } from './lib/stats.js';

const images = [
  { label: '1 MiB', size: '1M' },
  { label: '20 GiB sparse', size: '20G' },
] as const;
const actor = { principal: undefined, source: 'bench' };

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lv-bench-'));
  const database = await openDatabase({ dataDir: dir });
  await migrateToLatest(database.db);
  const importDir = join(dir, 'import');
  await mkdir(importDir);
  const store = new ImageStore({ root: join(dir, 'images'), importDirs: [importDir] });
  const supervisor = localSupervisor(join(dir, 'run'), { images: store });
  const { agent } = await LocalAgent.start(supervisor, { images: store });
  const now = () => new Date();
  const agents = new AgentPool({ db: database.db, now, local: agent });
  const vms = new VmService({ db: database.db, agents, now, stopGraceMs: 0 });
  const sessions = new AdminSessionService(vms, store, () => new Date());
  const rows: { label: string; open: number }[] = [];
  try {
    for (const image of images) {
      const source = join(importDir, `${randomUUID()}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', source, image.size]);
      const id = randomUUID();
      const version = await store.import(source, { profileId: id, versionId: randomUUID() });
      const now = new Date().toISOString();
      const profile = {
        id,
        name: `bench-${id.slice(0, 8)}`,
        memory_mib: 32,
        cpus: 1,
        nic_model: 'virtio',
        disk_bus: 'ide',
        display: 'vnc' as const,
        admin_policy: 'shared' as const,
        created_at: now,
        updated_at: now,
      };
      await database.db.insertInto('profiles').values(profile).execute();
      await database.db
        .insertInto('versions')
        .values({
          id: version.ref.versionId,
          profile_id: id,
          number: 1,
          file: version.file,
          format: 'qcow2',
          size_bytes: version.sizeBytes,
          sha256: version.sha256,
          created_at: now,
        })
        .execute();
      await database.db
        .updateTable('profiles')
        .set({ published_version_id: version.ref.versionId })
        .where('id', '=', id)
        .execute();
      const open: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const start = performance.now();
        await sessions.open(profile.name, actor);
        open.push(performance.now() - start);
        await sessions.discard(profile.name, actor, { force: true });
      }
      rows.push({ label: image.label, open: median(open) });
      console.error(
        `${image.label}: virtual ${version.virtualSize} bytes, file ${version.sizeBytes} bytes`,
      );
    }
  } finally {
    vms.close();
    await agent.close();
    await database.close();
    await rm(dir, { recursive: true, force: true });
  }
  const small = rows[0]?.open ?? 1;
  console.log(
    [
      `admin session open (layer + rows + QEMU started): median of ${ROUNDS} rounds, milliseconds`,
      '',
      '| golden image | open | vs 1 MiB |',
      '|---|---:|---:|',
      ...rows.map(
        (row) => `| ${row.label} | ${row.open.toFixed(1)} | ${(row.open / small).toFixed(2)}x |`,
      ),
    ].join('\n'),
  );
}

await main();

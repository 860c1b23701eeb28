// How long the image store takes to make a linked layer (a linked clone, an admin draft)
// and to seal it, on a 1 MiB parent and on 20 GiB ones: both must not depend on the
// parent's size. The baseline is a bare `qemu-img create -b` (one process, no checks),
// the least any layer can cost. Run: npm run bench
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImageStore, type SealedVersion } from '../src/images/image-store.js';
import { nodeCommandRunner } from '../src/system/command-runner.js';
import { median, ROUNDS } from './lib/stats.js';

interface Parent {
  readonly label: string;
  /** qemu-img create arguments for the source, then what to write into it (qemu-io). */
  readonly size: string;
  readonly writeMiB: number;
}

const parents: readonly Parent[] = [
  { label: '1 MiB', size: '1M', writeMiB: 0 },
  { label: '20 GiB sparse', size: '20G', writeMiB: 0 },
  { label: '20 GiB, 256 MiB written', size: '20G', writeMiB: 256 },
];

async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await action();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'labvirt-bench-'));
  try {
    const importDir = join(dir, 'import');
    await mkdir(importDir);
    const store = new ImageStore({ root: join(dir, 'store'), importDirs: [importDir] });
    const rows: { label: string; bare: number; layer: number; seal: number }[] = [];
    for (const parent of parents) {
      const source = join(importDir, `${randomUUID()}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', source, parent.size]);
      if (parent.writeMiB > 0) {
        const command = `write -P 0x5a 0 ${parent.writeMiB}M`;
        execFileSync('qemu-io', ['-f', 'qcow2', '-c', command, source], { stdio: 'ignore' });
      }
      const profileId = randomUUID();
      const base: SealedVersion = await store.import(source, {
        profileId,
        versionId: randomUUID(),
      });
      const bare: number[] = [];
      const layer: number[] = [];
      const seal: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const dest = join(dir, `bare-${round}.qcow2`);
        bare.push(
          await timed(() =>
            nodeCommandRunner.run([
              'qemu-img',
              'create',
              '-q',
              '-f',
              'qcow2',
              '-F',
              'qcow2',
              '-b',
              base.path,
              dest,
            ]),
          ),
        );
        await rm(dest);
        const ref = { profileId, versionId: randomUUID() };
        layer.push(await timed(() => store.createLayer(base.ref, ref)));
        seal.push(await timed(() => store.seal(ref)));
        await store.remove(ref);
      }
      rows.push({
        label: parent.label,
        bare: median(bare),
        layer: median(layer),
        seal: median(seal),
      });
      console.error(
        `${parent.label}: virtual ${base.virtualSize} bytes, file ${base.sizeBytes} bytes`,
      );
    }
    print(rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function print(
  rows: readonly { label: string; bare: number; layer: number; seal: number }[],
): void {
  const small = rows[0] ?? { label: '', bare: 1, layer: 1, seal: 1 };
  const ms = (value: number): string => value.toFixed(1);
  const ratio = (value: number): string => `${value.toFixed(2)}x`;
  const lines = [
    `image store: median of ${ROUNDS} rounds, milliseconds`,
    '',
    '| parent | bare qemu-img create -b | createLayer | vs bare | seal | layer vs 1 MiB | seal vs 1 MiB |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${ms(row.bare)} | ${ms(row.layer)} | ${ratio(row.layer / row.bare)} | ${ms(row.seal)} | ${ratio(row.layer / small.layer)} | ${ratio(row.seal / small.seal)} |`,
    ),
  ];
  console.log(lines.join('\n'));
}

await main();

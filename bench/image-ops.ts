// Image operations against size (issue 9, item 3): a linked clone, opening an admin session
// and publishing its draft, through the controller's services, on empty sparse golden
// images of 1 MiB, 1 GiB and 20 GiB (--quick: 1 MiB and 20 GiB). The baseline, in the same
// run, is a bare `qemu-img create -f qcow2 -F qcow2 -b GOLDEN` (one process): the least a
// linked layer can cost. Target: flat in image size and under 1 s.
//
// Each round, per image: the bare layer; cloneLinked (what POST /profiles/:p/clone does);
// AdminSessionService.open until QEMU runs the admin VM (real QEMU, in-process agent); the
// admin VM stopped (timed apart: publish refuses while it runs); AdminSessionService.publish
// (seal the draft, the version rows). Then the golden version is published again, so every
// round works on the same one-layer chain. Sizes are interleaved within a round, in an order
// that rotates, so a busy moment of the machine or an order effect does not land on one size.
//
// Run: npm run build && node dist/bench/image-ops.js [--quick]   (BENCH_ROUNDS=N)
import { goOn, handleInterrupts, wasInterrupted } from './lib/interrupt.js';
import { kvmUsable } from './lib/machine.js';
import { QUICK } from './lib/options.js';
import { ROUNDS } from './lib/stats.js';
import { ImageOpsRig, type Golden, type RoundTimes } from './lib/image-ops-rig.js';
import { report } from './lib/image-ops-report.js';

const IMAGES: readonly { label: string; size: string; quick: boolean }[] = [
  { label: '1 MiB', size: '1M', quick: true },
  { label: '1 GiB sparse', size: '1G', quick: false },
  { label: '20 GiB sparse', size: '20G', quick: true },
];

async function main(): Promise<void> {
  handleInterrupts();
  const rig = await ImageOpsRig.start();
  try {
    const goldens: Golden[] = [];
    for (const image of IMAGES.filter((i) => i.quick || !QUICK)) {
      goOn();
      const golden = await rig.golden(image.label, image.size);
      const { virtualSize, sizeBytes } = golden.version;
      console.error(`${image.label}: virtual ${virtualSize} bytes, file ${sizeBytes} bytes`);
      goldens.push(golden);
    }
    // The first QEMU start and qemu-img runs pay for cold caches: not counted.
    for (const golden of goldens) {
      goOn();
      await rig.round(golden);
    }
    const rounds = new Map<Golden, RoundTimes[]>(goldens.map((g) => [g, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts at the next size: no size always follows the same one.
      for (let i = 0; i < goldens.length; i++) {
        const golden = goldens[(round + i) % goldens.length] as Golden;
        goOn();
        rounds.get(golden)?.push(await rig.round(golden));
      }
      console.error(`round ${round + 1}/${ROUNDS} done`);
    }
    const measured = goldens.map((g) => ({ label: g.label, rounds: rounds.get(g) ?? [] }));
    console.log(report(measured, ROUNDS, `QEMU under ${kvmUsable() ? 'KVM' : 'TCG'}`));
  } finally {
    await rig.close();
  }
}

await main().catch((error: unknown) => {
  if (!wasInterrupted()) throw error;
  process.exitCode = 1;
});

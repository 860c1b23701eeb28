// `npm run demo`: boots the project's own test guest under `labvirt run --snapshot` (run
// directory and images under ./data), in the foreground; Ctrl-C powers it down through
// ACPI. (`npm start` runs the controller, `labvirt server`.)
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { main } from '../src/cli/main.js';
import { GuestMode, writeGuestDisk } from './guest.js';

const dataDir = resolve(process.env['LABVIRT_DATA'] ?? 'data');
const disk = resolve(dataDir, 'images', 'demo-guest.img');
if (!existsSync(disk)) {
  await mkdir(resolve(dataDir, 'images'), { recursive: true });
  await writeGuestDisk(disk, GuestMode.waitForPowerButton);
}
process.stderr.write(
  `labvirt demo: booting the test guest from ${disk} with its writes discarded; Ctrl-C to power it down\n`,
);
process.exitCode = await main([
  'run',
  '--name',
  'demo',
  '--disk',
  `raw:${disk}`,
  '--snapshot',
  '--memory',
  '64',
  '--run-dir',
  resolve(dataDir, 'run'),
  '--grace',
  '10',
]);

// `node dist/scripts/linux-guest.js`: builds the Linux guest's image (or finds it in the
// cache) and prints its path. The builder is src/guest/linux-guest.ts; its exports are
// re-exported here for the tests that import them from this script.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLinuxGuest } from '../src/guest/linux-guest.js';

export * from '../src/guest/linux-guest.js';

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildLinuxGuest({ log: (line) => console.error(`linux-guest: ${line}`) }).then(
    (path) => console.log(path),
    (error: unknown) => {
      console.error(`linux-guest: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}

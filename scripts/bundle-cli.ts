// Bundles the compiled CLI (dist/src/cli/main.js and everything it imports) into one file,
// dist/src/cli/labvirt.bundle.js, which bin/labvirt runs. Why: Node 20 spends over a second
// resolving and reading the ~1,500 module files of a `labvirt server` start (kysely,
// typebox, fastify and ours), against ~0.3 s for one bundle; a fresh server must answer
// within 2 s, on a loaded machine too.
//
// The bundle sits at the same depth as every compiled module (dist/src/<dir>/), so the
// module-relative URLs in the sources ('../../web/', '../agent/gateway-daemon.js') resolve
// alike from the bundle and from the unbundled files tests import.
import { build } from 'rolldown';

/**
 * Kept out of the bundle and loaded from node_modules at run time: native addons, and
 * packages that find their own files through __dirname (Swagger UI's static assets,
 * pino's worker threads).
 */
const EXTERNAL = [
  'better-sqlite3',
  'pg-native',
  '@fastify/swagger',
  '@fastify/swagger-ui',
  'pino',
  'thread-stream',
];

const BUNDLE_FILE = 'dist/src/cli/labvirt.bundle.js';

await build({
  input: 'dist/src/cli/main.js',
  platform: 'node',
  external: (id) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
  logLevel: 'warn',
  output: {
    file: BUNDLE_FILE,
    format: 'esm',
    codeSplitting: false,
    sourcemap: true,
  },
});

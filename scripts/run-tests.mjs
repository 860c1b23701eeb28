#!/usr/bin/env node
// Runs node's test runner on the *.test.js files under the given directories.
// (Node 20's --test takes no globs, and given a directory it would also run every
// helper module under a "test" folder as if it were a test file.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function testFiles(dir) {
  // A single test file may be named too.
  if (dir.endsWith('.test.js') && statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return testFiles(path);
      return entry.name.endsWith('.test.js') ? [path] : [];
    })
    .sort();
}

// The database tests run on SQLite and on a real PostgreSQL server: start the machine's
// cluster on loopback unless the caller points at a server of their own.
function postgresUrl() {
  if (process.env.LABVIRT_TEST_DATABASE_URL) return process.env.LABVIRT_TEST_DATABASE_URL;
  const script = fileURLToPath(new URL('./test-postgres.sh', import.meta.url));
  // A bounded wait: if the script hangs, say so instead of holding CI silently.
  const started = spawnSync(script, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 120_000,
  });
  if (started.error) console.error(`run-tests: test-postgres.sh: ${started.error.message}`);
  if (started.status !== 0) {
    console.error('run-tests: no PostgreSQL server for the database tests (they will fail)');
    return undefined;
  }
  const url = started.stdout.trim();
  if (!/^postgres:\/\/\S+$/.test(url)) {
    console.error(`run-tests: test-postgres.sh printed no PostgreSQL URL: ${JSON.stringify(url)}`);
    return undefined;
  }
  return url;
}

const dirs = process.argv.slice(2);
const files = (dirs.length > 0 ? dirs : ['dist/test']).flatMap(testFiles);
if (files.length === 0) {
  console.error('run-tests: no *.test.js files found; run the build first');
  process.exit(1);
}
const url = postgresUrl();
// The reliability suite (test/reliability/) records its faults, hostile inputs and invariant
// checks here, one file per test process; the summary is printed once every batch ran.
const ledger = mkdtempSync(join(tmpdir(), 'labvirt-ledger-'));
const env = {
  ...process.env,
  LABVIRT_RELIABILITY_LEDGER: ledger,
  ...(url === undefined ? {} : { LABVIRT_TEST_DATABASE_URL: url }),
};
// Timing checks, and suites heavy enough to starve the others (the cluster's dozens of VMs and
// processes), are *.solo.test.js: they run after the rest, one at a time, on a quiet machine.
const solo = files.filter((file) => file.endsWith('.solo.test.js'));
const shared = files.filter((file) => !file.endsWith('.solo.test.js'));
let status = 0;
for (const [batch, concurrency] of [
  [shared, 2],
  [solo, 1],
]) {
  if (batch.length === 0) continue;
  const result = spawnSync(
    process.execPath,
    // A test that hangs fails after 10 minutes instead of holding CI until its limit.
    ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...batch],
    { stdio: 'inherit', env },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
const summary = new URL('../dist/test/reliability/summary.js', import.meta.url);
if (existsSync(summary)) {
  const { printLedgerSummary } = await import(summary.href);
  printLedgerSummary(ledger);
}
rmSync(ledger, { recursive: true, force: true });
process.exit(status);

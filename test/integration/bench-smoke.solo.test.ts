// The benchmarks still run (issue 9): each one, at its smallest (--quick, one round, short
// windows), on real QEMU and the real servers, exits 0, prints its tables and its target's
// verdict, and leaves no process behind. Nothing here is timed and no figure is judged:
// figures are bench/'s business (`npm run bench`), on a quiet machine. The runner refuses an
// unknown benchmark and, in a --quick run, leaves bench/README.md alone.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { runProcess, tempDir } from '../helpers/env.js';

const BUILD = join(dirname(fileURLToPath(import.meta.url)), '../..');
const POSTGRES = process.env['LABVIRT_TEST_DATABASE_URL'];

function run(script: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  return runProcess(process.execPath, [join(BUILD, script), ...args], {
    env: { ...process.env, ...env },
  });
}

/** The processes whose command line names `dir` (QEMUs, servers, agents of a run). */
async function processesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').trim()}`);
  }
  return found;
}

const BENCHMARKS: readonly {
  readonly name: string;
  readonly args: readonly string[];
  /** A header row of its tables, and its target line. */
  readonly table: string;
  readonly target: RegExp;
  readonly postgres?: boolean;
}[] = [
  {
    name: 'boot-storm',
    args: [],
    table: '| N | rounds | bare ms | LabVirt ms | ratio | target |',
    target: /^Target: boot storm ratio ≤ 1\.15 at N = 20: not measured/m,
  },
  {
    name: 'terminal-config',
    args: ['--seconds', '1', '--connections', '10'],
    table: '| server | requests/s | p50 ms | p99 ms |',
    target: /\| bare Fastify \| \d+ \|/,
  },
  {
    name: 'image-ops',
    args: [],
    table: '| golden image |',
    target: /^Target \(issue 9\), linked operations flat .*: (met|missed) /m,
  },
  {
    name: 'idle-cost',
    args: ['--seconds', '2', '--listener-seconds', '2', '--vms', '2', '--terminals', '50'],
    table: '| setup | process | CPU % |',
    target: /^Target: idle controller under 2 % of a core .* (met|missed)$/m,
    postgres: true,
  },
  {
    name: 'event-latency',
    args: [],
    table: '| observer | rounds | p50 ms | max ms |',
    target: /^Target: event latency under 1000 ms .* (met|missed)$/m,
  },
];

describe('the benchmarks still run (--quick, one round)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('lv-bench-smoke-');
  });
  after(() => tmp?.cleanup());

  for (const bench of BENCHMARKS) {
    it(
      `${bench.name}: exits 0 with its tables and target line, and leaves nothing running`,
      {
        skip: bench.postgres === true && POSTGRES === undefined ? 'needs PostgreSQL' : false,
      },
      async () => {
        // Everything the run makes is under its own TMPDIR, so what it leaves is found by it.
        const dir = join(tmp.path, bench.name);
        await mkdir(dir);
        const result = await run(join('bench', `${bench.name}.js`), ['--quick', ...bench.args], {
          TMPDIR: dir,
          BENCH_ROUNDS: '1',
        });
        assert.equal(result.code, 0, result.stderr.slice(-3000));
        assert.ok(result.stdout.includes(bench.table), result.stdout);
        assert.match(result.stdout, bench.target);
        assert.doesNotMatch(result.stdout, /\bNaN\b/);
        assert.deepEqual(await processesUnder(dir), []);
      },
    );
  }

  it('the runner refuses an unknown benchmark and a --quick run leaves bench/README.md alone', async () => {
    const unknown = await run(join('scripts', 'run-bench.js'), ['no-such-bench'], {});
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^run-bench: no benchmark no-such-bench \(have: .*boot-storm/m);
    // Not taken for --quick's value (it has none).
    const afterFlag = await run(join('scripts', 'run-bench.js'), ['--quick', 'boot-strom'], {});
    assert.equal(afterFlag.code, 2);
    assert.match(afterFlag.stderr, /no benchmark boot-strom/);

    const readme = join(BUILD, '..', 'bench', 'README.md');
    const before = await readFile(readme, 'utf8');
    const quick = await run(join('scripts', 'run-bench.js'), ['image-ops', '--quick'], {
      BENCH_ROUNDS: '1',
      TMPDIR: tmp.path,
    });
    assert.equal(quick.code, 0, quick.stderr.slice(-3000));
    assert.match(quick.stdout, /^## image-ops$/m);
    assert.equal(await readFile(readme, 'utf8'), before);
  });
});

// `npm run bench`: every compiled benchmark in dist/bench, one after the other (they
// measure time, so never two at once), each printing its tables on standard output.
// `npm run bench -- NAME...` runs only those; any other argument (--quick, --seconds 5)
// goes to each benchmark. A full run writes each benchmark's output and the machine into
// its section of bench/README.md; a --quick run only prints (its figures are not for quoting).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from '../bench/lib/machine.js';
import { resultsSection, withResults } from '../bench/lib/readme-results.js';

const built = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(built, 'bench');
const readmePath = join(built, '..', 'bench', 'README.md');

function run(name: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(benchDir, `${name}.js`), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

async function main(): Promise<number> {
  const all = readdirSync(benchDir)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -'.js'.length))
    .sort();
  const argv = process.argv.slice(2);
  const named = argv.filter((arg) => all.includes(arg));
  const forwarded = argv.filter((arg) => !all.includes(arg));
  // A word that is neither a benchmark nor the value of an option (--seconds 5; --quick
  // takes none) is a misspelt name.
  const stray = argv.find(
    (arg, i) =>
      !arg.startsWith('-') &&
      !all.includes(arg) &&
      (!argv[i - 1]?.startsWith('--') || argv[i - 1] === '--quick'),
  );
  if (stray !== undefined) {
    console.error(`run-bench: no benchmark ${stray} (have: ${all.join(', ')})`);
    return 2;
  }
  const quick = forwarded.includes('--quick');
  let status = 0;
  for (const name of named.length > 0 ? named : all) {
    console.log(`\n## ${name}\n`);
    const machine = describeMachine();
    const { code, output } = await run(name, forwarded);
    if (code !== 0) {
      console.error(
        `run-bench: ${name} exited with ${code}; bench/README.md keeps its last results`,
      );
      status = code;
    } else if (!quick && output.trim() !== '') {
      const readme = readFileSync(readmePath, 'utf8');
      writeFileSync(readmePath, withResults(readme, name, resultsSection(name, machine, output)));
    }
  }
  return status;
}

process.exitCode = await main();

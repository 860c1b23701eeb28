#!/usr/bin/env node
// `npm run bench`: every compiled benchmark in dist/bench, one after the other (they
// measure time, so never two at once). `npm run bench -- NAME...` runs only those.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join('dist', 'bench');
const wanted = process.argv.slice(2);
const all = readdirSync(dir)
  .filter((file) => file.endsWith('.js'))
  .map((file) => file.slice(0, -'.js'.length))
  .sort();
const chosen = wanted.length > 0 ? all.filter((name) => wanted.includes(name)) : all;
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`run-bench: no benchmark ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(2);
}
let status = 0;
for (const name of chosen) {
  console.log(`\n## ${name}\n`);
  const result = spawnSync(process.execPath, [join(dir, `${name}.js`)], { stdio: 'inherit' });
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);

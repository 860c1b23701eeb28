#!/usr/bin/env node
// Removes compiled files in dist/ whose TypeScript source is gone, so a deleted test
// does not keep running from a stale build. Unlike `rm -rf dist`, it never leaves dist/
// empty while another process is running tests from it.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const dist = 'dist';

function sourceOf(file) {
  const rel = relative(dist, file).replace(/\.js(\.map)?$/, '');
  return [`${rel}.ts`, `${rel}.mts`, `${rel}.tsx`];
}

function clean(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) clean(path);
    else if (!sourceOf(path).some((source) => existsSync(source))) rmSync(path);
  }
}

if (existsSync(dist)) clean(dist);

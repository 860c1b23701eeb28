// bin/labvirt runs the CLI bundled into one file (scripts/bundle-cli.ts), where every
// module's import.meta.url is the bundle's. A module-relative URL must therefore name the
// same file from the module's own compiled place and from the bundle's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = new URL('file:///repo/dist/src/cli/labvirt.bundle.js');
const MODULE_URL = /new URL\(\s*'([^']+)',\s*import\.meta\.url\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('module-relative paths in the CLI bundle', () => {
  const found = sources(join(ROOT, 'src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(MODULE_URL)].map((match) => ({
      file: relative(ROOT, file),
      url: match[1]!,
    })),
  );

  it('finds the module-relative URLs (web root, catalogues, gateway daemon, guest builder)', () => {
    assert.ok(found.length >= 4, JSON.stringify(found));
  });

  it('each resolves to the same file from its module and from the bundle', () => {
    for (const { file, url } of found) {
      const compiled = new URL(`file:///repo/dist/${file.replace(/\.ts$/, '.js')}`);
      assert.equal(
        new URL(url, BUNDLE).pathname,
        new URL(url, compiled).pathname,
        `${file}: '${url}' names another file from the bundle`,
      );
    }
  });

  it('no module takes its own file for itself (in the bundle that is the bundle)', () => {
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const uses = text.split('import.meta.url').length - 1;
      assert.equal(uses, [...text.matchAll(MODULE_URL)].length, relative(ROOT, file));
    }
  });

  it('a URL written the old way would be caught', () => {
    const compiled = new URL('file:///repo/dist/src/agent/gateway-client.js');
    assert.notEqual(
      new URL('./gateway-daemon.js', BUNDLE).pathname,
      new URL('./gateway-daemon.js', compiled).pathname,
    );
  });
});

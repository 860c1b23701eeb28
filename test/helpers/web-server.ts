// A listening controller for the browser tests: the VM fixture's app (real LocalAgent, image
// store, import directory, SQLite) on 127.0.0.1, port chosen by the kernel, serving the
// web console built into this dist (<dist>/web), with its host registered as
// `labvirt server` does, a guest disk ready in the import directory and a way to run the CLI
// of this same dist against it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { defaultWebRoot } from '../../src/controller/web-console.js';
import { registerHost } from '../../src/controller/services/hosts.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { cliEnv } from './cli-server.js';
import { dialects } from './databases.js';
import type { CliResult } from './env.js';
import { vmFixture, type VmFixture } from './vm-fixture.js';

/** The CLI's entry in this dist (dist-x/test/helpers → dist-x/src/cli/main.js). */
const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface WebServer {
  readonly f: VmFixture;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly hostId: string;
  /** The boot-counting guest's raw disk, in the server's import directory. */
  readonly guestDisk: string;
  /**
   * Runs `labvirt ARGS` (this dist's CLI) against the server with the admin's API token;
   * answeredAt: when its first output arrived (Date.now()), i.e. when it had the answer.
   */
  cli(args: readonly string[]): Promise<CliResult & { answeredAt: number | undefined }>;
  /** The VMs as the API lists them (as the admin). */
  vms(): Promise<VmView[]>;
  close(): Promise<void>;
}

export async function startWebServer(): Promise<WebServer> {
  assert.ok(
    existsSync(join(defaultWebRoot, 'index.html')),
    `the web console is not built into ${defaultWebRoot}: run npm run build ` +
      '(or vite build --config web/vite.config.ts --outDir <dist>/web)',
  );
  const sqlite = dialects.find((dialect) => dialect.name === 'sqlite')!;
  const f = await vmFixture(sqlite);
  try {
    const hostId = await registerHost(f.database.db, await f.agent.report(), new Date());
    // The hosts' use every 10 s, as `labvirt server` starts it (when the app has it).
    (f.app as unknown as { metrics?: { start(): void } }).metrics?.start();
    const guestDisk = join(f.dir, 'import', 'bootcount.img');
    await writeGuestDisk(guestDisk, GuestMode.waitForPowerButton);
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const address = f.app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    const url = `http://127.0.0.1:${address.port}`;
    return {
      f,
      url,
      port: address.port,
      hostId,
      guestDisk,
      cli: (args) =>
        runNode(
          [CLI_MAIN, ...args],
          cliEnv({ LABVIRT_URL: url, LABVIRT_TOKEN: f.users.admin.token }),
        ),
      vms: async () => {
        const response = await fetch(`${url}/api/v1/vms`, {
          headers: { authorization: `Bearer ${f.users.admin.token}` },
        });
        assert.equal(response.status, 200);
        return (await response.json()) as VmView[];
      },
      close: () => f.close(),
    };
  } catch (error) {
    await f.close();
    throw error;
  }
}

/** `node <script> ARGS`, where the script's main(argv) sets the exit code. */
function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CliResult & { answeredAt: number | undefined }> {
  const [main, ...rest] = args;
  const code = `const { main } = await import(${JSON.stringify(
    'file://' + main,
  )}); process.exitCode = await main(process.argv.slice(1));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, '--', ...rest], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    let answeredAt: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      answeredAt ??= Date.now();
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ code: status, stdout, stderr, answeredAt }));
  });
}

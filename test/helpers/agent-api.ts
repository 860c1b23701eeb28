// The agent API for tests: a real LocalAgent (real QEMU, the test guest) served by the
// agent's Fastify app on a loopback port with a fresh self-signed certificate, and the
// spec of a small VM of an imported guest version.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildAgentApp } from '../../src/agent/api/agent-app.js';
import { sha256Hex } from '../../src/agent/api/agent-auth.js';
import { ensureAgentCertificate } from '../../src/agent/agent-identity.js';
import type { AgentDisplaySpec, AgentVmSpec, ImageRef } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { RemoteAgent } from '../../src/agent/remote/remote-agent.js';
import { macFromUuid } from '../../src/qemu/cmdline/validate.js';
import type { ImageStore } from '../../src/images/image-store.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { waitFor } from './env.js';
import { realSupervisor } from './supervisor.js';

export interface ServedAgent {
  readonly url: string;
  readonly certificate: string;
  readonly secret: string;
  readonly app: FastifyInstance;
  readonly agent: LocalAgent;
  readonly supervisor: Supervisor;
  remote(options?: { secret?: string; certificate?: string; url?: string }): RemoteAgent;
  close(): Promise<void>;
}

/** A LocalAgent on DIR/run over `store`, served on 127.0.0.1:0 with a certificate in DIR. */
export async function serveAgent(
  dir: string,
  store: ImageStore,
  name = 'h1',
): Promise<ServedAgent> {
  const { key, cert } = await ensureAgentCertificate(join(dir, 'identity'), name);
  const supervisor = realSupervisor(join(dir, 'run'), { images: store });
  supervisor.setMaxListeners(0);
  const { agent } = await LocalAgent.start(supervisor, { images: store, name });
  const secret = randomBytes(32).toString('base64url');
  let url = '';
  const app = await buildAgentApp({
    agent,
    secretHash: () => sha256Hex(secret),
    identity: () => ({ name, address: url }),
    tls: { key, cert },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  url = `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const remotes: RemoteAgent[] = [];
  return {
    url,
    certificate: cert,
    secret,
    app,
    agent,
    supervisor,
    remote: (options = {}) => {
      const remote = new RemoteAgent({
        hostName: name,
        url: options.url ?? url,
        certificate: options.certificate ?? cert,
        secret: options.secret ?? secret,
        timeoutMs: 60_000,
        events: { retryMs: 200 },
      });
      remotes.push(remote);
      return remote;
    },
    close: async () => {
      for (const remote of remotes) await remote.close();
      await app.close();
      await agent.close();
    },
  };
}

/** A small VM of the guest version: no network, maybe a display for terminals. */
export function guestSpec(
  name: string,
  image: ImageRef,
  display?: AgentDisplaySpec,
  uuid: string = randomUUID(),
): AgentVmSpec {
  return {
    name,
    uuid,
    memoryMiB: 32,
    cpus: 1,
    nic: { model: 'virtio', mac: macFromUuid(uuid) },
    diskBus: 'ide',
    image,
    writes: 'discard',
    net: 'none',
    ...(display === undefined ? {} : { display }),
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `labvirt agent` of this build (the compiled CLI next to this test), as a child process. */
export class AgentProcess {
  readonly #args: readonly string[];
  child: ChildProcess | undefined;
  output = '';

  constructor(args: readonly string[]) {
    this.#args = args;
  }

  /** Starts it and waits for its listening line; the URL it printed. */
  async start(extra: readonly string[] = []): Promise<string> {
    const before = this.output.length;
    const child = spawnCli([...this.#args, ...extra]);
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    return waitFor(
      'the agent’s listening line',
      () => {
        const line = /LabVirt agent listening on (https:\/\/\S+)/.exec(this.output.slice(before));
        if (line?.[1] !== undefined) return line[1];
        if (child.exitCode !== null) throw new Error(`the agent exited: ${this.output}`);
        return undefined;
      },
      60_000,
    );
  }

  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return null;
    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill(signal);
    return (await exited)[0];
  }
}

export function spawnCli(args: readonly string[]): ChildProcess {
  const main = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const script = `import { main } from ${JSON.stringify(main)}; process.exitCode = await main(process.argv.slice(1));`;
  return spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
  });
}

export async function runToEnd(
  args: readonly string[],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawnCli(args);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.resume();
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

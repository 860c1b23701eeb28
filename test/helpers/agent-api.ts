// The agent API for tests: a real LocalAgent (real QEMU, the test guest) served by the
// agent's Fastify app on a loopback port with a fresh self-signed certificate, and the
// spec of a small VM of an imported guest version.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
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

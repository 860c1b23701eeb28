// The agent API end to end, driven only through RemoteAgent as a controller would: the
// agent's Fastify app over a real LocalAgent (real QEMU, the boot-counting guest), HTTPS
// with the agent's pinned self-signed certificate and the controller secret.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import type { VmEnded } from '../../src/agent/host-agent.js';
import { RemoteAgent } from '../../src/agent/remote/remote-agent.js';
import { ensureAgentCertificate, writeAgentIdentity } from '../../src/agent/agent-identity.js';
import { sha256Hex } from '../../src/agent/api/agent-auth.js';
import { ImageStore } from '../../src/images/image-store.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { isLabvirtError } from '../../src/domain/errors.js';
import type { SealedVersion } from '../../src/images/image-store.js';
import { bootsInLog, GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import {
  AgentProcess,
  closedPort,
  guestSpec,
  runToEnd,
  serveAgent,
  type ServedAgent,
} from '../helpers/agent-api.js';
import { ByteReader, rfbHandshake } from '../helpers/display-clients.js';
import { processAlive, waitFor } from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import { killAll } from '../helpers/vm-fixture.js';

async function failsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLabvirtError(error), `a LabvirtError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('the agent API through RemoteAgent (in-process agent, real QEMU)', () => {
  let fx: StoreFixture;
  let version: SealedVersion;
  let served: ServedAgent;
  let remote: RemoteAgent;

  before(async () => {
    fx = await storeFixture();
    const disk = join(fx.importDir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    version = await fx.store.import(disk, newRef(), { format: 'raw' });
    served = await serveAgent(fx.dir, fx.store);
    remote = served.remote();
  });

  after(async () => {
    await killAll(served.supervisor.runDir);
    await served.close();
    await stopGatewayDaemon(join(fx.dir, 'run'));
    await fx.cleanup();
  });

  it('reports the host by its enrolled name and advertised URL', async () => {
    const report = await remote.report();
    assert.equal(report.name, 'h1');
    assert.equal(report.address, served.url);
    // No --gateway-address: terminals are sent where the controllers reach the agent.
    assert.equal(report.gatewayAddress, new URL(served.url).hostname);
    assert.equal(report.qemu.available, true, report.qemu.problem);
    const usage = await remote.usage();
    assert.equal(typeof usage.cpuPercent, 'number');
    assert.deepEqual(await remote.listImages(), [version.ref]);
  });

  it('starts a VM idempotently, lists it, tickets, display, serial log, and tells of its end', async () => {
    const spec = guestSpec('api1', version.ref, { protocol: 'vnc', ticketed: true });
    // Two starts at once, and a third later: one VM.
    const [first, second] = await Promise.all([remote.startVm(spec), remote.startVm(spec)]);
    assert.equal(first.state, 'running');
    assert.equal(second.pid, first.pid);
    const again = await remote.startVm(spec);
    assert.equal(again.pid, first.pid);
    await failsWith(
      remote.startVm(guestSpec('api1', version.ref, undefined)),
      'VM_ALREADY_RUNNING',
    );
    const listed = await remote.listVms();
    assert.deepEqual(
      listed.map((vm) => [vm.name, vm.pid]),
      [['api1', first.pid]],
    );
    assert.equal((await remote.vm('api1'))?.uuid, spec.uuid);
    assert.equal(await remote.vm('nosuch'), undefined);

    const password = await remote.ticket('api1', 30);
    assert.match(password ?? '', /^[A-Za-z0-9_-]+$/);
    await failsWith(remote.ticket('nosuch', 30), 'VM_NOT_FOUND');

    const display = await remote.openDisplay('api1');
    const reader = new ByteReader(display as unknown as net.Socket);
    const rfb = await rfbHandshake(reader, undefined);
    assert.match(rfb.banner, /^RFB 003\.00\d\n$/);
    assert.equal(rfb.ok, true, rfb.reason);
    display.destroy();
    await failsWith(remote.openDisplay('nosuch'), 'VM_NOT_FOUND');

    const serial = await waitFor(
      'the guest’s boot line through the agent',
      async () => {
        const text = await remote.serialLog('api1');
        return text !== undefined && bootsInLog(text).length > 0 ? text : undefined;
      },
      60_000,
      500,
    );
    assert.match(serial, /LABVIRT-GUEST boot=/);
    assert.equal((await remote.serialLog('api1', 5))?.length, 5);
    await remote.resetVm('api1');

    const events: VmEnded[] = [];
    let reconnects = 0;
    remote.onReconnect(() => reconnects++);
    remote.onVmEnded((ended) => events.push(ended));
    await waitFor('the event stream to open', () => (reconnects > 0 ? true : undefined));
    const stopped = await remote.stopVm('api1', { graceMs: 20_000 });
    assert.equal(stopped.name, 'api1');
    assert.equal(stopped.state, 'stopped');
    const event = await waitFor('the vm-ended event', () =>
      events.find((ended) => ended.name === 'api1'),
    );
    assert.equal(event.state, 'stopped');
    assert.equal(await remote.vm('api1'), undefined);
    await failsWith(remote.stopVm('api1'), 'VM_NOT_FOUND');
  });

  it('refuses a wrong secret with 401', async () => {
    const wrong = served.remote({ secret: 'not-the-secret' });
    await assert.rejects(wrong.report(), (error: unknown) => {
      assert.ok(isLabvirtError(error));
      assert.equal(error.status, 401);
      return true;
    });
    await assert.rejects(wrong.openDisplay('api1'), (error: unknown) => {
      assert.ok(isLabvirtError(error));
      assert.equal(error.status, 401);
      return true;
    });
  });

  it('refuses an agent that presents another certificate than the pinned one', async () => {
    const other = await ensureAgentCertificate(join(fx.dir, 'other'), 'h1');
    const pinnedElsewhere = served.remote({ certificate: other.cert });
    await failsWith(pinnedElsewhere.report(), 'AGENT_CERTIFICATE_MISMATCH');
    await failsWith(pinnedElsewhere.openDisplay('api1'), 'AGENT_CERTIFICATE_MISMATCH');
  });

  it('says AGENT_UNREACHABLE when nothing listens', async () => {
    const gone = served.remote({ url: `https://127.0.0.1:${await closedPort()}` });
    await failsWith(gone.report(), 'AGENT_UNREACHABLE');
    await failsWith(gone.vm('api1'), 'AGENT_UNREACHABLE');
  });
});

describe('labvirt agent as a process (real QEMU)', () => {
  let fx: StoreFixture;
  let dir: string;
  let version: SealedVersion;
  const secret = randomBytes(32).toString('base64url');
  let agent: AgentProcess;
  let remote: RemoteAgent | undefined;

  before(async () => {
    fx = await storeFixture();
    dir = join(fx.dir, 'agent');
    // The agent's own store (DATA/images) already holds the version: nothing to fetch.
    const store = new ImageStore({ root: join(dir, 'images'), importDirs: [fx.importDir] });
    const disk = join(fx.importDir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    version = await store.import(disk, newRef(), { format: 'raw' });
    // As a join would have left it; no controller listens (its hello is retried, harmlessly).
    await writeAgentIdentity(dir, {
      hostId: randomUUID(),
      name: 'proc1',
      controllerUrl: `http://127.0.0.1:${await closedPort()}`,
      controllerCertSha256: null,
      agentSecret: randomBytes(32).toString('base64url'),
      controllerSecretHash: sha256Hex(secret),
    });
    agent = new AgentProcess([
      'agent',
      '--data',
      dir,
      '--metrics-listen',
      '127.0.0.1:0',
      '--log-format',
      'json',
    ]);
  });

  after(async () => {
    await remote?.close();
    await agent.stop('SIGKILL');
    await killAll(new RunDir(join(dir, 'run')));
    await stopGatewayDaemon(join(dir, 'run'));
    await fx.cleanup();
  });

  it('refuses bad flags and an agent that never joined with one line and exit code 2', async () => {
    const listen = await runToEnd(['agent', '--data', dir, '--listen', 'nowhere']);
    assert.equal(listen.code, 2, listen.stderr);
    assert.equal(listen.stderr.trim().split('\n').length, 1, listen.stderr);
    const token = await runToEnd([
      'agent',
      '--data',
      dir,
      '--join',
      'https://x',
      '--token',
      'bad',
      '--name',
      'a',
    ]);
    assert.equal(token.code, 2, token.stderr);
    assert.match(token.stderr, /--token: not a LabVirt join token/);
    const fresh = await runToEnd([
      'agent',
      '--data',
      join(fx.dir, 'never-joined'),
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      'off',
    ]);
    assert.equal(fresh.code, 2, fresh.stderr);
    assert.match(fresh.stderr, /agent\.json does not exist: join a controller first/);
  });

  it('serves its VMs, and after a SIGKILL and restart on the same port re-adopts them', async () => {
    const url = await agent.start(['--listen', '127.0.0.1:0']);
    const certificate = await readFile(join(dir, 'agent-cert.pem'), 'utf8');
    remote = new RemoteAgent({
      hostName: 'proc1',
      url,
      certificate,
      secret,
      events: { retryMs: 200 },
    });
    let reconnects = 0;
    remote.onReconnect(() => reconnects++);
    const report = await remote.report();
    assert.equal(report.name, 'proc1');
    assert.equal(report.address, url);
    assert.equal(report.sharedStore, false);

    const metricsUrl = await waitFor(
      'the metrics URL in the log',
      () => /"metrics":"(http:\/\/[^"]+)"/.exec(agent.output)?.[1],
    );
    const metrics = await fetch(`${metricsUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    await metrics.body?.cancel();

    const started = await remote.startVm(guestSpec('proc-vm', version.ref));
    assert.equal(started.state, 'running');
    await waitFor('the event stream to open', () => (reconnects > 0 ? true : undefined));

    assert.equal(await agent.stop('SIGKILL'), null);
    assert.equal(await processAlive(started.pid), true, 'QEMU outlives its agent');
    const opened = reconnects;
    const again = await agent.start(['--listen', url.replace('https://', '')]);
    assert.equal(again, url);
    const adopted = await waitFor(
      'the restarted agent to report the VM',
      async () => remote?.vm('proc-vm').catch(() => undefined),
      60_000,
      200,
    );
    assert.equal(adopted.pid, started.pid);
    assert.equal(adopted.uuid, started.uuid);
    assert.deepEqual(
      (await remote.listVms()).map((vm) => vm.name),
      ['proc-vm'],
    );
    await waitFor(
      'the event stream to reopen',
      () => (reconnects > opened ? true : undefined),
      30_000,
    );

    // SIGTERM: the agent goes, the VM stays.
    assert.equal(await agent.stop('SIGTERM'), 0, agent.output);
    assert.equal(await processAlive(started.pid), true);
  });
});

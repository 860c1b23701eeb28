// The agent API end to end, driven only through RemoteAgent as a controller would: the
// agent's Fastify app over a real LocalAgent (real QEMU, the boot-counting guest), HTTPS
// with the agent's pinned self-signed certificate and the controller secret.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import type { VmEnded } from '../../src/agent/host-agent.js';
import type { RemoteAgent } from '../../src/agent/remote/remote-agent.js';
import { ensureAgentCertificate } from '../../src/agent/agent-identity.js';
import { isLabvirtError } from '../../src/domain/errors.js';
import type { SealedVersion } from '../../src/images/image-store.js';
import { bootsInLog, GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { guestSpec, serveAgent, type ServedAgent } from '../helpers/agent-api.js';
import { ByteReader, rfbHandshake } from '../helpers/display-clients.js';
import { waitFor } from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import { killAll } from '../helpers/vm-fixture.js';

async function failsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLabvirtError(error), `a LabvirtError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

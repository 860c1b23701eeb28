// Client VMs through the API on real QEMU with the boot-counting guest (invariants 1, 2
// and 5): each session is a first boot of the published version, which never changes; the
// overlay goes with the VM however it ends (the guest powers off, a stop, SIGKILL), the
// row follows; QEMU's lock keeps writers off a version clients run on; a restart of the
// controller and agent loses no VM and duplicates none.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { dialects } from '../helpers/databases.js';
import { processAlive, sha256File, waitFor } from '../helpers/env.js';
import {
  bootCount,
  guestProfile,
  GuestMode,
  json,
  liveQemus,
  overlaysLeft,
  startClient,
  vmFixture,
  vmRow,
  waitForState,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';
import type { VmView } from '../../src/controller/services/vms.js';

const run = promisify(execFile);

for (const dialect of dialects) {
  describe(`client VMs on ${dialect.name}`, () => {
    let f: VmFixture;
    let powersOff: TestProfile;
    let waits: TestProfile;
    before(async () => {
      f = await vmFixture(dialect);
      powersOff = await guestProfile(f, { mode: GuestMode.powerOff });
      waits = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    });
    after(() => f?.close());

    // QEMU's side does not depend on the database, and ten boots take a while on two cores:
    // once, on SQLite (the rows' side is the same code the other tests run on both).
    const once = dialect.name === 'sqlite' ? it : it.skip;
    once(
      '10 client sessions: each a first boot, the version unchanged, no overlay left',
      async () => {
        const ids: string[] = [];
        // Five at a time: a session ends by itself (this guest powers off after its line).
        for (let batch = 0; batch < 10; batch += 5) {
          const count = 5;
          const started = await Promise.all(
            Array.from({ length: count }, () => startClient(f, powersOff.name)),
          );
          for (const vm of started) {
            assert.equal(vm.kind, 'client');
            assert.equal(vm.versionId, powersOff.version.ref.versionId);
            assert.match(vm.mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
            ids.push(vm.id);
          }
          for (const vm of started) {
            assert.equal(await bootCount(f, vm.id), 1, `${vm.name} is a first boot`);
            await waitForState(f, vm.id, 'stopped');
          }
        }
        assert.equal(new Set(ids).size, 10);
        assert.equal(await sha256File(powersOff.version.path), powersOff.version.sha256);
        assert.deepEqual(await overlaysLeft(f), [], 'every overlay went with its VM');
        const ended = json<VmView[]>(
          await f.request({
            method: 'GET',
            url: `/api/v1/vms?profile=${powersOff.name}&state=ended`,
            as: f.users.viewer,
          }),
          200,
        );
        assert.equal(ended.length, 10);
        assert.equal(new Set(ended.map((vm) => vm.mac)).size, 10, 'a MAC each');
      },
    );

    it('stopped through the API, and SIGKILLed: the row follows, the overlay is gone', async () => {
      const stopped = await startClient(f, waits.name);
      const killed = await startClient(f, waits.name);
      assert.equal(await bootCount(f, stopped.id), 1);
      assert.equal(await bootCount(f, killed.id), 1);
      assert.equal((await overlaysLeft(f)).length, 2);
      const running = await vmRow(f, killed.id);
      assert.equal(running.state, 'running');
      assert.ok(running.pid !== null && (await processAlive(running.pid)));

      const answer = json<VmView>(
        await f.request({
          method: 'POST',
          url: `/api/v1/vms/${stopped.id}/stop`,
          as: f.users.operator,
          payload: {},
        }),
        200,
      );
      assert.equal(answer.state, 'stopped', 'answered once it ended');
      process.kill(running.pid, 'SIGKILL');
      const crashed = await waitForState(f, killed.id, 'crashed');
      assert.equal(crashed.pid, null);
      await waitFor('the overlays to go', async () =>
        (await overlaysLeft(f)).length === 0 ? true : undefined,
      );
      assert.equal(await sha256File(waits.version.path), waits.version.sha256);
    });

    once("QEMU's image lock: no writer on the published version while a client runs", async () => {
      const client = await startClient(f, waits.name);
      assert.equal(await bootCount(f, client.id), 1);
      await assert.rejects(
        run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 9 0 512', waits.version.path]),
        (error: Error & { stderr?: string }) => {
          assert.match(error.stderr ?? '', /Failed to get "write" lock/);
          return true;
        },
      );
      await assert.rejects(
        run('qemu-system-x86_64', [
          '-nodefaults',
          '-display',
          'none',
          '-S',
          '-drive',
          `file=${waits.version.path},format=qcow2,if=ide`,
        ]),
        (error: Error & { stderr?: string }) => {
          assert.match(error.stderr ?? '', /Failed to get "write" lock/);
          return true;
        },
      );
      await f.request({
        method: 'POST',
        url: `/api/v1/vms/${client.id}/stop`,
        as: f.users.operator,
        payload: { force: true },
      });
      assert.equal((await vmRow(f, client.id)).state, 'stopped');
      assert.equal(await sha256File(waits.version.path), waits.version.sha256);
    });

    it('invariant 5: a restart keeps running VMs, duplicates none, ends the dead ones', async () => {
      const kept = await startClient(f, waits.name);
      const dies = await startClient(f, waits.name);
      await bootCount(f, kept.id);
      await bootCount(f, dies.id);
      const before = await liveQemus(f.supervisor.runDir);
      // The controller goes down; meanwhile one VM is killed.
      await f.restart().then(() => undefined, assert.fail);
      const pid = (await vmRow(f, dies.id)).pid;
      assert.ok(pid !== null);
      await f.app.close();
      await f.agent.close();
      process.kill(pid, 'SIGKILL');
      await waitFor('the killed QEMU to go', async () =>
        (await processAlive(pid)) ? undefined : true,
      );
      await f.restart();
      const after = await liveQemus(f.supervisor.runDir);
      assert.deepEqual([...after.keys()], [kept.name]);
      assert.equal(after.get(kept.name), before.get(kept.name), 'the same process, adopted');
      assert.equal((await vmRow(f, kept.id)).state, 'running');
      assert.equal((await vmRow(f, dies.id)).state, 'stopped', 'found ended');
      const rows = json<VmView[]>(
        await f.request({ method: 'GET', url: '/api/v1/vms?state=active', as: f.users.viewer }),
        200,
      );
      assert.deepEqual(
        rows.map((vm) => vm.name),
        [kept.name],
        'one row per running VM',
      );
      assert.deepEqual(await overlaysLeft(f), [kept.name], "the dead VM's overlay is gone");
      await f.request({
        method: 'POST',
        url: `/api/v1/vms/${kept.id}/stop`,
        as: f.users.operator,
        payload: {},
      });
      assert.deepEqual(await overlaysLeft(f), []);
    });
  });
}

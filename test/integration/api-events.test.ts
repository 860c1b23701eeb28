// The web console's live side on a real server (app.listen: inject cannot stream) with the
// real LocalAgent and the boot-counting QEMU guest: GET /events as a viewer (session
// cookie) hears a VM started and stopped by the CLI, a change through the API and the
// hosts' samples; a QEMU killed behind LabVirt's back, told at once; the hosts' use over
// REST; POST /vms/:vm/reset boots the guest again; and the stream ends when the server
// closes. The watcher's periodic look is set to 10 minutes here, so every event these
// tests hear comes from a change being told, not from a look that happened to follow.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { bootsInLog } from '../../scripts/guest.js';
import type { HostUsage } from '../../src/agent/host-agent.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { cliEnv, runCliWith } from '../helpers/cli-server.js';
import { dialects } from '../helpers/databases.js';
import { waitFor } from '../helpers/env.js';
import { openSse, type SseClient, type SseMessage } from '../helpers/sse-client.js';
import {
  bootCount,
  guestProfile,
  GuestMode,
  json,
  serial,
  startClient,
  vmFixture,
  vmRow,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';

interface HostView {
  readonly id: string;
  readonly name: string;
  readonly usage: HostUsage | null;
}

const isVm = (id: string, state: string) => (m: SseMessage) =>
  m.event === 'vm' && (m.data as VmView).id === id && (m.data as VmView).state === state;
const isChanged = (topic: string) => (m: SseMessage) =>
  m.event === 'changed' && (m.data as { topic: string }).topic === topic;

for (const dialect of dialects) {
  describe(`live events on ${dialect.name}`, () => {
    let f: VmFixture;
    let base = '';
    let profile: TestProfile;
    let viewerCookie = '';
    const open: SseClient[] = [];
    const events = async (headers: Record<string, string> = { cookie: viewerCookie }) => {
      const client = await openSse(`${base}/api/v1/events`, headers);
      open.push(client);
      return client;
    };
    const cli = async (...args: string[]) => {
      const env = cliEnv({
        LABVIRT_URL: base,
        LABVIRT_TOKEN: f.users.operator.token,
        XDG_CONFIG_HOME: join(f.dir, 'config'),
      });
      const result = await runCliWith(args, { env, cwd: f.dir });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      return JSON.parse(result.stdout) as VmView;
    };

    before(async () => {
      f = await vmFixture(dialect, { vmWatchIntervalMs: 600_000 });
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
      profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: f.users.viewer.username,
          password: f.users.viewer.password,
        }),
      });
      assert.equal(login.status, 200, await login.text());
      viewerCookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      assert.match(viewerCookie, /^labvirt_session=/);
    });
    afterEach(() => {
      for (const client of open.splice(0)) client.close();
    });
    after(() => f?.close());

    it('refuses a caller without credentials (401) and one that does not ask for a stream (406)', async () => {
      for (const headers of [{}, { cookie: 'labvirt_session=forged' }]) {
        const anonymous = await events(headers);
        assert.equal(anonymous.status, 401);
        assert.match(String(anonymous.headers['content-type']), /problem\+json/);
        assert.equal((JSON.parse(await anonymous.body) as { code: string }).code, 'AUTH_REQUIRED');
      }
      const json = await events({ cookie: viewerCookie, accept: 'application/json' });
      assert.equal(json.status, 406);
      assert.equal(
        (JSON.parse(await json.body) as { code: string }).code,
        'EVENT_STREAM_NOT_ACCEPTED',
      );
      // A bearer token serves as well as the cookie (curl's */* is an event stream too).
      const token = await events({
        authorization: `Bearer ${f.users.viewer.token}`,
        accept: '*/*',
      });
      assert.equal(token.status, 200);
    });

    it('a viewer hears a VM the CLI starts within 2 s of its running, and its end', async () => {
      const stream = await events();
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.headers['cache-control'], 'no-cache');
      assert.equal(stream.headers['x-accel-buffering'], 'no');

      const started = await cli('vm', 'start', '--profile', profile.name, '--json');
      assert.equal(started.state, 'running');
      const running = await stream.next('vm running', isVm(started.id, 'running'));
      const view = running.data as VmView;
      // From the moment the row became running (the server's clock is this machine's).
      const late = running.at - Date.parse(view.updatedAt);
      assert.ok(late <= 2_000, `the running event came ${late} ms after the VM ran`);
      assert.deepEqual(view, await vmRow(f, started.id), 'the view GET /vms/:vm answers');
      await stream.next('changed vms', isChanged('vms'));

      // Booted, so the guest hears the power button (the BIOS would not).
      assert.equal(await bootCount(f, started.id), 1);
      const stopped = await cli('vm', 'stop', started.name, '--json');
      assert.equal(stopped.state, 'stopped');
      const ended = await stream.next('vm stopped', isVm(started.id, 'stopped'));
      assert.deepEqual(ended.data, await vmRow(f, started.id));
      assert.equal((ended.data as VmView).pid, null);
    });

    it('a QEMU killed outside LabVirt: its end is heard at once, not at the next look', async () => {
      const stream = await events();
      const started = await cli('vm', 'start', '--profile', profile.name, '--json');
      await stream.next('vm running', isVm(started.id, 'running'));
      assert.ok(started.pid !== null);
      process.kill(started.pid, 'SIGKILL');
      // Nothing went through the API: only the agent's report of the exit can tell it.
      const crashed = await stream.next('vm crashed', isVm(started.id, 'crashed'));
      assert.deepEqual(crashed.data, await vmRow(f, started.id));
      assert.equal((crashed.data as VmView).pid, null);
    });

    it('changed {topic: labs} after POST /labs; a refused change tells nothing', async () => {
      const stream = await events();
      const create = (name: string) =>
        fetch(`${base}/api/v1/labs`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${f.users.admin.token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ name }),
        });
      assert.equal((await create(`live-${dialect.name}`)).status, 201);
      await stream.next('changed labs', isChanged('labs'));
      assert.equal((await create(`live-${dialect.name}`)).status, 409);
      assert.equal((await create(`live-2-${dialect.name}`)).status, 201);
      await waitFor('two labs events', () =>
        stream.messages.filter(isChanged('labs')).length >= 2 ? true : undefined,
      );
      assert.equal(stream.messages.filter(isChanged('labs')).length, 2, 'the 409 told nothing');
      assert.deepEqual(
        stream.messages.filter((m) => m.event === 'changed').map((m) => m.data),
        [{ topic: 'labs' }, { topic: 'labs' }],
      );
    });

    it('the hosts’ use: samples over REST, the latest in the Host view, and metrics events', async () => {
      const stream = await events();
      await f.app.metrics.sampleNow();
      await f.app.metrics.sampleNow();
      const hosts = json<HostView[]>(
        await f.request({ method: 'GET', url: '/api/v1/hosts', as: f.users.viewer }),
        200,
      );
      assert.equal(hosts.length, 1);
      const host = hosts[0]!;
      const metrics = json<{ host: string; intervalSeconds: number; samples: HostUsage[] }>(
        await f.request({
          method: 'GET',
          url: `/api/v1/hosts/${host.name}/metrics`,
          as: f.users.viewer,
        }),
        200,
      );
      assert.equal(metrics.host, host.id);
      assert.equal(metrics.intervalSeconds, 10);
      assert.equal(metrics.samples.length, 2);
      const [first, latest] = metrics.samples as [HostUsage, HostUsage];
      assert.ok(first.at <= latest.at, 'oldest first');
      assert.deepEqual(host.usage, latest);
      for (const sample of metrics.samples) {
        assert.ok(sample.cpuPercent >= 0 && sample.cpuPercent <= 100, `cpu ${sample.cpuPercent}`);
        assert.ok(sample.memoryTotalMiB > 0 && sample.memoryUsedMiB <= sample.memoryTotalMiB);
        assert.ok(sample.diskTotalMiB > 0 && sample.diskUsedMiB <= sample.diskTotalMiB);
        assert.ok(Number.isInteger(sample.vms) && sample.vms >= 0);
      }
      const shown = json<HostView>(
        await f.request({ method: 'GET', url: `/api/v1/hosts/${host.id}`, as: f.users.viewer }),
        200,
      );
      assert.deepEqual(shown.usage, latest);
      const told = await stream.next(
        'the latest metrics event',
        (m) => m.event === 'metrics' && (m.data as { sample: HostUsage }).sample.at === latest.at,
      );
      assert.deepEqual(told.data, { host: host.id, sample: latest });
      const unknown = await f.request({
        method: 'GET',
        url: '/api/v1/hosts/no-such-host/metrics',
        as: f.users.viewer,
      });
      assert.equal(unknown.statusCode, 404);
    });

    it('POST /vms/:vm/reset boots the guest again (operators; viewers get 403)', async () => {
      const vm = await startClient(f, profile.name);
      assert.equal(await bootCount(f, vm.id), 1);
      const reset = (as = f.users.operator) =>
        f.request({ method: 'POST', url: `/api/v1/vms/${vm.id}/reset`, payload: {}, as });
      const refused = await reset(f.users.viewer);
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(refused.json<{ code: string }>().code, 'FORBIDDEN');

      const answer = json<VmView>(await reset(), 200);
      assert.equal(answer.id, vm.id);
      assert.equal(answer.state, 'running');
      // The same QEMU (its overlay kept until the VM ends): the counter goes on.
      const boots = await waitFor(
        'a second boot line',
        async () => {
          const found = bootsInLog(await serial(f, vm.id));
          return found.length >= 2 ? found : undefined;
        },
        60_000,
      );
      assert.deepEqual(boots, ['1', '2']);
      assert.equal((await vmRow(f, vm.id)).pid, vm.pid, 'the same process');
      const audited = await f.database.db
        .selectFrom('audit_events')
        .select(['actor_name', 'target_type'])
        .where('action', '=', 'vm.reset')
        .where('target_id', '=', vm.id)
        .execute();
      assert.deepEqual(audited, [{ actor_name: 'operator', target_type: 'vm' }]);

      json<VmView>(
        await f.request({
          method: 'POST',
          url: `/api/v1/vms/${vm.id}/stop`,
          payload: { force: true },
          as: f.users.operator,
        }),
        200,
      );
      const stopped = await reset();
      assert.equal(stopped.statusCode, 409, stopped.body);
      assert.equal(stopped.json<{ code: string }>().code, 'VM_NOT_RUNNING');
    });

    // Last: it closes the app (the fixture's close closes it again, harmlessly).
    it('the stream ends when the server closes, and the close does not wait for it', async () => {
      const stream = await events();
      assert.equal(stream.status, 200);
      let ended = false;
      void stream.ended.then(() => (ended = true));
      await f.app.close();
      await waitFor('the stream to end', () => (ended ? true : undefined), 10_000);
      assert.equal(f.app.events.listeners, 0);
    });
  });
}

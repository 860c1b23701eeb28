// Issue 8: two controllers on one PostgreSQL (both `labvirt server --no-local-host`, the
// same three agents, one image store on shared storage) under 200 concurrent terminal
// config requests, 20 terminals × 10, split across both: scheduling is serialized through
// the database, so no terminal gets two VMs (one active row, one QEMU at most), and every
// terminal ends up served by its one VM, whichever controller it asks.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { Cluster, countBy, type ClusterController } from '../helpers/cluster.js';
import { waitFor } from '../helpers/env.js';

const TERMINALS = 20;
const ASKS_EACH = 10;
const PROFILE = 'tiny';
// 3 hosts × 2 CPUs × ratio 4: room for 24 VMs of one vCPU, so every terminal fits.
const AGENT = { cpus: 2, memoryMiB: 1024, cpuRatio: 4 } as const;

const skip =
  process.env['LABVIRT_TEST_DATABASE_URL'] === undefined
    ? 'LABVIRT_TEST_DATABASE_URL is not set: the cluster runs on PostgreSQL (npm test sets it, or export LABVIRT_TEST_DATABASE_URL=$(scripts/test-postgres.sh))'
    : false;

interface Answer {
  readonly mac: string;
  readonly controller: number;
  readonly status: number;
  readonly body: string;
}

describe(
  'two controllers on one PostgreSQL under 200 concurrent terminal requests',
  { skip },
  () => {
    let cluster: Cluster;
    let macs: string[] = [];

    before(async () => {
      cluster = await Cluster.start({ controllers: 2 });
      for (const name of ['node-a', 'node-b', 'node-c']) await cluster.addAgent(name, AGENT);
      await cluster.guestProfile(PROFILE);
      macs = await cluster.lab('load', {
        profile: PROFILE,
        terminals: TERMINALS,
        placement: 'spread',
        tag: 5,
      });
    });
    after(async () => {
      await cluster?.close();
    });

    /** GET /terminal/v1/config for each (mac, controller) at once, over kept-alive connections. */
    const askAll = async (asks: readonly { mac: string; controller: ClusterController }[]) => {
      const agents = cluster.controllers.map(
        () => new https.Agent({ keepAlive: true, maxSockets: 100, ca: cluster.tls.cert }),
      );
      try {
        return await Promise.all(
          asks.map(
            ({ mac, controller }) =>
              new Promise<Answer>((resolve, reject) => {
                const url = new URL(`/terminal/v1/config?mac=${mac}`, controller.url);
                const request = https.get(url, { agent: agents[controller.index] }, (response) => {
                  let body = '';
                  response.setEncoding('utf8');
                  response.on('data', (chunk: string) => (body += chunk));
                  response.on('error', reject);
                  response.on('end', () =>
                    resolve({
                      mac,
                      controller: controller.index,
                      status: response.statusCode ?? 0,
                      body,
                    }),
                  );
                });
                request.on('error', reject);
              }),
          ),
        );
      } finally {
        for (const agent of agents) agent.destroy();
      }
    };

    it(
      '20 terminals × 10 requests across both controllers: no terminal gets two VMs, every terminal is served',
      { timeout: 420_000 },
      async (t) => {
        const [first, second] = cluster.controllers;
        assert.ok(first && second);
        const asks = macs.flatMap((mac) =>
          Array.from({ length: ASKS_EACH }, (_, k) => ({
            mac,
            controller: k % 2 === 0 ? first : second,
          })),
        );
        assert.equal(asks.length, 200);
        const started = Date.now();
        const answers = await askAll(asks);
        t.diagnostic(
          `200 answers in ${Date.now() - started} ms: ${[...countBy(answers, (a) => `${a.controller}:${a.status}`)].join(' ')}`,
        );
        const bad = answers.filter((answer) => answer.status !== 200 && answer.status !== 202);
        assert.deepEqual(
          bad
            .slice(0, 5)
            .map((a) => `${a.mac} via ${a.controller}: ${a.status} ${a.body.slice(0, 200)}`),
          [],
          'every request is answered 200 (its VM) or 202 (starting)',
        );
        // Right after the burst, and again once the starts are done: never two at once.
        const assertNoDuplicate = async () => {
          const rows = await cluster.activeVms();
          const perTerminal = countBy(
            rows.filter((row) => row.terminal_id !== null),
            (row) => row.terminal_id ?? '',
          );
          const twice = [...perTerminal].filter(([, n]) => n > 1);
          assert.deepEqual(twice, [], 'no terminal has two active VM rows');
          const qemus = await cluster.qemuProcesses();
          const perMac = countBy(qemus, (qemu) => qemu.mac ?? qemu.uuid);
          assert.deepEqual(
            [...perMac].filter(([, n]) => n > 1),
            [],
            'no terminal’s VM MAC has two QEMUs',
          );
          return { rows, qemus };
        };
        await assertNoDuplicate();

        // Every terminal is served: asked again (on both controllers), each gets its one VM.
        const terminals = await cluster.database.db
          .selectFrom('terminals')
          .select(['id', 'mac'])
          .where('mac', 'in', macs)
          .execute();
        assert.equal(terminals.length, TERMINALS);
        const served = await waitFor(
          'every terminal served by its VM on both controllers',
          async () => {
            const again = await askAll(
              macs.flatMap((mac) => [first, second].map((controller) => ({ mac, controller }))),
            );
            return again.every((answer) => answer.status === 200) ? again : undefined;
          },
          240_000,
          2000,
        );
        const { rows, qemus } = await assertNoDuplicate();
        const vmOf = new Map(rows.map((row) => [row.terminal_id, row]));
        for (const answer of served) {
          const terminal = terminals.find((row) => row.mac === answer.mac);
          const row = vmOf.get(terminal?.id ?? '');
          assert.ok(row, `${answer.mac} has an active VM row`);
          assert.equal(row.state, 'running');
          const body = JSON.parse(answer.body) as { vm: string; terminal: { mac: string } };
          assert.equal(body.terminal.mac, answer.mac);
          assert.equal(
            body.vm,
            row.name,
            `${answer.mac} via controller ${answer.controller} gets its own VM`,
          );
        }
        assert.equal(rows.length, TERMINALS, 'one active VM per terminal, and no other');
        const failed = await cluster.database.db
          .selectFrom('vms')
          .select(['name', 'state'])
          .where('state', 'not in', ['starting', 'running', 'stopping'])
          .execute();
        assert.deepEqual(failed, [], 'no start failed on the way (a lost race is not a failed VM)');
        for (const row of rows) {
          const mine = qemus.filter((qemu) => qemu.uuid === row.id);
          assert.equal(mine.length, 1, `one QEMU for ${row.name}`);
          assert.equal(mine[0]?.agent, row.host, `${row.name}'s QEMU runs under its host's agent`);
        }
        assert.equal(qemus.length, TERMINALS, 'no QEMU without an active row');
        t.diagnostic(`VMs per host: ${[...countBy(rows, (row) => row.host ?? '?')].join(' ')}`);
      },
    );
  },
);

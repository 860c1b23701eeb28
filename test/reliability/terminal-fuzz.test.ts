// Property-based: the terminal endpoint (GET /terminal/v1/config, /terminal/v1/boot.sh; no
// login, so anyone on the network can ask) fuzzed with arbitrary MACs (known ones, their
// dashed and upper-case forms, random, malformed, lists of them), query keys and values,
// formats, clients, methods, source addresses and headers (Host, X-Forwarded-For, bodies).
// A lab of terminals each served by a running VM (a fake agent: this is about the HTTP
// endpoint and the database, not QEMU) gives every answer something to leak. Whatever comes
// in: never a 5xx, no crash; inv7: a 200 reveals one terminal's settings, that of a MAC the
// request named, and no other terminal's name, MAC, VM, port or display ticket; a refused
// request changes nothing in the database; the boot script bakes in no header's text but a
// plain host[:port].
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/controller/app.js';
import { configFormats, terminalClients, type TerminalConfig } from '../../src/terminal/config.js';
import { fingerprint } from '../helpers/api.js';
import { dialects, type TestDatabase } from '../helpers/databases.js';
import { loadAgent, seedLoadLab, type LoadAgent, type LoadLab } from '../helpers/terminal-load.js';
import { hostileInputs, invariant } from './ledger.js';
import { assertProperty } from './matrix-ledger.js';
import { scaled } from './scale.js';

const TERMINALS = 6;
const RUNS = scaled(1000, 10_000);

const mixedCase = (mac: string) =>
  [...mac].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');

/** A MAC as a terminal, a careless client or an attacker might write it. */
function macs(known: readonly string[]): fc.Arbitrary<string> {
  const hex = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.constantFrom(...known).map((m) => m.replaceAll(':', '-')) },
    { weight: 1, arbitrary: fc.constantFrom(...known).map(mixedCase) },
    { weight: 2, arbitrary: fc.array(hex, { minLength: 6, maxLength: 6 }).map((b) => b.join(':')) },
    {
      weight: 1,
      arbitrary: fc.array(hex, { minLength: 0, maxLength: 9 }).map((b) => b.join(':')),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'ff:ff:ff:ff:ff:ff',
        '00:00:00:00:00:00',
        '52:54:10:00:00:00:00',
        '52:54:10:00-00:01',
        "52:54:10:00:00:01' or 1=1 --",
        '%00',
        '../../etc/passwd',
        '$(reboot)',
        ' ',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  );
}

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 10, unit: 'binary' }),
  fc.constantFrom('', ',', ',,,', 'json,env', 'JSON', '\u0000', 'a'.repeat(3000)),
);

const methods = fc.oneof(
  { weight: 8, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constant('HEAD') },
  { weight: 2, arbitrary: fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
);

const ipv4 = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
  .map((b) => b.join('.'));

const headers = fc.record(
  {
    host: fc.oneof(
      fc.constantFrom('labvirt.example:8080', '[::1]:8080', 'evil.example', '$(reboot)', '`id`'),
      fc.string({ maxLength: 30 }),
    ),
    'x-forwarded-for': fc.oneof(ipv4, fc.string({ maxLength: 20 })),
    accept: fc.constantFrom('*/*', 'text/plain', 'application/json', 'x/y;q=0'),
    'content-type': fc.constantFrom('application/json', 'text/plain', 'x-weird/ok'),
    cookie: fc.constantFrom('labvirt_session=forged', 'a=b'),
  },
  { requiredKeys: [] },
);

for (const dialect of dialects) {
  describe(`the terminal endpoint under random input on ${dialect.name}`, () => {
    let database: TestDatabase;
    let app: FastifyInstance;
    let lab: LoadLab;
    let load: LoadAgent;
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);

    before(async () => {
      database = await dialect.create();
      lab = await seedLoadLab(database.db, TERMINALS, { running: true });
      load = loadAgent(lab);
      // One address asks thousands of times here; the limit is tested in terminal-endpoint.
      app = await buildApp({
        db: database.db,
        agents: [load.agent],
        terminalRateLimit: { max: 1_000_000, windowMs: 60_000 },
      });
      await app.ready();
      process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
    });
    after(async () => {
      process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash);
      await app?.close();
      await database?.drop();
    });

    /** What of each terminal an answer must not show unless it is that terminal's. */
    function markers(index: number): string[] {
      const terminal = lab.terminals[index]!;
      const vm = lab.vms.get(terminal.id)!;
      const ticket = load.tickets.get(vm.name);
      return [
        terminal.name,
        terminal.mac,
        terminal.mac.replaceAll(':', '-'),
        vm.name,
        `:${vm.port}`,
        `=${vm.port}`,
        `"port":${vm.port}`,
        ...(ticket === undefined ? [] : [ticket]),
      ];
    }

    it('a known terminal’s config, in every format, is its own', async () => {
      for (const terminal of lab.terminals) {
        const response = await app.inject({
          url: `/terminal/v1/config?mac=${terminal.mac}`,
          remoteAddress: '10.0.0.1',
        });
        assert.equal(response.statusCode, 200, response.body);
        const config = response.json<TerminalConfig>();
        assert.equal(config.terminal.mac, terminal.mac);
        assert.equal(config.vm, lab.vms.get(terminal.id)!.name);
        assert.equal(config.port, lab.vms.get(terminal.id)!.port);
      }
    });

    it(`never a 5xx; only the asking terminal’s settings; a refusal changes nothing (${RUNS} runs)`, async () => {
      const known = lab.terminals.map((t) => t.mac);
      const fuzzy = fc.array(
        fc.oneof(
          { weight: 5, arbitrary: macs(known).map((v) => ['mac', v] as const) },
          {
            weight: 1,
            arbitrary: fc
              .array(macs(known), { minLength: 2, maxLength: 20 })
              .map((list) => ['mac', list.join(',')] as const),
          },
          {
            weight: 2,
            arbitrary: fc
              .oneof(fc.constantFrom(...configFormats), junk)
              .map((v) => ['format', v] as const),
          },
          {
            weight: 2,
            arbitrary: fc
              .oneof(fc.constantFrom(...terminalClients), junk)
              .map((v) => ['client', v] as const),
          },
          {
            weight: 1,
            arbitrary: fc.tuple(
              fc.oneof(fc.constantFrom('lab', 'terminal', 'vm', 'mac[]'), junk),
              junk,
            ),
          },
        ),
        { maxLength: 5 },
      );
      // Half the time a query a terminal could send (its MACs in any form, a real format
      // and clients), so many runs get a config to check; else anything.
      const plausible = fc
        .tuple(
          fc.array(macs(known), { minLength: 1, maxLength: 3 }),
          fc.option(fc.constantFrom(...configFormats), { nil: undefined }),
          fc.array(fc.constantFrom(...terminalClients), { maxLength: 2 }),
        )
        .map(([list, format, clients]) => [
          ...list.map((mac) => ['mac', mac] as const),
          ...(format === undefined ? [] : [['format', format] as const]),
          ...(format === 'args' ? clients.map((c) => ['client', c] as const) : []),
        ]);
      const query = fc.oneof(plausible, fuzzy);
      let baseline = await fingerprint(database);
      const counts: Record<number, number> = {};
      let fuzzed = 0;
      let served = 0;
      const history: string[] = [];
      try {
        await invariant(
          'inv7: fuzzed terminal requests: never a 5xx, only the asking terminal’s settings, a refusal changes nothing',
          () =>
            assertProperty(
              fc.asyncProperty(
                fc.constantFrom(
                  ...Array<string>(4).fill('/terminal/v1/config'),
                  '/terminal/v1/boot.sh',
                ),
                query,
                fc.boolean(),
                methods,
                fc.oneof(ipv4, fc.constantFrom('127.0.0.1', '::1', '::ffff:10.0.0.1')),
                headers,
                fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
                async (path, pairs, raw, method, remoteAddress, sentHeaders, body) => {
                  // Now and then unescaped, as a careless client (or a raw socket) sends it.
                  const search = raw
                    ? pairs.map(([k, v]) => `${k}=${v}`).join('&')
                    : new URLSearchParams(
                        pairs.map(([k, v]): [string, string] => [k, v]),
                      ).toString();
                  const url = search === '' ? path : `${path}?${search}`;
                  const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
                  let response: LightMyRequestResponse;
                  try {
                    response = await app.inject({
                      method: method as 'GET',
                      url,
                      remoteAddress,
                      headers: sentHeaders,
                      ...(withBody ? { payload: JSON.stringify(body) } : {}),
                    });
                  } catch (error) {
                    // light-my-request refuses some URLs and headers before the app sees them
                    // (as a real client library would): not a request the server answered.
                    if (error instanceof TypeError || (error as Error).name === 'TypeError') return;
                    throw error;
                  }
                  fuzzed++;
                  const status = response.statusCode;
                  counts[status] = (counts[status] ?? 0) + 1;
                  const where = `${method} ${url} from ${remoteAddress} ${JSON.stringify(sentHeaders)} → ${status} ${response.body.slice(0, 400)}`;
                  assert.ok(status < 500, where);
                  history.push(where.slice(0, 200));
                  if (status >= 400) {
                    if (method !== 'HEAD')
                      assert.match(
                        String(response.headers['content-type']),
                        /^application\/problem\+json/,
                        where,
                      );
                    const now = await fingerprint(database);
                    const changed = Object.keys(now).filter((t) => now[t] !== baseline[t]);
                    // Refused before it names a terminal (a malformed query, a wrong method):
                    // nothing changes. Refused after (not enrolled, the wrong format for its
                    // display): only that the terminal was seen (a MAC nobody knows waits
                    // as a pending terminal for an administrator), nothing else.
                    const identified = status === 403 || status === 409;
                    assert.deepEqual(
                      changed,
                      identified ? changed.filter((t) => t === 'terminals') : [],
                      `changed ${changed}: ${where} (after ${history.slice(-6, -1).join(' | ')})`,
                    );
                    baseline = now;
                    return;
                  }
                  if (method === 'HEAD') {
                    // No body to read: what a GET reveals is checked on GETs.
                    assert.equal(response.body, '', where);
                    baseline = await fingerprint(database);
                    return;
                  }
                  if (path.endsWith('boot.sh')) {
                    checkBootScript(response.body, where);
                    return;
                  }
                  served++;
                  checkOnlyItsOwn(response.body, url, where);
                  baseline = await fingerprint(database);
                },
              ),
              { numRuns: RUNS, endOnFailure: true },
            ),
        );
      } finally {
        hostileInputs('fuzzed request', fuzzed);
      }
      await invariant('no crash from fuzzed input', () => assert.deepEqual(crashes, []));
      // The runs got somewhere: configs served, and refusals of several kinds.
      // (Some 5-10% of runs are GETs of a known terminal’s config: 2% leaves margin.)
      assert.ok(served >= RUNS / 50, `${served} configs served: ${JSON.stringify(counts)}`);
      assert.ok(Object.keys(counts).length >= 3, JSON.stringify(counts));
    });

    /** A 200 config names one terminal, whose MAC the request gave, and no other. */
    function checkOnlyItsOwn(body: string, url: string, where: string): void {
      const text = body.toLowerCase();
      const asked = decodeURIComponent(url.replace(/\+/g, ' ')).toLowerCase().replaceAll('-', ':');
      const shown = lab.terminals.filter((_, index) =>
        markers(index).some((marker) => text.includes(marker.toLowerCase())),
      );
      assert.equal(
        shown.length,
        1,
        `one terminal’s settings: ${shown.map((t) => t.name)} in ${where}`,
      );
      assert.ok(asked.includes(shown[0]!.mac), `${shown[0]!.name} was not asked for: ${where}`);
      const vm = lab.vms.get(shown[0]!.id)!;
      // Its own display, in whatever format (the JSON form names the VM too).
      assert.ok(body.includes(String(vm.port)), where);
      if (body.startsWith('{')) {
        const config = JSON.parse(body) as TerminalConfig;
        assert.deepEqual([config.vm, config.port], [vm.name, vm.port], where);
      }
    }

    /** The script names the server only by a plain host[:port] from the Host header. */
    function checkBootScript(body: string, where: string): void {
      const baked = /^LABVIRT_URL=\$\{LABVIRT_URL:-'?([^'}]*)'?\}$/m.exec(body)?.[1];
      assert.ok(baked !== undefined, `${where}: the script has its LABVIRT_URL line`);
      // A Host header that is not a plain host: nothing baked, the terminal sets LABVIRT_URL.
      if (baked === '') return;
      assert.match(baked, /^https?:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/, where);
    }
  });
}

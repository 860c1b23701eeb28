// The config route's query: MACs in either notation, deduplicated and bounded; format and
// client checked against their catalogues, each refusal naming its field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { MAX_TERMINAL_MACS, parseConfigQuery } from '../../src/terminal/query.js';

function refusal(query: unknown, code: string, field: string): LabvirtError {
  try {
    parseConfigQuery(query);
  } catch (error) {
    assert.ok(error instanceof LabvirtError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, 400);
    assert.equal(error.field, field);
    return error;
  }
  assert.fail(`expected ${code} for ${JSON.stringify(query)}`);
}

const mac = (n: number) =>
  ['52', '54', '00', (n >> 16) & 255, (n >> 8) & 255, n & 255]
    .map((part) => (typeof part === 'number' ? part.toString(16).padStart(2, '0') : part))
    .join(':');

describe('terminal config query', () => {
  it('defaults: no MAC (the route uses the source address), json', () => {
    assert.deepEqual(parseConfigQuery({}), { macs: [], format: 'json', clients: [] });
    assert.deepEqual(parseConfigQuery(undefined), { macs: [], format: 'json', clients: [] });
    assert.deepEqual(parseConfigQuery({ mac: '' }).macs, []);
  });

  it('takes MACs repeated or comma-separated, with colons or dashes, into lowercase colons', () => {
    const parsed = parseConfigQuery({
      mac: ['52:54:00:AA:BB:01,52-54-00-aa-bb-02', ' 52:54:00:aa:bb:03 '],
    });
    assert.deepEqual(parsed.macs, ['52:54:00:aa:bb:01', '52:54:00:aa:bb:02', '52:54:00:aa:bb:03']);
  });

  it('deduplicates MACs however they are written, keeping the first order', () => {
    const parsed = parseConfigQuery({
      mac: ['52:54:00:aa:bb:02', '52-54-00-AA-BB-01', '52:54:00:aa:bb:01', '52-54-00-aa-bb-02'],
    });
    assert.deepEqual(parsed.macs, ['52:54:00:aa:bb:02', '52:54:00:aa:bb:01']);
    // 1,000 copies of one MAC are one MAC.
    const copies = Array.from({ length: 1000 }, () => '52:54:00:aa:bb:01');
    assert.deepEqual(parseConfigQuery({ mac: copies }).macs, ['52:54:00:aa:bb:01']);
  });

  it(`allows ${MAX_TERMINAL_MACS} MACs and refuses more, saying how many and the maximum`, () => {
    const sixteen = Array.from({ length: MAX_TERMINAL_MACS }, (_, i) => mac(i));
    assert.equal(parseConfigQuery({ mac: sixteen.join(',') }).macs.length, MAX_TERMINAL_MACS);
    const seventeen = refusal(
      { mac: [...sixteen, mac(99)] },
      'TERMINAL_MACS_TOO_MANY',
      'query.mac',
    );
    assert.equal(seventeen.message, '17 MAC addresses were given; a terminal may send at most 16');
    const thousand = Array.from({ length: 1000 }, (_, i) => mac(i));
    for (const query of [{ mac: thousand }, { mac: thousand.join(',') }]) {
      const error = refusal(query, 'TERMINAL_MACS_TOO_MANY', 'query.mac');
      assert.equal(error.message, '1000 MAC addresses were given; a terminal may send at most 16');
    }
  });

  it('refuses a malformed or multicast MAC, naming it as given', () => {
    for (const bad of [
      'zz:54:00:aa:bb:01',
      '52:54:00:aa:bb',
      '52:54:00:aa:bb:01:02',
      '525400aabb01',
      '52:54-00:aa:bb:01',
      '52:54:00:aa:bb:1',
      '52.54.00.aa.bb.01',
      '52:54:00\n:aa:bb:01',
    ]) {
      const error = refusal({ mac: ['52:54:00:aa:bb:09', bad] }, 'MAC_MALFORMED', 'query.mac');
      assert.equal(error.params.mac, bad);
    }
    const multicast = refusal({ mac: '01:00:5E:00:00:01' }, 'MAC_MULTICAST', 'query.mac');
    assert.match(multicast.message, /"01:00:5E:00:00:01" is a multicast address/);
  });

  it('takes each format and refuses an unknown one, listing the allowed', () => {
    for (const format of ['json', 'env', 'rdp', 'vv', 'args'] as const) {
      assert.equal(parseConfigQuery({ format }).format, format);
    }
    assert.equal(parseConfigQuery({ format: ['vv', 'vv'] }).format, 'vv');
    const error = refusal({ format: 'xml' }, 'TERMINAL_FORMAT_UNKNOWN', 'query.format');
    assert.equal(error.message, 'unknown format "xml": use json, env, rdp, vv, args');
    refusal({ format: ['json', 'env'] }, 'FIELD_TOO_MANY', 'query.format');
    refusal({ format: 'JSON' }, 'TERMINAL_FORMAT_UNKNOWN', 'query.format');
  });

  it('takes clients for format=args in the order given, all of them when none is named', () => {
    assert.deepEqual(
      parseConfigQuery({ format: 'args', client: 'vncviewer,remote-viewer,vncviewer' }).clients,
      ['vncviewer', 'remote-viewer'],
    );
    assert.deepEqual(
      parseConfigQuery({ format: 'args', client: ['rdesktop', 'xfreerdp'] }).clients,
      ['rdesktop', 'xfreerdp'],
    );
    assert.deepEqual(parseConfigQuery({ format: 'args' }).clients, [
      'xfreerdp',
      'rdesktop',
      'remote-viewer',
      'vncviewer',
    ]);
  });

  it('refuses an unknown client, listing the allowed, and a client without format=args', () => {
    const error = refusal(
      { format: 'args', client: 'xfreerdp,mstsc' },
      'TERMINAL_CLIENT_UNKNOWN',
      'query.client',
    );
    assert.equal(
      error.message,
      'unknown client "mstsc": use xfreerdp, rdesktop, remote-viewer, vncviewer',
    );
    for (const query of [{ client: 'xfreerdp' }, { format: 'vv', client: 'remote-viewer' }]) {
      const without = refusal(query, 'TERMINAL_CLIENT_NOT_ARGS', 'query.client');
      assert.match(without.message, /^client is only for format=args, not format=(json|vv)/);
    }
  });

  it('refuses unknown keys and values that are not strings', () => {
    refusal({ formats: 'json' }, 'FIELD_UNKNOWN', 'query.formats');
    refusal({ mac: [['52:54:00:aa:bb:01']] }, 'FIELD_TYPE', 'query.mac');
    refusal({ format: 3 }, 'FIELD_TYPE', 'query.format');
  });
});

// The reliability suite's ledger and summary: records written by a real test process,
// read back, and told in the summary run-tests prints.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LedgerRecord } from '../reliability/ledger.js';
import { printLedgerSummary, readLedger, summarize } from '../reliability/summary.js';
import { tempDir } from '../helpers/env.js';

const LEDGER = new URL('../reliability/ledger.js', import.meta.url).href;

describe('reliability summary', () => {
  it('tells faults, hostile inputs, invariants and failures (golden)', () => {
    const records: LedgerRecord[] = [
      { type: 'fault', kind: 'SIGKILL agent', file: 'a' },
      { type: 'fault', kind: 'SIGKILL controller', file: 'a' },
      { type: 'fault', kind: 'SIGKILL controller', file: 'b' },
      { type: 'hostile', kind: 'fuzzed request', count: 12000, file: 'c' },
      { type: 'hostile', kind: 'path traversal', count: 7, file: 'd' },
      { type: 'invariant', name: 'no duplicate VM', ok: true, file: 'a' },
      { type: 'invariant', name: 'no duplicate VM', ok: true, file: 'b' },
      { type: 'invariant', name: 'no 5xx', ok: false, file: 'c', error: 'got 500' },
    ];
    assert.equal(
      summarize(records, 1),
      [
        'Reliability and security suite',
        '  faults injected: 3',
        '    2  SIGKILL controller',
        '    1  SIGKILL agent',
        '  hostile inputs tried: 12,007',
        '    12,000  fuzzed request',
        '         7  path traversal',
        '  invariants checked: 3 (2 held, 1 broken)',
        '    2  no duplicate VM',
        '    1  no 5xx',
        '  failures: 1',
        '    no 5xx (c): got 500',
        '  unreadable ledger lines: 1',
        '',
      ].join('\n'),
    );
  });

  it('an empty run says zero of each', () => {
    assert.match(summarize([]), /faults injected: 0\n {2}hostile inputs tried: 0\n/);
    assert.match(summarize([]), /invariants checked: 0 \(0 held, 0 broken\)\n {2}failures: 0\n$/);
  });

  it('reads back what a test process recorded, a failed check included', async () => {
    const dir = await tempDir('lv-ledger-');
    try {
      const script = `
        const { faultInjected, hostileInputs, invariant } = await import(${JSON.stringify(LEDGER)});
        faultInjected('SIGKILL QEMU');
        hostileInputs('shell metacharacters', 4);
        hostileInputs('none', 0);
        await invariant('held', () => 1);
        await invariant('broken', () => { throw new Error('first line\\nsecond'); }).catch(() => {});
      `;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, LABVIRT_RELIABILITY_LEDGER: dir.path },
        encoding: 'utf8',
      });
      assert.equal(child.status, 0, child.stderr);
      writeFileSync(join(dir.path, 'ledger-0.jsonl'), 'not json\n');
      const { records, unreadable } = readLedger(dir.path);
      assert.equal(unreadable, 1);
      assert.deepEqual(
        records.map((r) => (r.type === 'invariant' ? [r.name, r.ok, r.error] : [r.type, r.kind])),
        [
          ['fault', 'SIGKILL QEMU'],
          ['hostile', 'shell metacharacters'],
          ['held', true, undefined],
          ['broken', false, 'first line'],
        ],
      );
      let printed = '';
      assert.equal(
        printLedgerSummary(dir.path, (text) => (printed += text)),
        true,
      );
      assert.match(printed, /failures: 1\n {4}broken \(.*\): first line\n/);
    } finally {
      await dir.cleanup();
    }
  });

  it('prints nothing for an empty ledger directory', async () => {
    const dir = await tempDir('lv-ledger-');
    try {
      assert.equal(
        printLedgerSummary(dir.path, () => assert.fail('printed')),
        false,
      );
    } finally {
      await dir.cleanup();
    }
  });
});

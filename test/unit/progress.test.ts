import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressParser } from '../../src/qemu/image/progress.js';

// What qemu-img 7.2 `convert -p` writes when its output is not a terminal.
const REAL = '    (0.00/100%)\r    (12.50/100%)\r    (100.00/100%)\r    (100.00/100%)\r\n';

describe('ProgressParser', () => {
  it('reports each status line once its terminator arrives', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('    (0.00/100%)\r'), [0]);
    assert.deepEqual(parser.push('    (12.34/100%)'), []);
    assert.deepEqual(parser.push('\r'), [12.34]);
    assert.equal(parser.last, 12.34);
  });

  it('gives the same updates however the output is cut', () => {
    const whole = new ProgressParser();
    const expected = [...whole.push(REAL), ...whole.end()];
    assert.deepEqual(expected, [0, 12.5, 100]);
    for (let size = 1; size <= 7; size++) {
      const parser = new ProgressParser();
      const updates: number[] = [];
      for (let i = 0; i < REAL.length; i += size)
        updates.push(...parser.push(REAL.slice(i, i + size)));
      updates.push(...parser.end());
      assert.deepEqual(updates, expected, `chunks of ${size}`);
    }
  });

  it('never goes back and does not repeat a percentage', () => {
    const parser = new ProgressParser();
    const updates = parser.push('(10.00/100%)\r(40.00/100%)\r(30.00/100%)\r(40.00/100%)\r');
    assert.deepEqual(updates, [10, 40]);
    assert.deepEqual(parser.push('(41.00/100%)\n'), [41]);
  });

  it('ignores other text', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('hello\r(abc/100%)\r(5/10%)\r\n\r'), []);
    assert.equal(parser.last, undefined);
  });

  it('ends at 100: flushes an unterminated status, then adds 100 if missing', () => {
    const parser = new ProgressParser();
    parser.push('(20.00/100%)\r(60.00/100%)');
    assert.deepEqual(parser.end(), [60, 100]);
    assert.equal(parser.last, 100);

    const silent = new ProgressParser();
    assert.deepEqual(silent.end(), [100]);

    const complete = new ProgressParser();
    assert.deepEqual(complete.push('(100.00/100%)\r'), [100]);
    assert.deepEqual(complete.end(), []);
  });
});

// The CLI's progress display: a bar redrawn in place on a terminal, whole-percent lines
// elsewhere; never backwards, never repeated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressReporter, renderBar } from '../../src/cli/progress-bar.js';
import type { CliIo } from '../../src/cli/io.js';

function capture(): { io: CliIo; err: string[] } {
  const err: string[] = [];
  return {
    err,
    io: { out: () => undefined, err: (text) => void err.push(text), warn: () => undefined },
  };
}

describe('progress bar', () => {
  it('renders a bar of fixed width with the whole percentage', () => {
    assert.equal(renderBar('Working', 0, 10), 'Working [----------]   0%');
    assert.equal(renderBar('Working', 33.7, 10), 'Working [###-------]  33%');
    assert.equal(renderBar('Working', 100, 10), 'Working [##########] 100%');
    assert.equal(renderBar('Working', 250, 10), 'Working [##########] 100%');
    assert.equal(renderBar('Working', Number.NaN, 10), 'Working [----------]   0%');
  });

  it('on a terminal: redrawn in place with \\r, one newline at the end', () => {
    const { io, err } = capture();
    const bar = progressReporter(io, true, 'Working');
    for (const p of [0, 10.2, 10.9, 5, 55, 100]) bar.update(p);
    bar.done();
    bar.done();
    assert.equal(err.length, 5);
    assert.ok(err.slice(0, 4).every((text) => text.startsWith('\r')));
    assert.match(err[3]!, /100%$/);
    assert.equal(err[4], '\n');
  });

  it('elsewhere: a line per whole percent reached', () => {
    const { io, err } = capture();
    const bar = progressReporter(io, false, 'Uploading');
    for (const p of [0, 0.5, 42, 41, 100]) bar.update(p);
    bar.done();
    assert.deepEqual(err, ['Uploading: 0%\n', 'Uploading: 42%\n', 'Uploading: 100%\n']);
  });
});

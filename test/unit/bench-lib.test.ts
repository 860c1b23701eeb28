// The benchmarks' shared pure parts: statistics, the tables they print, and how a run's
// output replaces its own section of bench/README.md and nothing else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resultsSection, withResults } from '../../bench/lib/readme-results.js';
import { median, percentile } from '../../bench/lib/stats.js';
import { fixed, markdownTable, ratio, verdict } from '../../bench/lib/table.js';

describe('bench statistics', () => {
  it('median of odd and even counts, unsorted input', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
  it('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
    assert.equal(percentile(values, 0.5), 50);
    assert.equal(percentile(values, 0.99), 99);
    assert.equal(percentile(values, 1), 100);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });
});

describe('bench tables', () => {
  it('prints a Markdown table, the first column left and the figures right-aligned', () => {
    const table = markdownTable(
      ['N', 'bare ms', 'LabVirt ms', 'ratio', 'target'],
      [['1', fixed(101.25), fixed(110.04), ratio(110.04, 101.25), verdict(true)]],
    );
    assert.equal(
      table,
      [
        '| N | bare ms | LabVirt ms | ratio | target |',
        '| --- | ---: | ---: | ---: | ---: |',
        '| 1 | 101.3 | 110.0 | 1.09x | met |',
      ].join('\n'),
    );
    assert.equal(fixed(Number.NaN), '–');
    assert.equal(verdict(false), 'missed');
    assert.equal(markdownTable(['a', 'b'], [], ['left', 'left']), '| a | b |\n| --- | --- |');
  });
});

describe('bench/README.md results', () => {
  const readme = '# Benchmarks\n\nHand-written text.\n';
  it('appends a first section under "Latest results", then replaces only its own', () => {
    const first = withResults(readme, 'boot-storm', resultsSection('boot-storm', 'M1', '| a |\n'));
    assert.equal(
      first,
      [
        '# Benchmarks',
        '',
        'Hand-written text.',
        '',
        '## Latest results',
        '',
        '### boot-storm',
        '',
        '<!-- bench:boot-storm begin (written by npm run bench) -->',
        'Measured M1.',
        '',
        '| a |',
        '<!-- bench:boot-storm end -->',
        '',
      ].join('\n'),
    );
    const second = withResults(first, 'idle-cost', resultsSection('idle-cost', 'M2', 'x'));
    assert.equal(second.match(/## Latest results/g)?.length, 1);
    assert.ok(second.indexOf('### boot-storm') < second.indexOf('### idle-cost'));
    const again = withResults(second, 'boot-storm', resultsSection('boot-storm', 'M3', '| b |'));
    assert.equal(again, second.replace('Measured M1.\n\n| a |', 'Measured M3.\n\n| b |'));
  });
});

// The reliability suite's knobs: a misspelt long-variant switch or fuzz count is refused
// with one line naming it, never read as "short" or as NaN runs (which fuzz nothing).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCount, parseLong } from '../reliability/scale.js';

describe('reliability suite knobs', () => {
  it('LABVIRT_RELIABILITY_LONG: unset, empty or 0 is short, 1 is long', () => {
    assert.deepEqual([undefined, '', '0', '1'].map(parseLong), [false, false, false, true]);
  });

  it('LABVIRT_RELIABILITY_LONG: anything else is refused, naming the variable', () => {
    for (const value of ['yes', 'true', '2', ' 1'])
      assert.throws(() => parseLong(value), /^Error: LABVIRT_RELIABILITY_LONG=".*": use 1/);
  });

  it('a count override: unset means none, a whole number is taken', () => {
    assert.equal(parseCount('LABVIRT_FUZZ_RUNS', undefined), undefined);
    assert.equal(parseCount('LABVIRT_FUZZ_RUNS', ''), undefined);
    assert.equal(parseCount('LABVIRT_FUZZ_RUNS', '50'), 50);
  });

  it('a count override that is not a whole number ≥ 1 is refused', () => {
    for (const value of ['abc', '0', '-3', '1.5', '1e3', ' 7', '99999999999999999999'])
      assert.throws(
        () => parseCount('LABVIRT_FUZZ_RUNS', value),
        /^Error: LABVIRT_FUZZ_RUNS=".*": give a whole number/,
        value,
      );
  });
});

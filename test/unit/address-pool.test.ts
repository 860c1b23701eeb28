// Address pools (golden): ranges and subnets normalised to FIRST-LAST, refusals that say
// why, overlap, membership, and the lowest free addresses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  lowestFree,
  MAX_POOL_SIZE,
  parsePool,
  poolContains,
  poolsOverlap,
} from '../../src/domain/address-pool.js';
import { LabvirtError } from '../../src/domain/errors.js';

describe('parsePool', () => {
  it('normalises ranges and subnets (a subnet’s host addresses) to FIRST-LAST', () => {
    const golden: [string, string, number][] = [
      ['10.0.0.10-10.0.0.99', '10.0.0.10-10.0.0.99', 90],
      [' 10.0.0.10 - 10.0.0.99 ', '10.0.0.10-10.0.0.99', 90],
      ['10.0.0.7-10.0.0.7', '10.0.0.7-10.0.0.7', 1],
      ['192.168.1.250-192.168.2.5', '192.168.1.250-192.168.2.5', 12],
      ['10.0.0.0/24', '10.0.0.1-10.0.0.254', 254],
      ['10.0.0.77/24', '10.0.0.1-10.0.0.254', 254],
      ['10.0.0.0/30', '10.0.0.1-10.0.0.2', 2],
      ['10.0.0.0/31', '10.0.0.0-10.0.0.1', 2],
      ['10.0.0.9/32', '10.0.0.9-10.0.0.9', 1],
      ['172.16.0.0/16', '172.16.0.1-172.16.255.254', 65_534],
      ['10.1.0.0-10.1.255.255', '10.1.0.0-10.1.255.255', MAX_POOL_SIZE],
      ['255.255.255.0-255.255.255.255', '255.255.255.0-255.255.255.255', 256],
    ];
    for (const [text, expected, size] of golden) {
      const pool = parsePool(text);
      assert.equal(pool.text, expected, text);
      assert.equal(pool.size, size, text);
      assert.equal(parsePool(pool.text).text, pool.text, 'normal form is stable');
    }
  });

  it('refuses malformed, reversed and too big pools with POOL_INVALID saying why', () => {
    const golden: [string, string][] = [
      ['', 'not an IPv4 range or subnet'],
      ['10.0.0.1', 'not an IPv4 range or subnet'],
      ['10.0.0.1-', 'not an IPv4 range or subnet'],
      ['10.0.0.1-10.0.0.2-10.0.0.3', 'not an IPv4 range or subnet'],
      ['10.0.0.256-10.0.0.300', 'not an IPv4 range or subnet'],
      ['10.0.0-10.0.1', 'not an IPv4 range or subnet'],
      ['fd00::1-fd00::5', 'not an IPv4 range or subnet'],
      ['fd00::/120', 'not an IPv4 range or subnet'],
      ['10.0.0.0/33', 'not an IPv4 range or subnet'],
      ['10.0.0.0/', 'not an IPv4 range or subnet'],
      ['10.0.0.99-10.0.0.10', 'the range is reversed: 10.0.0.99 comes after 10.0.0.10'],
      ['10.0.0.0/15', 'it holds 131070 addresses'],
      ['10.0.0.0-10.1.0.0', 'it holds 65537 addresses'],
      ['0.0.0.0/0', 'it holds 4294967294 addresses'],
    ];
    for (const [text, why] of golden) {
      assert.throws(
        () => parsePool(text, 'pool'),
        (error: unknown) => {
          assert.ok(error instanceof LabvirtError, text);
          assert.equal(error.code, 'POOL_INVALID');
          assert.equal(error.field, 'pool');
          assert.equal(
            error.message,
            `address pool "${text}" is not valid (${why}): give an IPv4 range like 10.0.0.10-10.0.0.99 or a subnet like 10.0.0.0/24, at most 65536 addresses`,
          );
          return true;
        },
        text,
      );
    }
  });
});

describe('pools', () => {
  it('overlap when they share an address', () => {
    const a = parsePool('10.0.0.10-10.0.0.20');
    for (const [other, overlaps] of [
      ['10.0.0.20-10.0.0.30', true],
      ['10.0.0.0-10.0.0.10', true],
      ['10.0.0.12-10.0.0.13', true],
      ['10.0.0.0/24', true],
      ['10.0.0.21-10.0.0.30', false],
      ['10.0.0.0-10.0.0.9', false],
      ['10.0.1.0/24', false],
    ] as const) {
      assert.equal(poolsOverlap(a, parsePool(other)), overlaps, other);
      assert.equal(poolsOverlap(parsePool(other), a), overlaps, other);
    }
  });

  it('hold their addresses, ends included', () => {
    const pool = parsePool('10.0.0.10-10.0.0.20');
    assert.deepEqual(
      ['10.0.0.9', '10.0.0.10', '10.0.0.15', '10.0.0.20', '10.0.0.21', 'fd00::1', 'x'].map((ip) =>
        poolContains(pool, ip),
      ),
      [false, true, true, true, false, false, false],
    );
  });

  it('give the lowest free addresses, or none when too few are free', () => {
    const pool = parsePool('10.0.0.254-10.0.1.3');
    assert.deepEqual(lowestFree(pool, [], 3), ['10.0.0.254', '10.0.0.255', '10.0.1.0']);
    assert.deepEqual(lowestFree(pool, ['10.0.0.255', '10.0.1.0', '192.168.0.1'], 2), [
      '10.0.0.254',
      '10.0.1.1',
    ]);
    assert.equal(pool.size, 6);
    assert.deepEqual(lowestFree(pool, ['10.0.0.254'], 6), undefined);
    assert.deepEqual(lowestFree(pool, ['10.0.0.254'], 4), [
      '10.0.0.255',
      '10.0.1.0',
      '10.0.1.1',
      '10.0.1.2',
    ]);
    assert.deepEqual(lowestFree(pool, [], 0), []);
  });
});

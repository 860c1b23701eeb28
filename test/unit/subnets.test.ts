// Subnets: CIDR parsing and normalisation (golden), refusals, and the most specific match.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  labForAddress,
  normalizeAddress,
  parseAddress,
  parseCidr,
} from '../../src/domain/subnets.js';

describe('parseCidr', () => {
  it('normalises: host bits cleared, IPv6 in RFC 5952 form, a bare address is one host', () => {
    const golden: [string, string][] = [
      ['10.1.2.3/24', '10.1.2.0/24'],
      ['10.1.2.0/24', '10.1.2.0/24'],
      ['192.168.7.200/30', '192.168.7.200/30'],
      ['192.168.7.203/30', '192.168.7.200/30'],
      ['10.1.2.3', '10.1.2.3/32'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['FD00:0:0:0::1/64', 'fd00::/64'],
      ['fd00::/64', 'fd00::/64'],
      ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128'],
      ['::/0', '::/0'],
      ['1:0:0:2:0:0:0:3/128', '1:0:0:2::3/128'],
      ['1:2:3:4:5:6:7:8/127', '1:2:3:4:5:6:7:8/127'],
      [' 10.0.0.0/8 ', '10.0.0.0/8'],
    ];
    for (const [text, expected] of golden) assert.equal(parseCidr(text).text, expected, text);
  });

  it('refuses what is not a subnet with SUBNET_INVALID, naming the field', () => {
    for (const text of [
      '',
      'x',
      '10.1.2/24',
      '10.1.2.0/33',
      '10.1.2.0/',
      '10.1.2.0/-1',
      '10.1.2.0/24/1',
      '256.1.2.0/24',
      'fd00::/129',
      'fe80::1%eth0/64',
      'fd00:::1/64',
    ]) {
      assert.throws(
        () => parseCidr(text, 'subnets'),
        { code: 'SUBNET_INVALID', field: 'subnets' },
        text,
      );
    }
  });
});

describe('addresses', () => {
  it('normalises addresses; IPv4-mapped IPv6 is IPv4', () => {
    assert.equal(normalizeAddress('::FFFF:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeAddress('::ffff:a01:203'), '10.1.2.3');
    assert.equal(normalizeAddress('FD00::0003'), 'fd00::3');
    assert.equal(normalizeAddress('10.1.2.3'), '10.1.2.3');
    assert.throws(() => normalizeAddress('10.1.2'), { code: 'IP_INVALID', field: 'ip' });
    assert.throws(() => normalizeAddress('fe80::1%eth0'), { code: 'IP_INVALID' });
    assert.equal(parseAddress('nonsense'), undefined);
  });
});

describe('labForAddress', () => {
  const rules = [
    { cidr: '10.0.0.0/8', lab: 'campus' },
    { cidr: '10.1.2.0/24', lab: 'sala-a' },
    { cidr: '10.1.2.128/25', lab: 'sala-b' },
    { cidr: 'fd00::/64', lab: 'v6' },
    { cidr: 'not a cidr', lab: 'broken' },
  ];
  it('takes the most specific matching rule, whatever their order', () => {
    for (const list of [rules, [...rules].reverse()]) {
      const lab = (ip: string) => labForAddress(list, ip)?.lab;
      assert.equal(lab('10.1.2.3'), 'sala-a');
      assert.equal(lab('10.1.2.200'), 'sala-b');
      assert.equal(lab('::ffff:10.1.2.3'), 'sala-a');
      assert.equal(lab('::ffff:10.9.9.9'), 'campus');
      assert.equal(lab('10.255.255.255'), 'campus');
      assert.equal(lab('fd00::5'), 'v6');
      assert.equal(lab('fd00:0:0:1::5'), undefined);
      assert.equal(lab('192.168.1.1'), undefined);
      assert.equal(lab('11.0.0.1'), undefined);
      assert.equal(lab('junk'), undefined);
    }
  });
});

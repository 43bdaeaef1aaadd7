// Fallback: DHCP on the first physical NIC with carrier (natural name order), else the lowest MAC.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fallbackModel, naturalCompare } from '../../src/network/fallback';
import { configError } from './helpers';

const macOf = (m: ReturnType<typeof fallbackModel>) => (m.links[0]?.kind === 'physical' ? m.links[0].mac : undefined);

describe('fallbackModel', () => {
  it('prefers carrier, in natural name order', () => {
    const m = fallbackModel([
      { name: 'eth10', mac: '02:00:00:00:00:01', carrier: true, physical: true },
      { name: 'eth2', mac: '02:00:00:00:00:09', carrier: true, physical: true },
    ]);
    expect(macOf(m)).toBe('02:00:00:00:00:09');
    expect(m.links[0]?.ipv4.method).toBe('dhcp');
  });

  it('falls back to the lowest MAC when nothing has carrier, ignoring virtual NICs', () => {
    const m = fallbackModel([
      { name: 'eth0', mac: '02:00:00:00:00:09', physical: true },
      { name: 'eth1', mac: '02:00:00:00:00:0A', physical: true },
      { name: 'veth0', mac: '02:00:00:00:00:01', carrier: true, physical: false },
    ]);
    expect(macOf(m)).toBe('02:00:00:00:00:09');
  });

  it('is an error without any physical NIC', () => {
    expect(configError(() => fallbackModel([{ name: 'lo', mac: '00:00:00:00:00:00', physical: false }])).source).toBe('fallback');
  });
});

describe('naturalCompare', () => {
  it.each([
    ['eth2', 'eth10', -1],
    ['eth10', 'eth2', 1],
    ['ens3', 'ens3', 0],
    ['ens3', 'ens3f0', -1],
    ['enp0s3', 'enp0s10', -1],
    ['eth9', 'wlan0', -1],
    ['eth99999999999999999999', 'eth100000000000000000000', -1],
  ])('%s vs %s', (a, b, sign) => {
    expect(Math.sign(naturalCompare(a, b))).toBe(sign);
  });

  // The ICU collator it replaces, on the names interfaces have: lower-case letters and digit runs without leading zeros.
  it('orders like localeCompare with numeric: true on interface-like names', () => {
    const name = fc.array(fc.oneof(fc.stringMatching(/^[a-z]{1,3}$/), fc.integer({ min: 0, max: 100_000 }).map(String)), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(name, name, (a, b) => {
        expect(Math.sign(naturalCompare(a, b))).toBe(Math.sign(a.localeCompare(b, 'en', { numeric: true })));
      }),
      { numRuns: 2000 },
    );
  });
});

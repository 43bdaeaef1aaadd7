// Fallback: DHCP on the first physical NIC with carrier (natural name order), else the lowest MAC.
import { describe, expect, it } from 'vitest';
import { fallbackModel } from '../../src/network/fallback';
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

// cloud-init v2 shape checks: unsupported netplan features are errors, not silently dropped.
import { describe, expect, it } from 'vitest';
import { fromCloudInitV2 } from '../../src/network/from-cloudinit-v2';
import { configError } from './helpers';

describe('fromCloudInitV2', () => {
  it('names bad keys with their path', () => {
    const eth = (e: Record<string, unknown>) => fromCloudInitV2({ network: { version: 2, ethernets: { e0: e } } });
    expect(configError(() => eth({ addresses: ['10.0.0.5'] })).describe()).toBe(
      'network.ethernets.e0.addresses[0]: 10.0.0.5 has no prefix length',
    );
    expect(configError(() => eth({ gateway4: '2001:db8::1' })).source).toBe('network.ethernets.e0.gateway4');
    expect(configError(() => eth({ match: { driver: 'virtio_net' } })).source).toBe('network.ethernets.e0.match.driver');
    expect(configError(() => eth({ match: { name: 'en*' } })).source).toBe('network.ethernets.e0.match.name');
    expect(configError(() => eth({ 'set-name': 'lan0' })).source).toBe('network.ethernets.e0.set-name');
    expect(configError(() => eth({ dhcp4: 'maybe' })).source).toBe('network.ethernets.e0.dhcp4');
    expect(configError(() => eth({ routes: [{ to: 'nowhere', via: '10.0.0.1' }] })).source).toBe(
      'network.ethernets.e0.routes[0].to',
    );
    expect(configError(() => fromCloudInitV2({ version: 2, wifis: {} })).source).toBe('wifis');
    expect(
      configError(() => fromCloudInitV2({ version: 2, bonds: { b: { parameters: { 'mii-monitor-interval': 'often' } } } })).source,
    ).toBe('bonds.b.parameters.mii-monitor-interval');
    expect(configError(() => fromCloudInitV2({ version: 2, vlans: { v: { id: 9999, link: 'x' } } })).source).toBe('vlans.v.id');
  });

  it('maps dhcp, accept-ra and set-name', () => {
    const m = fromCloudInitV2({
      version: 2,
      ethernets: {
        e0: { match: { macaddress: 'AA:BB:CC:DD:EE:FF' }, 'set-name': 'lan', dhcp4: true, 'accept-ra': true },
      },
    });
    expect(m.links[0]).toMatchObject({ kind: 'physical', mac: 'aa:bb:cc:dd:ee:ff', setName: 'lan' });
    expect(m.links[0]?.ipv4.method).toBe('dhcp');
    expect(m.links[0]?.ipv6.method).toBe('auto');
  });
});

// cloud-init v1 shape checks and the placement of top-level routes and nameservers.
import { describe, expect, it } from 'vitest';
import { fromCloudInitV1 } from '../../src/network/from-cloudinit-v1';
import { configError } from './helpers';

describe('fromCloudInitV1', () => {
  it('names bad keys with their path', () => {
    expect(configError(() => fromCloudInitV1({ version: 2, config: [] })).source).toBe('version');
    expect(configError(() => fromCloudInitV1({ network: { version: 1, config: {} } })).source).toBe('network.config');
    const subnet = (s: Record<string, unknown>) =>
      fromCloudInitV1({ version: 1, config: [{ type: 'physical', name: 'eth0', subnets: [s] }] });
    expect(configError(() => subnet({ type: 'static', address: '10.0.0.5', netmask: '255.0.255.0' })).describe()).toBe(
      'config[0].subnets[0].netmask: 255.0.255.0 is not a valid netmask',
    );
    expect(configError(() => subnet({ type: 'static', address: 'ten' })).source).toBe('config[0].subnets[0].address');
    expect(configError(() => subnet({ type: 'bootp' })).source).toBe('config[0].subnets[0].type');
    expect(
      configError(() => fromCloudInitV1({ version: 1, config: [{ type: 'physical', name: 'eth0', mac_address: 'zz' }] })).source,
    ).toBe('config[0].mac_address');
    expect(
      configError(() => fromCloudInitV1({ version: 1, config: [{ type: 'route', destination: '10.0.0.0/8', gateway: '1.2.3.4' }] }))
        .describe(),
    ).toBe('config[0]: gateway 1.2.3.4 is not in any configured static subnet');
  });

  it('puts interface nameservers on the interface and top-level routes on the link that reaches them', () => {
    const m = fromCloudInitV1({
      version: 1,
      config: [
        { type: 'physical', name: 'eth0', subnets: [{ type: 'static', address: '10.0.0.5/24' }] },
        { type: 'nameserver', address: '10.0.0.53', interface: 'eth0' },
        { type: 'route', destination: '0.0.0.0/0', gateway: '10.0.0.1' },
      ],
    });
    expect(m.links[0]?.dns.nameservers).toEqual(['10.0.0.53']);
    expect(m.links[0]?.gateway4?.address).toBe('10.0.0.1');
    expect(m.dns.nameservers).toEqual([]);
  });
});

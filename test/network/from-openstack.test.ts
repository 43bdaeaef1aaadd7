// network_data.json shape checks: each bad key is named with its path.
import { describe, expect, it } from 'vitest';
import { fromOpenStack } from '../../src/network/from-openstack';
import { configError } from './helpers';

const phy = { id: 'p', type: 'phy', ethernet_mac_address: 'fa:16:3e:00:00:01' };
const os = (doc: unknown) => fromOpenStack(doc, { origin: 'network_data.json' });

describe('fromOpenStack', () => {
  it('names bad addresses, masks, links and types by path', () => {
    const net = (n: Record<string, unknown>) => os({ links: [phy], networks: [{ link: 'p', ...n }] });
    expect(configError(() => net({ type: 'ipv4', ip_address: '10.0.0.999', netmask: '255.255.255.0' })).source).toBe(
      'network_data.json: networks[0].ip_address',
    );
    expect(configError(() => net({ type: 'ipv4', ip_address: '10.0.0.9', netmask: '255.0.255.0' })).describe()).toBe(
      'network_data.json: networks[0].netmask: 255.0.255.0 is not a valid netmask',
    );
    expect(configError(() => net({ type: 'ipv4', ip_address: '10.0.0.9' })).message).toContain('no prefix length');
    expect(configError(() => net({ type: 'ipv5' })).source).toBe('network_data.json: networks[0].type');
    expect(configError(() => os({ links: [phy], networks: [{ type: 'ipv4_dhcp', link: 'x' }] })).source).toBe(
      'network_data.json: networks[0].link',
    );
    expect(configError(() => os({ links: [{ id: 'p', type: 'phy' }] })).source).toBe(
      'network_data.json: links[0].ethernet_mac_address',
    );
    expect(
      configError(() => os({ links: [phy, { id: 'b', type: 'bond', bond_links: ['p'], bond_mode: 'fastest' }] })).source,
    ).toBe('network_data.json: links[1].bond_mode');
    expect(
      configError(() => os({ links: [phy, { id: 'b', type: 'bond', bond_links: ['p'], bond_frobnicate: 1 }] })).source,
    ).toBe('network_data.json: links[1].bond_frobnicate');
    expect(configError(() => os({ links: [phy, { id: 'v', type: 'vlan', vlan_link: 'p', vlan_id: 5000 }] })).source).toBe(
      'network_data.json: links[1].vlan_id',
    );
    expect(configError(() => os([])).source).toBe('network_data.json: (root)');
  });

  it('accepts IPv6 with a prefix in the address and maps dhcp/slaac types', () => {
    const m = os({
      links: [phy],
      networks: [
        { type: 'ipv6', link: 'p', ip_address: '2001:db8::5/64' },
        { type: 'ipv4_dhcp', link: 'p' },
      ],
    });
    expect(m.links[0]?.ipv6).toMatchObject({ method: 'static', addresses: [{ address: '2001:db8::5', prefix: 64 }] });
    expect(m.links[0]?.ipv4.method).toBe('dhcp');
  });
});

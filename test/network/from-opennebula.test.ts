// OpenNebula CONTEXT semantics that the golden scenarios do not pin down, and bad input:
// every error is a ConfigError whose source is the variable at fault.
import { describe, expect, it } from 'vitest';
import { fromOpenNebula } from '../../src/network/from-opennebula';
import { configError } from './helpers';

const one = (vars: Record<string, string>) => fromOpenNebula(new Map(Object.entries(vars)));


describe('fromOpenNebula', () => {
  it('names the key of an invalid mask and address', () => {
    const mask = configError(() => one({ ETH1_MAC: '02:00:00:00:00:01', ETH1_IP: '10.0.0.1', ETH1_MASK: '255.0.255.0' }));
    expect(mask.describe()).toBe('ETH1_MASK: 255.0.255.0 is not a valid netmask');
    const ip = configError(() => one({ ETH0_MAC: '02:00:00:00:00:01', ETH0_IP: '10.0.0.300' }));
    expect(ip.describe()).toBe('ETH0_IP: 10.0.0.300 is not a valid IPv4 address');
    const ip6 = configError(() => one({ ETH0_MAC: '02:00:00:00:00:01', ETH0_IP6: '2001:db8::g' }));
    expect(ip6.source).toBe('ETH0_IP6');
    const mac = configError(() => one({ ETH0_MAC: '02:00:00:00:01', ETH0_IP: '10.0.0.1' }));
    expect(mac.source).toBe('ETH0_MAC');
    const missing = configError(() => one({ ETH2_IP: '10.0.0.1' }));
    expect(missing.source).toBe('ETH2_MAC');
  });

  it('rejects bad methods, routes, metrics, GATEWAY_IFACE and NETCFG_TYPE by name', () => {
    const base = { ETH0_MAC: '02:00:00:00:00:01', ETH0_IP: '10.0.0.5' };
    expect(configError(() => one({ ...base, ETH0_METHOD: 'bootp' })).source).toBe('ETH0_METHOD');
    expect(configError(() => one({ ...base, ETH0_IP6_METHOD: 'slaac' })).source).toBe('ETH0_IP6_METHOD');
    expect(configError(() => one({ ...base, ETH0_ROUTES: '10.1.0.0/16 10.0.0.1' })).source).toBe('ETH0_ROUTES');
    expect(configError(() => one({ ...base, ETH0_GATEWAY: '10.0.0.1', ETH0_METRIC: '-1' })).source).toBe('ETH0_METRIC');
    expect(configError(() => one({ ...base, ETH0_MTU: '20' })).source).toBe('ETH0_MTU');
    expect(configError(() => one({ ...base, GATEWAY_IFACE: 'ETH3' })).source).toBe('GATEWAY_IFACE');
    expect(configError(() => one({ ...base, NETCFG_TYPE: 'bsd' })).source).toBe('NETCFG_TYPE');
    expect(configError(() => one({ ...base, NETCFG_NETPLAN_RENDERER: 'ifupdown' })).source).toBe('NETCFG_NETPLAN_RENDERER');
  });

  it('defaults the mask to /24 and the IPv6 prefix to /64; empty values are unset', () => {
    const m = one({
      ETH0_MAC: '02:00:00:00:00:01',
      ETH0_IP: '10.0.0.5',
      ETH0_MASK: '',
      ETH0_IP6: '2001:db8::5',
      ETH0_GATEWAY: '',
    });
    const l = m.links[0];
    expect(l?.ipv4).toEqual({ method: 'static', addresses: [{ address: '10.0.0.5', prefix: 24, key: 'ETH0_IP' }] });
    expect(l?.ipv6.addresses[0]).toMatchObject({ address: '2001:db8::5', prefix: 64 });
    expect(l?.gateway4).toBeUndefined();
  });

  it('defaults IP6_METHOD to METHOD and maps auto/dhcp/disable/skip', () => {
    const mac = '02:00:00:00:00:01';
    expect(one({ ETH0_MAC: mac, ETH0_METHOD: 'dhcp' }).links[0]?.ipv6.method).toBe('dhcp');
    expect(one({ ETH0_MAC: mac, ETH0_METHOD: 'dhcp', ETH0_IP6_METHOD: 'auto' }).links[0]?.ipv6.method).toBe('auto');
    expect(one({ ETH0_MAC: mac, ETH0_IP: '10.0.0.5', ETH0_IP6_METHOD: 'disable' }).links[0]?.ipv6.method).toBe('disabled');
    // Both families skipped: the NIC is not touched at all.
    expect(one({ ETH0_MAC: mac, ETH0_IP: '10.0.0.5', ETH0_METHOD: 'skip' }).links).toEqual([]);
    // A DHCP NIC ignores the static gateway; DHCP provides it. Its metric becomes the DHCP route metric.
    const dhcp = one({ ETH0_MAC: mac, ETH0_METHOD: 'dhcp', ETH0_GATEWAY: '10.0.0.1', ETH0_METRIC: '300' }).links[0];
    expect(dhcp?.gateway4).toBeUndefined();
    expect(dhcp?.ipv4.routeMetric).toBe(300);
  });

  it('reads legacy IPV6/GATEWAY6 names and returns the renderer hint', () => {
    const m = one({
      ETH0_MAC: '02:00:00:00:00:01',
      ETH0_IPV6: '2001:db8::5',
      ETH0_GATEWAY6: '2001:db8::1',
      NETCFG_TYPE: 'NM',
      NETCFG_NETPLAN_RENDERER: 'NetworkManager',
    });
    expect(m.links[0]?.gateway6).toMatchObject({ address: '2001:db8::1', key: 'ETH0_GATEWAY6' });
    expect(m.hint).toEqual({ type: 'nm', netplanRenderer: 'NetworkManager' });
  });
});

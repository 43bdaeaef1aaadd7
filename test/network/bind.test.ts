// Binding the model to the guest's NICs: the whole-picture checks, each a ConfigError naming the key.
import { describe, expect, it } from 'vitest';
import { bindInterfaces } from '../../src/network/bind';
import type { GuestNic } from '../../src/network/fallback';
import { fromCloudInitV2 } from '../../src/network/from-cloudinit-v2';
import { fromOpenNebula } from '../../src/network/from-opennebula';
import { fromOpenStack } from '../../src/network/from-openstack';
import { configError } from './helpers';

const nics: GuestNic[] = [
  { name: 'eth0', mac: '02:00:00:00:00:01', carrier: true, physical: true },
  { name: 'eth1', mac: '02:00:00:00:00:02', carrier: true, physical: true },
  // A VLAN shares its parent's MAC; binding must pick the physical NIC.
  { name: 'eth0.5', mac: '02:00:00:00:00:01', carrier: true, physical: false },
];


describe('bindInterfaces', () => {
  it('resolves MACs to names, preferring the physical NIC', () => {
    const m = fromOpenNebula(new Map([['ETH0_MAC', '02:00:00:00:00:01'], ['ETH0_IP', '10.0.0.5']]));
    const bound = bindInterfaces(m, [...nics].reverse());
    expect(bound.links.map((l) => [l.name, l.currentName])).toEqual([['eth0', 'eth0']]);
  });

  it('a MAC matching no interface names the key and the MAC', () => {
    const m = fromOpenNebula(new Map([['ETH3_MAC', '02:00:00:00:00:99'], ['ETH3_IP', '10.0.0.5']]));
    const err = configError(() => bindInterfaces(m, nics));
    expect(err.source).toBe('ETH3_MAC');
    expect(err.message).toContain('02:00:00:00:00:99 matches no network interface');
  });

  it('a VLAN without its parent names the vlan_link key', () => {
    const m = fromOpenStack(
      {
        links: [
          { id: 'a', type: 'phy', ethernet_mac_address: '02:00:00:00:00:01' },
          { id: 'v', type: 'vlan', vlan_link: 'nope', vlan_id: 5 },
        ],
      },
      { origin: 'network_data.json' },
    );
    const err = configError(() => bindInterfaces(m, nics));
    expect(err.describe()).toBe('network_data.json: links[1].vlan_link: parent link nope of VLAN 5 is not defined');
  });

  it('a gateway outside every subnet of its link names the gateway key', () => {
    const m = fromOpenNebula(
      new Map([
        ['ETH0_MAC', '02:00:00:00:00:01'],
        ['ETH0_IP', '10.0.0.5'],
        ['ETH0_GATEWAY', '10.0.1.1'],
      ]),
    );
    const err = configError(() => bindInterfaces(m, nics));
    expect(err.describe()).toBe('ETH0_GATEWAY: gateway 10.0.1.1 is outside every subnet of its link (10.0.0.5/24)');
    const route = fromOpenNebula(
      new Map([
        ['ETH0_MAC', '02:00:00:00:00:01'],
        ['ETH0_IP', '10.0.0.5'],
        ['ETH0_ROUTES', '10.9.0.0/16 via 192.168.0.1'],
      ]),
    );
    expect(configError(() => bindInterfaces(route, nics)).source).toBe('ETH0_ROUTES');
  });

  it('allows an on-link gateway only where the source says so, and IPv6 link-local gateways', () => {
    const v2 = (onLink: boolean) =>
      fromCloudInitV2({
        version: 2,
        ethernets: {
          eth0: { addresses: ['10.0.0.5/24'], routes: [{ to: 'default', via: '172.31.1.1', 'on-link': onLink }] },
        },
      });
    expect(bindInterfaces(v2(true), nics).links[0]?.gateway4?.onLink).toBe(true);
    expect(configError(() => bindInterfaces(v2(false), nics)).source).toBe('ethernets.eth0.routes[0].via');
    const ll = fromOpenNebula(
      new Map([
        ['ETH0_MAC', '02:00:00:00:00:01'],
        ['ETH0_IP6', '2001:db8::5'],
        ['ETH0_IP6_GATEWAY', 'fe80::1'],
      ]),
    );
    expect(bindInterfaces(ll, nics).links[0]?.gateway6?.address).toBe('fe80::1');
  });

  it('refuses two links on one NIC, unknown bond members and clashing names', () => {
    const twice = fromCloudInitV2({
      version: 2,
      ethernets: { a: { match: { macaddress: '02:00:00:00:00:01' } }, b: { match: { name: 'eth0' } } },
    });
    expect(configError(() => bindInterfaces(twice, nics)).source).toBe('ethernets.b');
    const bond = fromCloudInitV2({ version: 2, bonds: { bond0: { interfaces: ['eth7'] } } });
    expect(configError(() => bindInterfaces(bond, nics)).message).toContain('member eth7 of bond bond0 is not defined');
    const clash = fromCloudInitV2({
      version: 2,
      ethernets: { a: { match: { macaddress: '02:00:00:00:00:01' }, 'set-name': 'eth1' }, eth1: {} },
    });
    expect(configError(() => bindInterfaces(clash, nics)).message).toContain('interface name eth1 is also used');
  });
});

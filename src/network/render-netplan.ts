// netplan renderer: one /etc/netplan/50-guestctx.yaml (version 2, mode 0600 as
// netplan requires for files that may hold secrets). Interfaces are keyed by their
// final name so bonds, bridges and VLANs can refer to them.
import { ConfigError } from '../errors';
import type { BoundLink, BoundNetwork } from './bind';
import { BOND_PARAMS, BRIDGE_PARAMS } from './link-params';
import { HEADER, type OwnedFiles, type RenderOptions, type RenderedFile, type Renderer, cidr, isDefault } from './render-common';
import { type YamlValue, toYaml } from './yaml-emit';

export const NETPLAN_PATH = '/etc/netplan/50-guestctx.yaml';
export const NETPLAN_OWNED: readonly OwnedFiles[] = [{ dir: '/etc/netplan', prefix: '50-guestctx' }];

type Mapping = Record<string, YamlValue | undefined>;

function params(table: typeof BOND_PARAMS, p: Readonly<Record<string, string>>): Mapping {
  const out: Mapping = {};
  for (const name of Object.keys(p).sort()) {
    const spec = table[name];
    const value = p[name];
    if (spec === undefined || value === undefined) continue;
    if (spec.boolean) out[spec.netplan] = value === 'on';
    else if (name === 'arp_ip_target') out[spec.netplan] = value.split(',');
    else if (/^[0-9]+$/.test(value)) out[spec.netplan] = Number(value);
    else out[spec.netplan] = value;
  }
  return out;
}

function routes(l: BoundLink): Mapping[] {
  const out: Mapping[] = [];
  for (const gw of [l.gateway4, l.gateway6]) {
    if (!gw) continue;
    out.push({ to: 'default', via: gw.address, metric: gw.metric, 'on-link': gw.onLink ? true : undefined });
  }
  for (const r of l.routes) {
    out.push({
      to: isDefault(r.to) ? 'default' : r.to,
      via: r.via,
      metric: r.metric,
      'on-link': r.onLink ? true : undefined,
      scope: r.via === undefined ? 'link' : undefined,
    });
  }
  return out;
}

/**
 * netplan's networkd backend wants one route-metric for DHCPv4 and DHCPv6 together.
 * DHCPv6 itself carries no routes, so mirroring the one that is set changes nothing;
 * two different values cannot be expressed.
 */
function dhcpMetrics(l: BoundLink): { v4?: number; v6?: number } {
  const v4 = l.ipv4.method === 'dhcp' ? l.ipv4.routeMetric : undefined;
  const v6 = l.ipv6.method === 'dhcp' ? l.ipv6.routeMetric : undefined;
  if (l.ipv4.method !== 'dhcp' || l.ipv6.method !== 'dhcp') return { v4, v6 };
  if (v4 !== undefined && v6 !== undefined && v4 !== v6) {
    throw new ConfigError(l.key, `netplan cannot use different DHCP route metrics for IPv4 (${v4}) and IPv6 (${v6})`);
  }
  const both = v4 ?? v6;
  return { v4: both, v6: both };
}

function common(l: BoundLink): Mapping {
  const m: Mapping = {};
  if (l.mtu !== undefined) m['mtu'] = l.mtu;
  const metrics = dhcpMetrics(l);
  if (l.ipv4.method === 'dhcp') {
    m['dhcp4'] = true;
    if (metrics.v4 !== undefined) m['dhcp4-overrides'] = { 'route-metric': metrics.v4 };
  }
  switch (l.ipv6.method) {
    case 'dhcp':
      m['dhcp6'] = true;
      m['accept-ra'] = true;
      if (metrics.v6 !== undefined) m['dhcp6-overrides'] = { 'route-metric': metrics.v6 };
      break;
    case 'auto':
      m['accept-ra'] = true;
      break;
    case 'static':
      m['accept-ra'] = false;
      break;
    case 'disabled':
      m['accept-ra'] = false;
      m['link-local'] = [];
      break;
    case 'none':
      break;
  }
  const addrs = [...l.ipv4.addresses, ...l.ipv6.addresses].map(cidr);
  if (addrs.length > 0) m['addresses'] = addrs;
  const r = routes(l);
  if (r.length > 0) m['routes'] = r;
  if (l.dns.nameservers.length > 0 || l.dns.search.length > 0) {
    m['nameservers'] = {
      addresses: l.dns.nameservers.length > 0 ? [...l.dns.nameservers] : undefined,
      search: l.dns.search.length > 0 ? [...l.dns.search] : undefined,
    };
  }
  return m;
}

function ethernet(l: BoundLink): Mapping {
  const m: Mapping = {};
  if (l.mac !== undefined) {
    m['match'] = { macaddress: l.mac };
    if (l.rename) m['set-name'] = l.name;
  } else if (l.rename && l.currentName !== undefined) {
    m['match'] = { name: l.currentName };
    m['set-name'] = l.name;
  }
  return { ...m, ...common(l) };
}

export function renderNetplan(net: BoundNetwork, opts?: RenderOptions): RenderedFile[] {
  const renderer = opts?.netplanRenderer ?? net.hint?.netplanRenderer ?? 'networkd';
  const ethernets: Mapping = {};
  const bonds: Mapping = {};
  const bridges: Mapping = {};
  const vlans: Mapping = {};
  for (const l of net.links) {
    if (l.bond) {
      bonds[l.name] = {
        interfaces: [...l.bond.members],
        ...(l.mac ? { macaddress: l.mac } : {}),
        parameters: { mode: l.bond.mode, ...params(BOND_PARAMS, l.bond.params) },
        ...common(l),
      };
    } else if (l.bridge) {
      const p = params(BRIDGE_PARAMS, l.bridge.params);
      bridges[l.name] = {
        interfaces: [...l.bridge.members],
        ...(l.mac ? { macaddress: l.mac } : {}),
        ...(Object.keys(p).length > 0 ? { parameters: p } : {}),
        ...common(l),
      };
    } else if (l.vlan) {
      vlans[l.name] = { id: l.vlan.id, link: l.vlan.parent, ...(l.mac ? { macaddress: l.mac } : {}), ...common(l) };
    } else {
      ethernets[l.name] = ethernet(l);
    }
  }
  const network: Mapping = { version: 2, renderer };
  const sections: [string, Mapping][] = [
    ['ethernets', ethernets],
    ['bonds', bonds],
    ['bridges', bridges],
    ['vlans', vlans],
  ];
  for (const [name, section] of sections) if (Object.keys(section).length > 0) network[name] = section;
  return [{ path: NETPLAN_PATH, content: HEADER + toYaml({ network }), mode: 0o600 }];
}

export const netplanRenderer: Renderer = {
  name: 'netplan',
  owned: NETPLAN_OWNED,
  render: (net, opts) => renderNetplan(net, opts),
};

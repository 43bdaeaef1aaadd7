// OpenStack config-drive / metadata network_data.json to the network model.
// Links of any type other than bond and vlan are NICs the guest sees (phy,
// ethernet, ovs, bridge, tap, vif, ...) and are matched by MAC; networks attach
// addresses, routes and DNS to a link; top-level dns services are global.
import type { Family } from './address';
import { BOND_PARAMS, checkBondMode, checkParams } from './link-params';
import {
  Keys,
  asArray,
  asDestination,
  asInt,
  asIp,
  asMac,
  asMaskOrPrefix,
  asRecord,
  asStaticAddress,
  asString,
  isDefaultRoute,
  isRecord,
  optArray,
  optMetric,
  optMtu,
  optString,
} from './convert-util';
import {
  type ConvertContext,
  type Gateway,
  type IpConfig,
  type Ipv4Method,
  type Ipv6Method,
  type Link,
  type NetworkModel,
  type Route,
  type StaticAddress,
  mergeUnique,
} from './model';

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

interface Draft {
  base: Omit<Link, 'ipv4' | 'ipv6' | 'routes' | 'dns'>;
  v4: { method: Ipv4Method; addresses: StaticAddress[] };
  v6: { method: Ipv6Method; addresses: StaticAddress[] };
  gateway4?: Gateway;
  gateway6?: Gateway;
  routes: Route[];
  nameservers: string[];
  search: string[];
}

function dnsServices(k: Keys, path: string, v: unknown): string[] {
  const out: string[] = [];
  optArray(k, path, v).forEach((svc, i) => {
    const s = asRecord(k, `${path}[${i}]`, svc);
    if (s['type'] === 'dns') out.push(asIp(k, `${path}[${i}].address`, s['address']));
  });
  return out;
}

function parseLink(k: Keys, raw: unknown, i: number, bondCount: { n: number }): Link {
  const path = `links[${i}]`;
  const l = asRecord(k, path, raw);
  const id = asString(k, `${path}.id`, l['id']);
  const type = asString(k, `${path}.type`, l['type']);
  const mtu = optMtu(k, `${path}.mtu`, l['mtu']);
  const common = {
    id,
    key: k.key(path),
    ...(mtu !== undefined ? { mtu } : {}),
    ipv4: { method: 'none', addresses: [] } as IpConfig<Ipv4Method>,
    ipv6: { method: 'none', addresses: [] } as IpConfig<Ipv6Method>,
    routes: [],
    dns: { nameservers: [], search: [] },
  };
  const macOf = (field: string): string | undefined =>
    l[field] === undefined || l[field] === null ? undefined : asMac(k, `${path}.${field}`, l[field]);
  const name = optString(k, `${path}.name`, l['name']);
  if (type === 'bond') {
    const members = asArray(k, `${path}.bond_links`, l['bond_links']).map((m, j) =>
      asString(k, `${path}.bond_links[${j}]`, m),
    );
    const mode = checkBondMode(k, `${path}.bond_mode`, asString(k, `${path}.bond_mode`, l['bond_mode'] ?? 'balance-rr'));
    const raw: Record<string, string> = {};
    for (const [key, value] of Object.entries(l)) {
      if (!key.startsWith('bond_') || key === 'bond_links' || key === 'bond_mode') continue;
      if (value === null || value === undefined) continue;
      raw[key.slice(5)] = asString(k, `${path}.${key}`, value);
    }
    const params = checkParams(k, BOND_PARAMS, raw, (n) => `${path}.bond_${n}`);
    const mac = macOf('ethernet_mac_address');
    const bondName = name ?? (IFNAME.test(id) ? id : `bond${bondCount.n}`);
    bondCount.n++;
    return { ...common, kind: 'bond', name: bondName, members, mode, params, ...(mac ? { mac } : {}) };
  }
  if (type === 'vlan') {
    const parent = asString(k, `${path}.vlan_link`, l['vlan_link']);
    const vlanId = asInt(k, `${path}.vlan_id`, l['vlan_id'], 1, 4094, 'VLAN id');
    const mac = macOf('vlan_mac_address') ?? macOf('ethernet_mac_address');
    return {
      ...common,
      kind: 'vlan',
      vlanId,
      link: parent,
      linkKey: k.key(`${path}.vlan_link`),
      ...(name ? { name } : {}),
      ...(mac ? { mac } : {}),
    };
  }
  const mac = macOf('ethernet_mac_address');
  if (mac === undefined) throw k.error(`${path}.ethernet_mac_address`, `is required for a ${type} link`);
  return { ...common, kind: 'physical', mac, macKey: k.key(`${path}.ethernet_mac_address`) };
}

function applyNetwork(k: Keys, raw: unknown, i: number, drafts: Map<string, Draft>): void {
  const path = `networks[${i}]`;
  const n = asRecord(k, path, raw);
  const linkId = asString(k, `${path}.link`, n['link']);
  const d = drafts.get(linkId);
  if (d === undefined) throw k.error(`${path}.link`, `${linkId} is not the id of any link`);
  const type = asString(k, `${path}.type`, n['type']);
  const family: Family = type.startsWith('ipv6') ? 6 : 4;
  switch (type) {
    case 'ipv4_dhcp':
      d.v4.method = 'dhcp';
      break;
    case 'ipv6_dhcp':
    case 'ipv6_dhcpv6-stateful':
      d.v6.method = 'dhcp';
      break;
    case 'ipv6_slaac':
    case 'ipv6_dhcpv6-stateless':
      if (d.v6.method !== 'dhcp') d.v6.method = 'auto';
      break;
    case 'ipv4':
    case 'ipv6': {
      const ipText = asString(k, `${path}.ip_address`, n['ip_address']);
      const maskField = n['netmask'] !== undefined ? 'netmask' : n['prefix'] !== undefined ? 'prefix' : undefined;
      const prefix = maskField ? asMaskOrPrefix(k, `${path}.${maskField}`, n[maskField], family) : undefined;
      const addr = asStaticAddress(k, `${path}.ip_address`, ipText, () => prefix, family);
      const target = family === 4 ? d.v4 : d.v6;
      target.addresses.push(addr);
      if (family === 4 && d.v4.method === 'none') d.v4.method = 'static';
      if (family === 6 && d.v6.method === 'none') d.v6.method = 'static';
      break;
    }
    default:
      throw k.error(`${path}.type`, `${type} is not a known network type`);
  }
  optArray(k, `${path}.routes`, n['routes']).forEach((r, j) => {
    const rp = `${path}.routes[${j}]`;
    const route = asRecord(k, rp, r);
    const net = asIp(k, `${rp}.network`, route['network'], family);
    const len = asMaskOrPrefix(k, `${rp}.netmask`, route['netmask'] ?? route['prefix'], family);
    const dst = asDestination(k, `${rp}.network`, `${net}/${len}`, family);
    const via = asIp(k, `${rp}.gateway`, route['gateway'], family);
    const metric = optMetric(k, `${rp}.metric`, route['metric']);
    const built: Route = { to: dst.to, via, ...(metric !== undefined ? { metric } : {}), key: k.key(rp) };
    if (isDefaultRoute(built)) {
      const gw: Gateway = { address: via, ...(metric !== undefined ? { metric } : {}), key: k.key(`${rp}.gateway`) };
      if (family === 4) d.gateway4 ??= gw;
      else d.gateway6 ??= gw;
    } else {
      d.routes.push(built);
    }
  });
  mergeUnique(d.nameservers, dnsServices(k, `${path}.services`, n['services']));
}

/** Convert a parsed network_data.json into the network model. Throws ConfigError with the key path. */
export function fromOpenStack(input: unknown, ctx?: ConvertContext): NetworkModel {
  const k = new Keys(ctx);
  const root = asRecord(k, '(root)', input);
  const drafts = new Map<string, Draft>();
  const bondCount = { n: 0 };
  optArray(k, 'links', root['links']).forEach((raw, i) => {
    const link = parseLink(k, raw, i, bondCount);
    if (drafts.has(link.id)) throw k.error(`links[${i}].id`, `${link.id} is used by two links`);
    const { ipv4: _a, ipv6: _b, routes: _c, dns: _d, ...base } = link;
    drafts.set(link.id, {
      base,
      v4: { method: 'none', addresses: [] },
      v6: { method: 'none', addresses: [] },
      routes: [],
      nameservers: [],
      search: [],
    });
  });
  optArray(k, 'networks', root['networks']).forEach((raw, i) => applyNetwork(k, raw, i, drafts));

  const links: Link[] = [...drafts.values()].map(
    (d) =>
      ({
        ...d.base,
        ipv4: { method: d.v4.method, addresses: d.v4.addresses },
        ipv6: { method: d.v6.method, addresses: d.v6.addresses },
        ...(d.gateway4 ? { gateway4: d.gateway4 } : {}),
        ...(d.gateway6 ? { gateway6: d.gateway6 } : {}),
        routes: d.routes,
        dns: { nameservers: d.nameservers, search: d.search },
      }) as Link,
  );
  const services = isRecord(root) ? dnsServices(k, 'services', root['services']) : [];
  return { links, dns: { nameservers: mergeUnique([], services), search: [] } };
}

// cloud-init network config version 1 (a list of physical/bond/vlan/bridge/
// nameserver/route entries) to the network model. The input is the parsed YAML;
// it may be wrapped in a top-level "network:" key as in cloud-config.
import { ConfigError } from '../errors';
import { inSubnet } from './address';
import { BOND_PARAMS, BRIDGE_PARAMS, checkBondMode, checkParams } from './link-params';
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
  familyOfRoute,
  isDefaultRoute,
  isRecord,
  optMetric,
  optMtu,
  stringList,
  optArray,
} from './convert-util';
import {
  type ConvertContext,
  type Gateway,
  type Ipv4Method,
  type Ipv6Method,
  type Link,
  type NetworkModel,
  type Route,
  type StaticAddress,
  mergeUnique,
} from './model';

interface Draft {
  link: Link;
  v4: { method: Ipv4Method; addresses: StaticAddress[] };
  v6: { method: Ipv6Method; addresses: StaticAddress[] };
  gateway4?: Gateway;
  gateway6?: Gateway;
  routes: Route[];
  nameservers: string[];
  search: string[];
}

/** Unwrap {network: {...}} and check the version; returns the inner mapping. */
export function unwrapNetworkConfig(k: Keys, input: unknown, version: 1 | 2): Record<string, unknown> {
  let root = asRecord(k, '(root)', input);
  let prefix = '';
  if (isRecord(root['network'])) {
    root = root['network'];
    prefix = 'network.';
  }
  const v = root['version'];
  if (v !== version && v !== String(version)) {
    throw k.error(`${prefix}version`, `expected ${version}, got ${v === undefined ? 'nothing' : String(v)}`);
  }
  return root;
}

function parseRoute(k: Keys, path: string, v: unknown): Route {
  const r = asRecord(k, path, v);
  const destField = r['destination'] !== undefined ? 'destination' : 'network';
  let dst: { to: string };
  const dstText = asString(k, `${path}.${destField}`, r[destField]);
  if (!dstText.includes('/') && (r['netmask'] !== undefined || r['prefix'] !== undefined)) {
    const ip = asIp(k, `${path}.${destField}`, dstText);
    const fam = ip.includes(':') ? 6 : 4;
    const maskField = r['netmask'] !== undefined ? 'netmask' : 'prefix';
    const len = asMaskOrPrefix(k, `${path}.${maskField}`, r[maskField], fam);
    dst = asDestination(k, `${path}.${destField}`, `${ip}/${len}`, fam);
  } else {
    dst = asDestination(k, `${path}.${destField}`, dstText);
  }
  const fam = dst.to.includes(':') ? 6 : 4;
  const via = r['gateway'] === undefined ? undefined : asIp(k, `${path}.gateway`, r['gateway'], fam);
  const metric = optMetric(k, `${path}.metric`, r['metric']);
  return { to: dst.to, ...(via ? { via } : {}), ...(metric !== undefined ? { metric } : {}), key: k.key(path) };
}

function applySubnet(k: Keys, path: string, raw: unknown, d: Draft): void {
  const s = asRecord(k, path, raw);
  const type = asString(k, `${path}.type`, s['type']);
  switch (type) {
    case 'dhcp':
    case 'dhcp4':
      d.v4.method = 'dhcp';
      break;
    case 'dhcp6':
    case 'ipv6_dhcpv6-stateful':
      d.v6.method = 'dhcp';
      break;
    case 'ipv6_slaac':
    case 'ipv6_dhcpv6-stateless':
      if (d.v6.method !== 'dhcp') d.v6.method = 'auto';
      break;
    case 'manual':
      break;
    case 'static':
    case 'static6': {
      const addrPath = `${path}.address`;
      const maskField = s['netmask'] !== undefined ? 'netmask' : s['prefix'] !== undefined ? 'prefix' : undefined;
      const addr = asStaticAddress(k, addrPath, s['address'], (f) =>
        maskField ? asMaskOrPrefix(k, `${path}.${maskField}`, s[maskField], f) : undefined,
      );
      const fam = addr.address.includes(':') ? 6 : 4;
      if (type === 'static6' && fam !== 6) throw k.error(addrPath, `${addr.address} is not an IPv6 address`);
      if (fam === 4) {
        d.v4.addresses.push(addr);
        if (d.v4.method === 'none') d.v4.method = 'static';
      } else {
        d.v6.addresses.push(addr);
        if (d.v6.method === 'none') d.v6.method = 'static';
      }
      if (s['gateway'] !== undefined) {
        const gw: Gateway = {
          address: asIp(k, `${path}.gateway`, s['gateway'], fam),
          ...(s['metric'] !== undefined ? { metric: optMetric(k, `${path}.metric`, s['metric']) as number } : {}),
          key: k.key(`${path}.gateway`),
        };
        if (fam === 4) d.gateway4 ??= gw;
        else d.gateway6 ??= gw;
      }
      break;
    }
    default:
      throw k.error(`${path}.type`, `${type} is not a known subnet type`);
  }
  optArray(k, `${path}.routes`, s['routes']).forEach((r, i) => d.routes.push(parseRoute(k, `${path}.routes[${i}]`, r)));
  mergeUnique(d.nameservers, stringList(k, `${path}.dns_nameservers`, s['dns_nameservers']).map((n, i) =>
    asIp(k, `${path}.dns_nameservers[${i}]`, n),
  ));
  mergeUnique(d.search, stringList(k, `${path}.dns_search`, s['dns_search']));
}

/** Bond/bridge params: drop the "bond-"/"bridge_" prefixes, keep kernel-style names with underscores. */
function params(k: Keys, path: string, v: unknown, prefixes: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  for (const [key, value] of Object.entries(asRecord(k, path, v))) {
    if (value === null || value === undefined) continue;
    const name = key.replace(prefixes, '').replace(/-/g, '_');
    out[name] = Array.isArray(value) ? value.map(String).join(' ') : asString(k, `${path}.${key}`, typeof value === 'boolean' ? (value ? 'on' : 'off') : value);
  }
  return out;
}

// cloud-init v1 spells bridge parameters after bridge-utils (bridge_fd, bridge_maxage...).
const V1_BRIDGE: Readonly<Record<string, string>> = {
  ageing: 'ageing_time',
  bridgeprio: 'priority',
  fd: 'forward_delay',
  hello: 'hello_time',
  maxage: 'max_age',
  stp: 'stp',
};

function bridgeParams(k: Keys, path: string, v: unknown): Record<string, string> {
  const raw = params(k, `${path}.params`, v, /^bridge[-_]/);
  const named: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const kernel = V1_BRIDGE[name];
    if (kernel === undefined) throw k.error(`${path}.params`, `bridge_${name} is not a supported parameter`);
    named[kernel] = value;
  }
  return checkParams(k, BRIDGE_PARAMS, named, () => `${path}.params`);
}

/** Convert cloud-init network config v1 (parsed YAML) into the network model. */
export function fromCloudInitV1(input: unknown, ctx?: ConvertContext): NetworkModel {
  const k = new Keys(ctx);
  const root = unwrapNetworkConfig(k, input, 1);
  const base = isRecord(input) && isRecord(input['network']) ? 'network.config' : 'config';
  const entries = asArray(k, base, root['config']);
  const drafts: Draft[] = [];
  const byName = new Map<string, Draft>();
  const globalNs: string[] = [];
  const globalSearch: string[] = [];
  const pendingRoutes: Route[] = [];
  const pendingDns: { iface: string; path: string; ns: string[]; search: string[] }[] = [];

  entries.forEach((raw, i) => {
    const path = `${base}[${i}]`;
    const e = asRecord(k, path, raw);
    const type = asString(k, `${path}.type`, e['type']);
    if (type === 'nameserver') {
      const ns = stringList(k, `${path}.address`, e['address']).map((a, j) => asIp(k, `${path}.address[${j}]`, a));
      const search = stringList(k, `${path}.search`, e['search']);
      if (e['interface'] !== undefined) {
        pendingDns.push({ iface: asString(k, `${path}.interface`, e['interface']), path, ns, search });
      } else {
        mergeUnique(globalNs, ns);
        mergeUnique(globalSearch, search);
      }
      return;
    }
    if (type === 'route') {
      pendingRoutes.push(parseRoute(k, path, e));
      return;
    }
    const name = asString(k, `${path}.name`, e['name']);
    const mtu = optMtu(k, `${path}.mtu`, e['mtu']);
    const mac = e['mac_address'] === undefined ? undefined : asMac(k, `${path}.mac_address`, e['mac_address']);
    const common = {
      id: name,
      key: k.key(path),
      ...(mtu !== undefined ? { mtu } : {}),
      ipv4: { method: 'none' as const, addresses: [] },
      ipv6: { method: 'none' as const, addresses: [] },
      routes: [],
      dns: { nameservers: [], search: [] },
    };
    let link: Link;
    switch (type) {
      case 'physical':
        // v1 names the interface it wants: with a MAC that is a rename, without one a match by name.
        link = mac
          ? { ...common, kind: 'physical', mac, macKey: k.key(`${path}.mac_address`), setName: name }
          : { ...common, kind: 'physical', name };
        break;
      case 'bond': {
        const p = params(k, `${path}.params`, e['params'], /^bond[-_]/);
        const mode = checkBondMode(k, `${path}.params`, p['mode'] ?? 'balance-rr');
        delete p['mode'];
        link = {
          ...common,
          kind: 'bond',
          name,
          members: stringList(k, `${path}.bond_interfaces`, e['bond_interfaces']),
          mode,
          params: checkParams(k, BOND_PARAMS, p, () => `${path}.params`),
          ...(mac ? { mac } : {}),
        };
        break;
      }
      case 'vlan':
        link = {
          ...common,
          kind: 'vlan',
          name,
          vlanId: asInt(k, `${path}.vlan_id`, e['vlan_id'], 1, 4094, 'VLAN id'),
          link: asString(k, `${path}.vlan_link`, e['vlan_link']),
          linkKey: k.key(`${path}.vlan_link`),
          ...(mac ? { mac } : {}),
        };
        break;
      case 'bridge':
        link = {
          ...common,
          kind: 'bridge',
          name,
          members: stringList(k, `${path}.bridge_interfaces`, e['bridge_interfaces']),
          params: bridgeParams(k, path, e['params']),
          ...(mac ? { mac } : {}),
        };
        break;
      default:
        throw k.error(`${path}.type`, `${type} is not a known config type`);
    }
    if (byName.has(name)) throw k.error(`${path}.name`, `${name} is defined twice`);
    const d: Draft = {
      link,
      v4: { method: 'none', addresses: [] },
      v6: { method: 'none', addresses: [] },
      routes: [],
      nameservers: [],
      search: [],
    };
    optArray(k, `${path}.subnets`, e['subnets']).forEach((s, j) => applySubnet(k, `${path}.subnets[${j}]`, s, d));
    drafts.push(d);
    byName.set(name, d);
  });

  for (const p of pendingDns) {
    const d = byName.get(p.iface);
    if (d === undefined) throw k.error(`${p.path}.interface`, `${p.iface} is not a configured interface`);
    mergeUnique(d.nameservers, p.ns);
    mergeUnique(d.search, p.search);
  }
  // Top-level routes belong to the link whose static subnet contains the gateway.
  for (const r of pendingRoutes) {
    const fam = familyOfRoute(r);
    const owner = drafts.find((d) =>
      (fam === 4 ? d.v4.addresses : d.v6.addresses).some((a) => r.via !== undefined && inSubnet(r.via, a.address, a.prefix)),
    );
    if (owner === undefined) {
      throw new ConfigError(r.key, `gateway ${r.via ?? '(none)'} is not in any configured static subnet`);
    }
    if (isDefaultRoute(r) && r.via !== undefined) {
      const gw: Gateway = { address: r.via, ...(r.metric !== undefined ? { metric: r.metric } : {}), key: r.key };
      if (fam === 4) owner.gateway4 ??= gw;
      else owner.gateway6 ??= gw;
    } else owner.routes.push(r);
  }

  const links = drafts.map(
    (d) =>
      ({
        ...d.link,
        ipv4: { method: d.v4.method, addresses: d.v4.addresses },
        ipv6: { method: d.v6.method, addresses: d.v6.addresses },
        ...(d.gateway4 ? { gateway4: d.gateway4 } : {}),
        ...(d.gateway6 ? { gateway6: d.gateway6 } : {}),
        routes: d.routes,
        dns: { nameservers: d.nameservers, search: d.search },
      }) as Link,
  );
  return { links, dns: { nameservers: globalNs, search: globalSearch } };
}

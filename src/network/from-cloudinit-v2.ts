// cloud-init network config version 2 (the netplan-like form: ethernets, bonds,
// vlans, bridges) to the network model. The input is the parsed YAML, optionally
// wrapped in "network:". Only what the model can express is accepted; an unknown
// match key or parameter is a ConfigError rather than a silently ignored setting.
import type { Family } from './address';
import {
  Keys,
  asDestination,
  asInt,
  asIp,
  asMac,
  asRecord,
  asStaticAddress,
  asString,
  isDefaultRoute,
  isRecord,
  optArray,
  optBool,
  optMetric,
  optMtu,
  stringList,
} from './convert-util';
import { unwrapNetworkConfig } from './from-cloudinit-v1';
import { BOND_PARAMS, BRIDGE_PARAMS, checkBondMode, checkParams, kernelNameFromNetplan } from './link-params';
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

const SECTIONS = ['ethernets', 'bonds', 'vlans', 'bridges'] as const;
type Section = (typeof SECTIONS)[number];

interface Common {
  id: string;
  key: string;
  mtu?: number;
  ipv4: IpConfig<Ipv4Method>;
  ipv6: IpConfig<Ipv6Method>;
  gateway4?: Gateway;
  gateway6?: Gateway;
  routes: Route[];
  dns: { nameservers: string[]; search: string[] };
}

function addressList(k: Keys, path: string, v: unknown): StaticAddress[] {
  return optArray(k, path, v).map((item, i) => {
    // netplan also allows {ADDR: {lifetime, label}}; only the address matters here.
    const text = isRecord(item) && Object.keys(item).length === 1 ? Object.keys(item)[0] : item;
    return asStaticAddress(k, `${path}[${i}]`, text);
  });
}

function parseCommon(k: Keys, path: string, id: string, e: Record<string, unknown>): Common {
  const addrs = addressList(k, `${path}.addresses`, e['addresses']);
  const v4 = addrs.filter((a) => !a.address.includes(':'));
  const v6 = addrs.filter((a) => a.address.includes(':'));
  const dhcp4 = optBool(k, `${path}.dhcp4`, e['dhcp4']) ?? false;
  const dhcp6 = optBool(k, `${path}.dhcp6`, e['dhcp6']) ?? false;
  const acceptRa = optBool(k, `${path}.accept-ra`, e['accept-ra']);
  const metricOf = (field: string): number | undefined => {
    const o = e[field];
    if (o === undefined || o === null) return undefined;
    return optMetric(k, `${path}.${field}.route-metric`, asRecord(k, `${path}.${field}`, o)['route-metric']);
  };
  const m4 = metricOf('dhcp4-overrides');
  const m6 = metricOf('dhcp6-overrides');
  const ipv4: IpConfig<Ipv4Method> = dhcp4
    ? { method: 'dhcp', addresses: v4, ...(m4 !== undefined ? { routeMetric: m4 } : {}) }
    : { method: v4.length > 0 ? 'static' : 'none', addresses: v4 };
  let method6: Ipv6Method = 'none';
  if (dhcp6) method6 = 'dhcp';
  else if (v6.length > 0) method6 = acceptRa === true ? 'auto' : 'static';
  else if (acceptRa === true) method6 = 'auto';
  const linkLocal = e['link-local'];
  if (!dhcp6 && v6.length === 0 && acceptRa === false && Array.isArray(linkLocal) && !linkLocal.includes('ipv6')) {
    method6 = 'disabled';
  }
  const ipv6: IpConfig<Ipv6Method> = {
    method: method6,
    addresses: v6,
    ...(m6 !== undefined && method6 !== 'static' ? { routeMetric: m6 } : {}),
  };

  const gw = (field: string, family: Family): Gateway | undefined =>
    e[field] === undefined ? undefined : { address: asIp(k, `${path}.${field}`, e[field], family), key: k.key(`${path}.${field}`) };
  let gateway4 = gw('gateway4', 4);
  let gateway6 = gw('gateway6', 6);
  const routes: Route[] = [];
  optArray(k, `${path}.routes`, e['routes']).forEach((raw, i) => {
    const rp = `${path}.routes[${i}]`;
    const r = asRecord(k, rp, raw);
    const viaText = r['via'] === undefined ? undefined : asIp(k, `${rp}.via`, r['via']);
    const fam: Family | undefined = viaText === undefined ? undefined : viaText.includes(':') ? 6 : 4;
    const dst = asDestination(k, `${rp}.to`, r['to'], fam);
    const metric = optMetric(k, `${rp}.metric`, r['metric']);
    const onLink = optBool(k, `${rp}.on-link`, r['on-link']);
    const route: Route = {
      to: dst.to,
      ...(viaText ? { via: viaText } : {}),
      ...(metric !== undefined ? { metric } : {}),
      ...(onLink ? { onLink } : {}),
      key: k.key(rp),
    };
    if (isDefaultRoute(route) && viaText !== undefined) {
      const g: Gateway = {
        address: viaText,
        ...(metric !== undefined ? { metric } : {}),
        ...(onLink ? { onLink } : {}),
        key: k.key(`${rp}.via`),
      };
      if (dst.family === 4 && gateway4 === undefined) gateway4 = g;
      else if (dst.family === 6 && gateway6 === undefined) gateway6 = g;
      else throw k.error(rp, 'a second default route for the same family is not supported');
    } else routes.push(route);
  });
  const ns = e['nameservers'] === undefined ? {} : asRecord(k, `${path}.nameservers`, e['nameservers']);
  const mtu = optMtu(k, `${path}.mtu`, e['mtu']);
  return {
    id,
    key: k.key(path),
    ...(mtu !== undefined ? { mtu } : {}),
    ipv4,
    ipv6,
    ...(gateway4 ? { gateway4 } : {}),
    ...(gateway6 ? { gateway6 } : {}),
    routes,
    dns: {
      nameservers: mergeUnique(
        [],
        stringList(k, `${path}.nameservers.addresses`, ns['addresses']).map((a, i) =>
          asIp(k, `${path}.nameservers.addresses[${i}]`, a),
        ),
      ),
      search: mergeUnique([], stringList(k, `${path}.nameservers.search`, ns['search'])),
    },
  };
}

function netplanParams(
  k: Keys,
  path: string,
  v: unknown,
  table: typeof BOND_PARAMS,
): { mode?: string; params: Record<string, string> } {
  const out: Record<string, string> = {};
  let mode: string | undefined;
  if (v === undefined || v === null) return { params: out };
  for (const [key, value] of Object.entries(asRecord(k, path, v))) {
    if (key === 'mode') {
      mode = asString(k, `${path}.mode`, value);
      continue;
    }
    const kernel = kernelNameFromNetplan(table, key);
    if (kernel === undefined) throw k.error(`${path}.${key}`, `${key} is not a supported parameter`);
    out[kernel] =
      typeof value === 'boolean'
        ? value ? 'on' : 'off'
        : Array.isArray(value)
          ? value.map((x, i) => asString(k, `${path}.${key}[${i}]`, x)).join(',')
          : asString(k, `${path}.${key}`, value);
  }
  return { ...(mode !== undefined ? { mode } : {}), params: checkParams(k, table, out, (n) => `${path}.${table[n]?.netplan ?? n}`) };
}

function parseEntry(k: Keys, section: Section, path: string, id: string, raw: unknown): Link {
  const e = asRecord(k, path, raw);
  const common = parseCommon(k, path, id, e);
  const mac = e['macaddress'] === undefined ? undefined : asMac(k, `${path}.macaddress`, e['macaddress']);
  switch (section) {
    case 'ethernets': {
      const match = e['match'] === undefined ? undefined : asRecord(k, `${path}.match`, e['match']);
      for (const key of Object.keys(match ?? {})) {
        if (key !== 'macaddress' && key !== 'name') {
          throw k.error(`${path}.match.${key}`, `matching by ${key} is not supported (use macaddress or name)`);
        }
      }
      const setName = e['set-name'] === undefined ? undefined : asString(k, `${path}.set-name`, e['set-name']);
      const matchMac = match?.['macaddress'] === undefined ? undefined : asMac(k, `${path}.match.macaddress`, match['macaddress']);
      const matchName = match?.['name'] === undefined ? undefined : asString(k, `${path}.match.name`, match['name']);
      if (setName !== undefined && match === undefined) throw k.error(`${path}.set-name`, 'needs a match');
      if (matchName !== undefined && /[*?[]/.test(matchName)) {
        throw k.error(`${path}.match.name`, `${matchName}: name patterns are not supported`);
      }
      if (matchMac !== undefined) {
        return {
          ...common,
          kind: 'physical',
          mac: matchMac,
          macKey: k.key(`${path}.match.macaddress`),
          ...(setName !== undefined ? { setName } : {}),
        };
      }
      return { ...common, kind: 'physical', name: matchName ?? id, ...(setName !== undefined ? { setName } : {}) };
    }
    case 'bonds': {
      const p = netplanParams(k, `${path}.parameters`, e['parameters'], BOND_PARAMS);
      return {
        ...common,
        kind: 'bond',
        name: id,
        members: stringList(k, `${path}.interfaces`, e['interfaces']),
        mode: checkBondMode(k, `${path}.parameters.mode`, p.mode ?? 'balance-rr'),
        params: p.params,
        ...(mac ? { mac } : {}),
      };
    }
    case 'bridges': {
      const p = netplanParams(k, `${path}.parameters`, e['parameters'], BRIDGE_PARAMS);
      if (p.mode !== undefined) throw k.error(`${path}.parameters.mode`, 'is not a bridge parameter');
      return {
        ...common,
        kind: 'bridge',
        name: id,
        members: stringList(k, `${path}.interfaces`, e['interfaces']),
        params: p.params,
        ...(mac ? { mac } : {}),
      };
    }
    case 'vlans':
      return {
        ...common,
        kind: 'vlan',
        name: id,
        vlanId: asInt(k, `${path}.id`, e['id'], 0, 4094, 'VLAN id'),
        link: asString(k, `${path}.link`, e['link']),
        linkKey: k.key(`${path}.link`),
        ...(mac ? { mac } : {}),
      };
  }
}

/** Convert cloud-init network config v2 (parsed YAML) into the network model. */
export function fromCloudInitV2(input: unknown, ctx?: ConvertContext): NetworkModel {
  const k = new Keys(ctx);
  const root = unwrapNetworkConfig(k, input, 2);
  const base = isRecord(input) && isRecord(input['network']) ? 'network.' : '';
  const known = new Set<string>(['version', 'renderer', ...SECTIONS]);
  for (const key of Object.keys(root)) {
    if (!known.has(key)) throw k.error(`${base}${key}`, `${key} is not supported`);
  }
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const section of SECTIONS) {
    const value = root[section];
    if (value === undefined || value === null) continue;
    for (const [id, raw] of Object.entries(asRecord(k, `${base}${section}`, value))) {
      const path = `${base}${section}.${id}`;
      if (seen.has(id)) throw k.error(path, `${id} is defined twice`);
      seen.add(id);
      links.push(parseEntry(k, section, path, id, raw));
    }
  }
  // The v2 top level has no global DNS; renderer preference is the only hint it carries.
  const renderer = root['renderer'];
  let hint: NetworkModel['hint'];
  if (renderer !== undefined) {
    const r = asString(k, `${base}renderer`, renderer);
    if (r !== 'networkd' && r !== 'NetworkManager') throw k.error(`${base}renderer`, `${r} is not networkd or NetworkManager`);
    hint = { netplanRenderer: r };
  }
  return { links, dns: { nameservers: [], search: [] }, ...(hint ? { hint } : {}) };
}

// OpenNebula CONTEXT variables (ETH<n>_*, DNS, GATEWAY_IFACE, NETCFG_TYPE...) to
// the network model. Semantics follow the one-context documentation: empty values
// are unset, METHOD is static|dhcp|skip (empty = static), IP6_METHOD is
// static|auto|dhcp|disable|skip and defaults to METHOD, aliases marked EXTERNAL or
// DETACH are not configured in the guest, and GATEWAY_IFACE picks the one NIC that
// gets the default gateway.
import type { Family } from './address';
import { Keys, asDestination, asIp, asMac, asMaskOrPrefix, optMetric, optMtu } from './convert-util';
import {
  type ConvertContext,
  type Gateway,
  type IpConfig,
  type Ipv4Method,
  type Ipv6Method,
  type Link,
  type NetworkModel,
  type RendererHint,
  type RendererHintType,
  type Route,
  type StaticAddress,
  mergeUnique,
} from './model';

const HINT_TYPES: readonly RendererHintType[] = ['interfaces', 'netplan', 'networkd', 'nm', 'scripts'];

/** Reads variables treating empty values as unset, as one-context does. */
class Vars {
  constructor(private readonly map: ReadonlyMap<string, string>) {}
  get(name: string): string | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  /** First set variable among names (current name first, legacy names after). */
  first(...names: string[]): { name: string; value: string } | undefined {
    for (const name of names) {
      const value = this.get(name);
      if (value !== undefined) return { name, value };
    }
    return undefined;
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/[\s,;]+/).filter((w) => w !== '');
}

function nicIndexes(vars: Vars): number[] {
  const seen = new Set<number>();
  for (const key of vars.keys()) {
    const m = /^ETH([0-9]+)_/.exec(key);
    if (m?.[1] !== undefined) seen.add(Number(m[1]));
  }
  return [...seen].sort((a, b) => a - b);
}

function aliasIndexes(vars: Vars, nic: string): number[] {
  const seen = new Set<number>();
  const re = new RegExp(`^${nic}_ALIAS([0-9]+)_`);
  for (const key of vars.keys()) {
    const m = re.exec(key);
    if (m?.[1] !== undefined) seen.add(Number(m[1]));
  }
  return [...seen].sort((a, b) => a - b);
}

function ipv4Address(k: Keys, vars: Vars, prefix: string): StaticAddress | undefined {
  const ip = vars.get(`${prefix}_IP`);
  if (ip === undefined) return undefined;
  const address = asIp(k, `${prefix}_IP`, ip, 4);
  const mask = vars.get(`${prefix}_MASK`) ?? '255.255.255.0';
  const len = asMaskOrPrefix(k, `${prefix}_MASK`, mask, 4);
  return { address, prefix: len, key: k.key(`${prefix}_IP`) };
}

function ipv6Addresses(k: Keys, vars: Vars, prefix: string): StaticAddress[] {
  const out: StaticAddress[] = [];
  const lenVar = `${prefix}_IP6_PREFIX_LENGTH`;
  const lenText = vars.get(lenVar);
  const len = lenText === undefined ? 64 : asMaskOrPrefix(k, lenVar, lenText, 6);
  const ip6 = vars.first(`${prefix}_IP6`, `${prefix}_IPV6`);
  if (ip6 !== undefined) out.push({ address: asIp(k, ip6.name, ip6.value, 6), prefix: len, key: k.key(ip6.name) });
  // The ULA address is a second address in the same /64-style network.
  const ula = vars.get(`${prefix}_IP6_ULA`);
  if (ula !== undefined) {
    out.push({ address: asIp(k, `${prefix}_IP6_ULA`, ula, 6), prefix: len, key: k.key(`${prefix}_IP6_ULA`) });
  }
  return out;
}

function method4(k: Keys, vars: Vars, nic: string): 'static' | 'dhcp' | 'skip' {
  const name = `${nic}_METHOD`;
  const v = (vars.get(name) ?? 'static').toLowerCase();
  if (v === 'static' || v === 'dhcp' || v === 'skip') return v;
  throw k.error(name, `${v} is not a valid method (static, dhcp or skip)`);
}

function method6(k: Keys, vars: Vars, nic: string, m4: string): 'static' | 'auto' | 'dhcp' | 'disable' | 'skip' {
  const name = `${nic}_IP6_METHOD`;
  const v = (vars.get(name) ?? m4).toLowerCase();
  if (v === 'static' || v === 'auto' || v === 'dhcp' || v === 'disable' || v === 'skip') return v;
  throw k.error(name, `${v} is not a valid IPv6 method (static, auto, dhcp, disable or skip)`);
}

function parseRoutes(k: Keys, name: string, value: string | undefined): Route[] {
  if (value === undefined) return [];
  const routes: Route[] = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    // "DST via GW" — the only form one-context documents.
    const parts = entry.split(/\s+/);
    if (parts.length !== 3 || parts[1] !== 'via') {
      throw k.error(name, `"${entry}" is not a route (expected "DESTINATION via GATEWAY")`);
    }
    const dst = asDestination(k, name, parts[0]);
    const via = asIp(k, name, parts[2], dst.family);
    routes.push({ to: dst.to, via, key: k.key(name) });
  }
  return routes;
}

function gatewayIface(k: Keys, vars: Vars): number | undefined {
  const v = vars.get('GATEWAY_IFACE');
  if (v === undefined) return undefined;
  const m = /^ETH([0-9]+)$/i.exec(v);
  if (m?.[1] === undefined) throw k.error('GATEWAY_IFACE', `${v} is not a NIC name like ETH0`);
  return Number(m[1]);
}

function rendererHint(k: Keys, vars: Vars): RendererHint | undefined {
  const type = vars.get('NETCFG_TYPE');
  const renderer = vars.get('NETCFG_NETPLAN_RENDERER');
  let hintType: RendererHintType | undefined;
  if (type !== undefined) {
    const t = type.toLowerCase() as RendererHintType;
    if (!HINT_TYPES.includes(t)) {
      throw k.error('NETCFG_TYPE', `${type} is not supported (${HINT_TYPES.join(', ')})`);
    }
    hintType = t;
  }
  let netplanRenderer: RendererHint['netplanRenderer'];
  if (renderer !== undefined) {
    const r = renderer.toLowerCase();
    if (r === 'networkd') netplanRenderer = 'networkd';
    else if (r === 'networkmanager' || r === 'nm') netplanRenderer = 'NetworkManager';
    else throw k.error('NETCFG_NETPLAN_RENDERER', `${renderer} is not a netplan renderer (networkd or NetworkManager)`);
  }
  if (hintType === undefined && netplanRenderer === undefined) return undefined;
  return {
    ...(hintType !== undefined ? { type: hintType } : {}),
    ...(netplanRenderer !== undefined ? { netplanRenderer } : {}),
  };
}

function gateway(k: Keys, vars: Vars, names: string[], family: Family, metricName: string): Gateway | undefined {
  const gw = vars.first(...names);
  if (gw === undefined) return undefined;
  const metric = optMetric(k, metricName, vars.get(metricName));
  return { address: asIp(k, gw.name, gw.value, family), ...(metric !== undefined ? { metric } : {}), key: k.key(gw.name) };
}

/** Convert OpenNebula CONTEXT variables into the network model. Throws ConfigError naming the variable. */
export function fromOpenNebula(input: ReadonlyMap<string, string>, ctx?: ConvertContext): NetworkModel {
  const k = new Keys(ctx);
  const vars = new Vars(input);
  const gwIface = gatewayIface(k, vars);
  const links: Link[] = [];

  for (const n of nicIndexes(vars)) {
    const nic = `ETH${n}`;
    const macValue = vars.get(`${nic}_MAC`);
    if (macValue === undefined) {
      // OpenNebula always writes ETH<n>_MAC for a NIC; without it we cannot tell which NIC is meant.
      throw k.error(`${nic}_MAC`, `is missing but other ${nic}_* variables are set`);
    }
    const mac = asMac(k, `${nic}_MAC`, macValue);
    const m4 = method4(k, vars, nic);
    const m6 = method6(k, vars, nic, m4);
    // Validate the network address when given; the mask defines the subnet, so it is informational.
    const netVar = vars.get(`${nic}_NETWORK`);
    if (netVar !== undefined) asIp(k, `${nic}_NETWORK`, netVar, 4);

    const getsGateway = gwIface === undefined || gwIface === n;
    const aliases = aliasIndexes(vars, nic).filter((a) => {
      const p = `${nic}_ALIAS${a}`;
      return vars.get(`${p}_EXTERNAL`)?.toUpperCase() !== 'YES' && vars.get(`${p}_DETACH`)?.toUpperCase() !== 'YES';
    });

    let ipv4: IpConfig<Ipv4Method> = { method: 'none', addresses: [] };
    let gateway4: Gateway | undefined;
    if (m4 !== 'skip') {
      const addrs: StaticAddress[] = [];
      const primary = m4 === 'static' ? ipv4Address(k, vars, nic) : undefined;
      if (primary) addrs.push(primary);
      for (const a of aliases) {
        const alias = ipv4Address(k, vars, `${nic}_ALIAS${a}`);
        if (alias) addrs.push(alias);
      }
      const metric = optMetric(k, `${nic}_METRIC`, vars.get(`${nic}_METRIC`));
      if (m4 === 'dhcp') {
        ipv4 = { method: 'dhcp', addresses: addrs, ...(metric !== undefined ? { routeMetric: metric } : {}) };
      } else if (addrs.length > 0) {
        ipv4 = { method: 'static', addresses: addrs };
        if (getsGateway) gateway4 = gateway(k, vars, [`${nic}_GATEWAY`], 4, `${nic}_METRIC`);
      }
    }

    let ipv6: IpConfig<Ipv6Method> = { method: 'none', addresses: [] };
    let gateway6: Gateway | undefined;
    if (m6 === 'disable') {
      ipv6 = { method: 'disabled', addresses: [] };
    } else if (m6 !== 'skip') {
      const addrs: StaticAddress[] = m6 === 'static' ? ipv6Addresses(k, vars, nic) : [];
      for (const a of aliases) addrs.push(...ipv6Addresses(k, vars, `${nic}_ALIAS${a}`));
      const metric = optMetric(k, `${nic}_IP6_METRIC`, vars.get(`${nic}_IP6_METRIC`));
      if (m6 === 'auto' || m6 === 'dhcp') {
        ipv6 = { method: m6, addresses: addrs, ...(metric !== undefined ? { routeMetric: metric } : {}) };
      } else if (addrs.length > 0) {
        ipv6 = { method: 'static', addresses: addrs };
        if (getsGateway) {
          gateway6 = gateway(k, vars, [`${nic}_IP6_GATEWAY`, `${nic}_GATEWAY6`], 6, `${nic}_IP6_METRIC`);
        }
      }
    }

    // Static routes only make sense where the link has addresses we configure.
    const routes = m4 === 'skip' ? [] : parseRoutes(k, `${nic}_ROUTES`, vars.get(`${nic}_ROUTES`));
    const mtu = optMtu(k, `${nic}_MTU`, vars.get(`${nic}_MTU`));

    if (ipv4.method === 'none' && ipv6.method === 'none' && mtu === undefined && m4 === 'skip' && m6 === 'skip') {
      // Both families skipped: the NIC is left entirely to the guest.
      continue;
    }
    links.push({
      kind: 'physical',
      id: nic,
      key: k.key(nic),
      mac,
      macKey: k.key(`${nic}_MAC`),
      ...(mtu !== undefined ? { mtu } : {}),
      ipv4,
      ipv6,
      ...(gateway4 ? { gateway4 } : {}),
      ...(gateway6 ? { gateway6 } : {}),
      routes,
      dns: {
        nameservers: words(vars.get(`${nic}_DNS`)).map((d) => asIp(k, `${nic}_DNS`, d)),
        search: words(vars.get(`${nic}_SEARCH_DOMAIN`)),
      },
    });
  }

  if (gwIface !== undefined && !links.some((l) => l.id === `ETH${gwIface}`)) {
    throw k.error('GATEWAY_IFACE', `ETH${gwIface} is not a configured NIC`);
  }
  const nameservers = mergeUnique([], words(vars.get('DNS')).map((d) => asIp(k, 'DNS', d)));
  const hint = rendererHint(k, vars);
  return {
    links,
    dns: { nameservers, search: mergeUnique([], words(vars.get('SEARCH_DOMAIN'))) },
    ...(hint ? { hint } : {}),
  };
}

// RHEL-style ifcfg renderer (/etc/sysconfig/network-scripts): ifcfg-<name> plus
// route-<name>/route6-<name> in "ip route" argument form, which both the legacy
// network-scripts and NetworkManager's ifcfg-rh plugin read. ifcfg-* is a shared
// namespace, so our files carry a marker and only marked files count as owned.
import type { BoundLink, BoundNetwork } from './bind';
import { HEADER, MARKER, type OwnedFiles, type RenderOptions, type RenderedFile, type Renderer, byPath, cidr, isDefault, lines } from './render-common';
import { LINK_FILES_OWNED, renderLinkFiles } from './render-link-files';

const DIR = '/etc/sysconfig/network-scripts';

export const IFCFG_OWNED: readonly OwnedFiles[] = [
  { dir: DIR, prefix: 'ifcfg-', marker: MARKER },
  { dir: DIR, prefix: 'route-', marker: MARKER },
  { dir: DIR, prefix: 'route6-', marker: MARKER },
  ...LINK_FILES_OWNED,
];

/** Shell-safe value: the files are sourced by network-scripts. */
function q(v: string): string {
  return /^[A-Za-z0-9_.:/+@,=-]*$/.test(v) ? v : `"${v.replace(/(["\\$`])/g, '\\$1')}"`;
}

function kv(key: string, value: string | number): string {
  return `${key}=${q(String(value))}`;
}

// initscripts' bridge options: STP and DELAY have their own keys, the rest go to BRIDGING_OPTS.
const BRIDGING_OPTS: Readonly<Record<string, string>> = {
  ageing_time: 'ageing_time',
  hello_time: 'hello_time',
  max_age: 'max_age',
  priority: 'priority',
};

function routeFile(l: BoundLink, family: 4 | 6): string | undefined {
  const gw = family === 4 ? l.gateway4 : l.gateway6;
  const entries: string[] = [];
  // A gateway with a metric or outside the subnet cannot be said with GATEWAY=; write it as a route.
  if (gw && (gw.metric !== undefined || gw.onLink)) {
    const parts = ['default', 'via', gw.address, 'dev', l.name];
    if (gw.metric !== undefined) parts.push('metric', String(gw.metric));
    if (gw.onLink) parts.push('onlink');
    entries.push(parts.join(' '));
  }
  for (const r of l.routes) {
    if ((r.to.includes(':') ? 6 : 4) !== family) continue;
    const parts = [isDefault(r.to) ? 'default' : r.to];
    if (r.via) parts.push('via', r.via);
    parts.push('dev', l.name);
    if (r.metric !== undefined) parts.push('metric', String(r.metric));
    if (r.onLink) parts.push('onlink');
    entries.push(parts.join(' '));
  }
  return entries.length === 0 ? undefined : lines([HEADER.trimEnd(), ...entries]);
}

function ifcfg(l: BoundLink, opts?: RenderOptions): string {
  const out: string[] = [HEADER.trimEnd(), kv('DEVICE', l.name), kv('NAME', `guestctx-${l.name}`)];
  out.push(kv('TYPE', l.bond ? 'Bond' : l.bridge ? 'Bridge' : l.vlan ? 'Vlan' : 'Ethernet'));
  out.push(kv('ONBOOT', 'yes'));
  out.push(kv('BOOTPROTO', l.ipv4.method === 'dhcp' ? 'dhcp' : 'none'));
  if (l.kind === 'physical' && l.mac !== undefined && opts?.pinHwaddr) out.push(kv('HWADDR', l.mac));
  if (l.kind !== 'physical' && l.mac !== undefined) out.push(kv('MACADDR', l.mac));
  if (l.mtu !== undefined) out.push(kv('MTU', l.mtu));
  if (l.master) {
    if (l.master.kind === 'bond') out.push(kv('MASTER', l.master.name), kv('SLAVE', 'yes'));
    else out.push(kv('BRIDGE', l.master.name));
  }
  if (l.bond) {
    const opts2 = [`mode=${l.bond.mode}`, ...Object.keys(l.bond.params).sort().map((k) => `${k}=${l.bond?.params[k]}`)];
    out.push(kv('BONDING_MASTER', 'yes'), kv('BONDING_OPTS', opts2.join(' ')));
  }
  if (l.bridge) {
    const p = l.bridge.params;
    if (p['stp'] !== undefined) out.push(kv('STP', p['stp']));
    if (p['forward_delay'] !== undefined) out.push(kv('DELAY', p['forward_delay']));
    const rest = Object.keys(p).filter((k) => BRIDGING_OPTS[k]).sort().map((k) => `${BRIDGING_OPTS[k]}=${p[k]}`);
    if (rest.length > 0) out.push(kv('BRIDGING_OPTS', rest.join(' ')));
  }
  if (l.vlan) out.push(kv('VLAN', 'yes'), kv('PHYSDEV', l.vlan.parent), kv('VLAN_ID', l.vlan.id));

  l.ipv4.addresses.forEach((a, i) => {
    const n = i === 0 ? '' : String(i);
    out.push(kv(`IPADDR${n}`, a.address), kv(`PREFIX${n}`, a.prefix));
  });
  if (l.gateway4 && l.gateway4.metric === undefined && !l.gateway4.onLink) out.push(kv('GATEWAY', l.gateway4.address));
  if (l.ipv4.method === 'dhcp' && l.ipv4.routeMetric !== undefined) out.push(kv('IPV4_ROUTE_METRIC', l.ipv4.routeMetric));

  switch (l.ipv6.method) {
    case 'none':
      break;
    case 'disabled':
      out.push(kv('IPV6INIT', 'no'), kv('IPV6_DISABLED', 'yes'));
      break;
    default: {
      out.push(kv('IPV6INIT', 'yes'));
      out.push(kv('IPV6_AUTOCONF', l.ipv6.method === 'static' ? 'no' : 'yes'));
      if (l.ipv6.method === 'dhcp') out.push(kv('DHCPV6C', 'yes'));
      const [first, ...rest] = l.ipv6.addresses;
      if (first) out.push(kv('IPV6ADDR', cidr(first)));
      if (rest.length > 0) out.push(kv('IPV6ADDR_SECONDARIES', rest.map(cidr).join(' ')));
      if (l.gateway6 && l.gateway6.metric === undefined && !l.gateway6.onLink) out.push(kv('IPV6_DEFAULTGW', l.gateway6.address));
      if (l.ipv6.method !== 'static' && l.ipv6.routeMetric !== undefined) out.push(kv('IPV6_ROUTE_METRIC', l.ipv6.routeMetric));
    }
  }
  l.dns.nameservers.forEach((ns, i) => out.push(kv(`DNS${i + 1}`, ns)));
  if (l.dns.search.length > 0) out.push(kv('DOMAIN', l.dns.search.join(' ')));
  return lines(out);
}

export function renderIfcfg(net: BoundNetwork, opts?: RenderOptions): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const l of net.links) {
    files.push({ path: `${DIR}/ifcfg-${l.name}`, content: ifcfg(l, opts), mode: 0o644 });
    const r4 = routeFile(l, 4);
    if (r4) files.push({ path: `${DIR}/route-${l.name}`, content: r4, mode: 0o644 });
    const r6 = routeFile(l, 6);
    if (r6) files.push({ path: `${DIR}/route6-${l.name}`, content: r6, mode: 0o644 });
  }
  return [...files, ...renderLinkFiles(net)].sort(byPath);
}

export const ifcfgRenderer: Renderer = {
  name: 'ifcfg',
  owned: IFCFG_OWNED,
  render: (net, opts) => renderIfcfg(net, opts),
};

// ifupdown (Debian /etc/network/interfaces) renderer: one file,
// /etc/network/interfaces.d/guestctx, sourced by the stock interfaces file.
// Extra addresses are extra "iface X inet static" stanzas, which ifupdown 0.8
// (Debian 12) applies in order; IPv6 extras next to SLAAC/DHCPv6 use "up ip -6
// addr add" because an inet6 static stanza would switch autoconf off. Bonds use
// ifenslave's bond-* options and bridges bridge-utils' bridge_* options.
import type { BoundLink, BoundNetwork } from './bind';
import { HEADER, type OwnedFiles, type RenderedFile, type Renderer, byPath, cidr, isDefault } from './render-common';
import { LINK_FILES_OWNED, renderLinkFiles } from './render-link-files';

export const IFUPDOWN_PATH = '/etc/network/interfaces.d/guestctx';
export const IFUPDOWN_OWNED: readonly OwnedFiles[] = [
  { dir: '/etc/network/interfaces.d', prefix: 'guestctx' },
  ...LINK_FILES_OWNED,
];

// bridge-utils option names for the model's kernel-style bridge parameters.
const BRIDGE_OPTS: Readonly<Record<string, string>> = {
  ageing_time: 'bridge_ageing',
  forward_delay: 'bridge_fd',
  hello_time: 'bridge_hello',
  max_age: 'bridge_maxage',
  priority: 'bridge_bridgeprio',
  stp: 'bridge_stp',
};

/** Links ordered so members and parents come before the links built on them. */
function dependencyOrder(links: readonly BoundLink[]): BoundLink[] {
  const byName = new Map(links.map((l) => [l.name, l]));
  const out: BoundLink[] = [];
  const done = new Set<string>();
  const visit = (l: BoundLink): void => {
    if (done.has(l.name)) return;
    done.add(l.name);
    const deps = [...(l.bond?.members ?? []), ...(l.bridge?.members ?? []), ...(l.vlan ? [l.vlan.parent] : [])];
    for (const d of deps) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    out.push(l);
  };
  for (const l of links) visit(l);
  return out;
}

/**
 * "up ip route add" lines for the family's routes; the gateway is included here
 * only when the family is not static (a static stanza has its own "gateway").
 */
function routeCmd(l: BoundLink, family: 4 | 6): string[] {
  const out: string[] = [];
  const gw = family === 4 ? l.gateway4 : l.gateway6;
  const method = family === 4 ? l.ipv4.method : l.ipv6.method;
  const routes = [...l.routes];
  if (gw && method !== 'static') {
    routes.unshift({
      to: family === 4 ? '0.0.0.0/0' : '::/0',
      via: gw.address,
      ...(gw.metric !== undefined ? { metric: gw.metric } : {}),
      ...(gw.onLink ? { onLink: true } : {}),
      key: gw.key,
    });
  }
  for (const r of routes) {
    if ((r.to.includes(':') ? 6 : 4) !== family) continue;
    const ip = family === 6 ? 'ip -6' : 'ip';
    const dst = isDefault(r.to) ? 'default' : r.to;
    const parts = [`up ${ip} route add ${dst}`];
    if (r.via) parts.push(`via ${r.via}`);
    parts.push(`dev ${l.name}`);
    if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
    if (r.onLink || r.via === undefined) parts.push(r.via ? 'onlink' : 'scope link');
    out.push(parts.join(' '));
  }
  return out;
}

function stanza(head: string, options: readonly string[]): string[] {
  return [head, ...options.map((o) => `    ${o}`)];
}

/**
 * Options that describe the link itself; they go on its first stanza, whose
 * method is given. ifupdown's own "mtu" option works for static and manual but is
 * ignored by dhcp, where a command is needed: "pre-up" for a NIC, "up" for a
 * bond/bridge/VLAN that only exists once ifupdown's hooks have created it.
 */
function linkOptions(l: BoundLink, method: 'static' | 'manual' | 'dhcp'): string[] {
  const o: string[] = [];
  if (l.mtu !== undefined) {
    if (method !== 'dhcp') o.push(`mtu ${l.mtu}`);
    else o.push(`${l.kind === 'physical' ? 'pre-up' : 'up'} ip link set dev ${l.name} mtu ${l.mtu}`);
  }
  if (l.vlan && l.name !== `${l.vlan.parent}.${l.vlan.id}`) {
    // ifupdown creates "parent.id" VLANs itself; any other name needs an explicit command.
    o.push(`pre-up ip link add link ${l.vlan.parent} name ${l.name} type vlan id ${l.vlan.id}`);
    o.push(`post-down ip link delete ${l.name}`);
  }
  if (l.kind !== 'physical' && l.mac !== undefined) o.push(`hwaddress ether ${l.mac}`);
  if (l.bond) {
    o.push(`bond-slaves ${l.bond.members.join(' ')}`, `bond-mode ${l.bond.mode}`);
    for (const name of Object.keys(l.bond.params).sort()) {
      o.push(`bond-${name.replace(/_/g, '-')} ${l.bond.params[name]}`);
    }
  }
  if (l.bridge) {
    o.push(`bridge_ports ${l.bridge.members.join(' ')}`);
    for (const name of Object.keys(l.bridge.params).sort()) {
      const opt = BRIDGE_OPTS[name];
      if (opt) o.push(`${opt} ${l.bridge.params[name]}`);
    }
  }
  if (l.ipv6.method === 'disabled') o.push(`up sysctl -q -w net/ipv6/conf/${l.name}/disable_ipv6=1`);
  if (l.dns.nameservers.length > 0) o.push(`dns-nameservers ${l.dns.nameservers.join(' ')}`);
  if (l.dns.search.length > 0) o.push(`dns-search ${l.dns.search.join(' ')}`);
  return o;
}

function renderLink(l: BoundLink): string[] {
  const out: string[] = [];
  // Bond and bridge members are brought up by their master, not on their own.
  if (!l.master) out.push(`auto ${l.name}`);
  const v4 = l.ipv4;
  const v6 = l.ipv6;
  const firstMethod = v4.method === 'dhcp' ? 'dhcp' : v4.method === 'static' && v4.addresses.length > 0 ? 'static' : 'manual';
  let options = linkOptions(l, firstMethod);
  // IPv6 routes go with the inet6 stanza; without one they ride on the first stanza.
  const v6Stanza = v6.method === 'static' || v6.method === 'auto' || v6.method === 'dhcp';
  const firstRoutes = [...routeCmd(l, 4), ...(v6Stanza ? [] : routeCmd(l, 6))];
  const takeOptions = (): string[] => {
    const o = options;
    options = [];
    return o;
  };

  if (v4.method === 'dhcp') {
    const o = [...takeOptions()];
    if (v4.routeMetric !== undefined) o.push(`metric ${v4.routeMetric}`);
    out.push(...stanza(`iface ${l.name} inet dhcp`, [...o, ...firstRoutes]));
    for (const a of v4.addresses) out.push(...stanza(`iface ${l.name} inet static`, [`address ${cidr(a)}`]));
  } else if (v4.method === 'static' && v4.addresses.length > 0) {
    v4.addresses.forEach((a, i) => {
      const o = i === 0 ? [...takeOptions()] : [];
      o.unshift(`address ${cidr(a)}`);
      if (i === 0 && l.gateway4) {
        o.splice(1, 0, `gateway ${l.gateway4.address}`);
        if (l.gateway4.metric !== undefined) o.splice(2, 0, `metric ${l.gateway4.metric}`);
      }
      out.push(...stanza(`iface ${l.name} inet static`, i === 0 ? [...o, ...firstRoutes] : o));
    });
  } else if (!v6Stanza || options.length > 0 || firstRoutes.length > 0) {
    // Nothing for IPv4, but the link still needs a stanza to be brought up (and to carry its options).
    out.push(...stanza(`iface ${l.name} inet manual`, [...takeOptions(), ...firstRoutes]));
  }

  switch (v6.method) {
    case 'static':
      v6.addresses.forEach((a, i) => {
        const o = i === 0 ? [...takeOptions()] : [];
        o.unshift(`address ${cidr(a)}`);
        if (i === 0 && l.gateway6) {
          o.splice(1, 0, `gateway ${l.gateway6.address}`);
          if (l.gateway6.metric !== undefined) o.splice(2, 0, `metric ${l.gateway6.metric}`);
        }
        out.push(...stanza(`iface ${l.name} inet6 static`, i === 0 ? [...o, ...routeCmd(l, 6)] : o));
      });
      break;
    case 'auto':
    case 'dhcp': {
      const o = [...takeOptions()];
      for (const a of v6.addresses) o.push(`up ip -6 addr add ${cidr(a)} dev ${l.name}`);
      out.push(...stanza(`iface ${l.name} inet6 ${v6.method}`, [...o, ...routeCmd(l, 6)]));
      break;
    }
    case 'disabled':
    case 'none':
      break;
  }
  return out;
}

export function renderIfupdown(net: BoundNetwork): RenderedFile[] {
  const blocks = dependencyOrder(net.links).map((l) => renderLink(l).join('\n'));
  const main = { path: IFUPDOWN_PATH, content: `${HEADER}\n${blocks.join('\n\n')}\n`, mode: 0o644 };
  return [main, ...renderLinkFiles(net)].sort(byPath);
}

export const ifupdownRenderer: Renderer = {
  name: 'ifupdown',
  owned: IFUPDOWN_OWNED,
  render: (net) => renderIfupdown(net),
};

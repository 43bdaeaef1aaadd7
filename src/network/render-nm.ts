// NetworkManager keyfile renderer: one guestctx-<name>.nmconnection per link in
// /etc/NetworkManager/system-connections (0600, as NetworkManager ignores keyfiles
// others can read). NetworkManager cannot rename interfaces, so a rename is done by
// a udev .link file, which systemd-udevd applies whatever manages the network.
import { crypto } from '../host/builtins';
import type { BoundLink, BoundNetwork } from './bind';
import { HEADER, type OwnedFiles, type RenderedFile, type Renderer, byPath, cidr, isDefault, lines } from './render-common';
import { renderLinkFiles, LINK_FILES_OWNED } from './render-link-files';

const DIR = '/etc/NetworkManager/system-connections';
const PREFIX = 'guestctx-';

export const NM_OWNED: readonly OwnedFiles[] = [{ dir: DIR, prefix: PREFIX }, ...LINK_FILES_OWNED];

/** A stable UUID per connection name, so re-rendering does not create a "new" connection. */
export function connectionUuid(name: string): string {
  const h = crypto().createHash('sha1').update(`guestctx:${name}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const BRIDGE_KEYS: Readonly<Record<string, string>> = {
  ageing_time: 'ageing-time',
  forward_delay: 'forward-delay',
  hello_time: 'hello-time',
  max_age: 'max-age',
  priority: 'priority',
  stp: 'stp',
};

function list(values: readonly string[]): string {
  return `${values.join(';')};`;
}

function ipSection(l: BoundLink, family: 4 | 6): string[] {
  const ip = family === 4 ? l.ipv4 : l.ipv6;
  const gw = family === 4 ? l.gateway4 : l.gateway6;
  let method: string;
  switch (ip.method) {
    case 'static':
      method = 'manual';
      break;
    case 'dhcp':
      // IPv6 "dhcp" in NetworkManager would skip router advertisements and lose the default route;
      // "auto" follows the RA's managed flag and runs DHCPv6 when the network asks for it.
      method = 'auto';
      break;
    case 'auto':
      method = 'auto';
      break;
    case 'disabled':
      method = 'disabled';
      break;
    case 'none':
      // NetworkManager has no "leave alone" for IPv4; without a method it would run DHCP.
      method = family === 4 ? 'disabled' : 'ignore';
      break;
  }
  const out = [`[ipv${family}]`, `method=${method}`];
  ip.addresses.forEach((a, i) => out.push(`address${i + 1}=${cidr(a)}`));
  const routes = l.routes.filter((r) => (r.to.includes(':') ? 6 : 4) === family);
  const routeLines: string[] = [];
  let n = 0;
  if (gw && gw.onLink) {
    // An on-link gateway outside the subnet must be an explicit route with the onlink flag.
    n++;
    routeLines.push(`route${n}=${family === 4 ? '0.0.0.0/0' : '::/0'},${gw.address}${gw.metric !== undefined ? `,${gw.metric}` : ''}`);
    routeLines.push(`route${n}_options=onlink=true`);
  } else if (gw) {
    out.push(`gateway=${gw.address}`);
  }
  for (const r of routes) {
    n++;
    const to = isDefault(r.to) ? (family === 4 ? '0.0.0.0/0' : '::/0') : r.to;
    const via = r.via ?? (family === 4 ? '0.0.0.0' : '::');
    routeLines.push(`route${n}=${to},${via}${r.metric !== undefined ? `,${r.metric}` : ''}`);
    if (r.onLink) routeLines.push(`route${n}_options=onlink=true`);
  }
  out.push(...routeLines);
  const metric = gw?.metric ?? ip.routeMetric;
  if (metric !== undefined && !(gw?.onLink)) out.push(`route-metric=${metric}`);
  const ns = l.dns.nameservers.filter((s) => (s.includes(':') ? 6 : 4) === family);
  if (ns.length > 0) out.push(`dns=${list(ns)}`);
  if (family === 4 && l.dns.search.length > 0) out.push(`dns-search=${list(l.dns.search)}`);
  return out;
}

function connection(l: BoundLink): string {
  const id = `${PREFIX}${l.name}`;
  const type = l.bond ? 'bond' : l.bridge ? 'bridge' : l.vlan ? 'vlan' : 'ethernet';
  const conn = ['[connection]', `id=${id}`, `uuid=${connectionUuid(l.name)}`, `type=${type}`];
  // A physical NIC is matched by MAC; its name is only pinned when no rename is pending.
  if (!(l.kind === 'physical' && l.mac !== undefined && l.rename)) conn.push(`interface-name=${l.name}`);
  conn.push('autoconnect=true');
  if (l.master) conn.push(`master=${l.master.name}`, `slave-type=${l.master.kind}`);

  const out: (string | undefined)[] = [HEADER.trimEnd(), ...conn];
  const eth: string[] = [];
  if (l.kind === 'physical' && l.mac !== undefined) eth.push(`mac-address=${l.mac}`);
  if (l.kind !== 'physical' && l.mac !== undefined) eth.push(`cloned-mac-address=${l.mac}`);
  if (l.mtu !== undefined) eth.push(`mtu=${l.mtu}`);
  if (eth.length > 0) out.push('', '[ethernet]', ...eth);
  if (l.bond) {
    out.push('', '[bond]', `mode=${l.bond.mode}`);
    for (const k of Object.keys(l.bond.params).sort()) out.push(`${k}=${l.bond.params[k]}`);
  }
  if (l.bridge) {
    const p = Object.keys(l.bridge.params).sort();
    out.push('', '[bridge]');
    for (const k of p) {
      const v = l.bridge.params[k] ?? '';
      out.push(`${BRIDGE_KEYS[k] ?? k}=${k === 'stp' ? String(v === 'on') : v}`);
    }
    // NetworkManager turns STP on by default; the model means "kernel default" (off) when unset.
    if (!p.includes('stp')) out.push('stp=false');
  }
  if (l.vlan) out.push('', '[vlan]', `id=${l.vlan.id}`, `parent=${l.vlan.parent}`);
  if (!l.master) out.push('', ...ipSection(l, 4), '', ...ipSection(l, 6));
  return lines(out);
}

export function renderNm(net: BoundNetwork): RenderedFile[] {
  const files: RenderedFile[] = net.links.map((l) => ({
    path: `${DIR}/${PREFIX}${l.name}.nmconnection`,
    content: connection(l),
    mode: 0o600,
  }));
  return [...files, ...renderLinkFiles(net)].sort(byPath);
}

export const nmRenderer: Renderer = {
  name: 'nm',
  owned: NM_OWNED,
  render: (net) => renderNm(net),
};

/** NetworkManager drop-in that keeps its hands off interfaces another stack manages. */
export function nmUnmanagedConf(names: readonly string[]): RenderedFile {
  const sorted = [...new Set(names)].sort();
  return {
    path: '/etc/NetworkManager/conf.d/90-guestctx-unmanaged.conf',
    content: lines([
      HEADER.trimEnd(),
      '[keyfile]',
      `unmanaged-devices=${sorted.map((n) => `interface-name:${n}`).join(';')}`,
    ]),
    mode: 0o644,
  };
}

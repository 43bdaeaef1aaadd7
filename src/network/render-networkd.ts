// systemd-networkd renderer: one .network per link, a .netdev per bond, bridge
// and VLAN, and a .link (udev) file for physical NICs that must be renamed.
// Physical NICs are matched by permanent MAC so a VLAN or bond that inherits the
// MAC does not match the NIC's file too.
import type { BoundLink, BoundNetwork } from './bind';
import { BOND_PARAMS, BRIDGE_PARAMS } from './link-params';
import { linkFileContent } from './render-link-files';
import { HEADER, type OwnedFiles, type RenderedFile, type Renderer, byPath, cidr, isDefault, lines } from './render-common';

const DIR = '/etc/systemd/network';
const PREFIX = '10-guestctx-';

export const NETWORKD_OWNED: readonly OwnedFiles[] = [{ dir: DIR, prefix: PREFIX }];

const yesNo = (v: string): string => (v === 'on' ? 'yes' : 'no');

function matchSection(l: BoundLink): string[] {
  if (l.kind === 'physical' && l.mac !== undefined) return ['[Match]', `PermanentMACAddress=${l.mac}`];
  return ['[Match]', `Name=${l.name}`];
}

function kindParams(table: typeof BOND_PARAMS, params: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(params).sort()) {
    const spec = table[name];
    const value = params[name];
    if (spec === undefined || value === undefined) continue;
    let v = value;
    if (spec.boolean) v = yesNo(value);
    else if (spec.millis) v = `${value}ms`;
    else if (name === 'arp_ip_target') v = value.split(',').join(' ');
    out.push(`${spec.networkd}=${v}`);
  }
  return out;
}

function netdev(l: BoundLink): string | undefined {
  const head = ['[NetDev]', `Name=${l.name}`];
  if (l.bond) {
    return lines([
      HEADER.trimEnd(),
      ...head,
      'Kind=bond',
      l.mac ? `MACAddress=${l.mac}` : undefined,
      l.mtu ? `MTUBytes=${l.mtu}` : undefined,
      '',
      '[Bond]',
      `Mode=${l.bond.mode}`,
      ...kindParams(BOND_PARAMS, l.bond.params),
    ]);
  }
  if (l.bridge) {
    const p = kindParams(BRIDGE_PARAMS, l.bridge.params);
    return lines([
      HEADER.trimEnd(),
      ...head,
      'Kind=bridge',
      l.mac ? `MACAddress=${l.mac}` : undefined,
      l.mtu ? `MTUBytes=${l.mtu}` : undefined,
      ...(p.length > 0 ? ['', '[Bridge]', ...p] : []),
    ]);
  }
  if (l.vlan) {
    return lines([
      HEADER.trimEnd(),
      ...head,
      'Kind=vlan',
      l.mac ? `MACAddress=${l.mac}` : undefined,
      l.mtu ? `MTUBytes=${l.mtu}` : undefined,
      '',
      '[VLAN]',
      `Id=${l.vlan.id}`,
    ]);
  }
  return undefined;
}

function dhcpValue(l: BoundLink): string | undefined {
  const v4 = l.ipv4.method === 'dhcp';
  const v6 = l.ipv6.method === 'dhcp';
  if (v4 && v6) return 'yes';
  if (v4) return 'ipv4';
  if (v6) return 'ipv6';
  return undefined;
}

function network(l: BoundLink): string {
  const net: (string | undefined)[] = ['[Network]'];
  const dhcp = dhcpValue(l);
  if (dhcp) net.push(`DHCP=${dhcp}`);
  switch (l.ipv6.method) {
    case 'auto':
    case 'dhcp':
      net.push('IPv6AcceptRA=yes');
      break;
    case 'static':
      net.push('IPv6AcceptRA=no');
      break;
    case 'disabled':
      net.push('LinkLocalAddressing=no', 'IPv6AcceptRA=no');
      break;
    case 'none':
      break;
  }
  for (const a of [...l.ipv4.addresses, ...l.ipv6.addresses]) net.push(`Address=${cidr(a)}`);
  for (const ns of l.dns.nameservers) net.push(`DNS=${ns}`);
  if (l.dns.search.length > 0) net.push(`Domains=${l.dns.search.join(' ')}`);
  if (l.master) net.push(`${l.master.kind === 'bond' ? 'Bond' : 'Bridge'}=${l.master.name}`);
  for (const v of l.vlans) net.push(`VLAN=${v}`);

  const extra: (string | undefined)[] = [];
  if (l.ipv4.method === 'dhcp' && l.ipv4.routeMetric !== undefined) {
    extra.push('', '[DHCPv4]', `RouteMetric=${l.ipv4.routeMetric}`);
  }
  if ((l.ipv6.method === 'auto' || l.ipv6.method === 'dhcp') && l.ipv6.routeMetric !== undefined) {
    extra.push('', '[IPv6AcceptRA]', `RouteMetric=${l.ipv6.routeMetric}`);
  }
  for (const gw of [l.gateway4, l.gateway6]) {
    if (!gw) continue;
    extra.push(
      '',
      '[Route]',
      `Gateway=${gw.address}`,
      gw.metric !== undefined ? `Metric=${gw.metric}` : undefined,
      gw.onLink ? 'GatewayOnLink=yes' : undefined,
    );
  }
  for (const r of l.routes) {
    extra.push(
      '',
      '[Route]',
      isDefault(r.to) ? undefined : `Destination=${r.to}`,
      r.via ? `Gateway=${r.via}` : 'Scope=link',
      r.metric !== undefined ? `Metric=${r.metric}` : undefined,
      r.onLink ? 'GatewayOnLink=yes' : undefined,
    );
  }
  return lines([
    HEADER.trimEnd(),
    ...matchSection(l),
    ...(l.mtu ? ['', '[Link]', `MTUBytes=${l.mtu}`] : []),
    ...(net.length > 1 ? ['', ...net] : []),
    ...extra,
  ]);
}

export function renderNetworkd(net: BoundNetwork): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const l of net.links) {
    const base = `${DIR}/${PREFIX}${l.name}`;
    const link = linkFileContent(l);
    if (link) files.push({ path: `${base}.link`, content: link, mode: 0o644 });
    const dev = netdev(l);
    if (dev) files.push({ path: `${base}.netdev`, content: dev, mode: 0o644 });
    files.push({ path: `${base}.network`, content: network(l), mode: 0o644 });
  }
  return files.sort(byPath);
}

export const networkdRenderer: Renderer = {
  name: 'networkd',
  owned: NETWORKD_OWNED,
  render: (net) => renderNetworkd(net),
};

// Binding a network model to the NICs the guest really has: MACs become interface
// names, members and VLAN parents are resolved, and the checks that need the whole
// picture run here (unknown MAC, missing parent, gateway outside every subnet).
// Renderers only ever see a BoundNetwork, so they never guess a name.
import { ConfigError } from '../errors';
import { inSubnet } from './address';
import type { GuestNic } from './fallback';
import type {
  Dns,
  Link,
  LinkCommon,
  LinkKind,
  NetworkModel,
  RendererHint,
} from './model';

export interface BoundLink extends LinkCommon {
  readonly kind: LinkKind;
  /** Final interface name (after any rename). */
  readonly name: string;
  /** Physical: the MAC it was matched by; virtual: the MAC to set, if any. */
  readonly mac?: string;
  /** Physical: the name the NIC has now. */
  readonly currentName?: string;
  /** Physical: the source asked for the interface to be renamed to `name`. */
  readonly rename: boolean;
  readonly bond?: { readonly members: readonly string[]; readonly mode: string; readonly params: Readonly<Record<string, string>> };
  readonly bridge?: { readonly members: readonly string[]; readonly params: Readonly<Record<string, string>> };
  readonly vlan?: { readonly id: number; readonly parent: string };
  /** The bond or bridge this link is a member of. */
  readonly master?: { readonly kind: 'bond' | 'bridge'; readonly name: string };
  /** Names of VLANs whose parent is this link, sorted. */
  readonly vlans: readonly string[];
}

export interface BoundNetwork {
  /** Sorted by name. */
  readonly links: readonly BoundLink[];
  readonly dns: Dns;
  readonly hint?: RendererHint;
}

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

function checkName(key: string, name: string): void {
  if (!IFNAME.test(name)) throw new ConfigError(key, `${JSON.stringify(name)} is not a valid interface name`);
}

function describeNics(nics: readonly GuestNic[]): string {
  if (nics.length === 0) return 'the guest has no network interfaces';
  return `present: ${nics.map((n) => `${n.name} ${n.mac.toLowerCase()}`).join(', ')}`;
}

function isLinkLocal6(address: string): boolean {
  return inSubnet(address, 'fe80::', 10);
}

/**
 * A gateway (or route via) must be inside a static subnet of its link, unless the
 * source marked it on-link, the link gets its subnet from DHCP/RA (unknown here),
 * or it is an IPv6 link-local address (always on-link by definition).
 */
function checkReachable(link: Link, family: 4 | 6, via: string, key: string, onLink: boolean | undefined, what: string): void {
  if (onLink) return;
  const ip = family === 4 ? link.ipv4 : link.ipv6;
  if (ip.method !== 'static' && ip.method !== 'none') return;
  if (family === 6 && isLinkLocal6(via)) return;
  if (ip.addresses.some((a) => inSubnet(via, a.address, a.prefix))) return;
  const subnets = ip.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ') || 'none';
  throw new ConfigError(key, `${what} ${via} is outside every subnet of its link (${subnets})`);
}

function checkGateways(link: Link): void {
  if (link.gateway4) checkReachable(link, 4, link.gateway4.address, link.gateway4.key, link.gateway4.onLink, 'gateway');
  if (link.gateway6) checkReachable(link, 6, link.gateway6.address, link.gateway6.key, link.gateway6.onLink, 'gateway');
  for (const r of link.routes) {
    if (r.via === undefined) continue;
    checkReachable(link, r.to.includes(':') ? 6 : 4, r.via, r.key, r.onLink, 'route gateway');
  }
}

/** Resolve the model against the guest's NICs. Throws ConfigError naming the input key. */
export function bindInterfaces(model: NetworkModel, nics: readonly GuestNic[]): BoundNetwork {
  const byId = new Map<string, Link>();
  for (const l of model.links) {
    if (byId.has(l.id)) throw new ConfigError(l.key, `link ${l.id} is defined twice`);
    byId.set(l.id, l);
  }
  const names = new Map<string, string>(); // link id -> final name
  const current = new Map<string, GuestNic>(); // link id -> NIC
  const usedNics = new Map<GuestNic, Link>();

  for (const l of model.links) {
    if (l.kind !== 'physical') continue;
    let nic: GuestNic | undefined;
    if (l.mac !== undefined) {
      const matches = nics.filter((n) => n.mac.toLowerCase() === l.mac);
      // VLANs and bond members can share a MAC with the NIC; the physical one is meant.
      nic = matches.find((n) => n.physical) ?? matches[0];
      if (nic === undefined) {
        throw new ConfigError(l.macKey ?? l.key, `${l.mac} matches no network interface (${describeNics(nics)})`);
      }
    } else if (l.name !== undefined) {
      nic = nics.find((n) => n.name === l.name);
      if (nic === undefined) throw new ConfigError(l.key, `no network interface is named ${l.name} (${describeNics(nics)})`);
    } else {
      throw new ConfigError(l.key, 'a physical link needs a MAC address or a name');
    }
    const other = usedNics.get(nic);
    if (other !== undefined) throw new ConfigError(l.key, `${nic.name} is already configured by ${other.key}`);
    usedNics.set(nic, l);
    current.set(l.id, nic);
    names.set(l.id, l.setName ?? nic.name);
  }
  for (const l of model.links) {
    if (l.kind === 'bond' || l.kind === 'bridge') names.set(l.id, l.name);
  }
  // VLANs may sit on other VLANs (QinQ); resolve until nothing changes.
  let pending = model.links.filter((l): l is Extract<Link, { kind: 'vlan' }> => l.kind === 'vlan');
  while (pending.length > 0) {
    const next = pending.filter((v) => {
      const parentName = names.get(v.link);
      if (parentName === undefined) return true;
      names.set(v.id, v.name ?? `${parentName}.${v.vlanId}`);
      return false;
    });
    if (next.length === pending.length) {
      const v = next[0];
      if (v === undefined) break;
      const missing = byId.has(v.link) ? 'is part of a VLAN loop' : 'is not defined';
      throw new ConfigError(v.linkKey, `parent link ${v.link} of VLAN ${v.vlanId} ${missing}`);
    }
    pending = next;
  }

  const masters = new Map<string, { kind: 'bond' | 'bridge'; name: string; key: string }>();
  const vlansOf = new Map<string, string[]>();
  for (const l of model.links) {
    if (l.kind === 'bond' || l.kind === 'bridge') {
      for (const m of l.members) {
        if (!byId.has(m)) throw new ConfigError(l.key, `member ${m} of ${l.kind} ${l.name} is not defined`);
        const prev = masters.get(m);
        if (prev) throw new ConfigError(l.key, `${m} is already a member of ${prev.kind} ${prev.name}`);
        masters.set(m, { kind: l.kind, name: l.name, key: l.key });
      }
    }
    if (l.kind === 'vlan') {
      const list = vlansOf.get(l.link) ?? [];
      list.push(names.get(l.id) as string);
      vlansOf.set(l.link, list);
    }
  }

  const seenNames = new Map<string, Link>();
  const bound: BoundLink[] = model.links.map((l) => {
    const name = names.get(l.id) as string;
    checkName(l.key, name);
    const dup = seenNames.get(name);
    if (dup) throw new ConfigError(l.key, `interface name ${name} is also used by ${dup.key}`);
    seenNames.set(name, l);
    checkGateways(l);
    const master = masters.get(l.id);
    const nameOf = (id: string): string => names.get(id) as string;
    const nic = current.get(l.id);
    return {
      kind: l.kind,
      id: l.id,
      key: l.key,
      name,
      // Only a MAC the source gave: a link matched by name stays matched by name.
      ...(l.mac !== undefined ? { mac: l.mac } : {}),
      ...(nic ? { currentName: nic.name } : {}),
      rename: l.kind === 'physical' && l.setName !== undefined,
      ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
      ipv4: l.ipv4,
      ipv6: l.ipv6,
      ...(l.gateway4 ? { gateway4: l.gateway4 } : {}),
      ...(l.gateway6 ? { gateway6: l.gateway6 } : {}),
      routes: l.routes,
      dns: l.dns,
      ...(l.kind === 'bond' ? { bond: { members: l.members.map(nameOf).sort(), mode: l.mode, params: l.params } } : {}),
      ...(l.kind === 'bridge' ? { bridge: { members: l.members.map(nameOf).sort(), params: l.params } } : {}),
      ...(l.kind === 'vlan' ? { vlan: { id: l.vlanId, parent: nameOf(l.link) } } : {}),
      ...(master ? { master: { kind: master.kind, name: master.name } } : {}),
      vlans: (vlansOf.get(l.id) ?? []).sort(),
    };
  });
  bound.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { links: bound, dns: model.dns, ...(model.hint ? { hint: model.hint } : {}) };
}

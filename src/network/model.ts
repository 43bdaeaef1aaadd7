// The one network model every datasource format is converted into and every
// guest network stack is rendered from. It is closed on purpose: a renderer can
// switch over every kind and method and the compiler tells us when one is missing.
// Every value that came from input carries `key`, the name of that input key, so
// errors found later (when binding to real NICs) still name what the user wrote.

export type { Family } from './address';

/** IPv4 configuration: none = leave IPv4 alone on this link. */
export type Ipv4Method = 'static' | 'dhcp' | 'none';
/**
 * IPv6 configuration. auto = SLAAC (router advertisements only); dhcp = RA plus
 * DHCPv6; disabled = turn IPv6 off on the link; none = leave IPv6 alone.
 */
export type Ipv6Method = 'static' | 'auto' | 'dhcp' | 'disabled' | 'none';

export interface StaticAddress {
  /** Canonical address text (host bits kept). */
  readonly address: string;
  readonly prefix: number;
  readonly key: string;
}

export interface IpConfig<M extends string> {
  readonly method: M;
  /** Static addresses; with dhcp/auto they are extra addresses next to the leased one. */
  readonly addresses: readonly StaticAddress[];
  /** Metric for routes learned by DHCP/RA (used when several links get a default route). */
  readonly routeMetric?: number;
}

export interface Gateway {
  readonly address: string;
  readonly metric?: number;
  /** The source says the gateway is reachable on the link even outside its subnets. */
  readonly onLink?: boolean;
  readonly key: string;
}

export interface Route {
  /** Destination in canonical CIDR form, network address (e.g. "10.1.0.0/16", "::/0"). */
  readonly to: string;
  readonly via?: string;
  readonly metric?: number;
  readonly onLink?: boolean;
  readonly key: string;
}

export interface Dns {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
}

/** What every link has, in the model and once bound to a NIC. */
export interface LinkCommon {
  /** Identifier inside the model (ETH0, an OpenStack link id, a netplan id); members/parents refer to it. */
  readonly id: string;
  /** The input key naming this link, for messages. */
  readonly key: string;
  readonly mtu?: number;
  readonly ipv4: IpConfig<Ipv4Method>;
  readonly ipv6: IpConfig<Ipv6Method>;
  readonly gateway4?: Gateway;
  readonly gateway6?: Gateway;
  readonly routes: readonly Route[];
  readonly dns: Dns;
}

export interface PhysicalLink extends LinkCommon {
  readonly kind: 'physical';
  /** Lowercase MAC that identifies the NIC; when absent, `name` does. */
  readonly mac?: string;
  readonly macKey?: string;
  /** Current interface name to match when there is no MAC. */
  readonly name?: string;
  /** Rename the interface to this. */
  readonly setName?: string;
}

export interface BondLink extends LinkCommon {
  readonly kind: 'bond';
  readonly name: string;
  /** Link ids of the members. */
  readonly members: readonly string[];
  /** Kernel bonding mode name (balance-rr, active-backup, 802.3ad, ...). */
  readonly mode: string;
  /** Extra bonding parameters, kernel names (miimon, lacp_rate, xmit_hash_policy, ...). */
  readonly params: Readonly<Record<string, string>>;
  readonly mac?: string;
}

export interface VlanLink extends LinkCommon {
  readonly kind: 'vlan';
  /** Interface name; when absent it becomes "<parent name>.<id>". */
  readonly name?: string;
  readonly vlanId: number;
  /** Link id of the parent. */
  readonly link: string;
  readonly linkKey: string;
  readonly mac?: string;
}

export interface BridgeLink extends LinkCommon {
  readonly kind: 'bridge';
  readonly name: string;
  readonly members: readonly string[];
  /** Bridge parameters (stp, forward_delay, hello_time, max_age, ageing_time, priority). */
  readonly params: Readonly<Record<string, string>>;
  readonly mac?: string;
}

export type Link = PhysicalLink | BondLink | VlanLink | BridgeLink;
export type LinkKind = Link['kind'];

/** Values of OpenNebula's NETCFG_TYPE (which stack the source would like to use). */
export type RendererHintType = 'interfaces' | 'netplan' | 'networkd' | 'nm' | 'scripts';

export interface RendererHint {
  readonly type?: RendererHintType;
  readonly netplanRenderer?: 'networkd' | 'NetworkManager';
}

export interface NetworkModel {
  readonly links: readonly Link[];
  /** Global DNS (resolv.conf / resolved); per-link DNS lives on the links. */
  readonly dns: Dns;
  readonly hint?: RendererHint;
}

/** Options every converter takes. */
export interface ConvertContext {
  /** Prefixed to key paths in errors ("network_data.json" -> "network_data.json: links[1].vlan_id"). */
  readonly origin?: string;
}

export const NO_DNS: Dns = { nameservers: [], search: [] };

export function noIpv4(): IpConfig<Ipv4Method> {
  return { method: 'none', addresses: [] };
}

export function noIpv6(): IpConfig<Ipv6Method> {
  return { method: 'none', addresses: [] };
}

/** Append values not yet present, keeping first-seen order (DNS order is priority). Linear: a Set remembers what is in. */
export function mergeUnique(into: string[], values: readonly string[]): string[] {
  const seen = new Set(into);
  for (const v of values) {
    if (seen.has(v)) continue;
    seen.add(v);
    into.push(v);
  }
  return into;
}

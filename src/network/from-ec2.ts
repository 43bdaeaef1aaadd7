// EC2 instance metadata (network/interfaces/macs/*) to the network model: DHCP on
// every NIC, the primary one first; secondary private IPv4 addresses, which EC2's
// DHCP does not hand out, become static extra addresses with the subnet's prefix.
import { inSubnet } from './address';
import { Keys, asIp, asMac, asStaticAddress, asString } from './convert-util';
import type { ConvertContext, IpConfig, Ipv6Method, Link, NetworkModel, StaticAddress } from './model';

export interface Ec2Mac {
  readonly mac: string;
  readonly deviceNumber: number;
  readonly localIpv4s: readonly string[];
  readonly subnetIpv4Cidr?: string;
  readonly ipv6s?: readonly string[];
  readonly subnetIpv6Cidrs?: readonly string[];
}

export interface Ec2NetworkInput {
  readonly macs: readonly Ec2Mac[];
  readonly primaryMac: string;
}

/** Metric for DHCP routes of secondary NICs, so the primary NIC keeps the default route. */
export function ec2RouteMetric(deviceNumber: number): number {
  return 100 * (deviceNumber + 1);
}

export function fromEc2(input: Ec2NetworkInput, ctx?: ConvertContext): NetworkModel {
  const k = new Keys(ctx);
  const primary = asMac(k, 'primaryMac', input.primaryMac);
  const macs = [...input.macs].map((m, i) => ({ m, i })).sort((a, b) => a.m.deviceNumber - b.m.deviceNumber);
  if (!macs.some(({ m }) => m.mac.toLowerCase() === primary)) {
    throw k.error('primaryMac', `${primary} is not one of the instance's MACs`);
  }
  const links: Link[] = macs.map(({ m, i }) => {
    const path = `macs[${i}]`;
    const mac = asMac(k, `${path}.mac`, m.mac);
    const isPrimary = mac === primary;
    // The first local address comes from DHCP; the others need the subnet's prefix.
    const extra4: StaticAddress[] = [];
    const secondary = m.localIpv4s.slice(1);
    if (secondary.length > 0) {
      if (m.subnetIpv4Cidr === undefined) {
        throw k.error(`${path}.subnetIpv4Cidr`, 'is needed to configure secondary IPv4 addresses');
      }
      const subnet = asStaticAddress(k, `${path}.subnetIpv4Cidr`, m.subnetIpv4Cidr, undefined, 4);
      secondary.forEach((ip, j) => {
        const address = asIp(k, `${path}.localIpv4s[${j + 1}]`, ip, 4);
        if (!inSubnet(address, subnet.address, subnet.prefix)) {
          throw k.error(`${path}.localIpv4s[${j + 1}]`, `${address} is not in ${m.subnetIpv4Cidr}`);
        }
        extra4.push({ address, prefix: subnet.prefix, key: k.key(`${path}.localIpv4s[${j + 1}]`) });
      });
    }
    const ipv6s = m.ipv6s ?? [];
    const extra6: StaticAddress[] = [];
    const cidrs = (m.subnetIpv6Cidrs ?? []).map((c, j) =>
      asStaticAddress(k, `${path}.subnetIpv6Cidrs[${j}]`, asString(k, `${path}.subnetIpv6Cidrs[${j}]`, c), undefined, 6),
    );
    ipv6s.slice(1).forEach((ip, j) => {
      const p = `${path}.ipv6s[${j + 1}]`;
      const address = asIp(k, p, ip, 6);
      const subnet = cidrs.find((c) => inSubnet(address, c.address, c.prefix));
      if (subnet === undefined) throw k.error(p, `${address} is in none of subnetIpv6Cidrs`);
      extra6.push({ address, prefix: subnet.prefix, key: k.key(p) });
    });
    ipv6s.slice(0, 1).forEach((ip) => asIp(k, `${path}.ipv6s[0]`, ip, 6));
    const metric = isPrimary ? undefined : ec2RouteMetric(m.deviceNumber);
    const ipv6: IpConfig<Ipv6Method> =
      ipv6s.length > 0
        ? { method: 'dhcp', addresses: extra6, ...(metric !== undefined ? { routeMetric: metric } : {}) }
        : { method: 'none', addresses: [] };
    return {
      kind: 'physical',
      id: `macs/${mac}`,
      key: k.key(path),
      mac,
      macKey: k.key(`${path}.mac`),
      ipv4: { method: 'dhcp', addresses: extra4, ...(metric !== undefined ? { routeMetric: metric } : {}) },
      ipv6,
      routes: [],
      dns: { nameservers: [], search: [] },
    };
  });
  return { links, dns: { nameservers: [], search: [] } };
}

// The network configuration used when no datasource provides one: DHCPv4 on one
// physical NIC, the first with carrier (in natural name order: eth2 before eth10),
// else the first by MAC so the choice is stable across boots.
import { ConfigError } from '../errors';
import type { NetworkModel } from './model';

/** An interface present in the guest, as the host reads it from /sys/class/net. */
export interface GuestNic {
  readonly name: string;
  readonly mac: string;
  readonly carrier?: boolean;
  readonly physical: boolean;
}

/**
 * Runs of digits compare as numbers, everything else by code unit. Written out
 * rather than localeCompare(..., { numeric: true }): the first ICU collator of
 * a process costs ~5 ms on a host and far more in an emulated guest at boot.
 */
export function naturalCompare(a: string, b: string): number {
  const split = (s: string): string[] => s.match(/\d+|\D+/g) ?? [];
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const bothDigits = /^\d/.test(x) && /^\d/.test(y);
    if (bothDigits) {
      // Compare as numbers without parsing (digit runs can exceed 2^53): by length once leading zeros are gone.
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length;
      continue;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

export function fallbackModel(nics: readonly GuestNic[]): NetworkModel {
  const candidates = nics.filter((n) => n.physical && n.name !== 'lo' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(n.mac));
  const withCarrier = candidates.filter((n) => n.carrier === true).sort((a, b) => naturalCompare(a.name, b.name));
  const byMac = [...candidates].sort((a, b) => (a.mac.toLowerCase() < b.mac.toLowerCase() ? -1 : a.mac.toLowerCase() > b.mac.toLowerCase() ? 1 : 0));
  const chosen = withCarrier[0] ?? byMac[0];
  if (chosen === undefined) throw new ConfigError('fallback', 'no physical network interface found');
  const mac = chosen.mac.toLowerCase();
  return {
    links: [
      {
        kind: 'physical',
        id: 'fallback',
        key: 'fallback',
        mac,
        macKey: `fallback (${chosen.name})`,
        ipv4: { method: 'dhcp', addresses: [] },
        ipv6: { method: 'none', addresses: [] },
        routes: [],
        dns: { nameservers: [], search: [] },
      },
    ],
    dns: { nameservers: [], search: [] },
  };
}

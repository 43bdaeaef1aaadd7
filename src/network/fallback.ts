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

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
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

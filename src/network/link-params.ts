// Bond and bridge parameters: the model stores kernel (sysfs) names; this table
// maps them to each stack's spelling. Converters refuse names not listed here so
// a renderer never has to drop a setting it cannot express.
import { Keys } from './convert-util';

export const BOND_MODES = [
  'balance-rr',
  'active-backup',
  'balance-xor',
  'broadcast',
  '802.3ad',
  'balance-tlb',
  'balance-alb',
] as const;

interface ParamSpelling {
  /** systemd.netdev [Bond]/[Bridge] key. */
  readonly networkd: string;
  /** netplan "parameters" key. */
  readonly netplan: string;
  /** Value is milliseconds in the kernel; networkd wants a time span, netplan a number. */
  readonly millis?: boolean;
  /** Bridge timers: whole seconds in the model, netplan and networkd alike. */
  readonly seconds?: boolean;
  readonly boolean?: boolean;
}

export const BOND_PARAMS: Readonly<Record<string, ParamSpelling>> = {
  miimon: { networkd: 'MIIMonitorSec', netplan: 'mii-monitor-interval', millis: true },
  updelay: { networkd: 'UpDelaySec', netplan: 'up-delay', millis: true },
  downdelay: { networkd: 'DownDelaySec', netplan: 'down-delay', millis: true },
  lacp_rate: { networkd: 'LACPTransmitRate', netplan: 'lacp-rate' },
  xmit_hash_policy: { networkd: 'TransmitHashPolicy', netplan: 'transmit-hash-policy' },
  ad_select: { networkd: 'AdSelect', netplan: 'ad-select' },
  min_links: { networkd: 'MinLinks', netplan: 'min-links' },
  arp_interval: { networkd: 'ARPIntervalSec', netplan: 'arp-interval', millis: true },
  arp_ip_target: { networkd: 'ARPIPTargets', netplan: 'arp-ip-targets' },
  arp_validate: { networkd: 'ARPValidate', netplan: 'arp-validate' },
  arp_all_targets: { networkd: 'ARPAllTargets', netplan: 'arp-all-targets' },
  fail_over_mac: { networkd: 'FailOverMACPolicy', netplan: 'fail-over-mac-policy' },
  primary_reselect: { networkd: 'PrimaryReselectPolicy', netplan: 'primary-reselect-policy' },
  num_grat_arp: { networkd: 'GratuitousARP', netplan: 'gratuitous-arp' },
  all_slaves_active: { networkd: 'AllSlavesActive', netplan: 'all-slaves-active', boolean: true },
  packets_per_slave: { networkd: 'PacketsPerSlave', netplan: 'packets-per-slave' },
  lp_interval: { networkd: 'LearnPacketIntervalSec', netplan: 'learn-packet-interval' },
};

export const BRIDGE_PARAMS: Readonly<Record<string, ParamSpelling>> = {
  stp: { networkd: 'STP', netplan: 'stp', boolean: true },
  forward_delay: { networkd: 'ForwardDelaySec', netplan: 'forward-delay', seconds: true },
  hello_time: { networkd: 'HelloTimeSec', netplan: 'hello-time', seconds: true },
  max_age: { networkd: 'MaxAgeSec', netplan: 'max-age', seconds: true },
  ageing_time: { networkd: 'AgeingTimeSec', netplan: 'ageing-time', seconds: true },
  priority: { networkd: 'Priority', netplan: 'priority' },
};

/** Reverse lookup from a netplan spelling to the kernel name. */
export function kernelNameFromNetplan(table: Readonly<Record<string, ParamSpelling>>, netplan: string): string | undefined {
  for (const [kernel, s] of Object.entries(table)) if (s.netplan === netplan) return kernel;
  return undefined;
}

/** Normalise a boolean-ish parameter value to on/off. */
export function onOff(value: string): string | undefined {
  const v = value.toLowerCase();
  if (['1', 'on', 'yes', 'true'].includes(v)) return 'on';
  if (['0', 'off', 'no', 'false'].includes(v)) return 'off';
  return undefined;
}

/**
 * Check a parameter map (kernel names) against a table; throws ConfigError naming the key.
 * `keyOf` gives the input key path of a parameter for the message.
 */
export function checkParams(
  k: Keys,
  table: Readonly<Record<string, ParamSpelling>>,
  params: Record<string, string>,
  keyOf: (name: string) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(params).sort()) {
    const value = params[name] ?? '';
    const spec = table[name];
    if (spec === undefined) throw k.error(keyOf(name), `${name} is not a supported parameter`);
    if (spec.boolean) {
      const b = onOff(value);
      if (b === undefined) throw k.error(keyOf(name), `${value} is not on/off`);
      out[name] = b;
    } else if (spec.millis || spec.seconds || name === 'min_links' || name === 'priority') {
      if (!/^[0-9]+$/.test(value)) throw k.error(keyOf(name), `${value} is not a whole number`);
      out[name] = value;
    } else {
      if (!/^[A-Za-z0-9_.:,+ -]+$/.test(value)) throw k.error(keyOf(name), `${JSON.stringify(value)} is not a valid value`);
      out[name] = value;
    }
  }
  return out;
}

export function checkBondMode(k: Keys, path: string, mode: string): string {
  // Kernel numeric modes are accepted and named, as sysfs does.
  const byNumber = /^[0-6]$/.test(mode) ? BOND_MODES[Number(mode)] : undefined;
  const m = byNumber ?? mode;
  if (!(BOND_MODES as readonly string[]).includes(m)) {
    throw k.error(path, `${mode} is not a bonding mode (${BOND_MODES.join(', ')})`);
  }
  return m;
}

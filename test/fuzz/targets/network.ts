// Fuzz target: network converters and renderers. The first byte picks the
// input kind (OpenNebula KEY=VALUE lines, OpenStack network_data.json,
// cloud-init v1, v2, EC2); the rest is the text. Any model a converter accepts
// is bound to a fixed set of NICs and rendered by every renderer; only typed
// errors (ConfigError naming the key) may come out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import {
  RENDERERS,
  bindInterfaces,
  fromCloudInitV1,
  fromCloudInitV2,
  fromEc2,
  fromOpenNebula,
  fromOpenStack,
  renderResolvConf,
  renderResolvedDropIn,
  type GuestNic,
  type NetworkModel,
} from '../../../src/network';
import { fixtureFiles } from '../support';

const KINDS = ['opennebula', 'openstack', 'v1', 'v2', 'ec2'] as const;
type Kind = (typeof KINDS)[number];

export const tokens = [
  'ETH0_IP=', 'ETH0_MAC=', 'ETH0_MASK=', 'ETH0_GATEWAY=', 'ETH0_IP6=', 'ETH0_IP6_PREFIX_LENGTH=', 'ETH0_ALIAS0_IP=', 'ETH1_VLAN_ID=', 'ETH0_ROUTES=',
  'ETH0_METHOD=dhcp\n', 'ETH0_IP6_METHOD=auto\n', 'ETH0_MTU=', '255.255.255.255', '0.0.0.0', '::', '::ffff:1.2.3.4', 'fe80::1%eth0', '/33', '/129', '/-1',
  '02:00:0a:00:00:07', 'ff:ff:ff:ff:ff:ff', '"type": "vlan"', '"type": "bond"', '"vlan_link": ', '"bond_links": ', '"network_id": ', '"routes": []',
  'version: 1\n', 'version: 2\n', 'config:\n', '- type: physical\n', 'ethernets:\n', 'bonds:\n', 'bridges:\n', 'vlans:\n', 'match: {macaddress: ', 'set-name: ',
  'addresses: [', 'gateway4: ', 'routes: [{to: default, via: ', 'nameservers: {addresses: [', 'mtu: 9000', 'link: ', 'id: 4095', 'id: 4096', 'dhcp4: true',
];
export const maxLen = 64 * 1024;

const MACS = [
  '02:00:0a:00:00:07', '02:00:c0:a8:0a:05', '02:00:c0:a8:14:0a', '02:00:cb:00:71:21', '02:42:ac:11:00:01', '0a:1b:2c:3d:4e:5f', '0a:1b:2c:3d:4e:60',
  '52:54:00:00:00:03', '52:54:00:00:00:09', '52:54:00:12:34:00', '52:54:00:12:34:01', '52:54:00:12:34:02', '52:54:00:aa:00:01', '52:54:00:aa:00:02',
  'fa:16:3e:00:00:a1', 'fa:16:3e:00:00:a2', 'fa:16:3e:00:00:c3',
];
const NICS: GuestNic[] = [...MACS.map((mac, i) => ({ name: `eth${i}`, mac, carrier: i % 2 === 0, physical: true })), { name: 'lo', mac: '00:00:00:00:00:00', physical: false }];

function withKind(kind: Kind, text: string): Buffer {
  return Buffer.concat([Buffer.from([KINDS.indexOf(kind)]), Buffer.from(text)]);
}

export function seeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const f of fixtureFiles('test/fixtures/network')) {
    const name = path.basename(f);
    const text = readFileSync(f, 'utf8');
    if (name === 'vars.json') {
      const vars = JSON.parse(text) as Record<string, string>;
      out.push(withKind('opennebula', Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\n')));
    } else if (name === 'network_data.json') out.push(withKind('openstack', text));
    else if (name === 'v1.yaml') out.push(withKind('v1', text));
    else if (name === 'v2.yaml') out.push(withKind('v2', text));
    else if (name === 'ec2.json') out.push(withKind('ec2', text));
  }
  return out;
}

/** EC2 metadata always reaches the converter typed by the datasource: coerce the shape, keep the content. */
function ec2Input(doc: unknown): Parameters<typeof fromEc2>[0] | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const macs = (Array.isArray(d['macs']) ? d['macs'] : []).map((m: unknown) => {
    const r = (m !== null && typeof m === 'object' ? m : {}) as Record<string, unknown>;
    return {
      mac: String(r['mac'] ?? ''),
      deviceNumber: Number(r['deviceNumber'] ?? 0),
      localIpv4s: strs(r['localIpv4s']),
      ...(r['subnetIpv4Cidr'] !== undefined ? { subnetIpv4Cidr: String(r['subnetIpv4Cidr']) } : {}),
      ...(r['ipv6s'] !== undefined ? { ipv6s: strs(r['ipv6s']) } : {}),
      ...(r['subnetIpv6Cidrs'] !== undefined ? { subnetIpv6Cidrs: strs(r['subnetIpv6Cidrs']) } : {}),
    };
  });
  return { primaryMac: String(d['primaryMac'] ?? ''), macs };
}

function convert(kind: Kind, text: string): NetworkModel | undefined {
  if (kind === 'opennebula') {
    const vars = new Map<string, string>();
    for (const line of text.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return fromOpenNebula(vars, { origin: 'context.sh' });
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch {
    // Not YAML/JSON: the datasource would have refused it before any converter.
    return undefined;
  }
  if (kind === 'openstack') return fromOpenStack(doc, { origin: 'network_data.json' });
  if (kind === 'v1') return fromCloudInitV1(doc, { origin: 'network-config' });
  if (kind === 'v2') return fromCloudInitV2(doc, { origin: 'network-config' });
  const input = ec2Input(doc);
  return input === undefined ? undefined : fromEc2(input, { origin: 'ec2 metadata' });
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const kind = KINDS[(data[0] as number) % KINDS.length] as Kind;
  const model = convert(kind, data.subarray(1).toString('utf8'));
  if (model === undefined) return;
  const bound = bindInterfaces(model, NICS);
  for (const r of Object.values(RENDERERS)) {
    r.render(bound);
    if (r.name === 'ifcfg') r.render(bound, { pinHwaddr: true });
    if (r.name === 'netplan') r.render(bound, { netplanRenderer: 'NetworkManager' });
  }
  renderResolvConf(bound);
  renderResolvedDropIn(bound);
}

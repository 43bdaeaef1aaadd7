// Property test for the network path end to end: random, valid OpenNebula
// ETH<n>_* sets -> fromOpenNebula -> bind to the guest's NICs (listed in a
// random order, so only the MAC can match them) -> netplan YAML, parsed back
// with js-yaml: every NIC has its MAC, addresses, gateways and DHCP settings.
import fc from 'fast-check';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { bindInterfaces, fromOpenNebula, RENDERERS, type GuestNic } from '../../src/network';
import { prefixToMask } from '../../src/network/address';

interface NicSpec {
  readonly mac: string;
  readonly upper: boolean;
  readonly method: 'static' | 'dhcp';
  readonly prefix: number;
  readonly host: number;
  readonly ip6?: number;
  readonly mtu?: number;
}

const nicSpec: fc.Arbitrary<NicSpec> = fc.record(
  {
    mac: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffff })).map(([a, b]) => `02:00:${a.toString(16).padStart(2, '0')}:${b.toString(16).padStart(6, '0').replace(/(..)(..)(..)/, '$1:$2:$3')}`),
    upper: fc.boolean(),
    method: fc.constantFrom('static' as const, 'dhcp' as const),
    prefix: fc.integer({ min: 8, max: 29 }),
    host: fc.integer({ min: 2, max: 5 }),
    ip6: fc.integer({ min: 2, max: 0xfffe }),
    mtu: fc.integer({ min: 1280, max: 9000 }),
  },
  { requiredKeys: ['mac', 'upper', 'method', 'prefix', 'host'] },
);

const nicSets = fc
  .tuple(fc.uniqueArray(nicSpec, { minLength: 1, maxLength: 4, selector: (n) => n.mac }), fc.option(fc.nat(3), { nil: undefined }))
  .map(([nics, gw]) => ({ nics, gatewayIface: gw !== undefined && gw < nics.length && nics[gw]?.method === 'static' ? gw : undefined }));

/** NIC i lives in 10.(i+1).0.0/prefix; its gateway is the subnet's first address. */
function ipv4(i: number, n: NicSpec): { ip: string; gw: string } {
  return { ip: `10.${i + 1}.0.${n.host}`, gw: `10.${i + 1}.0.1` };
}

function toVars(nics: readonly NicSpec[], gatewayIface: number | undefined): Map<string, string> {
  const v = new Map<string, string>();
  nics.forEach((n, i) => {
    const p = `ETH${i}`;
    v.set(`${p}_MAC`, n.upper ? n.mac.toUpperCase() : n.mac);
    if (n.method === 'dhcp') v.set(`${p}_METHOD`, 'dhcp');
    else {
      const { ip, gw } = ipv4(i, n);
      v.set(`${p}_IP`, ip);
      v.set(`${p}_MASK`, prefixToMask(n.prefix));
      v.set(`${p}_GATEWAY`, gw);
      if (n.ip6 !== undefined) {
        v.set(`${p}_IP6`, `2001:db8:${i + 1}::${n.ip6.toString(16)}`);
        v.set(`${p}_IP6_PREFIX_LENGTH`, '64');
        v.set(`${p}_IP6_GATEWAY`, `2001:db8:${i + 1}::1`);
      }
    }
    if (n.mtu !== undefined) v.set(`${p}_MTU`, String(n.mtu));
  });
  if (gatewayIface !== undefined) v.set('GATEWAY_IFACE', `ETH${gatewayIface}`);
  return v;
}

interface NetplanEth {
  match?: { macaddress?: string };
  addresses?: string[];
  routes?: { to: string; via: string }[];
  dhcp4?: boolean;
  mtu?: number;
}

describe('OpenNebula ETH* -> netplan -> YAML', () => {
  it('keeps every MAC, address, gateway and method', () => {
    fc.assert(
      fc.property(nicSets, fc.integer({ min: 0, max: 1000 }), ({ nics, gatewayIface }, shuffle) => {
        const guestNics: GuestNic[] = nics.map((n, i) => ({ name: `ens${i + 3}`, mac: n.mac, carrier: true, physical: true }));
        // The guest lists its NICs in another order than the context: only the MAC may match.
        guestNics.sort((a, b) => ((a.mac.charCodeAt(9) ^ shuffle) % 7) - ((b.mac.charCodeAt(9) ^ shuffle) % 7));
        const model = fromOpenNebula(toVars(nics, gatewayIface), { origin: 'context.sh' });
        const files = RENDERERS.netplan.render(bindInterfaces(model, guestNics));
        expect(files).toHaveLength(1);
        const doc = load(files[0]?.content ?? '') as { network: { version: number; ethernets: Record<string, NetplanEth> } };
        expect(doc.network.version).toBe(2);
        const eths = Object.values(doc.network.ethernets);
        expect(eths).toHaveLength(nics.length);
        nics.forEach((n, i) => {
          const eth = eths.find((e) => e.match?.macaddress === n.mac.toLowerCase());
          expect(eth, `ETH${i} (${n.mac}) is in the netplan file`).toBeDefined();
          if (eth === undefined) return;
          if (n.mtu !== undefined) expect(eth.mtu).toBe(n.mtu);
          if (n.method === 'dhcp') {
            expect(eth.dhcp4).toBe(true);
            expect(eth.addresses ?? []).toEqual([]);
            return;
          }
          const { ip, gw } = ipv4(i, n);
          const want = [`${ip}/${n.prefix}`, ...(n.ip6 !== undefined ? [`2001:db8:${i + 1}::${n.ip6.toString(16)}/64`] : [])];
          expect(eth.addresses).toEqual(want);
          const defaults = (eth.routes ?? []).filter((r) => r.to === 'default').map((r) => r.via);
          const getsGateway = gatewayIface === undefined || gatewayIface === i;
          const wantGw = getsGateway ? [gw, ...(n.ip6 !== undefined ? [`2001:db8:${i + 1}::1`] : [])] : [];
          expect(defaults).toEqual(wantGw);
        });
      }),
      { numRuns: 300 },
    );
  });
});

// EC2: primary detection and secondary addresses.
import { describe, expect, it } from 'vitest';
import { fromEc2 } from '../../src/network/from-ec2';
import { configError } from './helpers';

const mac = '0a:00:00:00:00:01';

describe('fromEc2', () => {
  it('needs the subnet to configure secondary addresses, and the addresses in it', () => {
    expect(
      configError(() => fromEc2({ primaryMac: mac, macs: [{ mac, deviceNumber: 0, localIpv4s: ['10.0.0.5', '10.0.0.6'] }] }))
        .source,
    ).toBe('macs[0].subnetIpv4Cidr');
    expect(
      configError(() =>
        fromEc2({
          primaryMac: mac,
          macs: [{ mac, deviceNumber: 0, localIpv4s: ['10.0.0.5', '10.1.0.6'], subnetIpv4Cidr: '10.0.0.0/24' }],
        }),
      ).source,
    ).toBe('macs[0].localIpv4s[1]');
    expect(configError(() => fromEc2({ primaryMac: '0a:00:00:00:00:02', macs: [{ mac, deviceNumber: 0, localIpv4s: [] }] })).source).toBe(
      'primaryMac',
    );
  });

  it('gives the primary plain DHCP and secondary NICs a higher route metric', () => {
    const m = fromEc2({
      primaryMac: mac,
      macs: [
        { mac: '0a:00:00:00:00:02', deviceNumber: 2, localIpv4s: ['10.0.1.5'] },
        { mac, deviceNumber: 0, localIpv4s: ['10.0.0.5'] },
      ],
    });
    expect(m.links.map((l) => [l.kind === 'physical' ? l.mac : '', l.ipv4.routeMetric])).toEqual([
      [mac, undefined],
      ['0a:00:00:00:00:02', 300],
    ]);
  });
});

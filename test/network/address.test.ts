// Address helpers: parsing edge cases, canonical IPv6 text, masks and subnets,
// with property checks against a straightforward reference.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  formatIPv6,
  inSubnet,
  maskToPrefix,
  networkAddress,
  normalizeMac,
  parseCidr,
  parseIPv4,
  parseIPv6,
  prefixToMask,
} from '../../src/network/address';

describe('IPv4', () => {
  it('parses dotted quads and refuses anything ambiguous', () => {
    expect(parseIPv4('192.168.1.10')).toBe(0xc0a8010an);
    expect(parseIPv4('0.0.0.0')).toBe(0n);
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1..2.3', '']) {
      expect(parseIPv4(bad), bad).toBeUndefined();
    }
  });

  it('converts masks to prefixes and back, refusing holes', () => {
    expect(maskToPrefix('255.255.255.0')).toBe(24);
    expect(maskToPrefix('255.255.255.224')).toBe(27);
    expect(maskToPrefix('0.0.0.0')).toBe(0);
    expect(maskToPrefix('255.0.255.0')).toBeUndefined();
    expect(maskToPrefix('255.255.255.1')).toBeUndefined();
    fc.assert(fc.property(fc.integer({ min: 0, max: 32 }), (p) => maskToPrefix(prefixToMask(p)) === p));
  });

  it('tests subnet membership', () => {
    expect(inSubnet('10.0.1.200', '10.0.1.0', 24)).toBe(true);
    expect(inSubnet('10.0.2.1', '10.0.1.0', 24)).toBe(false);
    expect(inSubnet('10.0.2.1', '10.0.1.5', 16)).toBe(true);
    expect(inSubnet('::1', '10.0.0.0', 8)).toBe(false);
    expect(networkAddress('192.168.20.77', 27)).toBe('192.168.20.64');
  });
});

describe('IPv6', () => {
  it('parses the RFC 4291 text forms', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('2001:db8::1')).toBe(0x20010db8000000000000000000000001n);
    expect(parseIPv6('::ffff:192.0.2.1')).toBe(0xffffc0000201n);
    expect(parseIPv6('64:ff9b::192.0.2.1')).toBe(0x0064ff9b0000000000000000c0000201n);
    for (const bad of ['1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'fe80::1%eth0', ':1', '']) {
      expect(parseIPv6(bad), bad).toBeUndefined();
    }
  });

  it('formats canonically (RFC 5952)', () => {
    expect(canonicalIp('2001:0DB8:0:0:0:0:0:0001')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('fe80:0:0:0:0:0:0:0')).toBe('fe80::');
    expect(maskToPrefix('ffff:ffff:ffff:ffff::')).toBe(64);
  });

  it('round-trips every 128-bit value through text', () => {
    const value = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    // Zero-heavy values exercise the "::" compression.
    const sparse = fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 }).map((ws) =>
      ws.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n),
    );
    fc.assert(fc.property(fc.oneof(value, sparse), (v) => parseIPv6(formatIPv6(v)) === v));
  });
});

describe('CIDR and MAC', () => {
  it('parses address/prefix, canonicalising the address', () => {
    expect(parseCidr('2001:DB8::5/64')).toEqual({ family: 6, address: '2001:db8::5', prefix: 64 });
    expect(parseCidr('10.0.0.5/33')).toBeUndefined();
    expect(parseCidr('10.0.0.5')).toBeUndefined();
    expect(parseCidr('10.0.0.5', () => 32)).toEqual({ family: 4, address: '10.0.0.5', prefix: 32 });
  });

  it('normalises MACs to lowercase with colons', () => {
    expect(normalizeMac('02-00-C0-A8-0A-05')).toBe('02:00:c0:a8:0a:05');
    expect(normalizeMac('02:00:c0:a8:0a')).toBeUndefined();
  });
});

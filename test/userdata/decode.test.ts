// Decoder behaviour that the fixture corpus does not show well: include-once caching across
// decodes, include count limits, missing fetch, part limits, and vendor-data switches.
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestctxError, LimitError } from '../../src/errors';
import { decodeUserAndVendorData, decodeUserData } from '../../src/userdata/index';
import { boundedFetch, startFixtureServer, type FixtureServer } from './helpers';

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});

describe('includes', () => {
  it('#include-once fetches once; a later decode with the same cache does not fetch', async () => {
    const cache = new Map<string, Buffer>();
    const includeOnceCache = { get: (u: string) => cache.get(u), set: (u: string, b: Buffer) => void cache.set(u, b) };
    const url = `${server.base('include')}/once.yaml`;
    const input = Buffer.from(`#include-once\n${url}\n`);
    const fetched: string[] = [];
    const fetch = async (u: string): Promise<Buffer> => {
      fetched.push(u);
      return boundedFetch(1000)(u);
    };
    const first = await decodeUserData(input, { source: 'user-data', fetch, includeOnceCache });
    expect(first.cloudConfig).toEqual({ locale: 'once' });
    expect(fetched).toEqual([url]);
    // The server's copy could be gone by now (one-time URL): the cached body is used.
    const second = await decodeUserData(input, { source: 'user-data', fetch: () => Promise.reject(new Error('must not fetch')), includeOnceCache });
    expect(second.errors).toEqual([]);
    expect(second.cloudConfig).toEqual({ locale: 'once' });
  });

  it('plain #include is fetched every time, even with a cache', async () => {
    const cache = new Map<string, Buffer>();
    const url = `${server.base('include')}/config.yaml`;
    const before = server.requests.length;
    const opts = {
      source: 'user-data',
      fetch: boundedFetch(1000),
      includeOnceCache: { get: (u: string) => cache.get(u), set: (u: string, b: Buffer) => void cache.set(u, b) },
    };
    await decodeUserData(Buffer.from(`#include ${url}\n`), opts);
    await decodeUserData(Buffer.from(`#include ${url}\n`), opts);
    expect(server.requests.length - before).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('stops after maxIncludes URLs with one LimitError', async () => {
    const url = `${server.base('include')}/config.yaml`;
    const input = Buffer.from(`#include\n${Array.from({ length: 5 }, () => url).join('\n')}\n`);
    const result = await decodeUserData(input, { source: 'user-data', fetch: boundedFetch(1000), limits: { maxIncludes: 3 } });
    expect(result.parts.filter((p) => p.kind === 'cloud-config')).toHaveLength(3);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(LimitError);
    expect(result.errors[0]?.message).toContain('more than 3 includes');
  });

  it('refuses an include body larger than maxBytes', async () => {
    const result = await decodeUserData(Buffer.from('#include http://example.invalid/big\n'), {
      source: 'user-data',
      fetch: async () => Buffer.alloc(5000, 0x61),
      limits: { maxBytes: 4096 },
    });
    expect(result.errors[0]).toBeInstanceOf(LimitError);
    expect(result.errors[0]?.source).toBe('user-data, include http://example.invalid/big');
  });

  it('reports includes as failed when no fetch was injected', async () => {
    const result = await decodeUserData(Buffer.from('#include http://example.invalid/x\n'), { source: 'user-data' });
    expect(result.errors.map((e) => e.describe())).toEqual([
      'user-data, include http://example.invalid/x: include failed: no network access was given to fetch includes',
    ]);
  });
});

describe('robustness', () => {
  it('never throws on arbitrary bytes, with or without MIME, gzip or base64 framing (property)', async () => {
    const prefix = fc.constantFrom(
      '',
      '#cloud-config\n',
      '#include\n',
      '#cloud-config-archive\n',
      '#cloud-config-jsonp\n',
      'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n',
      'MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n',
    );
    const body = fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')));
    await fc.assert(
      fc.asyncProperty(prefix, body, fc.boolean(), fc.boolean(), async (p, b, gzip, base64) => {
        let bytes = Buffer.from(p + b, 'latin1');
        if (gzip) bytes = gzipSync(bytes);
        if (base64) bytes = Buffer.from(bytes.toString('base64'));
        const r = await decodeUserData(bytes, { source: 'user-data', ...(base64 ? { encoding: 'base64' as const } : {}) });
        expect(Array.isArray(r.parts)).toBe(true);
        expect(typeof r.cloudConfig).toBe('object');
        for (const e of r.errors) expect(e).toBeInstanceOf(GuestctxError);
      }),
      { numRuns: 150 },
    );
  });
});

describe('limits', () => {
  it('stops adding parts at maxParts and says so once', async () => {
    const entries = Array.from({ length: 8 }, (_, i) => `- "#cloud-config\\nk${i}: ${i}\\n"`).join('\n');
    const result = await decodeUserData(Buffer.from(`#cloud-config-archive\n${entries}\n`), { source: 'user-data', limits: { maxParts: 4 } });
    expect(result.parts).toHaveLength(4); // the archive itself and three entries
    expect(result.cloudConfig).toEqual({ k0: 0, k1: 1, k2: 2 });
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(LimitError);
  });
});

describe('vendor-data', () => {
  const vendor = Buffer.from('#cloud-config\npackages: [v]\n');
  it('applies vendor-data when user-data says nothing', async () => {
    const r = await decodeUserAndVendorData(Buffer.from('#cloud-config\nhostname: u\n'), vendor);
    expect(r.vendorEnabled).toBe(true);
    expect(r.cloudConfig).toEqual({ hostname: 'u', packages: ['v'] });
    expect(r.parts.map((p) => p.origin)).toEqual(['vendor-data', 'user-data']);
  });
  it('reads enabled as cloud-init does: "no" and false disable, "yes" enables', async () => {
    for (const [value, enabled] of [
      ['false', false],
      ['"no"', false],
      ['"yes"', true],
      ['true', true],
    ] as const) {
      const r = await decodeUserAndVendorData(Buffer.from(`#cloud-config\nvendor_data: {enabled: ${value}}\n`), vendor);
      expect(r.vendorEnabled, value).toBe(enabled);
      expect(r.parts.some((p) => p.origin === 'vendor-data'), value).toBe(enabled);
    }
  });
  it('a vendor_data setting that is not a mapping disables vendor-data with a warning', async () => {
    const r = await decodeUserAndVendorData(Buffer.from('#cloud-config\nvendor_data: off\n'), vendor);
    expect(r.vendorEnabled).toBe(false);
    expect(r.warnings[0]).toContain('vendor_data must be a mapping');
  });
  it('does not decode (or fetch for) disabled vendor-data', async () => {
    let fetched = 0;
    const r = await decodeUserAndVendorData(Buffer.from('#cloud-config\nvendor_data: {enabled: false}\n'), Buffer.from('#include http://example.invalid/v\n'), {
      fetch: async () => {
        fetched += 1;
        return Buffer.from('');
      },
    });
    expect(fetched).toBe(0);
    expect(r.errors).toEqual([]);
  });
  it('works with either side missing, with custom source names', async () => {
    const onlyVendor = await decodeUserAndVendorData(undefined, vendor, { vendorSource: 'vendor-data2' });
    expect(onlyVendor.cloudConfig).toEqual({ packages: ['v'] });
    expect(onlyVendor.parts[0]?.origin).toBe('vendor-data2');
    const onlyUser = await decodeUserAndVendorData(Buffer.from('#!/bin/sh\n'), undefined);
    expect(onlyUser.parts.map((p) => p.kind)).toEqual(['script']);
  });
});

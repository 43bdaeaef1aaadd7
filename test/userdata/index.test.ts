// Table-driven user-data corpus: every folder under test/fixtures/userdata/ is one scenario.
// Input is `input` (raw bytes) or `mime.json` (built by make-mime.py with Python's email
// package); `options.json` may transform the input (gzip, base64, truncate:N), mark it
// base64, or name a vendor-data file. `expected.json` lists the parts (kind, type, filename,
// origin, frequency, and content by `sameAs` file, `text`, `size` or `sha256`), the merged
// cloud-config, the errors (type, source, message substring) and the warnings (prefixes).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestctxError } from '../../src/errors';
import { decodeUserAndVendorData, decodeUserData, type DecodedUserData } from '../../src/userdata/index';
import { FIXTURES, boundedFetch, makeMime, startFixtureServer, substitute, type FixtureServer } from './helpers';

interface ExpectedPart {
  kind: string;
  contentType?: string;
  filename?: string;
  origin?: string;
  frequency?: string;
  sameAs?: string;
  text?: string;
  size?: number;
  sha256?: string;
}
interface ExpectedError {
  type: string;
  source?: string;
  message: string;
}
interface Expected {
  description: string;
  parts: ExpectedPart[];
  cloudConfig: Record<string, unknown>;
  errors: ExpectedError[];
  warnings: string[];
  vendorEnabled?: boolean;
  includeOnceCached?: string[];
}
interface Options {
  transform?: string[];
  encoding?: 'base64';
  vendor?: string;
}

const scenarios = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});

function readInput(dir: string, scenario: string): Buffer {
  const specPath = path.join(dir, 'mime.json');
  let bytes: Buffer;
  if (existsSync(specPath)) {
    bytes = makeMime(specPath);
  } else {
    bytes = readFileSync(path.join(dir, 'input'));
  }
  // Placeholders only exist in text fixtures; binary transforms come after.
  bytes = Buffer.from(substitute(bytes.toString('latin1'), server, scenario), 'latin1');
  const opts = readOptions(dir);
  for (const step of opts.transform ?? []) {
    if (step === 'gzip') bytes = gzipSync(bytes);
    else if (step === 'base64') bytes = Buffer.from(bytes.toString('base64').replace(/.{76}/g, '$&\n'));
    else if (step.startsWith('truncate:')) bytes = bytes.subarray(0, Number(step.slice('truncate:'.length)));
    else throw new Error(`unknown transform ${step}`);
  }
  return bytes;
}

function readOptions(dir: string): Options {
  const p = path.join(dir, 'options.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Options) : {};
}

function checkParts(result: DecodedUserData, expected: Expected, dir: string, scenario: string): void {
  const sub = (s: string): string => substitute(s, server, scenario);
  expect(result.parts.map((p) => p.kind), 'part kinds').toEqual(expected.parts.map((p) => p.kind));
  expected.parts.forEach((want, i) => {
    const got = result.parts[i];
    if (got === undefined) throw new Error(`part ${i} missing`);
    const label = `part ${i} (${got.origin})`;
    if (want.contentType !== undefined) expect(got.contentType, label).toBe(want.contentType);
    if (want.filename !== undefined) expect(got.filename, label).toBe(want.filename);
    if (want.origin !== undefined) expect(got.origin, label).toBe(sub(want.origin));
    expect(got.frequency, label).toBe(want.frequency);
    if (want.sameAs !== undefined) {
      const file = sub(readFileSync(path.join(dir, want.sameAs), 'utf8'));
      expect(got.content.toString('utf8'), label).toBe(file);
    }
    if (want.text !== undefined) expect(got.content.toString('utf8'), label).toBe(want.text);
    if (want.size !== undefined) expect(got.content.length, label).toBe(want.size);
    if (want.sha256 !== undefined) expect(createHash('sha256').update(got.content).digest('hex'), label).toBe(want.sha256);
    expect(Buffer.isBuffer(got.content), label).toBe(true);
  });
}

function checkErrors(result: DecodedUserData, expected: Expected, scenario: string): void {
  const sub = (s: string): string => substitute(s, server, scenario);
  const described = result.errors.map((e) => `${e.name} ${e.describe()}`);
  expect(result.errors.length, `errors: ${JSON.stringify(described)}`).toBe(expected.errors.length);
  expected.errors.forEach((want, i) => {
    const got = result.errors[i];
    expect(got).toBeInstanceOf(GuestctxError);
    expect(got?.name, described[i]).toBe(want.type);
    if (want.source !== undefined) expect(got?.source, described[i]).toBe(sub(want.source));
    expect(got?.message, described[i]).toContain(sub(want.message));
  });
}

describe('user-data corpus', () => {
  it('has scenarios for every part kind', () => {
    const kinds = new Set<string>();
    for (const s of scenarios) {
      const e = JSON.parse(readFileSync(path.join(FIXTURES, s, 'expected.json'), 'utf8')) as Expected;
      for (const p of e.parts) kinds.add(p.kind);
    }
    expect([...kinds].sort()).toEqual(
      ['boothook', 'cloud-config', 'cloud-config-archive', 'cloud-config-jsonp', 'include', 'include-once', 'jinja2', 'part-handler', 'script', 'unknown'].sort(),
    );
  });

  it.each(scenarios)('%s', async (scenario) => {
    const dir = path.join(FIXTURES, scenario);
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const options = readOptions(dir);
    const input = readInput(dir, scenario);
    const cache = new Map<string, Buffer>();
    const common = {
      fetch: boundedFetch(400),
      includeOnceCache: { get: (u: string) => cache.get(u), set: (u: string, b: Buffer) => void cache.set(u, b) },
      ...(options.encoding ? { encoding: options.encoding } : {}),
    };
    let result: DecodedUserData & { vendorEnabled?: boolean };
    if (options.vendor !== undefined) {
      const vendor = Buffer.from(substitute(readFileSync(path.join(dir, options.vendor), 'utf8'), server, scenario));
      result = await decodeUserAndVendorData(input, vendor, common);
      expect(result.vendorEnabled).toBe(expected.vendorEnabled);
    } else {
      result = await decodeUserData(input, { source: 'user-data', ...common });
    }
    checkErrors(result, expected, scenario);
    checkParts(result, expected, dir, scenario);
    expect(result.cloudConfig).toEqual(expected.cloudConfig);
    // The merged config is plain JSON data: it survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(result.cloudConfig))).toEqual(result.cloudConfig);
    expect(result.warnings.length, JSON.stringify(result.warnings)).toBe(expected.warnings.length);
    expected.warnings.forEach((w, i) => expect(result.warnings[i]).toContain(substitute(w, server, scenario)));
    expect([...cache.keys()].sort()).toEqual((expected.includeOnceCached ?? []).map((u) => substitute(u, server, scenario)).sort());
  });
});

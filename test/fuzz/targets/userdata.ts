// Fuzz target: user-data decoding (base64 and gzip envelopes, MIME via
// mailparser, includes, archives, JSON patches, merging). decodeUserData is
// documented never to throw for bad input, so any throw is a finding here;
// every reported problem must be a typed error, and the limits must hold.
// Input layout: an optional "B64:" prefix asks for base64 decoding; a
// "\n--VENDOR--\n" line splits user-data from vendor-data. Includes are served
// by an in-memory fetch (no network) from the fixture http/ folders.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { GuestctxError } from '../../../src/errors';
import { decodeUserAndVendorData, decodeUserData, type UserDataLimits } from '../../../src/userdata';
import { REPO, fixtureFiles, invariant, readAll } from '../support';

const LIMITS: Partial<UserDataLimits> = { maxBytes: 1024 * 1024, maxDecompressedBytes: 4 * 1024 * 1024, maxIncludes: 6, maxParts: 50 };
const SEP = '\n--VENDOR--\n';

export const tokens = [
  'MIME-Version: 1.0\n', 'Content-Type: multipart/mixed; boundary="b"\n\n', '--b\n', '--b--\n', 'Content-Type: text/cloud-config\n\n',
  'Content-Transfer-Encoding: base64\n', 'Content-Transfer-Encoding: quoted-printable\n', '=\n', '=3D', 'Content-Disposition: attachment; filename="x"\n',
  'Merge-Type: list(append)+dict(recurse_array)+str()\n', '#cloud-config\n', '#include\n', '#include-once\n', 'http://fixture/include/config.yaml\n',
  'http://fixture/include-loop/loop.txt\n', 'file:///etc/shadow\n', '#cloud-config-archive\n', '#cloud-config-jsonp\n', '#!/bin/sh\n', '#cloud-boothook\n',
  '#part-handler\n', '## template: jinja\n', 'merge_how: ', '[{"op":"add","path":"/a","value":1}]', '{"op":"copy","from":"/a","path":"/a/b"}', 'B64:', SEP,
  '\x1f\x8b\x08\x00\x00\x00\x00\x00', 'vendor_data: {enabled: false}\n',
];
export const maxLen = 256 * 1024;

/** Includes: http://fixture/<scenario>/<file> from the fixture folders; anything else fails. */
async function fetch(url: string): Promise<Buffer> {
  const m = /^https?:\/\/fixture\/([\w-]+)\/([\w.-]+)$/.exec(url);
  const file = m ? path.join(REPO, 'test/fixtures/userdata', m[1] as string, 'http', m[2] as string) : undefined;
  if (file === undefined || !existsSync(file)) throw new GuestctxError(url, 'HTTP 404');
  return Buffer.from(readFileSync(file, 'utf8').replaceAll('{{BASE}}', `http://fixture/${m?.[1]}`));
}

export function seeds(): Buffer[] {
  const out = readAll(fixtureFiles('test/fixtures/userdata', (n) => n === 'input' || n === 'vendor'));
  out.push(...readAll(fixtureFiles('test/fixtures/userdata', (n) => n.endsWith('.yaml') || n.endsWith('.txt') || n.endsWith('.sh'))).map((b) => gzipSync(b)));
  // MIME seeds: the fixtures' recipes through Python's email package, as the userdata tests build them.
  for (const spec of fixtureFiles('test/fixtures/userdata', (n) => n === 'mime.json')) {
    try {
      out.push(execFileSync('python3', [path.join(REPO, 'test/helpers/make-mime.py'), spec], { cwd: path.dirname(spec), maxBuffer: 16 << 20 }));
    } catch {
      // A recipe that Python refuses (none today) only costs a seed.
      continue;
    }
  }
  out.push(Buffer.from(`B64:${Buffer.from('#cloud-config\nhostname: b64\n').toString('base64')}`));
  out.push(Buffer.from(`#cloud-config\nhostname: user\n${SEP}#cloud-config\nhostname: vendor\nruncmd: [ls]\n`));
  return out;
}

export async function fuzz(data: Buffer): Promise<string> {
  let bytes = data;
  let encoding: 'base64' | undefined;
  if (bytes.subarray(0, 4).toString('latin1') === 'B64:') {
    bytes = bytes.subarray(4);
    encoding = 'base64';
  }
  const sep = bytes.indexOf(SEP);
  const opts = { fetch, limits: LIMITS, ...(encoding ? { encoding } : {}) };
  let result;
  try {
    result =
      sep >= 0
        ? await decodeUserAndVendorData(bytes.subarray(0, sep), bytes.subarray(sep + SEP.length), opts)
        : await decodeUserData(bytes, { ...opts, source: 'user-data' });
  } catch (err) {
    // The contract is "never throws for bad input": even a typed error is a finding.
    throw new Error(`decodeUserData threw: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, { cause: err });
  }
  for (const e of result.errors) invariant(e instanceof GuestctxError, `an error is not typed: ${String(e)}`);
  invariant(result.parts.length <= 2 * (LIMITS.maxParts as number), `${result.parts.length} parts, over the limit`);
  const total = result.parts.reduce((n, p) => n + p.content.length, 0);
  invariant(total <= 2 * (LIMITS.maxDecompressedBytes as number) + 2 * data.length, `parts hold ${total} bytes, past the decompression budget`);
  invariant(result.cloudConfig !== null && typeof result.cloudConfig === 'object' && !Array.isArray(result.cloudConfig), 'cloudConfig is not a mapping');
  const kinds = [...new Set(result.parts.map((p) => p.kind))].sort().join(',');
  const errors = [...new Set(result.errors.map((e) => `${e.name}:${e.message.replace(/\d+/g, 'N').slice(0, 50)}`))].sort().join('|');
  return `${kinds}|${errors}|${Object.keys(result.cloudConfig).length > 0}`;
}

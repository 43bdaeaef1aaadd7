// Property tests for the user-data envelopes: base64 (both alphabets, padding
// or not, wrapped or not) and gzip layers round-trip exactly, the
// decompression budget is charged exactly, and random MIME trees (7bit,
// base64, quoted-printable, gzip'd leaves, nested multiparts) come back as the
// same parts, in the same order, with the same bytes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/errors';
import { decodeUserData } from '../../src/userdata';
import { decodeBase64Strict, gunzipBounded } from '../../src/userdata/envelope';
import { buildMime, depth, leaves, type MimeNode } from './mime-builder';

const bytes = fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a));

describe('base64 envelope', () => {
  it('decodeBase64Strict(encode(x)) == x for standard and URL-safe, padded or not, wrapped or not', () => {
    fc.assert(
      fc.property(bytes, fc.boolean(), fc.boolean(), fc.constantFrom(0, 60, 76), (x, urlSafe, pad, width) => {
        let text = x.toString(urlSafe ? 'base64url' : 'base64');
        if (!pad) text = text.replace(/=+$/, '');
        else if (urlSafe) text += '='.repeat((4 - (text.length % 4)) % 4);
        if (width > 0) text = text.replace(new RegExp(`(.{${width}})`, 'g'), '$1\r\n');
        expect(decodeBase64Strict(Buffer.from(text), 'user-data').equals(x)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('gzip envelope', () => {
  it('n gzip layers peel back to x, and the budget is charged exactly what was inflated', () => {
    fc.assert(
      fc.property(bytes, fc.integer({ min: 1, max: 4 }), (x, n) => {
        const layers: Buffer[] = [x];
        for (let i = 0; i < n; i++) layers.push(gzipSync(layers[layers.length - 1] as Buffer));
        const budget = { remaining: 1 << 20 };
        let cur = layers[n] as Buffer;
        let inflated = 0;
        for (let i = n; i > 0; i--) {
          cur = gunzipBounded(cur, budget, 'user-data');
          inflated += cur.length;
          expect(cur.equals(layers[i - 1] as Buffer)).toBe(true);
        }
        expect(budget.remaining).toBe((1 << 20) - inflated);
      }),
      { numRuns: 200 },
    );
  });

  it('a layer that inflates past the budget is a LimitError, whatever the budget', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 64 }), (budgetBytes, extra) => {
        const big = gzipSync(Buffer.alloc(budgetBytes + extra, 0x61));
        expect(() => gunzipBounded(big, { remaining: budgetBytes }, 'user-data')).toThrow(LimitError);
      }),
      { numRuns: 100 },
    );
  });
});

// Keys and values that mean the same in YAML 1.1 (the decoder) and js-yaml's dump.
const yamlValue = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.stringMatching(/^v[a-z0-9 ]{0,12}[a-z0-9]$/), fc.array(fc.stringMatching(/^w[a-z0-9]{0,8}$/), { maxLength: 3 }));
const config = fc.dictionary(fc.stringMatching(/^k_[a-z]{1,8}$/), yamlValue, { minKeys: 1, maxKeys: 6 });

describe('whole user-data through decodeUserData', () => {
  it('#cloud-config under 0-2 gzip layers and optional base64 decodes to the same text and mapping', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.integer({ min: 0, max: 2 }), fc.boolean(), async (cfg, gz, b64) => {
        const text = Buffer.from(`#cloud-config\n${dump(cfg)}`);
        let data = text;
        for (let i = 0; i < gz; i++) data = gzipSync(data);
        if (b64) data = Buffer.from(data.toString('base64'));
        const out = await decodeUserData(data, { source: 'user-data', ...(b64 ? { encoding: 'base64' as const } : {}) });
        expect(out.errors).toEqual([]);
        expect(out.parts).toHaveLength(1);
        expect(out.parts[0]?.kind).toBe('cloud-config');
        expect(out.parts[0]?.content.equals(text)).toBe(true);
        expect(out.cloudConfig).toEqual(cfg);
      }),
      { numRuns: 150 },
    );
  });
});

// Leaf payloads the decoder keeps byte for byte: scripts (their first line decides the kind).
const leafArb: fc.Arbitrary<MimeNode> = fc.record({
  kind: fc.constant('leaf' as const),
  type: fc.constantFrom('text/x-shellscript', 'text/plain', 'application/octet-stream'),
  content: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from('#!/bin/sh\n# '), Buffer.from(a)])),
  cte: fc.constantFrom('base64' as const, 'quoted-printable' as const),
  gzip: fc.boolean(),
  filename: fc.option(fc.stringMatching(/^[a-z][a-z0-9._-]{0,15}$/), { nil: undefined }),
}).map((l) => (l.filename === undefined ? { kind: l.kind, type: l.type, content: l.content, cte: l.cte, gzip: l.gzip } : l));

// 7bit leaves: ASCII without "-" so no line can look like a boundary.
const asciiLeaf: fc.Arbitrary<MimeNode> = fc.stringMatching(/^[a-zA-Z0-9 #!/.]{0,80}$/).map((s) => ({ kind: 'leaf' as const, type: 'text/x-shellscript', content: Buffer.from(`#!/bin/sh\necho ${s}`), cte: '7bit' as const, gzip: false }));

let boundaryCounter = 0;
const tree: fc.Arbitrary<MimeNode> = fc.letrec<{ node: MimeNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leafArb,
    asciiLeaf,
    fc.record({ subtype: fc.constantFrom('mixed' as const, 'alternative' as const, 'related' as const), children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }) }).map((m) => ({
      kind: 'multi' as const,
      subtype: m.subtype,
      boundary: `==b${(boundaryCounter++).toString(36)}x${Math.random().toString(36).slice(2, 10)}==`,
      children: m.children,
    })),
  ),
})).node;

const rootTree = fc.array(tree, { minLength: 1, maxLength: 5 }).map((children): MimeNode => ({ kind: 'multi', subtype: 'mixed', boundary: `==root${boundaryCounter++}==`, children }));

describe('MIME multipart', () => {
  it('random trees (optionally gzip\'d and base64\'d as a whole) decode to the same leaves, in order, with the same bytes and file names', async () => {
    await fc.assert(
      fc.asyncProperty(rootTree, fc.boolean(), fc.boolean(), async (root, gzipMessage, b64) => {
        fc.pre(depth(root) <= 8);
        const want = leaves(root);
        fc.pre(want.length <= 200);
        // The whole message may itself be gzip'd, and then base64'd by the datasource.
        let msg = buildMime(root);
        if (gzipMessage) msg = gzipSync(msg);
        if (b64) msg = Buffer.from(msg.toString('base64'));
        const out = await decodeUserData(msg, { source: 'user-data', ...(b64 ? { encoding: 'base64' as const } : {}) });
        expect(out.errors).toEqual([]);
        expect(out.parts.map((p) => p.content.toString('latin1'))).toEqual(want.map((l) => l.content.toString('latin1')));
        for (const [i, l] of want.entries()) {
          if (l.kind === 'leaf' && l.filename !== undefined) expect(out.parts[i]?.filename).toBe(l.filename);
          expect(out.parts[i]?.kind).toBe('script');
        }
      }),
      { numRuns: 60 },
    );
  });

  it('messages written by Python\'s email package decode to the same parts (cross-check of the builder)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-mime-prop-'));
    try {
      const samples = fc.sample(fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9 ]{0,40}$/), fc.constantFrom('base64', 'quoted-printable', '7bit'), fc.boolean()), { minLength: 1, maxLength: 6 }), { numRuns: 4, seed: 42 });
      for (const [n, sample] of samples.entries()) {
        const spec = {
          multipart: 'mixed',
          boundary: `py-${n}`,
          parts: [{ multipart: 'mixed', boundary: `py-inner-${n}`, parts: sample.map(([s, cte, gz]) => ({ text: `#!/bin/sh\necho ${s}\n`, type: 'text/x-shellscript', cte: gz ? 'base64' : cte, gzip: gz })) }],
        };
        const file = path.join(dir, `spec-${n}.json`);
        writeFileSync(file, JSON.stringify(spec));
        const msg = execFileSync('python3', [path.join(__dirname, '../helpers/make-mime.py'), file], { cwd: dir });
        const out = await decodeUserData(msg, { source: 'user-data' });
        expect(out.errors).toEqual([]);
        expect(out.parts.map((p) => p.content.toString())).toEqual(sample.map(([s]) => `#!/bin/sh\necho ${s}\n`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Envelope handling: strict base64, gzip magic at every level, and gzip bombs stopped at
// the decompression budget instead of being inflated in full.
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LimitError, ParseError } from '../../src/errors';
import { decodeBase64Strict, gunzipBounded, isGzip, looksLikeMime } from '../../src/userdata/envelope';
import { decodeUserData } from '../../src/userdata/index';

/** 1 GiB of zeros through a streaming gzip: about 4.5 MB on the wire. */
async function gzipBomb(gib = 1): Promise<Buffer> {
  const gz = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => gz.on('end', resolve));
  const zero = Buffer.alloc(1 << 20);
  for (let i = 0; i < 1024 * gib; i++) {
    if (!gz.write(zero)) await new Promise((resolve) => gz.once('drain', resolve));
  }
  gz.end();
  await ended;
  return Buffer.concat(chunks);
}

describe('base64', () => {
  it('decodes standard and URL-safe alphabets, ignoring line breaks', () => {
    const data = Buffer.from([0xfb, 0xff, 0x00, 0x41]);
    expect(decodeBase64Strict(Buffer.from('+/8AQQ=='), 'ud')).toEqual(data);
    expect(decodeBase64Strict(Buffer.from('-_8AQQ'), 'ud')).toEqual(data);
    expect(decodeBase64Strict(Buffer.from('+/8A\r\nQQ==\n'), 'ud')).toEqual(data);
  });
  it('rejects garbage instead of skipping it', () => {
    expect(() => decodeBase64Strict(Buffer.from('aGVsbG8*'), 'ud')).toThrow(ParseError);
    expect(() => decodeBase64Strict(Buffer.from('aGVsb'), 'ud')).toThrow(/bad length or padding/);
    expect(() => decodeBase64Strict(Buffer.from('aG=Vs'), 'ud')).toThrow(ParseError);
  });
});

describe('gzip', () => {
  it('detects gzip by magic bytes only', () => {
    expect(isGzip(gzipSync('x'))).toBe(true);
    expect(isGzip(Buffer.from('#cloud-config'))).toBe(false);
    expect(isGzip(Buffer.from([0x1f]))).toBe(false);
  });
  it('charges inflated bytes to a shared budget', () => {
    const budget = { remaining: 1000 };
    expect(gunzipBounded(gzipSync(Buffer.alloc(600)), budget, 'ud').length).toBe(600);
    expect(budget.remaining).toBe(400);
    expect(() => gunzipBounded(gzipSync(Buffer.alloc(600)), budget, 'ud')).toThrow(LimitError);
  });
  it('inflates multi-member gzip', () => {
    const two = Buffer.concat([gzipSync('#cloud-config\n'), gzipSync('hostname: a\n')]);
    expect(gunzipBounded(two, { remaining: 1 << 20 }, 'ud').toString()).toBe('#cloud-config\nhostname: a\n');
  });
  it('recognises MIME by MIME-Version in the first 4 KiB only', () => {
    expect(looksLikeMime(Buffer.from('Content-Type: text/plain\nmime-version: 1.0\n\nx'))).toBe(true);
    expect(looksLikeMime(Buffer.from(`${'#'.repeat(5000)}\nMIME-Version: 1.0\n`))).toBe(false);
  });
});

describe('gzip bombs', () => {
  it('stops a 1 GiB bomb at the 64 MiB budget, quickly and without the memory', async () => {
    const bomb = await gzipBomb();
    expect(bomb.length).toBeLessThan(16 * 1024 * 1024);
    const start = Date.now();
    const before = process.memoryUsage().rss;
    const result = await decodeUserData(bomb, { source: 'user-data' });
    expect(Date.now() - start).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
    expect(result.parts).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(LimitError);
    expect(result.errors[0]?.message).toMatch(/inflates past the limit of 67108864 bytes/);
  });

  it('shares the budget across gzip parts of one MIME message, other parts still apply', async () => {
    const part = (body: Buffer, name: string, type = 'application/gzip'): string =>
      `--B\nContent-Type: ${type}\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="${name}"\n\n${body.toString('base64')}\n`;
    const big = gzipSync(Buffer.concat([Buffer.from('#cloud-config\nhostname: big\npad: "'), Buffer.alloc(600_000, 0x61), Buffer.from('"\n')]));
    const msg = [
      'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n',
      part(big, 'one.gz'),
      part(big, 'two.gz'),
      part(Buffer.from('#cloud-config\nlocale: C\n'), 'plain.yaml', 'text/cloud-config'),
      '--B--\n',
    ].join('');
    const result = await decodeUserData(Buffer.from(msg), { source: 'user-data', limits: { maxDecompressedBytes: 1_000_000 } });
    expect(result.parts.map((p) => p.filename)).toEqual(['one.gz', 'plain.yaml']);
    expect(result.cloudConfig['hostname']).toBe('big');
    expect(result.cloudConfig['locale']).toBe('C');
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(LimitError);
    expect(result.errors[0]?.source).toBe('user-data, MIME part 2 (two.gz)');
  });

  it('refuses input over maxBytes before looking at it', async () => {
    const result = await decodeUserData(Buffer.alloc(2048, 0x61), { source: 'vendor-data', limits: { maxBytes: 1024 } });
    expect(result.errors[0]).toBeInstanceOf(LimitError);
    expect(result.errors[0]?.describe()).toBe('vendor-data: 2048 bytes is more than the limit of 1024');
  });

  it('refuses a part declared gzip whose content is not', async () => {
    const msg = 'MIME-Version: 1.0\nContent-Type: application/x-gzip\n\n#cloud-config\nhostname: x\n';
    const result = await decodeUserData(Buffer.from(msg), { source: 'user-data' });
    expect(result.parts).toEqual([]);
    expect(result.errors[0]).toBeInstanceOf(ParseError);
    expect(result.errors[0]?.message).toContain('declared application/x-gzip but its content is not gzip');
  });
});

// MIME splitting: mailparser is loaded only for MIME input (start-up cost), each leaf comes
// out on its own (text/plain parts are not glued together), and part/depth limits hold.
// This file runs in its own module environment, so the load counter starts at zero here.
import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/errors';
import { decodeUserData, mimeParserLoadCount } from '../../src/userdata/index';
import { splitMime } from '../../src/userdata/mime';

function multipart(parts: string[], boundary = 'XYZ'): Buffer {
  const body = parts.map((p) => `--${boundary}\n${p}\n`).join('');
  return Buffer.from(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="${boundary}"\n\n${body}--${boundary}--\n`);
}

describe('lazy mailparser', () => {
  it('is not loaded for plain #cloud-config, scripts or gzip; loaded once for MIME', async () => {
    expect(mimeParserLoadCount()).toBe(0);
    await decodeUserData(Buffer.from('#cloud-config\nhostname: a\n'), { source: 'user-data' });
    await decodeUserData(Buffer.from('#!/bin/sh\necho\n'), { source: 'user-data' });
    await decodeUserData(Buffer.from('#cloud-config-archive\n- "#cloud-config\\nx: 1\\n"\n'), { source: 'user-data' });
    expect(mimeParserLoadCount()).toBe(0);
    const mime = multipart(['Content-Type: text/cloud-config\n\nhostname: m\n']);
    const first = await decodeUserData(mime, { source: 'user-data' });
    expect(first.cloudConfig).toEqual({ hostname: 'm' });
    await decodeUserData(mime, { source: 'user-data' });
    expect(mimeParserLoadCount()).toBe(1);
  });
});

describe('splitMime', () => {
  const limits = { maxParts: 200, maxMimeDepth: 8 };

  it('keeps two text/plain parts apart, with headers and part numbers', async () => {
    const leaves = await splitMime(
      multipart([
        'Content-Type: text/plain; charset="us-ascii"\n\n#cloud-config\na: 1\n',
        'Content-Type: text/plain\nX-Merge-Type: list(append)+dict(recurse_array)\n\n#cloud-config\nb: 2\n',
      ]),
      'ud',
      limits,
    );
    expect(leaves.map((l) => [l.partId, l.depth, l.contentType, l.content.toString()])).toEqual([
      ['1', 1, 'text/plain', '#cloud-config\na: 1\n'],
      ['2', 1, 'text/plain', '#cloud-config\nb: 2\n'],
    ]);
    expect(leaves[1]?.headers.get('x-merge-type')).toBe('list(append)+dict(recurse_array)');
  });

  it('takes the filename from Content-Disposition or the Content-Type name', async () => {
    const leaves = await splitMime(
      multipart([
        'Content-Type: text/x-shellscript\nContent-Disposition: attachment; filename="a.sh"\n\n#!/bin/sh\n',
        'Content-Type: text/x-shellscript; name="b.sh"\n\n#!/bin/sh\n',
      ]),
      'ud',
      limits,
    );
    expect(leaves.map((l) => l.filename)).toEqual(['a.sh', 'b.sh']);
  });

  it('decodes base64 and quoted-printable transfer encodings to raw bytes', async () => {
    const leaves = await splitMime(
      multipart([
        `Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n${Buffer.from('#!/bin/sh\necho é\n').toString('base64')}`,
        'Content-Type: text/cloud-config; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nmsg: caf=C3=A9 =\nsoft\n',
      ]),
      'ud',
      limits,
    );
    expect(leaves[0]?.content.toString('utf8')).toBe('#!/bin/sh\necho é\n');
    expect(leaves[1]?.content.toString('utf8')).toBe('msg: café soft\n');
  });

  it('refuses more parts than maxParts', async () => {
    const many = Array.from({ length: 12 }, (_, i) => `Content-Type: text/cloud-config\n\nk${i}: ${i}\n`);
    await expect(splitMime(multipart(many), 'ud', { maxParts: 10, maxMimeDepth: 8 })).rejects.toBeInstanceOf(LimitError);
    const result = await decodeUserData(multipart(many), { source: 'user-data', limits: { maxParts: 10 } });
    expect(result.errors.map((e) => e.name)).toEqual(['LimitError']);
    expect(result.errors[0]?.message).toContain('more than 10 parts');
  });

  it('refuses a flood of empty multiparts (no leaves) with a LimitError', async () => {
    const empties = Array.from({ length: 100 }, (_, i) => `Content-Type: multipart/mixed; boundary="E${i}"\n\n--E${i}--`);
    const split = splitMime(multipart(empties), 'ud', { maxParts: 10, maxMimeDepth: 8 });
    await expect(split).rejects.toThrow(LimitError);
    await expect(split).rejects.toThrow(/too large to split: Max allowed child nodes exceeded/);
  });

  it('accepts nesting up to maxMimeDepth and refuses one level more', async () => {
    let msg = 'Content-Type: text/cloud-config\n\nhostname: deep\n';
    for (let level = 1; level <= 3; level++) {
      msg = `Content-Type: multipart/mixed; boundary="L${level}"\n\n--L${level}\n${msg}\n--L${level}--`;
    }
    const bytes = Buffer.from(`MIME-Version: 1.0\n${msg}\n`);
    const ok = await splitMime(bytes, 'ud', { maxParts: 10, maxMimeDepth: 3 });
    expect(ok.map((l) => [l.partId, l.depth])).toEqual([['1.1.1', 3]]);
    await expect(splitMime(bytes, 'ud', { maxParts: 10, maxMimeDepth: 2 })).rejects.toThrow(/nested 3 levels deep \(limit 2\)/);
  });
});

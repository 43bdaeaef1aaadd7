// A small MIME multipart writer for property tests: random trees of parts with
// 7bit, base64 and quoted-printable bodies, gzip'd leaves and nested
// multiparts. Independent of the decoder under test (it only writes bytes);
// test/helpers/make-mime.py (Python's email package) cross-checks it.
import { gzipSync } from 'node:zlib';

export type MimeNode =
  | { readonly kind: 'leaf'; readonly type: string; readonly content: Buffer; readonly cte: '7bit' | 'base64' | 'quoted-printable'; readonly gzip: boolean; readonly filename?: string }
  | { readonly kind: 'multi'; readonly subtype: 'mixed' | 'alternative' | 'related'; readonly boundary: string; readonly children: readonly MimeNode[] };

/** Quoted-printable that encodes every byte outside printable ASCII (and "="), lines wrapped at 76. */
export function quotedPrintable(data: Buffer): string {
  let out = '';
  let line = '';
  for (const b of data) {
    const piece = b >= 0x21 && b <= 0x7e && b !== 0x3d ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line.length + piece.length > 75) {
      out += `${line}=\r\n`;
      line = '';
    }
    line += piece;
  }
  return out + line;
}

function wrap(text: string, width = 76): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join('\r\n');
}

function body(node: Extract<MimeNode, { kind: 'leaf' }>): string {
  const data = node.gzip ? gzipSync(node.content) : node.content;
  if (node.cte === 'base64') return wrap(data.toString('base64'));
  if (node.cte === 'quoted-printable') return quotedPrintable(data);
  return data.toString('latin1');
}

function render(node: MimeNode): string {
  if (node.kind === 'leaf') {
    const disp = node.filename !== undefined ? `Content-Disposition: attachment; filename="${node.filename}"\r\n` : '';
    return `Content-Type: ${node.type}\r\nContent-Transfer-Encoding: ${node.cte}\r\n${disp}\r\n${body(node)}`;
  }
  const parts = node.children.map((c) => `--${node.boundary}\r\n${render(c)}\r\n`).join('');
  return `Content-Type: multipart/${node.subtype}; boundary="${node.boundary}"\r\n\r\n${parts}--${node.boundary}--\r\n`;
}

/** The whole message, with MIME-Version so the decoder sniffs it as MIME. */
export function buildMime(root: MimeNode): Buffer {
  return Buffer.from(`MIME-Version: 1.0\r\n${render(root)}`, 'latin1');
}

/** Leaves in document order: what the decoder must return. */
export function leaves(node: MimeNode): Extract<MimeNode, { kind: 'leaf' }>[] {
  return node.kind === 'leaf' ? [node] : node.children.flatMap(leaves);
}

export function depth(node: MimeNode): number {
  return node.kind === 'leaf' ? 0 : 1 + Math.max(0, ...node.children.map(depth));
}

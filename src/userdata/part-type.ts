// Which kind a payload is: by its MIME type, or by its first line when the type says
// nothing (text/plain, a non-MIME message, a decompressed part). Follows cloud-init's
// documented table: leading whitespace ignored, case-insensitive, longest prefix wins.
import type { PartKind, ScriptFrequency } from './types';

/** First-line prefixes and the content type each stands for, longest first so "#include-once" beats "#include". */
const PREFIXES: ReadonlyArray<readonly [string, string]> = (
  [
    ['#include', 'text/x-include-url'],
    ['#include-once', 'text/x-include-once-url'],
    ['#!', 'text/x-shellscript'],
    ['#cloud-config', 'text/cloud-config'],
    ['#part-handler', 'text/part-handler'],
    ['#cloud-boothook', 'text/cloud-boothook'],
    ['#cloud-config-archive', 'text/cloud-config-archive'],
    ['#cloud-config-jsonp', 'text/cloud-config-jsonp'],
    ['## template: jinja', 'text/jinja2'],
  ] as const
)
  .slice()
  .sort((a, b) => b[0].length - a[0].length);

/** Types that carry no meaning of their own: the payload's first line decides. */
const SNIFFED_TYPES = new Set([
  'text/plain',
  'text/x-not-multipart',
  'application/octet-stream',
  // gzip wrappers: once inflated, the content speaks for itself
  'application/gzip',
  'application/gzip-compressed',
  'application/gzipped',
  'application/x-compress',
  'application/x-compressed',
  'application/x-gzip',
  'application/x-gzip-compressed',
]);

/** The content type a payload announces with its first line, or undefined. */
export function typeFromFirstLine(content: Buffer): string | undefined {
  // Only the head matters; decoding all of a large payload to test a prefix is wasted work.
  const head = content.subarray(0, 256).toString('utf8').trimStart().toLowerCase();
  for (const [prefix, type] of PREFIXES) {
    if (head.startsWith(prefix)) return type;
  }
  return undefined;
}

/** The effective type: declared, unless the declared one is generic and the first line says more. */
export function effectiveType(declared: string | undefined, content: Buffer): string {
  const type = declared?.toLowerCase();
  if (type === undefined || SNIFFED_TYPES.has(type)) {
    return typeFromFirstLine(content) ?? type ?? 'text/x-not-multipart';
  }
  return type;
}

export function isGzipType(type: string): boolean {
  return SNIFFED_TYPES.has(type) && type !== 'text/plain' && type !== 'text/x-not-multipart' && type !== 'application/octet-stream';
}

export interface KindInfo {
  readonly kind: PartKind;
  readonly frequency?: ScriptFrequency;
}

const KINDS: Readonly<Record<string, KindInfo>> = {
  'text/cloud-config': { kind: 'cloud-config' },
  'text/x-shellscript': { kind: 'script', frequency: 'per-instance' },
  'text/x-shellscript-per-boot': { kind: 'script', frequency: 'per-boot' },
  'text/x-shellscript-per-instance': { kind: 'script', frequency: 'per-instance' },
  'text/x-shellscript-per-once': { kind: 'script', frequency: 'per-once' },
  'text/cloud-boothook': { kind: 'boothook' },
  'text/x-include-url': { kind: 'include' },
  'text/x-include-once-url': { kind: 'include-once' },
  'text/cloud-config-archive': { kind: 'cloud-config-archive' },
  'text/cloud-config-jsonp': { kind: 'cloud-config-jsonp' },
  'text/part-handler': { kind: 'part-handler' },
  'text/jinja2': { kind: 'jinja2' },
};

export function kindOfType(type: string): KindInfo {
  return KINDS[type] ?? { kind: 'unknown' };
}

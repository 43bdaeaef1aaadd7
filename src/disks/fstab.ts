// /etc/fstab: parse the six fields of each line and render a new file that
// keeps every line guestctx did not write byte for byte. Our own lines live
// in one block between marker comments, so a later boot replaces exactly them
// (and an admin can see at a glance which lines are managed).
import { ParseError } from '../errors';

export interface FstabEntry {
  /** fs_spec: device, LABEL=, UUID=, virtiofs tag, swap file. */
  readonly spec: string;
  /** fs_file: mount point, or "none" for swap. */
  readonly file: string;
  readonly vfstype: string;
  readonly mntops: string;
  readonly freq: string;
  readonly passno: string;
}

export const BLOCK_BEGIN = '# guestctx: begin managed entries (rewritten by guestctx; edit outside this block)';
export const BLOCK_END = '# guestctx: end managed entries';
const BEGIN_RE = /^#\s*guestctx: begin\b/;
const END_RE = /^#\s*guestctx: end\b/;

/** fstab(5) escapes blanks and backslashes in fields as octal: "\040" is a space. */
export function escapeField(field: string): string {
  return field.replace(/[\\ \t\n#]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** One data line into its fields; undefined for comments and blank lines. */
export function parseFstabLine(line: string, where = '/etc/fstab', lineNo?: number): FstabEntry | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const f = t.split(/\s+/).map(unescapeField);
  if (f.length < 2) throw new ParseError(where, `"${t}" has ${f.length} field; fstab lines need at least fs_spec and fs_file`, lineNo !== undefined ? { line: lineNo } : {});
  return { spec: f[0] as string, file: f[1] as string, vfstype: f[2] ?? 'auto', mntops: f[3] ?? 'defaults', freq: f[4] ?? '0', passno: f[5] ?? '0' };
}

export interface ParsedFstab {
  /** Lines outside the managed block, as they were. */
  readonly foreign: readonly string[];
  /** Index in `foreign` where the managed block stood (undefined: no block yet). */
  readonly blockAt: number | undefined;
  /** Entries of the lines outside the block (malformed lines are skipped, not fatal). */
  readonly foreignEntries: readonly FstabEntry[];
  /** Entries guestctx wrote last time. */
  readonly managed: readonly FstabEntry[];
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  return text.replace(/\n$/, '').split('\n');
}

/**
 * Separate the lines guestctx owns from the rest. A begin marker without an end
 * marker (someone cut the block) owns only the following lines that carry our
 * systemd dependency, so no admin line is ever taken for ours.
 */
export function parseFstab(text: string): ParsedFstab {
  const lines = splitLines(text);
  const foreign: string[] = [];
  const managed: FstabEntry[] = [];
  let blockAt: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!BEGIN_RE.test(line.trim())) {
      foreign.push(line);
      continue;
    }
    const hasEnd = lines.slice(i + 1).some((l) => END_RE.test(l.trim()));
    blockAt ??= foreign.length;
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] as string;
      if (hasEnd && END_RE.test(l.trim())) break;
      if (!hasEnd && !l.includes('x-systemd.requires=guestctx-local.service')) {
        j--;
        break;
      }
      const e = parseFstabLine(l);
      if (e) managed.push(e);
    }
    i = j;
  }
  const foreignEntries: FstabEntry[] = [];
  for (const l of foreign) {
    try {
      const e = parseFstabLine(l);
      if (e) foreignEntries.push(e);
    } catch (err) {
      // A malformed admin line is theirs to fix; we keep it and only ignore it here.
      if (!(err instanceof ParseError)) throw err;
    }
  }
  return { foreign, blockAt, foreignEntries, managed };
}

export function renderEntry(e: FstabEntry): string {
  return [e.spec, e.file, e.vfstype, e.mntops, e.freq, e.passno].map(escapeField).join('\t');
}

/**
 * The new fstab: every foreign line unchanged, our block (re)placed where it
 * was, or appended at the end. No entries → the block disappears. Rendering
 * the result again with the same entries gives the same text.
 */
export function renderFstab(current: string, entries: readonly FstabEntry[]): string {
  const parsed = parseFstab(current);
  const block = entries.length === 0 ? [] : [BLOCK_BEGIN, ...entries.map(renderEntry), BLOCK_END];
  const out = [...parsed.foreign];
  out.splice(parsed.blockAt ?? out.length, 0, ...block);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** Add `nofail` (and other options) to a mount option string unless already there. */
export function withOptions(mntops: string, add: readonly string[]): string {
  const have = mntops.split(',').filter((o) => o !== '');
  for (const o of add) {
    const key = o.split('=')[0] as string;
    if (!have.some((h) => h === o || (o.includes('=') && h.startsWith(`${key}=`)))) have.push(o);
  }
  return have.join(',');
}

// FAT directory entry decoding: 8.3 short names (OEM code page 437, the Linux vfat
// default, with the NT lowercase flags), VFAT long-name entries (UCS-2, checksummed
// against the short name), deleted and end-of-directory markers, and the volume label.
// Pure functions over a directory's bytes; the reader supplies the bytes.

/** Code page 437, bytes 0x80..0xFF (bytes below 0x80 are ASCII). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅ' +
  'ÉæÆôöòûùÿÖÜ¢£¥₧ƒ' +
  'áíóúñÑªº¿⌐¬½¼¡«»' +
  '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧' +
  '╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩' +
  '≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export const DIR_ENTRY_BYTES = 32;
/** The FAT specification caps a directory at 65536 entries (2 MiB). */
export const MAX_DIR_ENTRIES = 65536;

const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME_MASK = 0x3f;
const ATTR_LONG_NAME = 0x0f;
/** NT case flags in byte 12: the base / extension of the short name is displayed lowercase. */
const CASE_LOWER_BASE = 0x08;
const CASE_LOWER_EXT = 0x10;
const LFN_LAST = 0x40;
const LFN_MAX_PARTS = 20; // 20 * 13 = 260 >= the 255-character VFAT limit
/** Byte offsets of the 13 UCS-2 characters inside a long-name entry. */
const LFN_CHAR_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30] as const;

/** Decode OEM (code page 437) bytes. */
export function decodeOem(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte < 0x80 ? String.fromCharCode(byte) : (CP437_HIGH[byte - 0x80] ?? '?');
  return out;
}

/** Labels and short names are space-padded. */
export function trimLabel(s: string): string {
  return s.replace(/ +$/, '');
}

/** The checksum of an 11-byte short name that every long-name entry of it carries. */
export function shortNameChecksum(name11: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + (name11[i] ?? 0)) & 0xff;
  return sum;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The 11 name bytes of a short entry; 0x05 first stands for a real 0xE5 (which would mean "deleted"). */
function nameBytes(entry: Buffer): Buffer {
  const raw = Buffer.from(entry.subarray(0, 11));
  if (raw[0] === 0x05) raw[0] = 0xe5;
  return raw;
}

/** The 8.3 name as Linux vfat shows it: "NAME.EXT", lowercased per the NT flags. */
export function shortNameOf(entry: Buffer): string {
  const raw = nameBytes(entry);
  const flags = entry[12] ?? 0;
  let base = trimLabel(decodeOem(raw.subarray(0, 8)));
  let ext = trimLabel(decodeOem(raw.subarray(8, 11)));
  if (flags & CASE_LOWER_BASE) base = asciiLower(base);
  if (flags & CASE_LOWER_EXT) ext = asciiLower(ext);
  return ext.length > 0 ? `${base}.${ext}` : base;
}

function lfnChars(entry: Buffer): number[] {
  return LFN_CHAR_OFFSETS.map((o) => entry.readUInt16LE(o));
}

/** A file or directory found in a directory's entries. */
export interface RawDirEntry {
  /** Long name when a valid one precedes the short entry, else the displayed short name. */
  readonly name: string;
  /** Displayed 8.3 name; Linux also finds an entry by it. */
  readonly shortName: string;
  readonly isDir: boolean;
  readonly size: number;
  /** First cluster; 0 for empty files. */
  readonly cluster: number;
}

export interface ParsedDirectory {
  readonly entries: RawDirEntry[];
  /** Volume label entry, when the directory has one (only the root's counts). */
  readonly label: string | undefined;
}

/** A name the reader can return and address: no separators, NULs or dot names. */
function usableName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\0]/.test(name);
}

interface LfnRun {
  /** Characters of each part, index 0 = sequence number 1. */
  readonly parts: number[][];
  readonly checksum: number;
  /** Sequence number expected next; 0 when the run is complete. */
  next: number;
}

/**
 * Decode the entries of one directory. On FAT12/16 (`fat32` false) the high cluster
 * word is not part of the cluster number (OS/2 kept extended attributes there).
 */
export function parseDirectory(data: Buffer, fat32: boolean): ParsedDirectory {
  const entries: RawDirEntry[] = [];
  let label: string | undefined;
  let run: LfnRun | undefined;
  const count = Math.min(Math.floor(data.length / DIR_ENTRY_BYTES), MAX_DIR_ENTRIES);
  for (let i = 0; i < count; i++) {
    const e = data.subarray(i * DIR_ENTRY_BYTES, (i + 1) * DIR_ENTRY_BYTES);
    const first = e[0] ?? 0;
    if (first === 0x00) break; // end of directory: nothing after it is in use
    if (first === 0xe5) {
      run = undefined; // a deleted entry orphans any long name before it
      continue;
    }
    const attr = e[11] ?? 0;
    if ((attr & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
      run = nextLfnRun(run, e);
      continue;
    }
    const pending = run;
    run = undefined;
    if (attr & ATTR_VOLUME_ID) {
      if (!(attr & ATTR_DIRECTORY) && label === undefined) label = trimLabel(decodeOem(nameBytes(e)));
      continue;
    }
    const shortName = shortNameOf(e);
    if (shortName === '.' || shortName === '..') continue;
    let name = shortName;
    if (pending !== undefined && pending.next === 0 && pending.checksum === shortNameChecksum(e.subarray(0, 11))) {
      const units = pending.parts.flat();
      const end = units.indexOf(0x0000);
      const long = String.fromCharCode(...(end >= 0 ? units.slice(0, end) : units));
      // A long name that cannot be a file name falls back to the short one, like Linux.
      if (usableName(long)) name = long;
    }
    if (!usableName(name)) continue;
    const isDir = (attr & ATTR_DIRECTORY) !== 0;
    const high = fat32 ? e.readUInt16LE(20) : 0;
    entries.push({
      name,
      shortName,
      isDir,
      size: isDir ? 0 : e.readUInt32LE(28),
      cluster: ((high << 16) | e.readUInt16LE(26)) >>> 0,
    });
  }
  return { entries, label };
}

/** Advance the long-name state machine by one LFN entry; undefined when the run breaks. */
function nextLfnRun(run: LfnRun | undefined, e: Buffer): LfnRun | undefined {
  const ord = e[0] ?? 0;
  const seq = ord & 0x1f;
  const checksum = e[13] ?? 0;
  // Type byte and cluster field are zero in every genuine long-name entry.
  if (e[12] !== 0 || e.readUInt16LE(26) !== 0 || seq === 0 || seq > LFN_MAX_PARTS) return undefined;
  if (ord & LFN_LAST) {
    // The physically first entry holds the last part and says how many follow.
    const parts: number[][] = new Array<number[]>(seq).fill([]);
    parts[seq - 1] = lfnChars(e);
    return { parts, checksum, next: seq - 1 };
  }
  if (run === undefined || run.next !== seq || run.checksum !== checksum) return undefined;
  run.parts[seq - 1] = lfnChars(e);
  run.next = seq - 1;
  return run;
}

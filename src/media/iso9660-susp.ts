// System Use Sharing Protocol (SUSP, IEEE P1281) and Rock Ridge (RRIP, IEEE P1282)
// entries found in the system use area of ISO9660 directory records: the POSIX
// names (NM), modes (PX), symlink targets (SL), relocated-directory links (CL/RE)
// and continuation areas (CE). Parsing is pure; continuation areas are fetched
// through a callback so the caller owns all I/O and all bounds on the image.

/** Where a continuation area (CE) lives on the image. */
export interface ContinuationArea {
  readonly block: number;
  readonly offset: number;
  readonly length: number;
}

/** What the Rock Ridge entries of one directory record say. */
export interface RockRidgeInfo {
  /** Alternate name (NM, all parts concatenated), undefined when the record has none. */
  name: string | undefined;
  /** st_mode from PX. */
  mode: number | undefined;
  /** Symlink target from SL, undefined when not a symlink. */
  target: string | undefined;
  /** CL: the record is a placeholder for a directory relocated to this block. */
  childLink: number | undefined;
  /** RE: the record is a relocated directory, hidden from its (fake) parent. */
  relocated: boolean;
  /** ZF: the file content is zisofs-compressed. */
  compressed: boolean;
}

/** Result of looking for the SP entry that announces SUSP on a volume. */
export interface SuspAnnouncement {
  /** Bytes to skip at the start of every later system use area. */
  readonly skip: number;
}

/** Entries defined by RRIP 1.09/1.10/1.12 (RR is the 1.09 presence marker). */
const RRIP_SIGNATURES = new Set(['RR', 'PX', 'PN', 'SL', 'NM', 'CL', 'PL', 'RE', 'TF', 'SF']);

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Looks for the SP entry in the system use area of the root directory's "." record.
 * SP sits at offset 0, or after the 14-byte CD-XA area on XA discs (as Linux accepts).
 */
export function findSuspAnnouncement(area: Buffer): SuspAnnouncement | undefined {
  for (const at of [0, 14]) {
    if (
      area.length >= at + 7 &&
      area[at] === 0x53 /* S */ &&
      area[at + 1] === 0x50 /* P */ &&
      area[at + 2]! >= 7 &&
      area[at + 4] === 0xbe &&
      area[at + 5] === 0xef
    ) {
      return { skip: at + area[at + 6]! };
    }
  }
  return undefined;
}

/** Accumulates the entries of one record across its system use area and its CE chain. */
export class RockRidgeCollector {
  private readonly info: RockRidgeInfo = {
    name: undefined,
    mode: undefined,
    target: undefined,
    childLink: undefined,
    relocated: false,
    compressed: false,
  };
  // Symlink components may span SL entries (and CE areas): keep the state between them.
  private linkParts: string[] | undefined;
  private linkAbsolute = false;
  private linkPending: string | undefined;
  private nameParts: string[] = [];
  /** Whether any Rock Ridge (RRIP) entry was seen, as opposed to bare SUSP. */
  sawRockRidge = false;

  /**
   * Parses one area (the record's own system use area or a continuation area).
   * Returns the continuation area announced by a CE entry, if any; later CE entries
   * in the same area replace earlier ones, as only one chain may exist.
   */
  parseArea(area: Buffer): ContinuationArea | undefined {
    let next: ContinuationArea | undefined;
    let pos = 0;
    while (pos + 4 <= area.length) {
      const len = area[pos + 2]!;
      const sig = String.fromCharCode(area[pos]!, area[pos + 1]!);
      // A zero signature is padding; a length shorter than the header or running past
      // the area is corruption: stop here, as the kernel does, rather than guess.
      if (area[pos] === 0 || len < 4 || pos + len > area.length) break;
      const entry = area.subarray(pos, pos + len);
      if (RRIP_SIGNATURES.has(sig)) this.sawRockRidge = true;
      switch (sig) {
        case 'CE':
          if (len >= 28) {
            next = { block: entry.readUInt32LE(4), offset: entry.readUInt32LE(12), length: entry.readUInt32LE(20) };
          }
          break;
        case 'ST':
          return next;
        case 'NM': {
          const flags = len >= 5 ? entry[4]! : 0;
          // CURRENT (0x02) and PARENT (0x04) name "." and ".."; not an alternate name.
          if ((flags & 0x06) === 0) this.nameParts.push(decoder.decode(entry.subarray(5)));
          break;
        }
        case 'PX':
          if (len >= 12) this.info.mode = entry.readUInt32LE(4);
          break;
        case 'SL':
          if (len >= 5) this.parseSymlink(entry.subarray(5));
          break;
        case 'CL':
          if (len >= 12) this.info.childLink = entry.readUInt32LE(4);
          break;
        case 'RE':
          this.info.relocated = true;
          break;
        case 'ZF':
          this.info.compressed = true;
          break;
        default:
          // SP, RR, TF, PN, PL, ER, ES, AA, AL...: nothing a reader of names and bytes needs.
          break;
      }
      pos += len;
    }
    return next;
  }

  private parseSymlink(components: Buffer): void {
    if (this.linkParts === undefined) this.linkParts = [];
    let pos = 0;
    while (pos + 2 <= components.length) {
      const flags = components[pos]!;
      const len = components[pos + 1]!;
      if (pos + 2 + len > components.length) break;
      let text: string;
      if (flags & 0x08) {
        // ROOT: the target is absolute; anything collected before it is discarded.
        this.linkAbsolute = true;
        this.linkParts = [];
        this.linkPending = undefined;
        pos += 2 + len;
        continue;
      } else if (flags & 0x02) {
        text = '.';
      } else if (flags & 0x04) {
        text = '..';
      } else {
        text = decoder.decode(components.subarray(pos + 2, pos + 2 + len));
      }
      const joined = (this.linkPending ?? '') + text;
      if (flags & 0x01) {
        // CONTINUE: the next component (maybe in the next SL entry) extends this one.
        this.linkPending = joined;
      } else {
        this.linkParts.push(joined);
        this.linkPending = undefined;
      }
      pos += 2 + len;
    }
  }

  result(): RockRidgeInfo {
    if (this.nameParts.length > 0) this.info.name = this.nameParts.join('');
    if (this.linkParts !== undefined) {
      const parts = this.linkPending !== undefined ? [...this.linkParts, this.linkPending] : this.linkParts;
      this.info.target = (this.linkAbsolute ? '/' : '') + parts.join('/');
    }
    return this.info;
  }
}

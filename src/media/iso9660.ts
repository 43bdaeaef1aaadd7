// A user-space ISO9660 reader (ECMA-119) with Joliet and Rock Ridge, so context CDs,
// config drives and NoCloud seeds can be read from /dev/sr0 or an image file without
// a kernel driver or a mount. Names follow what the Linux kernel would show: Rock
// Ridge first, then Joliet, then plain ISO names lowercased with ";1" stripped.
// Everything read from the image is treated as hostile: sizes, depths, entry counts
// and continuation chains are bounded, and directory loops are detected.

import { DatasourceError, LimitError, ParseError } from '../errors';
import { findSuspAnnouncement, RockRidgeCollector, type RockRidgeInfo, type SuspAnnouncement } from './iso9660-susp';
import type { BlockSource, Volume, VolumeEntry, VolumeEntryType } from './volume';

/** Volume descriptors and directories are laid out in 2048-byte sectors. */
const SECTOR = 2048;
/** The first volume descriptor is at sector 16, after the system area. */
const FIRST_DESCRIPTOR = 16;
const VD_PRIMARY = 1;
const VD_SUPPLEMENTARY = 2;
const VD_TERMINATOR = 255;
/** Directory record flags. */
const FLAG_DIRECTORY = 0x02;
const FLAG_ASSOCIATED = 0x04;
const FLAG_MULTI_EXTENT = 0x80;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** Bounds applied to untrusted images. */
export interface IsoLimits {
  /** Deepest directory nesting followed by a lookup. */
  maxDepth: number;
  /** Most directory records (including "." and "..") in one directory. */
  maxEntriesPerDir: number;
  /** Largest directory extent read. */
  maxDirBytes: number;
  /** Most Rock Ridge continuation areas (CE) followed for one record. */
  maxContinuations: number;
  /** Most symlinks followed while resolving one path. */
  maxSymlinkHops: number;
  /** readFile's cap when the caller passes no maxBytes. */
  maxFileBytes: number;
  /** Most directory records kept parsed in memory, over all cached directories. */
  cachedEntries: number;
  /** Most volume descriptors scanned before giving up on the terminator. */
  maxDescriptors: number;
}

export const DEFAULT_ISO_LIMITS: Readonly<IsoLimits> = {
  maxDepth: 64,
  maxEntriesPerDir: 65_536,
  maxDirBytes: 16 * 1024 * 1024,
  maxContinuations: 32,
  maxSymlinkHops: 16,
  maxFileBytes: 256 * 1024 * 1024,
  cachedEntries: 200_000,
  maxDescriptors: 64,
};

type NameMode = 'rockridge' | 'joliet' | 'plain';

interface Extent {
  /** Byte offset of the data in the image. */
  readonly offset: number;
  readonly length: number;
}

interface IsoNode {
  readonly name: string;
  readonly type: VolumeEntryType;
  readonly size: number;
  readonly mode: number | undefined;
  readonly target: string | undefined;
  /** File data in order; for a directory, its single directory extent. */
  readonly extents: Extent[];
  /** Name derived from a plain ISO identifier: looked up case-insensitively. */
  readonly foldCase: boolean;
  /** Content that cannot be returned as plain bytes (zisofs, interleaved). */
  readonly unreadable: string | undefined;
}

interface DirListing {
  readonly children: IsoNode[];
  readonly exact: Map<string, IsoNode>;
  readonly folded: Map<string, IsoNode>;
}

interface Descriptors {
  readonly label: string;
  readonly primary: RootInfo;
  readonly joliet: RootInfo | undefined;
}

interface RootInfo {
  readonly blockSize: number;
  readonly root: Buffer;
}

/**
 * Reads the primary volume descriptor only and returns its volume identifier, or
 * undefined when the source is not ISO9660. Throws only when the source fails to read.
 */
export async function probeIso9660Label(src: BlockSource): Promise<string | undefined> {
  const at = FIRST_DESCRIPTOR * SECTOR;
  if (src.size < at + SECTOR) return undefined;
  // A boot record or another descriptor may precede the primary one (El Torito):
  // scan a few sectors, stopping at the terminator or at anything that is not a descriptor.
  for (let i = 0; i < 8 && at + (i + 1) * SECTOR <= src.size; i++) {
    const vd = await readSource(src, at + i * SECTOR, SECTOR, 'volume descriptor');
    if (!isDescriptor(vd)) return undefined;
    if (vd[0] === VD_TERMINATOR) return undefined;
    if (vd[0] === VD_PRIMARY) return decodeLabel(vd);
  }
  return undefined;
}

/** Opens an ISO9660 volume. Throws ParseError when the source is not a readable ISO9660 image. */
export async function openIso9660(src: BlockSource, limits: Partial<IsoLimits> = {}): Promise<Volume> {
  const bounds: IsoLimits = { ...DEFAULT_ISO_LIMITS, ...limits };
  const descriptors = await readDescriptors(src, bounds);
  const reader = new IsoReader(src, bounds, descriptors.primary, 'plain', undefined);
  // Rock Ridge wins over Joliet: it carries POSIX names, modes and symlinks.
  const susp = await reader.detectRockRidge();
  let active: IsoReader;
  if (susp !== undefined) {
    active = new IsoReader(src, bounds, descriptors.primary, 'rockridge', susp);
  } else if (descriptors.joliet !== undefined) {
    active = new IsoReader(src, bounds, descriptors.joliet, 'joliet', undefined);
  } else {
    active = reader;
  }
  return active.volume(descriptors.label);
}

async function readDescriptors(src: BlockSource, bounds: IsoLimits): Promise<Descriptors> {
  let primary: Buffer | undefined;
  let joliet: Buffer | undefined;
  for (let i = 0; i < bounds.maxDescriptors; i++) {
    const at = (FIRST_DESCRIPTOR + i) * SECTOR;
    if (at + SECTOR > src.size) break;
    const vd = await readSource(src, at, SECTOR, 'volume descriptor');
    if (!isDescriptor(vd) || vd[0] === VD_TERMINATOR) break;
    if (vd[0] === VD_PRIMARY && primary === undefined) primary = vd;
    if (vd[0] === VD_SUPPLEMENTARY && joliet === undefined && isJoliet(vd)) joliet = vd;
  }
  if (primary === undefined) {
    throw new ParseError(src.name, 'not an ISO9660 image: no primary volume descriptor at sector 16');
  }
  return {
    label: decodeLabel(primary),
    primary: rootInfo(src, primary, 'primary'),
    joliet: joliet === undefined ? undefined : rootInfo(src, joliet, 'Joliet'),
  };
}

function isDescriptor(vd: Buffer): boolean {
  return vd.toString('latin1', 1, 6) === 'CD001';
}

/** Joliet is a supplementary descriptor whose escape sequences name UCS-2 level 1, 2 or 3. */
function isJoliet(vd: Buffer): boolean {
  const esc = vd.toString('latin1', 88, 91);
  return esc === '%/@' || esc === '%/C' || esc === '%/E';
}

function decodeLabel(vd: Buffer): string {
  return vd.toString('latin1', 40, 72).replace(/[\s\0]+$/, '');
}

function rootInfo(src: BlockSource, vd: Buffer, which: string): RootInfo {
  const blockSize = vd.readUInt16LE(128);
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) {
    throw new ParseError(src.name, `${which} volume descriptor has an invalid logical block size ${blockSize}`);
  }
  const root = Buffer.from(vd.subarray(156, 156 + 34));
  if (root[0]! < 34 || (root[25]! & FLAG_DIRECTORY) === 0) {
    throw new ParseError(src.name, `${which} volume descriptor has an invalid root directory record`);
  }
  return { blockSize, root };
}

/** Bounds-checked read: a range past the end is corruption (ParseError), a failing read is I/O (DatasourceError). */
async function readSource(src: BlockSource, offset: number, length: number, what: string): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new ParseError(
      src.name,
      `${what} at byte ${offset} (${length} bytes) lies past the end of the image (${src.size} bytes); truncated or corrupt`,
    );
  }
  try {
    return await src.read(offset, length);
  } catch (err) {
    throw new DatasourceError(src.name, `cannot read ${length} bytes at byte ${offset} (${what})`, { cause: err });
  }
}

/** Splits a caller's path into components, resolving "." and ".." lexically (never above the root). */
function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Plain ISO name as Linux shows it (map=normal): lowercase, no ";1" version, no trailing dot. */
function plainName(id: Buffer): string {
  let name = id.toString('latin1').replace(/;\d*$/, '');
  while (name.length >= 2 && name.endsWith('.')) name = name.slice(0, -1);
  return name.toLowerCase();
}

/** Joliet names are UCS-2 (in practice UTF-16) big endian; the version suffix is dropped as for plain names. */
function jolietName(id: Buffer): string {
  const even = Buffer.from(id.subarray(0, id.length - (id.length % 2)));
  let name = even.swap16().toString('utf16le').replace(/;\d*$/, '');
  while (name.length >= 2 && name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

class IsoReader {
  private readonly cache = new Map<number, DirListing>();
  private cachedEntries = 0;
  private readonly rootNode: IsoNode;

  constructor(
    private readonly src: BlockSource,
    private readonly bounds: IsoLimits,
    private readonly tree: RootInfo,
    private readonly mode: NameMode,
    private readonly susp: SuspAnnouncement | undefined,
  ) {
    const root = tree.root;
    this.rootNode = {
      name: '',
      type: 'dir',
      size: root.readUInt32LE(10),
      mode: undefined,
      target: undefined,
      extents: [{ offset: this.dataOffset(root.readUInt32LE(2), root[1]!), length: root.readUInt32LE(10) }],
      foldCase: false,
      unreadable: undefined,
    };
  }

  private fail(path: string, message: string): ParseError {
    return new ParseError(this.src.name, `${path}: ${message}`);
  }

  private dataOffset(block: number, earBlocks: number): number {
    return (block + earBlocks) * this.tree.blockSize;
  }

  /** Rock Ridge is present when the root's "." record announces SUSP (SP) and carries RRIP entries. */
  async detectRockRidge(): Promise<SuspAnnouncement | undefined> {
    const root = this.rootNode.extents[0]!;
    if (root.length < 34) return undefined;
    const first = await readSource(this.src, root.offset, Math.min(root.length, SECTOR), 'root directory');
    const len = first[0]!;
    if (len < 34 || first[32] !== 1 || first[33] !== 0) return undefined;
    const announcement = findSuspAnnouncement(first.subarray(34, len));
    if (announcement === undefined) return undefined;
    const collector = new RockRidgeCollector();
    await this.collect(collector, first.subarray(34, len), '/');
    // PX is mandatory on every Rock Ridge record; NM/TF alone are accepted too.
    return collector.sawRockRidge ? announcement : undefined;
  }

  /** Runs the collector over a system use area and its CE chain, bounded in length. */
  private async collect(collector: RockRidgeCollector, area: Buffer, path: string): Promise<RockRidgeInfo> {
    let next = collector.parseArea(area);
    let hops = 0;
    while (next !== undefined) {
      if (++hops > this.bounds.maxContinuations) {
        throw new LimitError(
          this.src.name,
          `${path}: Rock Ridge continuation chain longer than ${this.bounds.maxContinuations} areas (a loop?)`,
        );
      }
      if (next.length > this.tree.blockSize || next.offset + next.length > this.tree.blockSize) {
        throw this.fail(path, `Rock Ridge continuation area (block ${next.block}, offset ${next.offset}, ${next.length} bytes) exceeds its block`);
      }
      const data = await readSource(
        this.src,
        next.block * this.tree.blockSize + next.offset,
        next.length,
        `Rock Ridge continuation area of ${path}`,
      );
      next = collector.parseArea(data);
    }
    return collector.result();
  }

  volume(label: string): Volume {
    return {
      fsType: 'iso9660',
      label,
      list: async (dir) => {
        const found = await this.resolve(dir, true);
        if (found === undefined) throw new DatasourceError(this.src.name, `${dir}: no such directory`);
        if (found.node.type !== 'dir') throw new DatasourceError(this.src.name, `${dir}: not a directory`);
        const listing = await this.listing(found.node, found.path);
        return listing.children.map((child) => this.entry(child, childPath(found.path, child.name)));
      },
      stat: async (path) => {
        const found = await this.resolve(path, false);
        if (found === undefined) return undefined;
        return this.entry(found.node, found.path);
      },
      readFile: async (path, maxBytes) => this.readFile(path, maxBytes ?? this.bounds.maxFileBytes),
    };
  }

  private entry(node: IsoNode, path: string): VolumeEntry {
    const entry: { -readonly [K in keyof VolumeEntry]: VolumeEntry[K] } = {
      name: node.name,
      path,
      type: node.type,
      size: node.size,
    };
    if (node.mode !== undefined) entry.mode = node.mode & 0o7777;
    if (node.target !== undefined) entry.target = node.target;
    return entry;
  }

  private async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const found = await this.resolve(path, true);
    if (found === undefined) throw new DatasourceError(this.src.name, `${path}: no such file`);
    const node = found.node;
    if (node.type !== 'file') throw new DatasourceError(this.src.name, `${path}: not a regular file (${node.type})`);
    // Refuse before reading anything: the size is untrusted.
    if (node.size > maxBytes) {
      throw new LimitError(this.src.name, `${path}: file is ${node.size} bytes, over the limit of ${maxBytes}`);
    }
    if (node.unreadable !== undefined) throw new DatasourceError(this.src.name, `${path}: ${node.unreadable}`);
    const parts: Buffer[] = [];
    for (const extent of node.extents) {
      if (extent.length === 0) continue;
      parts.push(await readSource(this.src, extent.offset, extent.length, `data of ${path}`));
    }
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
  }

  /**
   * Walks a path from the root. Symlinks are followed inside the volume only (an
   * absolute target or one climbing above the root would point into the guest's own
   * tree, which this reader cannot see); the last one only when followLast is set.
   * The returned path uses the names as recorded (plain names are matched ignoring case).
   */
  private async resolve(path: string, followLast: boolean): Promise<{ node: IsoNode; path: string } | undefined> {
    const queue = splitPath(path);
    const stack: IsoNode[] = [this.rootNode];
    const names: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '.' || part === '') continue;
      if (part === '..') {
        if (stack.length === 1) {
          throw new DatasourceError(this.src.name, `${path}: a symlink points above the root of the volume`);
        }
        stack.pop();
        names.pop();
        continue;
      }
      if (stack.length > this.bounds.maxDepth) {
        throw new LimitError(this.src.name, `${path}: deeper than ${this.bounds.maxDepth} directories`);
      }
      const dir = stack[stack.length - 1]!;
      if (dir.type !== 'dir') return undefined;
      const listing = await this.listing(dir, joinPath(names));
      const child = listing.exact.get(part) ?? folded(listing, part);
      if (child === undefined) return undefined;
      if (child.type === 'symlink' && (queue.length > 0 || followLast)) {
        if (++hops > this.bounds.maxSymlinkHops) {
          throw new LimitError(this.src.name, `${path}: more than ${this.bounds.maxSymlinkHops} symlinks (a loop?)`);
        }
        const target = child.target ?? '';
        if (target.startsWith('/') || target === '') {
          throw new DatasourceError(
            this.src.name,
            `${path}: symlink ${joinPath([...names, child.name])} -> "${target}" points outside the volume`,
          );
        }
        queue.unshift(...target.split('/'));
        continue;
      }
      if (child.type === 'dir') {
        const at = child.extents[0]!.offset;
        if (stack.some((ancestor) => ancestor.type === 'dir' && ancestor.extents[0]!.offset === at)) {
          throw this.fail(joinPath([...names, child.name]), 'directory loop: it is its own ancestor');
        }
      }
      stack.push(child);
      names.push(child.name);
    }
    // Through a symlink, keep the caller's spelling so listed paths stay under the path asked for.
    return { node: stack[stack.length - 1]!, path: hops > 0 ? joinPath(splitPath(path)) : joinPath(names) };
  }

  private async listing(dir: IsoNode, path: string): Promise<DirListing> {
    const extent = dir.extents[0]!;
    const cached = this.cache.get(extent.offset);
    if (cached !== undefined) return cached;
    if (extent.length > this.bounds.maxDirBytes) {
      throw new LimitError(this.src.name, `${path}: directory is ${extent.length} bytes, over the limit of ${this.bounds.maxDirBytes}`);
    }
    const data = await readSource(this.src, extent.offset, extent.length, `directory ${path}`);
    const listing = await this.parseDirectory(data, path);
    // Evict the oldest directories first so a hostile image of many huge directories
    // cannot pin them all in memory; a re-read costs one read of the extent.
    for (const [offset, old] of this.cache) {
      if (this.cachedEntries + listing.children.length <= this.bounds.cachedEntries) break;
      this.cache.delete(offset);
      this.cachedEntries -= old.children.length;
    }
    this.cache.set(extent.offset, listing);
    this.cachedEntries += listing.children.length;
    return listing;
  }

  private async parseDirectory(data: Buffer, path: string): Promise<DirListing> {
    const children: IsoNode[] = [];
    const exact = new Map<string, IsoNode>();
    const foldedNames = new Map<string, IsoNode>();
    // Records of a multi-extent file: all but the last carry FLAG_MULTI_EXTENT.
    let pending: { id: Buffer; first: Buffer; extents: Extent[]; size: number } | undefined;
    let records = 0;
    let pos = 0;
    while (pos < data.length) {
      const sectorEnd = Math.min(data.length, (Math.floor(pos / SECTOR) + 1) * SECTOR);
      const len = data[pos]!;
      if (len === 0) {
        // Records never cross a sector boundary; a zero length pads to the next sector.
        pos = sectorEnd;
        continue;
      }
      if (len < 34 || pos + len > sectorEnd) {
        throw this.fail(path, `directory record at byte ${pos} has an invalid length ${len}`);
      }
      const record = data.subarray(pos, pos + len);
      pos += len;
      if (++records > this.bounds.maxEntriesPerDir) {
        throw new LimitError(this.src.name, `${path}: more than ${this.bounds.maxEntriesPerDir} directory records`);
      }
      const idLen = record[32]!;
      if (idLen === 0 || 33 + idLen > len) {
        throw this.fail(path, `directory record at byte ${pos - len} has an invalid name length ${idLen}`);
      }
      const id = record.subarray(33, 33 + idLen);
      const flags = record[25]!;
      // "." and ".." (identifiers 0x00 and 0x01) and associated (resource-fork) files are not entries.
      if (idLen === 1 && (id[0] === 0 || id[0] === 1)) continue;
      if (flags & FLAG_ASSOCIATED) continue;
      const extent: Extent = { offset: this.dataOffset(record.readUInt32LE(2), record[1]!), length: record.readUInt32LE(10) };
      if (pending !== undefined && !pending.id.equals(id)) {
        throw this.fail(path, `multi-extent file "${plainName(pending.id)}" ends without its final extent`);
      }
      if (flags & FLAG_MULTI_EXTENT) {
        if ((flags & FLAG_DIRECTORY) !== 0) throw this.fail(path, 'a directory record is marked multi-extent');
        if (pending === undefined) pending = { id: Buffer.from(id), first: record, extents: [], size: 0 };
        pending.extents.push(extent);
        pending.size += extent.length;
        continue;
      }
      let node: IsoNode | undefined;
      if (pending !== undefined) {
        pending.extents.push(extent);
        node = await this.makeNode(pending.first, pending.extents, pending.size + extent.length, path);
        pending = undefined;
      } else {
        node = await this.makeNode(record, [extent], extent.length, path);
      }
      if (node === undefined) continue;
      children.push(node);
      if (!exact.has(node.name)) exact.set(node.name, node);
      if (node.foldCase && !foldedNames.has(node.name.toLowerCase())) foldedNames.set(node.name.toLowerCase(), node);
    }
    if (pending !== undefined) {
      throw this.fail(path, `multi-extent file "${plainName(pending.id)}" ends without its final extent`);
    }
    return { children, exact, folded: foldedNames };
  }

  /** Builds the node of one record (the first of a multi-extent file); undefined for records to hide. */
  private async makeNode(record: Buffer, extents: Extent[], size: number, dirPath: string): Promise<IsoNode | undefined> {
    const idLen = record[32]!;
    const id = record.subarray(33, 33 + idLen);
    const flags = record[25]!;
    let name: string;
    let foldCase = false;
    let rr: RockRidgeInfo | undefined;
    if (this.mode === 'rockridge' && this.susp !== undefined) {
      const suStart = 33 + idLen + (idLen % 2 === 0 ? 1 : 0) + this.susp.skip;
      const area = suStart < record.length ? record.subarray(suStart) : Buffer.alloc(0);
      rr = await this.collect(new RockRidgeCollector(), area, `${dirPath} (record "${plainName(id)}")`);
      // A directory moved by deep-directory relocation appears again, in place, through its CL record.
      if (rr.relocated) return undefined;
    }
    if (rr?.name !== undefined) {
      name = rr.name;
    } else if (this.mode === 'joliet') {
      name = jolietName(id);
    } else {
      name = plainName(id);
      foldCase = true;
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      throw this.fail(dirPath, `directory record has an invalid name ${JSON.stringify(name)}`);
    }
    const path = childPath(dirPath, name);
    let type: VolumeEntryType;
    let dirExtent = extents;
    let dirSize = size;
    const fileType = rr?.mode !== undefined ? rr.mode & S_IFMT : undefined;
    if (rr?.childLink !== undefined) {
      // CL: a placeholder file standing for a directory relocated elsewhere; its size is
      // in the "." record at the start of the real directory.
      const at = rr.childLink * this.tree.blockSize;
      const dot = await readSource(this.src, at, 34, `relocated directory ${path}`);
      if (dot[0]! < 34 || (dot[25]! & FLAG_DIRECTORY) === 0) {
        throw this.fail(path, `Rock Ridge child link to block ${rr.childLink} is not a directory`);
      }
      dirExtent = [{ offset: this.dataOffset(dot.readUInt32LE(2), dot[1]!), length: dot.readUInt32LE(10) }];
      dirSize = dot.readUInt32LE(10);
      type = 'dir';
    } else if (flags & FLAG_DIRECTORY) {
      type = 'dir';
    } else if (rr?.target !== undefined || fileType === S_IFLNK) {
      type = 'symlink';
    } else if (fileType === undefined || fileType === S_IFREG) {
      type = 'file';
    } else {
      // Device nodes, FIFOs and sockets carry no data a contextualization agent could use.
      return undefined;
    }
    if (type === 'dir' && fileType !== undefined && fileType !== S_IFDIR) {
      throw this.fail(path, 'directory record whose Rock Ridge mode is not a directory');
    }
    let unreadable: string | undefined;
    if (rr?.compressed) unreadable = 'file is zisofs-compressed, which this reader does not decode';
    else if (record[26] !== 0 || record[27] !== 0) unreadable = 'file is recorded in interleaved mode, which this reader does not support';
    return {
      name,
      type,
      size: type === 'symlink' ? 0 : dirSize,
      mode: rr?.mode,
      target: type === 'symlink' ? (rr?.target ?? '') : undefined,
      extents: type === 'dir' ? dirExtent.slice(0, 1) : extents,
      foldCase,
      unreadable,
    };
  }
}

function folded(listing: DirListing, name: string): IsoNode | undefined {
  return listing.folded.get(name.toLowerCase());
}

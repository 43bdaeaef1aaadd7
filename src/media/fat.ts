// User-space FAT12/16/32 (vfat) reader: reads a config drive or seed image over a
// BlockSource without mounting it, so it works where the kernel has no vfat driver and
// leaves nothing mounted. Every structure comes from untrusted media, so cluster chains,
// sizes, directory lengths and path depth are all bounded and checked.

import { DatasourceError, LimitError, ParseError } from '../errors';
import { BOOT_SECTOR_BYTES, type FatGeometry, type FatType, parseBootSector } from './fat-boot';
import { DIR_ENTRY_BYTES, MAX_DIR_ENTRIES, parseDirectory, type ParsedDirectory, type RawDirEntry } from './fat-dir';
import type { BlockSource, Volume, VolumeEntry } from './volume';

export type { FatType } from './fat-boot';

/** A Volume with the FAT details a caller may want to log. */
export interface FatVolume extends Volume {
  readonly fsType: 'vfat';
  readonly fatType: FatType;
  /** Label in the boot sector (blkid's LABEL_FATBOOT); `label` prefers the root directory's. */
  readonly bootLabel: string;
}

/** Paths deeper than this are refused: a directory whose cluster points at an ancestor
 * would otherwise let a recursive walker descend forever. */
export const MAX_PATH_DEPTH = 64;
/** Placeholder formatters write when a volume has no label. */
const NO_NAME = 'NO NAME';
/** The FAT is read in blocks of this size and cached; a chain walk touches few blocks. */
const FAT_BLOCK_BYTES = 16 * 1024;
const FAT_CACHE_BLOCKS = 256;
/** The probe scans at most this much of a FAT32 root directory for the label entry. */
const PROBE_ROOT_BYTES = 64 * 1024;

type DirKey = 'root' | number;

interface Resolved {
  readonly entry: VolumeEntry;
  /** First cluster of a file or directory (0 when none). */
  readonly cluster: number;
  /** Where to read the directory's entries, for directories. */
  readonly dirKey: DirKey | undefined;
}

const ROOT_ENTRY: VolumeEntry = { name: '', path: '/', type: 'dir', size: 0 };

/** Linux vfat looks names up case-insensitively. */
function fold(name: string): string {
  return name.toLowerCase();
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function publicLabel(label: string | undefined): string | undefined {
  return label === undefined || label === NO_NAME ? undefined : label;
}

/** Cluster-level access to one FAT volume. */
class FatReader {
  private readonly fatBlocks = new Map<number, Buffer>();
  private readonly dirs = new Map<DirKey, Promise<ParsedDirectory>>();
  private readonly endOfChain: number;
  private readonly badCluster: number;

  constructor(
    private readonly src: BlockSource,
    readonly geo: FatGeometry,
  ) {
    const markerBase = geo.fatType === 12 ? 0xff8 : geo.fatType === 16 ? 0xfff8 : 0x0ffffff8;
    this.endOfChain = markerBase;
    this.badCluster = markerBase - 1;
  }

  corrupt(what: string, message: string): ParseError {
    return new ParseError(this.src.name, `${what}: ${message}`);
  }

  /** Read bytes of the image; a range past its end means the image was truncated. */
  async readAt(offset: number, length: number, what: string): Promise<Buffer> {
    if (offset + length > this.src.size) {
      throw this.corrupt(
        what,
        `needs bytes ${offset}..${offset + length} but the image has only ${this.src.size} bytes (truncated?)`,
      );
    }
    let data: Buffer;
    try {
      data = await this.src.read(offset, length);
    } catch (err) {
      throw new DatasourceError(this.src.name, `${what}: cannot read ${length} bytes at ${offset}`, { cause: err });
    }
    if (data.length !== length) {
      throw new DatasourceError(this.src.name, `${what}: short read (${data.length} of ${length} bytes at ${offset})`);
    }
    return data;
  }

  private async fatBlock(index: number, what: string): Promise<Buffer> {
    const cached = this.fatBlocks.get(index);
    if (cached !== undefined) return cached;
    const start = index * FAT_BLOCK_BYTES;
    const length = Math.min(FAT_BLOCK_BYTES, this.geo.fatBytes - start);
    const block = await this.readAt(this.geo.fatOffset + start, length, `${what} (FAT)`);
    if (this.fatBlocks.size >= FAT_CACHE_BLOCKS) this.fatBlocks.clear();
    this.fatBlocks.set(index, block);
    return block;
  }

  /** The FAT entry of cluster n (n is always within maxCluster, so inside the FAT). */
  private async fatEntry(n: number, what: string): Promise<number> {
    const { fatType } = this.geo;
    const offset = fatType === 12 ? n + (n >> 1) : n * (fatType / 8);
    const width = fatType === 32 ? 4 : 2;
    const index = Math.floor(offset / FAT_BLOCK_BYTES);
    const within = offset % FAT_BLOCK_BYTES;
    let bytes = await this.fatBlock(index, what);
    // Only a 12-bit entry can straddle two blocks (1.5 bytes per entry).
    if (within + width > bytes.length) bytes = Buffer.concat([bytes, await this.fatBlock(index + 1, what)]);
    if (fatType === 12) {
      const pair = bytes.readUInt16LE(within);
      return n & 1 ? pair >> 4 : pair & 0xfff;
    }
    return fatType === 16 ? bytes.readUInt16LE(within) : bytes.readUInt32LE(within) & 0x0fffffff;
  }

  /**
   * Follow a cluster chain from `start`. Stops after `need` clusters when given (files),
   * else at the end-of-chain marker (directories). Loops, free or bad clusters, links
   * outside the volume and chains longer than `cap` are errors.
   */
  async chain(start: number, what: string, cap: number, need?: number): Promise<number[]> {
    const { maxCluster } = this.geo;
    if (start < 2 || start > maxCluster) {
      throw this.corrupt(what, `first cluster ${start} is outside the volume (clusters 2..${maxCluster})`);
    }
    const clusters = [start];
    const seen = new Set<number>(clusters);
    let current = start;
    while (need === undefined || clusters.length < need) {
      const next = await this.fatEntry(current, what);
      if (next >= this.endOfChain) break;
      if (next === this.badCluster) throw this.corrupt(what, `cluster ${current} links to a cluster marked bad`);
      if (next === 0) throw this.corrupt(what, `cluster ${current} links to a free cluster`);
      if (next < 2 || next > maxCluster) {
        throw this.corrupt(what, `cluster ${current} links to ${next}, outside the volume (clusters 2..${maxCluster})`);
      }
      if (seen.has(next)) throw this.corrupt(what, `cluster chain loops (cluster ${current} links back to ${next})`);
      if (clusters.length >= cap) throw this.corrupt(what, `cluster chain is longer than ${cap} clusters`);
      seen.add(next);
      clusters.push(next);
      current = next;
    }
    return clusters;
  }

  /** Read `length` bytes spread over `clusters`, one read per run of adjacent clusters. */
  async readClusters(clusters: number[], length: number, what: string): Promise<Buffer> {
    const { clusterSize, dataOffset } = this.geo;
    const out = Buffer.alloc(length);
    let done = 0;
    let i = 0;
    while (i < clusters.length && done < length) {
      const first = clusters[i] ?? 0;
      let run = 1;
      while (i + run < clusters.length && clusters[i + run] === first + run) run++;
      const bytes = Math.min(run * clusterSize, length - done);
      const data = await this.readAt(dataOffset + (first - 2) * clusterSize, bytes, what);
      data.copy(out, done);
      done += bytes;
      i += run;
    }
    return out;
  }

  /** The decoded entries of a directory (cached: each directory is read once). */
  directory(key: DirKey, what: string): Promise<ParsedDirectory> {
    let parsed = this.dirs.get(key);
    if (parsed === undefined) {
      parsed = this.loadDirectory(key, what);
      this.dirs.set(key, parsed);
    }
    return parsed;
  }

  private async loadDirectory(key: DirKey, what: string): Promise<ParsedDirectory> {
    const { geo } = this;
    if (key === 'root') {
      const data = await this.readAt(geo.rootDirOffset, geo.rootDirBytes, what);
      return parseDirectory(data, false);
    }
    // A directory holds at most 65536 entries; a longer chain is corrupt or hostile.
    const cap = Math.ceil((MAX_DIR_ENTRIES * DIR_ENTRY_BYTES) / geo.clusterSize);
    const clusters = await this.chain(key, what, cap);
    const data = await this.readClusters(clusters, clusters.length * geo.clusterSize, what);
    return parseDirectory(data, geo.fatType === 32);
  }

  rootKey(): DirKey {
    return this.geo.fatType === 32 ? this.geo.rootCluster : 'root';
  }

  /** The root directory's label entry, reading as little as possible (for the probe). */
  async scanRootLabel(): Promise<string | undefined> {
    const { geo } = this;
    if (geo.fatType !== 32) {
      const data = await this.readAt(geo.rootDirOffset, Math.min(geo.rootDirBytes, PROBE_ROOT_BYTES), 'root directory');
      return parseDirectory(data, false).label;
    }
    const cap = Math.max(1, Math.floor(PROBE_ROOT_BYTES / geo.clusterSize));
    let clusters: number[];
    try {
      clusters = await this.chain(geo.rootCluster, 'root directory', cap);
    } catch (err) {
      // A long or broken root chain still has its first cluster, where the label lives.
      if (!(err instanceof ParseError)) throw err;
      clusters = [geo.rootCluster];
    }
    const data = await this.readClusters(clusters, clusters.length * geo.clusterSize, 'root directory');
    return parseDirectory(data, true).label;
  }
}

/** Read the boot sector and check that the volume's metadata is inside the image. */
async function readGeometry(src: BlockSource): Promise<FatGeometry | string> {
  if (src.size < BOOT_SECTOR_BYTES) return `image is ${src.size} bytes, smaller than a boot sector`;
  return parseBootSector(await src.read(0, BOOT_SECTOR_BYTES));
}

/**
 * Cheap label probe for detection: the boot sector and the root directory's label
 * entry only. Returns '' for an unlabelled FAT volume, undefined for anything that is
 * not FAT (or cannot be read); never throws.
 */
export async function probeFatLabel(src: BlockSource): Promise<string | undefined> {
  try {
    const geo = await readGeometry(src);
    if (typeof geo === 'string') return undefined;
    const reader = new FatReader(src, geo);
    let dirLabel: string | undefined;
    try {
      dirLabel = await reader.scanRootLabel();
    } catch (err) {
      // An unreadable root still leaves the boot sector label; openFat reports the damage.
      if (!(err instanceof ParseError || err instanceof DatasourceError)) throw err;
    }
    return (dirLabel !== undefined ? publicLabel(dirLabel) : publicLabel(geo.bootLabel)) ?? '';
  } catch {
    // Detection must never fail the caller: input that cannot be read is simply "not FAT".
    return undefined;
  }
}

/** Open a FAT12/16/32 volume. Throws ParseError when the data is not a usable FAT volume. */
export async function openFat(src: BlockSource): Promise<FatVolume> {
  let geo: FatGeometry | string;
  try {
    geo = await readGeometry(src);
  } catch (err) {
    throw new DatasourceError(src.name, 'cannot read the boot sector', { cause: err });
  }
  if (typeof geo === 'string') throw new ParseError(src.name, `not a FAT volume: ${geo}`);
  const metadataEnd = geo.fatType === 32 ? geo.dataOffset : geo.rootDirOffset + geo.rootDirBytes;
  if (metadataEnd > src.size) {
    throw new ParseError(
      src.name,
      `FAT volume is truncated: its FATs and root directory end at byte ${metadataEnd}, the image has ${src.size} bytes`,
    );
  }
  const reader = new FatReader(src, geo);
  const root = await reader.directory(reader.rootKey(), '/');
  const bootLabel = publicLabel(geo.bootLabel) ?? '';
  // The root directory's label entry is what blkid reports as LABEL (and what mlabel
  // and Windows update); the boot sector copy is a fallback for formatters that skip it.
  const label = root.label !== undefined ? (publicLabel(root.label) ?? '') : bootLabel;
  return new FatVolumeImpl(src, reader, label, bootLabel);
}

class FatVolumeImpl implements FatVolume {
  readonly fsType = 'vfat' as const;
  readonly fatType: FatType;

  constructor(
    private readonly src: BlockSource,
    private readonly reader: FatReader,
    readonly label: string,
    readonly bootLabel: string,
  ) {
    this.fatType = reader.geo.fatType;
  }

  async list(dir: string): Promise<VolumeEntry[]> {
    const found = await this.resolve(dir);
    if (found === undefined) throw new DatasourceError(this.src.name, `${dir}: no such directory`);
    if (found.dirKey === undefined) throw new DatasourceError(this.src.name, `${dir}: not a directory`);
    const parsed = await this.reader.directory(found.dirKey, found.entry.path);
    return parsed.entries.map((raw) => this.toEntry(raw, found.entry.path).entry);
  }

  async stat(path: string): Promise<VolumeEntry | undefined> {
    return (await this.resolve(path))?.entry;
  }

  async readFile(path: string, maxBytes?: number): Promise<Buffer> {
    const found = await this.resolve(path);
    if (found === undefined) throw new DatasourceError(this.src.name, `${path}: no such file`);
    const { entry, cluster } = found;
    if (entry.type !== 'file') throw new DatasourceError(this.src.name, `${entry.path}: is a directory`);
    if (maxBytes !== undefined && entry.size > maxBytes) {
      throw new LimitError(this.src.name, `${entry.path}: file is ${entry.size} bytes, more than the limit of ${maxBytes}`);
    }
    if (entry.size === 0) return Buffer.alloc(0);
    const { geo } = this.reader;
    if (cluster === 0) throw this.reader.corrupt(entry.path, `file of ${entry.size} bytes has no clusters`);
    const need = Math.ceil(entry.size / geo.clusterSize);
    if (need > geo.clusterCount) {
      throw this.reader.corrupt(entry.path, `file size ${entry.size} bytes is larger than the whole volume`);
    }
    const clusters = await this.reader.chain(cluster, entry.path, need, need);
    if (clusters.length < need) {
      throw this.reader.corrupt(
        entry.path,
        `file size ${entry.size} bytes needs ${need} clusters but its chain ends after ${clusters.length}`,
      );
    }
    return this.reader.readClusters(clusters, entry.size, entry.path);
  }

  private toEntry(raw: RawDirEntry, parent: string): Resolved {
    const path = childPath(parent, raw.name);
    if (!raw.isDir) {
      return { entry: { name: raw.name, path, type: 'file', size: raw.size }, cluster: raw.cluster, dirKey: undefined };
    }
    return { entry: { name: raw.name, path, type: 'dir', size: 0 }, cluster: raw.cluster, dirKey: raw.cluster };
  }

  /** Walk a path from the root; undefined when a component is absent or not a directory. */
  private async resolve(path: string): Promise<Resolved | undefined> {
    const parts: string[] = [];
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') parts.pop();
      else parts.push(part);
    }
    if (parts.length > MAX_PATH_DEPTH) {
      throw new LimitError(this.src.name, `${path}: deeper than ${MAX_PATH_DEPTH} directories`);
    }
    let current: Resolved = { entry: ROOT_ENTRY, cluster: 0, dirKey: this.reader.rootKey() };
    for (const part of parts) {
      if (current.dirKey === undefined) return undefined;
      const dirPath = current.entry.path;
      if (current.dirKey === 0) throw this.reader.corrupt(dirPath, 'directory entry has no clusters');
      const { entries } = await this.reader.directory(current.dirKey, dirPath);
      const wanted = fold(part);
      // Linux vfat finds an entry by its long name or by its 8.3 alias.
      const hit = entries.find((e) => fold(e.name) === wanted) ?? entries.find((e) => fold(e.shortName) === wanted);
      if (hit === undefined) return undefined;
      current = this.toEntry(hit, dirPath);
    }
    return current;
  }
}

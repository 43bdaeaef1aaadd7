// Tests for the user-space FAT reader: real images built with mkfs.fat and mtools,
// compared name by name and byte by byte with what mtools (mdir, mcopy) and blkid
// report; then hostile images (garbage, truncation, patched FATs and directory
// entries) that must fail with a clear typed error and never hang.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasourceError, LimitError, ParseError } from '../../src/errors';
import { MAX_PATH_DEPTH, openFat, probeFatLabel } from '../../src/media/fat';
import { parseBootSector } from '../../src/media/fat-boot';
import { bufferSource, type BlockSource, type Volume, type VolumeEntry } from '../../src/media/volume';
import {
  blkidValue,
  buildFatImage,
  cleanupFatImages,
  fileSource,
  MTOOLS_ENV,
  mtoolsExtract,
  mtoolsList,
} from '../helpers/fat-images';

const FIXTURES = fileURLToPath(new URL('../fixtures/media/fat', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'guestctx-fat-test-'));

/** Deterministic bytes (xorshift32) so a failure reproduces. */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function stage(name: string, fixtures: string[], extra: (dir: string) => void): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const f of fixtures) cpSync(join(FIXTURES, f), dir, { recursive: true });
  extra(dir);
  return dir;
}

function mtools(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe', env: MTOOLS_ENV });
}

/** Leave a fragmented file behind: fill a directory, delete every other file, copy a big file into the holes. */
function fragment(image: string): void {
  const dir = join(work, `frag-src-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const smalls: string[] = [];
  for (let i = 0; i < 12; i++) {
    const p = join(dir, `s${String(i).padStart(2, '0')}.bin`);
    writeFileSync(p, pseudoRandom(3000, 100 + i));
    smalls.push(p);
  }
  mtools('mmd', ['-i', image, '::/frag']);
  mtools('mcopy', ['-i', image, ...smalls, '::/frag/']);
  for (let i = 0; i < 12; i += 2) mtools('mdel', ['-i', image, `::/frag/s${String(i).padStart(2, '0')}.bin`]);
  const big = join(dir, 'pieces.bin');
  writeFileSync(big, pseudoRandom(40_000, 7));
  mtools('mcopy', ['-i', image, big, '::/frag/']);
}

async function walk(vol: Volume, dir = '/'): Promise<VolumeEntry[]> {
  const out: VolumeEntry[] = [];
  for (const entry of await vol.list(dir)) {
    out.push(entry);
    if (entry.type === 'dir') out.push(...(await walk(vol, entry.path)));
  }
  return out;
}

/** Every name must match `mdir -/ -b -a`, every file's bytes what `mcopy -s` extracts. */
async function expectSameAsMtools(image: string, vol: Volume): Promise<VolumeEntry[]> {
  const entries = await walk(vol);
  const ours = entries.map((e) => `::${e.path}${e.type === 'dir' ? '/' : ''}`).sort();
  expect(ours).toEqual(mtoolsList(image));
  const extracted = mtoolsExtract(image);
  for (const e of entries) {
    if (e.type !== 'file') continue;
    const want = readFileSync(join(extracted, e.path));
    const got = await vol.readFile(e.path);
    expect(e.size, e.path).toBe(want.length);
    expect(Buffer.compare(got, want), e.path).toBe(0);
  }
  return entries;
}

// --- A minimal, independent view of the on-disk structures, to patch images. ---

interface Bpb {
  bps: number;
  clusterSize: number;
  fatOffset: number;
  fatBytes: number;
  nfats: number;
  rootDirOffset: number;
  fatType: 12 | 16 | 32;
}

function bpbOf(img: Buffer, fatType: 12 | 16 | 32): Bpb {
  const bps = img.readUInt16LE(11);
  const rsvd = img.readUInt16LE(14);
  const nfats = img[16] ?? 0;
  const fatSz = img.readUInt16LE(22) || img.readUInt32LE(36);
  return {
    bps,
    clusterSize: bps * (img[13] ?? 0),
    fatOffset: rsvd * bps,
    fatBytes: fatSz * bps,
    nfats,
    rootDirOffset: (rsvd + nfats * fatSz) * bps,
    fatType,
  };
}

function fatGet(img: Buffer, b: Bpb, n: number, copy = 0): number {
  const base = b.fatOffset + copy * b.fatBytes;
  if (b.fatType === 12) {
    const v = img.readUInt16LE(base + n + (n >> 1));
    return n & 1 ? v >> 4 : v & 0xfff;
  }
  return b.fatType === 16 ? img.readUInt16LE(base + n * 2) : img.readUInt32LE(base + n * 4) & 0x0fffffff;
}

function fatSet(img: Buffer, b: Bpb, n: number, value: number): void {
  for (let copy = 0; copy < b.nfats; copy++) {
    const base = b.fatOffset + copy * b.fatBytes;
    if (b.fatType === 12) {
      const at = base + n + (n >> 1);
      const v = img.readUInt16LE(at);
      img.writeUInt16LE(n & 1 ? (v & 0x000f) | (value << 4) : (v & 0xf000) | value, at);
    } else if (b.fatType === 16) img.writeUInt16LE(value, base + n * 2);
    else img.writeUInt32LE(value, base + n * 4);
  }
}

/** Offset of the directory entry whose 11-byte short name is `name11`. */
function entryOffset(img: Buffer, name11: string, from = 0): number {
  const needle = Buffer.from(name11, 'latin1');
  for (let at = img.indexOf(needle, from); at >= 0; at = img.indexOf(needle, at + 1)) {
    if (at % 32 === 0) return at;
  }
  throw new Error(`no directory entry ${name11}`);
}

function entryCluster(img: Buffer, at: number, fatType: number): number {
  return ((fatType === 32 ? img.readUInt16LE(at + 20) << 16 : 0) | img.readUInt16LE(at + 26)) >>> 0;
}

function chainOf(img: Buffer, b: Bpb, start: number): number[] {
  const end = b.fatType === 12 ? 0xff8 : b.fatType === 16 ? 0xfff8 : 0x0ffffff8;
  const out = [start];
  for (let c = fatGet(img, b, start); c < end && out.length < 100_000; c = fatGet(img, b, c)) out.push(c);
  return out;
}

async function expectRejects(
  p: Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  pattern: RegExp,
  source: string,
): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).toMatch(pattern);
  expect((err as { source: string }).source).toBe(source);
}

// --- The images. ---

interface Spec {
  key: string;
  label: string;
  fatType: 12 | 16 | 32;
  image: string;
  sectorSize?: number;
}

const images: Record<string, Spec> = {};

beforeAll(() => {
  const fat12 = stage('fat12', ['config-drive', 'names'], (dir) => {
    writeFileSync(join(dir, 'big.bin'), pseudoRandom(300 * 1024, 12));
    writeFileSync(join(dir, 'empty.txt'), '');
    for (let i = 0; i < 100; i++) writeFileSync(join(dir, `f${String(i).padStart(3, '0')}.txt`), `file ${i}\n`);
    for (let i = 0; i < 40; i++) writeFileSync(join(dir, `Root File Number ${i}.txt`), `long ${i}\n`);
  });
  images.fat12 = { key: 'fat12', label: 'config-2', fatType: 12, image: buildFatImage(fat12, { label: 'config-2', fatSize: 12 }) };
  fragment(images.fat12.image);

  const fat16 = stage('fat16', ['nocloud'], (dir) => {
    mkdirSync(join(dir, 'many'));
    for (let i = 0; i < 300; i++) {
      writeFileSync(join(dir, 'many', `Entry number ${String(i).padStart(3, '0')} with a long name.txt`), `entry ${i}\n`);
    }
    writeFileSync(join(dir, 'big.bin'), pseudoRandom(400 * 1024, 16));
    writeFileSync(join(dir, 'small.txt'), 'small\n');
    writeFileSync(join(dir, 'empty'), '');
    for (let i = 0; i < 150; i++) writeFileSync(join(dir, `r${i}`), `${i}`);
  });
  images.fat16 = { key: 'fat16', label: 'cidata', fatType: 16, image: buildFatImage(fat16, { label: 'cidata', fatSize: 16 }) };
  fragment(images.fat16.image);

  const fat32 = stage('fat32', ['config-drive'], (dir) => {
    for (let i = 0; i < 250; i++) writeFileSync(join(dir, `root-entry-${String(i).padStart(3, '0')}.json`), `{"n": ${i}}\n`);
    writeFileSync(join(dir, 'big.bin'), pseudoRandom(256 * 1024, 32));
    writeFileSync(join(dir, 'empty.txt'), '');
  });
  images.fat32 = { key: 'fat32', label: '_CLOUD_INIT', fatType: 32, image: buildFatImage(fat32, { label: '_CLOUD_INIT', fatSize: 32 }) };

  const big4k = stage('sector4k', ['nocloud', 'names'], (dir) => {
    writeFileSync(join(dir, 'big.bin'), pseudoRandom(200 * 1024, 4));
  });
  images.sector4k = {
    key: 'sector4k',
    label: 'CONTEXT',
    fatType: 12,
    sectorSize: 4096,
    image: buildFatImage(big4k, { label: 'CONTEXT', sizeKiB: 4096, sectorSize: 4096 }),
  };

  const unlabelled = stage('unlabelled', ['nocloud'], () => undefined);
  images.unlabelled = { key: 'unlabelled', label: '', fatType: 12, image: buildFatImage(unlabelled, { label: '' }) };
});

afterAll(() => {
  cleanupFatImages();
  rmSync(work, { recursive: true, force: true });
});

function spec(key: string): Spec {
  const s = images[key];
  if (s === undefined) throw new Error(`image ${key} was not built`);
  return s;
}

describe('openFat on images made by mkfs.fat and mtools', () => {
  it.each(['fat12', 'fat16', 'fat32', 'sector4k', 'unlabelled'])(
    '%s: FAT type and label agree with blkid, names and bytes with mtools',
    async (key) => {
      const s = spec(key);
      const src = fileSource(s.image, `${key}.img`);
      try {
        const vol = await openFat(src);
        expect(vol.fsType).toBe('vfat');
        expect(vol.fatType).toBe(s.fatType);
        expect(blkidValue(s.image, 'VERSION')).toBe(`FAT${s.fatType}`);
        // mkfs.fat keeps the label's case (it only warns about lowercase).
        expect(vol.label).toBe(s.label);
        expect(vol.label).toBe(blkidValue(s.image, 'LABEL'));
        expect(await probeFatLabel(src)).toBe(s.label);
        if (s.sectorSize !== undefined) expect(readFileSync(s.image).readUInt16LE(11)).toBe(s.sectorSize);
        const entries = await expectSameAsMtools(s.image, vol);
        expect(entries.length).toBeGreaterThanOrEqual(3);
      } finally {
        src.close();
      }
    },
  );

  it('reads the config-drive layout and finds names case-insensitively (FAT12)', async () => {
    const src = fileSource(spec('fat12').image, 'fat12.img');
    try {
      const vol = await openFat(src);
      const meta = await vol.readFile('/openstack/latest/meta_data.json');
      expect(meta.equals(readFileSync(join(FIXTURES, 'config-drive/openstack/latest/meta_data.json')))).toBe(true);
      expect(JSON.parse(meta.toString('utf8')).hostname).toBe('fat-test.novalocal');
      const content = await vol.readFile('/openstack/content/0000');
      expect(content.toString()).toBe('Welcome to a FAT config drive.\n');

      // Lookup ignores case and returns the on-disk (long) names in the path.
      expect(await vol.stat('/OPENSTACK/Latest/META_DATA.JSON')).toEqual({
        name: 'meta_data.json',
        path: '/openstack/latest/meta_data.json',
        type: 'file',
        size: meta.length,
      });
      // The 8.3 alias finds the entry too, as on Linux.
      expect((await vol.stat('/OPENST~1'))?.path).toBe('/openstack');
      expect((await vol.stat('openstack/./latest/../content/0000'))?.path).toBe('/openstack/content/0000');
      expect(await vol.stat('/')).toMatchObject({ path: '/', type: 'dir' });

      const root = (await vol.list('/')).map((e) => e.name);
      for (const name of ['MixedCase.Txt', 'lower.txt', 'UPPER.TXT', 'Makefile', '.hidden', 'ünïcode-näme.txt',
        'a very long file name with spaces.json', 'name.with.many.dots.tar.gz', 'Sub Dir', 'Root File Number 39.txt']) {
        expect(root).toContain(name);
      }
      expect(root).not.toContain('.');
      expect(root).not.toContain('..');
      expect(root).not.toContain('config-2'); // the label entry is not a file
      expect((await vol.readFile('/sub dir/NESTED FILE.YAML')).toString()).toBe('n\n');

      expect(await vol.stat('/empty.txt')).toMatchObject({ type: 'file', size: 0 });
      expect((await vol.readFile('/empty.txt')).length).toBe(0);
      expect((await vol.readFile('/big.bin')).equals(pseudoRandom(300 * 1024, 12))).toBe(true);

      expect(await vol.stat('/nope')).toBeUndefined();
      expect(await vol.stat('/big.bin/inside')).toBeUndefined();
      await expectRejects(vol.readFile('/nope.txt'), DatasourceError, /\/nope\.txt: no such file/, 'fat12.img');
      await expectRejects(vol.readFile('/openstack'), DatasourceError, /\/openstack: is a directory/, 'fat12.img');
      await expectRejects(vol.list('/big.bin'), DatasourceError, /not a directory/, 'fat12.img');
      await expectRejects(vol.list('/missing'), DatasourceError, /no such directory/, 'fat12.img');
    } finally {
      src.close();
    }
  });

  it.each(['fat12', 'fat16'])('%s: follows a fragmented chain and skips deleted entries', async (key) => {
    const s = spec(key);
    const img = readFileSync(s.image);
    const b = bpbOf(img, s.fatType);
    const chain = chainOf(img, b, entryCluster(img, entryOffset(img, 'PIECES  BIN'), s.fatType));
    // The file really is in pieces: at least one link is not to the next cluster.
    expect(chain.some((c, i) => i > 0 && c !== (chain[i - 1] ?? 0) + 1)).toBe(true);
    const vol = await openFat(bufferSource(`${key}.img`, img));
    expect((await vol.readFile('/frag/pieces.bin')).equals(pseudoRandom(40_000, 7))).toBe(true);
    const names = (await vol.list('/frag')).map((e) => e.name).sort();
    expect(names).toEqual(['pieces.bin', 's01.bin', 's03.bin', 's05.bin', 's07.bin', 's09.bin', 's11.bin']);
    expect(await vol.stat('/frag/s00.bin')).toBeUndefined();
    // mdel marks entries 0xE5 rather than erasing them (mcopy reused one slot for pieces.bin).
    const deleted = ['02', '04', '06', '08', '10'].filter((n) => img.indexOf(Buffer.from(`\xe5${n}     BIN`, 'latin1')) > 0);
    expect(deleted.length).toBeGreaterThan(2);
  });

  it('FAT16: a subdirectory spanning several clusters, and a many-entry root', async () => {
    const s = spec('fat16');
    const img = readFileSync(s.image);
    const b = bpbOf(img, 16);
    const manyChain = chainOf(img, b, entryCluster(img, entryOffset(img, 'MANY       '), 16));
    expect(manyChain.length).toBeGreaterThan(4);
    const vol = await openFat(bufferSource('fat16.img', img));
    const many = await vol.list('/many');
    expect(many).toHaveLength(300);
    expect(many.find((e) => e.name.includes('123'))).toEqual({
      name: 'Entry number 123 with a long name.txt',
      path: '/many/Entry number 123 with a long name.txt',
      type: 'file',
      size: 10,
    });
    expect((await vol.readFile('/MANY/entry NUMBER 299 WITH A LONG NAME.TXT')).toString()).toBe('entry 299\n');
    expect((await vol.list('/')).filter((e) => /^r\d+$/.test(e.name))).toHaveLength(150);
  });

  it('FAT32: the root directory is a cluster chain of several clusters', async () => {
    const s = spec('fat32');
    const img = readFileSync(s.image);
    const b = bpbOf(img, 32);
    expect(chainOf(img, b, img.readUInt32LE(44)).length).toBeGreaterThan(3);
    const vol = await openFat(bufferSource('fat32.img', img));
    const root = await vol.list('/');
    expect(root.filter((e) => e.name.startsWith('root-entry-'))).toHaveLength(250);
    expect((await vol.readFile('/root-entry-249.json')).toString()).toBe('{"n": 249}\n');
    expect((await vol.readFile('/openstack/latest/user_data')).toString()).toBe('#cloud-config\nhostname: fat-test\n');
  });
});

describe('FAT type by cluster count (Microsoft thresholds)', () => {
  /** A boot sector with 512-byte sectors, 1 sector per cluster and exactly `clusters` data clusters. */
  function bootSector(clusters: number, fatSectors: number, rootEntries: number, fatSize32 = false): Buffer {
    const b = Buffer.alloc(512);
    b[0] = 0xeb;
    b[2] = 0x90;
    b.writeUInt16LE(512, 11);
    b[13] = 1;
    b.writeUInt16LE(1, 14);
    b[16] = 2;
    b.writeUInt16LE(rootEntries, 17);
    b[21] = 0xf8;
    if (fatSize32) b.writeUInt32LE(fatSectors, 36);
    else b.writeUInt16LE(fatSectors, 22);
    b.writeUInt32LE(1 + 2 * fatSectors + Math.ceil((rootEntries * 32) / 512) + clusters, 32);
    if (fatSize32) b.writeUInt32LE(2, 44);
    b[510] = 0x55;
    b[511] = 0xaa;
    return b;
  }

  it.each([
    [4084, 12],
    [4085, 16],
    [65524, 16],
  ])('%i clusters is FAT%i', (clusters, type) => {
    const geo = parseBootSector(bootSector(clusters, 256, 512));
    expect(typeof geo).toBe('object');
    expect(geo).toMatchObject({ fatType: type, clusterCount: clusters, maxCluster: clusters + 1 });
  });

  it('65525 clusters is FAT32, and a FAT too small for the count caps the usable clusters', () => {
    expect(parseBootSector(bootSector(65525, 600, 0, true))).toMatchObject({ fatType: 32, clusterCount: 65525 });
    // 8 FAT sectors describe 8 * 512 * 2 / 3 = 2730 FAT12 entries: clusters 2..2729.
    expect(parseBootSector(bootSector(3000, 8, 512))).toMatchObject({ fatType: 12, maxCluster: 2729 });
    expect(parseBootSector(bootSector(70000, 600, 512, true))).toMatch(/FAT32 volume declares a fixed root/);
  });
});

describe('FAT labels', () => {
  it('prefers the root directory label entry over the boot sector, as blkid does', async () => {
    const img = readFileSync(spec('fat12').image);
    img.write('BOOTLBL    ', 43, 'latin1');
    const path = join(work, 'boot-label.img');
    writeFileSync(path, img);
    expect(blkidValue(path, 'LABEL')).toBe('config-2');
    expect(blkidValue(path, 'LABEL_FATBOOT')).toBe('BOOTLBL');
    const vol = await openFat(bufferSource('boot-label.img', img));
    expect(vol.label).toBe('config-2');
    expect(vol.bootLabel).toBe('BOOTLBL');
    expect(await probeFatLabel(bufferSource('boot-label.img', img))).toBe('config-2');

    // Without a (live) label entry, the boot sector label is used; blkid calls it LABEL_FATBOOT.
    const b = bpbOf(img, 12);
    expect(img.toString('latin1', b.rootDirOffset, b.rootDirOffset + 11)).toBe('config-2   ');
    img[b.rootDirOffset] = 0xe5;
    expect((await openFat(bufferSource('deleted-label.img', img))).label).toBe('BOOTLBL');
    expect(await probeFatLabel(bufferSource('deleted-label.img', img))).toBe('BOOTLBL');
  });

  it('reads a label set by mlabel, and "NO NAME" as no label', async () => {
    const img = readFileSync(spec('unlabelled').image);
    expect(img.toString('latin1', 43, 54)).toBe('NO NAME    ');
    expect((await openFat(bufferSource('u.img', img))).label).toBe('');
    const path = join(work, 'mlabel.img');
    writeFileSync(path, img);
    mtools('mlabel', ['-i', path, '::SEED']);
    expect(blkidValue(path, 'LABEL')).toBe('SEED');
    const src = fileSource(path);
    expect(await probeFatLabel(src)).toBe('SEED');
    src.close();
    expect((await openFat(bufferSource('mlabel.img', readFileSync(path)))).label).toBe('SEED');
  });
});

describe('hostile and broken images', () => {
  const junk: Array<[string, () => Buffer]> = [
    ['empty', () => Buffer.alloc(0)],
    ['a few bytes', () => Buffer.from('hello')],
    ['zeros', () => Buffer.alloc(64 * 1024)],
    ['random bytes', () => pseudoRandom(64 * 1024, 99)],
    [
      'jump and signature around a nonsense BPB',
      () => {
        const b = pseudoRandom(4096, 5);
        b[0] = 0xeb;
        b[2] = 0x90;
        b[510] = 0x55;
        b[511] = 0xaa;
        b.writeUInt16LE(3, 11);
        return b;
      },
    ],
    [
      'an ISO 9660 image',
      () => {
        const dir = join(work, 'iso-src');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'context.sh'), 'HOSTNAME=x\n');
        const iso = join(work, 'seed.iso');
        execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'CONTEXT', '-J', '-r', dir], { stdio: 'pipe' });
        return readFileSync(iso);
      },
    ],
  ];

  it.each(junk)('%s: probe says "not FAT", open throws a ParseError naming the source', async (_what, make) => {
    const src = bufferSource('junk.img', make());
    expect(await probeFatLabel(src)).toBeUndefined();
    await expectRejects(openFat(src), ParseError, /not a FAT volume/, 'junk.img');
  });

  it('probe never throws, even when the source itself fails', async () => {
    const failing: BlockSource = {
      name: 'broken-dev',
      size: 1 << 20,
      read: () => Promise.reject(new Error('EIO')),
    };
    expect(await probeFatLabel(failing)).toBeUndefined();
    await expectRejects(openFat(failing), DatasourceError, /boot sector/, 'broken-dev');
  });

  it('a truncated image: metadata cut → open fails; data cut → the file read fails, naming the path', async () => {
    const img = readFileSync(spec('fat16').image);
    const b = bpbOf(img, 16);
    const headOnly = bufferSource('cut.img', img.subarray(0, b.rootDirOffset + 512));
    await expectRejects(openFat(headOnly), ParseError, /truncated/, 'cut.img');
    // The probe still finds the boot sector label.
    expect(await probeFatLabel(headOnly)).toBe('cidata');

    const bigAt = entryCluster(img, entryOffset(img, 'BIG     BIN'), 16);
    const dataOffset = b.rootDirOffset + img.readUInt16LE(17) * 32;
    const cutAt = dataOffset + (bigAt - 2) * b.clusterSize + 4096;
    const vol = await openFat(bufferSource('cut.img', img.subarray(0, cutAt)));
    expect((await vol.list('/')).length).toBeGreaterThan(150);
    await expectRejects(vol.readFile('/big.bin'), ParseError, /^\/big\.bin: .*truncated/, 'cut.img');
  });

  it.each(['fat12', 'fat16'])('%s: a loop in a file chain is an error, not a hang', async (key) => {
    const s = spec(key);
    const img = Buffer.from(readFileSync(s.image));
    const b = bpbOf(img, s.fatType);
    const chain = chainOf(img, b, entryCluster(img, entryOffset(img, 'BIG     BIN'), s.fatType));
    expect(chain.length).toBeGreaterThan(10);
    fatSet(img, b, chain[5] ?? 0, chain[2] ?? 0);
    expect(fatGet(img, b, chain[5] ?? 0)).toBe(chain[2]);
    const vol = await openFat(bufferSource(`${key}-loop.img`, img));
    await expectRejects(vol.readFile('/big.bin'), ParseError, /^\/big\.bin: cluster chain loops/, `${key}-loop.img`);
  });

  it('a loop in a directory chain is an error', async () => {
    const img = Buffer.from(readFileSync(spec('fat16').image));
    const b = bpbOf(img, 16);
    const chain = chainOf(img, b, entryCluster(img, entryOffset(img, 'MANY       '), 16));
    fatSet(img, b, chain[chain.length - 1] ?? 0, chain[0] ?? 0);
    const vol = await openFat(bufferSource('dirloop.img', img));
    await expectRejects(vol.list('/many'), ParseError, /^\/many: cluster chain loops/, 'dirloop.img');
    expect((await vol.list('/')).length).toBeGreaterThan(100);
  });

  it.each([
    ['points outside the volume', 0xfff0, /links to 65520, outside the volume/],
    ['reaches a free cluster', 0, /links to a free cluster/],
    ['reaches a bad cluster', 0xfff7, /marked bad/],
  ])('a chain that %s is an error', async (_what, value, pattern) => {
    const img = Buffer.from(readFileSync(spec('fat16').image));
    const b = bpbOf(img, 16);
    const first = entryCluster(img, entryOffset(img, 'BIG     BIN'), 16);
    fatSet(img, b, first, value);
    const vol = await openFat(bufferSource('chain.img', img));
    await expectRejects(vol.readFile('/big.bin'), ParseError, pattern, 'chain.img');
  });

  it('a first cluster outside the volume, and sizes bigger than the chain or the volume', async () => {
    const img = Buffer.from(readFileSync(spec('fat16').image));
    const b = bpbOf(img, 16);
    img.writeUInt16LE(0xffee, entryOffset(img, 'BIG     BIN') + 26);
    const small = entryOffset(img, 'SMALL   TXT');
    img.writeUInt32LE(b.clusterSize * 5, small + 28);
    const vol = await openFat(bufferSource('sizes.img', img));
    await expectRejects(vol.readFile('/big.bin'), ParseError, /first cluster 65518 is outside the volume/, 'sizes.img');
    await expectRejects(vol.readFile('/small.txt'), ParseError, /needs 5 clusters but its chain ends after 1/, 'sizes.img');

    img.writeUInt32LE(0xfffffff0, small + 28);
    const vol2 = await openFat(bufferSource('sizes.img', img));
    await expectRejects(vol2.readFile('/small.txt'), ParseError, /larger than the whole volume/, 'sizes.img');
    // maxBytes is checked first, from the directory entry alone.
    await expectRejects(vol2.readFile('/small.txt', 1 << 20), LimitError, /more than the limit/, 'sizes.img');
  });

  it('maxBytes is enforced before any data is read', async () => {
    const src = fileSource(spec('fat16').image, 'fat16.img');
    try {
      const vol = await openFat(src);
      const big = await vol.stat('/big.bin');
      expect(big?.size).toBe(400 * 1024);
      const before = src.reads;
      await expectRejects(vol.readFile('/big.bin', 1000), LimitError, /^\/big\.bin: file is 409600 bytes/, 'fat16.img');
      expect(src.reads).toBe(before);
      expect((await vol.readFile('/big.bin', 400 * 1024)).length).toBe(400 * 1024);
    } finally {
      src.close();
    }
  });

  it('a long name whose checksum does not match falls back to the short name, as mtools does', async () => {
    const img = Buffer.from(readFileSync(spec('fat12').image));
    const short = entryOffset(img, 'MIXEDC~1TXT');
    const lfn = short - 32;
    expect(img[lfn + 11]).toBe(0x0f);
    img[lfn + 13] = ((img[lfn + 13] ?? 0) + 1) & 0xff;
    const path = join(work, 'badsum.img');
    writeFileSync(path, img);
    const vol = await openFat(bufferSource('badsum.img', img));
    const names = (await vol.list('/')).map((e) => e.name);
    expect(names).toContain('MIXEDC~1.TXT');
    expect(names).not.toContain('MixedCase.Txt');
    expect(mtoolsList(path)).toContain('::/MIXEDC~1.TXT');
    expect((await vol.readFile('/mixedc~1.txt')).toString()).toBe('mixed\n');
  });

  it('a directory that contains itself hits the depth cap instead of recursing forever', async () => {
    const img = Buffer.from(readFileSync(spec('fat12').image));
    const b = bpbOf(img, 12);
    const openstack = entryCluster(img, entryOffset(img, 'OPENST~1   '), 12);
    const openstackDir = b.rootDirOffset + img.readUInt16LE(17) * 32 + (openstack - 2) * b.clusterSize;
    // 'latest' (inside openstack, not the one in ec2) now points back at openstack.
    img.writeUInt16LE(openstack, entryOffset(img, 'LATEST     ', openstackDir) + 26);
    const vol = await openFat(bufferSource('selfref.img', img));
    expect((await vol.list('/openstack/latest/latest')).map((e) => e.name).sort()).toEqual(['content', 'latest']);
    await expectRejects(walk(vol), LimitError, new RegExp(`deeper than ${MAX_PATH_DEPTH} directories`), 'selfref.img');
  });

  it('FAT32: follows the active FAT when mirroring is off', async () => {
    const img = Buffer.from(readFileSync(spec('fat32').image));
    const b = bpbOf(img, 32);
    // Wipe FAT 0 (keeping its two reserved entries) and mark FAT 1 as the only live copy.
    img.fill(0, b.fatOffset + 8, b.fatOffset + b.fatBytes);
    img.writeUInt16LE(0x81, 40);
    const vol = await openFat(bufferSource('active.img', img));
    expect((await vol.readFile('/big.bin')).equals(pseudoRandom(256 * 1024, 32))).toBe(true);
    expect((await vol.list('/')).length).toBeGreaterThan(250);
    // With FAT 0 declared active, the wiped table breaks the multi-cluster root chain.
    img.writeUInt16LE(0x80, 40);
    await expectRejects(openFat(bufferSource('active.img', img)), ParseError, /^\/: .*free cluster/, 'active.img');
  });
});

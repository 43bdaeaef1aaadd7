// Tests for the user-space ISO9660 reader: real images built with xorriso and
// genisoimage (plain, Joliet, Rock Ridge), checked file by file against what the
// tools' own readers (osirrox, isoinfo) extract, plus hostile and damaged images.

import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasourceError, GuestctxError, LimitError, ParseError } from '../../src/errors';
import { openIso9660, probeIso9660Label } from '../../src/media/iso9660';
import { bufferSource, type Volume, type VolumeEntryType } from '../../src/media/volume';
import {
  buildIso,
  type BuildIsoOptions,
  extractIso,
  fileSource,
  isoinfoExtract,
  isoinfoList,
} from '../helpers/iso-images';

const FIXTURE = fileURLToPath(new URL('../fixtures/media/iso/tree', import.meta.url));
const MANY = 300;
const BIG_SIZE = 3 * 1024 * 1024 + 4321;
/** Fits Joliet's 64-character limit. */
const JOLIET_NAME = 'a-long-name-that-still-fits-the-joliet-limit-of-64-chars.txt';
/** Needs Rock Ridge NM entries split over a continuation area. */
const RR_LONG_NAME = `${'rock-ridge-long-name-'.repeat(11)}end.txt`;
const RR_LONG_DIR = `directory-${'with-a-long-name-'.repeat(6)}end`;

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'guestctx-iso-test-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Deterministic bytes (xorshift32) so a failure can be reproduced. */
function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

interface TreeOptions {
  symlinks?: boolean;
  longNames?: boolean;
  /** Directory levels above bottom.txt (default 6). */
  deep?: number;
}

/** The source tree every image is built from: the static fixture plus generated files. */
function makeTree(name: string, opts: TreeOptions): string {
  const root = join(work, name, 'src');
  mkdirSync(root, { recursive: true });
  cpSync(FIXTURE, root, { recursive: true });
  const levels = Array.from({ length: opts.deep ?? 6 }, (_, i) => `level${i + 1}`);
  mkdirSync(join(root, ...levels), { recursive: true });
  writeFileSync(join(root, ...levels, 'bottom.txt'), `at depth ${levels.length}\n`);
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < MANY; i++) {
    writeFileSync(join(root, 'many', `entry-${String(i).padStart(3, '0')}.txt`), `entry ${i}\n`);
  }
  writeFileSync(join(root, 'big.bin'), pseudoRandom(BIG_SIZE, 42));
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'café-ü.txt'), 'accents\n');
  writeFileSync(join(root, JOLIET_NAME), 'joliet sized name\n');
  writeFileSync(join(root, 'secret.txt'), 'only root\n');
  chmodSync(join(root, 'secret.txt'), 0o600);
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'run.sh'), 0o755);
  if (opts.longNames) {
    writeFileSync(join(root, RR_LONG_NAME), 'long rock ridge name\n');
    mkdirSync(join(root, RR_LONG_DIR));
    writeFileSync(join(root, RR_LONG_DIR, 'inside.txt'), 'inside a long directory\n');
  }
  if (opts.symlinks) {
    symlinkSync('context.sh', join(root, 'link-context'));
    symlinkSync('nested/deeper', join(root, 'link-dir'));
    symlinkSync('/etc/hostname', join(root, 'link-abs'));
    symlinkSync('../outside', join(root, 'link-up'));
  }
  return root;
}

interface Item {
  type: VolumeEntryType;
  data?: Buffer;
  target?: string;
  mode?: number;
}

/** Every entry of the volume, read through the reader under test. */
async function walkVolume(vol: Volume): Promise<Map<string, Item>> {
  const items = new Map<string, Item>();
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await vol.list(dir)) {
      expect(entry.path).toBe(dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`);
      const item: Item = { type: entry.type };
      if (entry.mode !== undefined) item.mode = entry.mode;
      if (entry.type === 'file') {
        item.data = await vol.readFile(entry.path);
        expect(item.data.length).toBe(entry.size);
      } else if (entry.type === 'symlink') {
        item.target = entry.target;
      } else {
        await visit(entry.path);
      }
      items.set(entry.path, item);
    }
  };
  await visit('/');
  return items;
}

/** Every entry of a directory on disk (an osirrox extraction or the source tree). */
function walkDisk(root: string): Map<string, Item> {
  const items = new Map<string, Item>();
  const visit = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const path = `${rel}/${name}`;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) items.set(path, { type: 'symlink', target: readlinkSync(full) });
      else if (st.isDirectory()) {
        items.set(path, { type: 'dir' });
        visit(full, path);
      } else items.set(path, { type: 'file', data: readFileSync(full), mode: st.mode & 0o7777 });
    }
  };
  visit(root, '');
  return items;
}

function expectSameTree(actual: Map<string, Item>, expected: Map<string, Item>, compareModes: boolean): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, want] of expected) {
    const got = actual.get(path)!;
    expect({ path, type: got.type }).toEqual({ path, type: want.type });
    if (want.type === 'file') {
      expect(got.data!.equals(want.data!), `bytes of ${path}`).toBe(true);
      if (compareModes) expect({ path, mode: got.mode }).toEqual({ path, mode: want.mode });
    }
    if (want.type === 'symlink') expect({ path, target: got.target }).toEqual({ path, target: want.target });
  }
}

/** What the kernel (map=normal) makes of an `isoinfo -f` path, per naming scheme. */
function kernelPath(isoinfoPath: string, names: 'rr' | 'joliet' | 'plain'): string {
  if (names === 'rr') return isoinfoPath;
  return isoinfoPath
    .split('/')
    .map((part) => {
      let name = part.replace(/;\d*$/, '');
      while (name.length >= 2 && name.endsWith('.')) name = name.slice(0, -1);
      return names === 'plain' ? name.toLowerCase() : name;
    })
    .join('/');
}

interface IsoCase {
  title: string;
  build: BuildIsoOptions;
  names: 'rr' | 'joliet' | 'plain';
  tree: TreeOptions;
  /** genisoimage moved deep directories to rr_moved (isoinfo does not undo that). */
  relocated?: boolean;
}

const CASES: IsoCase[] = [
  { title: 'xorriso -r -J', build: { tool: 'xorriso', label: 'CONTEXT', rockRidge: true, joliet: true }, names: 'rr', tree: { symlinks: true } },
  {
    title: 'xorriso -R with long names',
    build: { tool: 'xorriso', label: 'cidata', rockRidge: true, rockRidgeFlag: '-R' },
    names: 'rr',
    tree: { symlinks: true, longNames: true },
  },
  { title: 'xorriso -J', build: { tool: 'xorriso', label: 'config-2', joliet: true }, names: 'joliet', tree: {} },
  { title: 'xorriso plain', build: { tool: 'xorriso', label: 'cidata' }, names: 'plain', tree: {} },
  {
    title: 'genisoimage -R -J with long names',
    build: { tool: 'genisoimage', label: 'config-2', rockRidge: true, rockRidgeFlag: '-R', joliet: true, extraArgs: ['-joliet-long'] },
    names: 'rr',
    tree: { symlinks: true, longNames: true },
  },
  {
    title: 'genisoimage -r with relocated deep directories',
    build: { tool: 'genisoimage', label: 'CONTEXT', rockRidge: true },
    names: 'rr',
    tree: { symlinks: true, deep: 11 },
    relocated: true,
  },
  { title: 'genisoimage -J', build: { tool: 'genisoimage', label: 'cidata', joliet: true }, names: 'joliet', tree: {} },
  { title: 'genisoimage plain', build: { tool: 'genisoimage', label: 'CONTEXT' }, names: 'plain', tree: {} },
];

describe.each(CASES)('$title', (c) => {
  let iso: string;
  let src: ReturnType<typeof fileSource>;
  let vol: Volume;
  let tree: string;
  let ours: Map<string, Item>;

  beforeAll(async () => {
    tree = makeTree(c.title.replace(/\W+/g, '-'), c.tree);
    iso = buildIso(tree, { ...c.build, out: join(work, c.title.replace(/\W+/g, '-'), 'image.iso') });
    src = fileSource(iso);
    vol = await openIso9660(src);
    ours = await walkVolume(vol);
  });

  afterAll(() => src.close());

  it('reads the label from the primary volume descriptor, cheaply', async () => {
    expect(vol.fsType).toBe('iso9660');
    expect(vol.label).toBe(c.build.label);
    const probe = fileSource(iso);
    expect(await probeIso9660Label(probe)).toBe(c.build.label);
    expect(probe.bytesRead).toBeLessThanOrEqual(2048 * 2);
    probe.close();
  });

  it('matches every name, type, symlink target and byte that osirrox extracts', () => {
    expectSameTree(ours, walkDisk(extractIso(iso)), c.names === 'rr');
  });

  it('matches the isoinfo -f listing', () => {
    const listed = isoinfoList(iso, c.names).map((p) => kernelPath(p, c.names));
    const ourPaths = [...ours.keys()];
    if (c.relocated) {
      // isoinfo shows relocated directories under rr_moved and leaves their placeholders out.
      expect(listed.some((p) => p.startsWith('/rr_moved/'))).toBe(true);
      expect(ourPaths.filter((p) => p.startsWith('/rr_moved/'))).toEqual([]);
      const shared = listed.filter((p) => !p.startsWith('/rr_moved/') && !p.includes('/level8'));
      expect(ourPaths).toEqual(expect.arrayContaining(shared));
    } else {
      expect(ourPaths.sort()).toEqual(listed.sort());
    }
  });

  it('reads files byte for byte like isoinfo -x', async () => {
    const contextPath = c.names === 'plain' ? '/CONTEXT.SH;1' : '/context.sh';
    const bigPath = c.names === 'plain' ? '/BIG.BIN;1' : '/big.bin';
    expect((await vol.readFile('/context.sh')).equals(isoinfoExtract(iso, c.names, contextPath))).toBe(true);
    expect((await vol.readFile('/big.bin')).equals(isoinfoExtract(iso, c.names, bigPath))).toBe(true);
  });

  it('reads a file of a few MiB, a zero-length file and a directory spanning several sectors', async () => {
    const big = await vol.readFile('/big.bin');
    expect(big.equals(readFileSync(join(tree, 'big.bin')))).toBe(true);
    const empty = await vol.stat('/empty.txt');
    expect(empty).toMatchObject({ type: 'file', size: 0, path: '/empty.txt' });
    expect((await vol.readFile('/empty.txt')).length).toBe(0);
    const many = await vol.stat('/many');
    expect(many?.type).toBe('dir');
    expect(many!.size).toBeGreaterThan(2 * 2048);
    const entries = await vol.list('/many');
    expect(entries).toHaveLength(MANY);
    expect(new Set(entries.map((e) => e.name)).size).toBe(MANY);
  });

  it('walks nested directories', async () => {
    const levels = Array.from({ length: c.tree.deep ?? 6 }, (_, i) => `level${i + 1}`);
    const bottom = `/${levels.join('/')}/bottom.txt`;
    expect((await vol.readFile(bottom)).toString()).toBe(`at depth ${levels.length}\n`);
    expect((await vol.readFile('/nested/deeper/notes.txt')).toString()).toBe('a file two directories down\n');
    expect(await vol.stat('/nested/deeper')).toMatchObject({ type: 'dir', name: 'deeper', path: '/nested/deeper' });
    expect(await vol.stat('/')).toMatchObject({ type: 'dir', path: '/' });
  });

  if (c.names !== 'plain') {
    it('keeps long and non-ASCII names', async () => {
      expect((await vol.readFile(`/${JOLIET_NAME}`)).toString()).toBe('joliet sized name\n');
      expect((await vol.readFile('/café-ü.txt')).toString()).toBe('accents\n');
      if (c.tree.longNames) {
        expect(RR_LONG_NAME.length).toBeGreaterThan(200);
        expect((await vol.readFile(`/${RR_LONG_NAME}`)).toString()).toBe('long rock ridge name\n');
        expect((await vol.readFile(`/${RR_LONG_DIR}/inside.txt`)).toString()).toBe('inside a long directory\n');
      }
      // Rock Ridge and Joliet names are case-sensitive.
      expect(await vol.stat('/CONTEXT.SH')).toBeUndefined();
    });
  } else {
    it('maps plain names like the kernel and matches them case-insensitively', async () => {
      const names = (await vol.list('/')).map((e) => e.name);
      expect(names).toContain('context.sh');
      expect(names.every((n) => n === n.toLowerCase() && !n.includes(';'))).toBe(true);
      expect((await vol.readFile('/CONTEXT.SH')).equals(readFileSync(join(tree, 'context.sh')))).toBe(true);
      expect((await vol.stat('/Nested/DEEPER'))?.path).toBe('/nested/deeper');
    });
  }

  if (c.names === 'rr') {
    it('equals the source tree, with Rock Ridge symlinks and modes', async () => {
      const source = walkDisk(tree);
      // genisoimage leaves its (now empty) relocation directory visible, as the kernel shows it.
      if (c.relocated) source.set('/rr_moved', { type: 'dir' });
      expectSameTree(ours, source, c.build.rockRidgeFlag === '-R');
      expect(await vol.stat('/link-context')).toEqual({
        name: 'link-context',
        path: '/link-context',
        type: 'symlink',
        size: 0,
        // -r rationalizes every mode, symlinks' too.
        mode: c.build.rockRidgeFlag === '-R' ? 0o777 : 0o555,
        target: 'context.sh',
      });
      // readFile and lookups follow relative links inside the volume...
      expect((await vol.readFile('/link-context')).toString()).toContain("HOSTNAME='iso-fixture'");
      expect((await vol.readFile('/link-dir/notes.txt')).toString()).toBe('a file two directories down\n');
      expect((await vol.list('/link-dir')).map((e) => e.path)).toEqual(['/link-dir/notes.txt']);
      // ...but not out of it.
      await expect(vol.readFile('/link-abs')).rejects.toThrow(/points outside the volume/);
      await expect(vol.readFile('/link-up')).rejects.toThrow(/above the root/);
      const secret = await vol.stat('/secret.txt');
      expect(secret?.mode).toBe(c.build.rockRidgeFlag === '-R' ? 0o600 : 0o444);
      expect((await vol.stat('/run.sh'))?.mode).toBe(0o555 | (c.build.rockRidgeFlag === '-R' ? 0o200 : 0));
    });
  } else {
    it('has no modes or symlinks without Rock Ridge', async () => {
      expect((await vol.stat('/context.sh'))?.mode).toBeUndefined();
      expect([...ours.values()].some((i) => i.type === 'symlink')).toBe(false);
    });
  }

  it('reports absent paths and wrong types with errors naming the image and the path', async () => {
    expect(await vol.stat('/no/such/file')).toBeUndefined();
    expect(await vol.stat('/context.sh/below')).toBeUndefined();
    const missing = await vol.readFile('/nope.txt').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DatasourceError);
    expect((missing as DatasourceError).source).toBe(iso);
    expect((missing as DatasourceError).message).toContain('/nope.txt');
    await expect(vol.readFile('/nested')).rejects.toThrow(DatasourceError);
    await expect(vol.list('/context.sh')).rejects.toThrow(/not a directory/);
    await expect(vol.list('/absent')).rejects.toThrow(/no such directory/);
  });
});

/** Finds the directory record whose identifier is `id` (not the path table entry) in a plain image. */
function findRecord(image: Buffer, id: string): number {
  const needle = Buffer.from(id, 'latin1');
  for (let at = image.indexOf(needle); at >= 0; at = image.indexOf(needle, at + 1)) {
    const start = at - 33;
    if (start >= 0 && image[at - 1] === needle.length && image[start]! >= 33 + needle.length) return start;
  }
  throw new Error(`no directory record named ${id}`);
}

function patchExtent(image: Buffer, record: number, block: number, length?: number): void {
  image.writeUInt32LE(block, record + 2);
  image.writeUInt32BE(block, record + 6);
  if (length !== undefined) {
    image.writeUInt32LE(length, record + 10);
    image.writeUInt32BE(length, record + 14);
  }
}

describe('damaged and hostile images', () => {
  let plainIso: Buffer;
  let rrIso: Buffer;

  beforeAll(() => {
    const root = join(work, 'hostile', 'src');
    mkdirSync(join(root, 'outer', 'loopdir'), { recursive: true });
    writeFileSync(join(root, 'outer', 'loopdir', 'x.txt'), 'x\n');
    writeFileSync(join(root, 'part1.bin'), pseudoRandom(5000, 1));
    writeFileSync(join(root, 'part2.bin'), pseudoRandom(3000, 2));
    writeFileSync(join(root, 'loopce.txt'), 'ce\n');
    writeFileSync(join(root, 'context.sh'), "HOSTNAME='x'\n");
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    symlinkSync('../context.sh', join(root, 'outer', 'up-link'));
    plainIso = readFileSync(buildIso(root, { tool: 'genisoimage', label: 'CONTEXT', out: join(work, 'hostile', 'plain.iso') }));
    rrIso = readFileSync(
      buildIso(root, { tool: 'xorriso', label: 'cidata', rockRidge: true, out: join(work, 'hostile', 'rr.iso') }),
    );
  });

  it('rejects random bytes with a ParseError, and probing says "not ISO9660"', async () => {
    const garbage = bufferSource('random.img', pseudoRandom(256 * 1024, 7));
    await expect(openIso9660(garbage)).rejects.toThrow(ParseError);
    await expect(openIso9660(garbage)).rejects.toThrow(/not an ISO9660 image/);
    expect(await probeIso9660Label(garbage)).toBeUndefined();
    expect(await probeIso9660Label(bufferSource('tiny.img', Buffer.from('hello')))).toBeUndefined();
    await expect(openIso9660(bufferSource('empty.img', Buffer.alloc(0)))).rejects.toThrow(ParseError);
  });

  it('probing propagates I/O errors', async () => {
    const failing = {
      name: '/dev/sr0',
      size: 1024 * 1024,
      read: async () => {
        throw new Error('EIO');
      },
    };
    await expect(probeIso9660Label(failing)).rejects.toThrow(DatasourceError);
  });

  it('reports a truncated image as a ParseError naming the image and the file', async () => {
    // Keep the descriptors and directories but cut the file data off.
    const vol = await openIso9660(bufferSource('cut.iso', plainIso.subarray(0, 24 * 2048)));
    expect(await vol.list('/')).not.toHaveLength(0);
    const err = await vol.readFile('/part1.bin').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).source).toBe('cut.iso');
    expect((err as ParseError).message).toMatch(/\/part1\.bin.*past the end/);
    // Cut inside the descriptors: still an ISO by its label, but nothing else is readable.
    const cut = bufferSource('cut2.iso', plainIso.subarray(0, 17 * 2048));
    expect(await probeIso9660Label(cut)).toBe('CONTEXT');
    await expect(openIso9660(cut).then((v) => v.list('/'))).rejects.toThrow(ParseError);
  });

  it('detects a directory that contains its own ancestor', async () => {
    const image = Buffer.from(plainIso);
    const outer = findRecord(image, 'OUTER');
    const outerBlock = image.readUInt32LE(outer + 2);
    patchExtent(image, findRecord(image, 'LOOPDIR'), outerBlock);
    const vol = await openIso9660(bufferSource('loop.iso', image));
    await expect(vol.list('/outer/loopdir')).rejects.toThrow(/directory loop/);
    await expect(vol.readFile('/outer/loopdir/loopdir/loopdir/x.txt')).rejects.toThrow(ParseError);
    // A naive recursive walk ends with that error instead of running forever.
    await expect(walkVolume(vol)).rejects.toThrow(/outer\/loopdir.*directory loop/);

    const toRoot = Buffer.from(plainIso);
    patchExtent(toRoot, findRecord(toRoot, 'LOOPDIR'), toRoot.readUInt32LE(16 * 2048 + 156 + 2));
    await expect(walkVolume(await openIso9660(bufferSource('loop2.iso', toRoot)))).rejects.toThrow(/directory loop/);
  });

  it('joins the extents of a multi-extent file and rejects one left unfinished', async () => {
    // genisoimage cannot write multi-extent files under 4 GiB: turn two adjacent
    // records into one file by giving them one name and flagging the first "not final".
    const image = Buffer.from(plainIso);
    const first = findRecord(image, 'PART1.BIN;1');
    const second = findRecord(image, 'PART2.BIN;1');
    expect(second).toBe(first + image[first]!);
    image[first + 25] = image[first + 25]! | 0x80;
    image.write('PART1.BIN;1', second + 33, 'latin1');
    const vol = await openIso9660(bufferSource('multi.iso', image));
    const expected = Buffer.concat([pseudoRandom(5000, 1), pseudoRandom(3000, 2)]);
    expect(await vol.stat('/part1.bin')).toMatchObject({ type: 'file', size: 8000 });
    expect((await vol.readFile('/part1.bin')).equals(expected)).toBe(true);
    expect(await vol.stat('/part2.bin')).toBeUndefined();
    expect((await vol.list('/')).filter((e) => e.name.startsWith('part'))).toHaveLength(1);

    const unfinished = Buffer.from(plainIso);
    const only = findRecord(unfinished, 'PART2.BIN;1');
    unfinished[only + 25] = unfinished[only + 25]! | 0x80;
    const bad = await openIso9660(bufferSource('unfinished.iso', unfinished));
    await expect(bad.list('/')).rejects.toThrow(/multi-extent file "part2.bin" ends without its final extent/);
  });

  it('stops a Rock Ridge continuation (CE) chain that loops', async () => {
    const image = Buffer.from(rrIso);
    // The NM entry of loopce.txt locates its record's system use area; replace the PX
    // entry with a CE entry of the same length that points back at the same area.
    const nm = image.indexOf(Buffer.concat([Buffer.from('NM'), Buffer.from([5 + 10, 1, 0]), Buffer.from('loopce.txt')]));
    expect(nm).toBeGreaterThan(0);
    const record = findRecord(image, 'LOOPCE.TXT;1');
    const idLen = image[record + 32]!;
    const suStart = record + 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
    const px = image.indexOf(Buffer.from('PX'), suStart);
    expect(px).toBeGreaterThanOrEqual(suStart);
    expect(px).toBeLessThan(record + image[record]!);
    const pxLen = image[px + 2]!;
    image.write('CE', px, 'latin1');
    image[px + 3] = 1;
    image.writeUInt32LE(Math.floor(suStart / 2048), px + 4);
    image.writeUInt32BE(Math.floor(suStart / 2048), px + 8);
    image.writeUInt32LE(suStart % 2048, px + 12);
    image.writeUInt32BE(suStart % 2048, px + 16);
    image.writeUInt32LE(record + image[record]! - suStart, px + 20);
    image.writeUInt32BE(record + image[record]! - suStart, px + 24);
    expect(pxLen).toBeGreaterThanOrEqual(28);
    const vol = await openIso9660(bufferSource('celoop.iso', image));
    const err = await vol.list('/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).message).toMatch(/continuation chain longer than 32/);
  });

  it('follows symlinks that climb inside the volume and stops symlink loops', async () => {
    const vol = await openIso9660(bufferSource('rr.iso', rrIso));
    expect((await vol.readFile('/outer/up-link')).toString()).toBe("HOSTNAME='x'\n");
    expect(await vol.stat('/loop-a')).toMatchObject({ type: 'symlink', target: 'loop-b' });
    const err = await vol.readFile('/loop-a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).message).toMatch(/^\/loop-a: more than 16 symlinks/);
    await expect(vol.list('/loop-b')).rejects.toThrow(LimitError);
  });

  it('re-reads directories evicted from a small cache', async () => {
    let reads = 0;
    const src = bufferSource('plain.iso', plainIso);
    const counting = { ...src, read: (o: number, l: number) => (reads++, src.read(o, l)) };
    const vol = await openIso9660(counting, { cachedEntries: 1 });
    const first = await vol.list('/outer');
    const afterFirst = reads;
    expect(await vol.list('/outer')).toEqual(first);
    expect(reads).toBeGreaterThan(afterFirst);
    const roomy = await openIso9660(bufferSource('plain.iso', plainIso));
    expect(await roomy.list('/outer')).toEqual(first);
  });

  it('refuses files over maxBytes before reading them', async () => {
    const src = bufferSource('plain.iso', plainIso);
    let read = 0;
    const counting = { ...src, read: (o: number, l: number) => ((read += l), src.read(o, l)) };
    const vol = await openIso9660(counting);
    await vol.list('/');
    const before = read;
    const err = await vol.readFile('/part1.bin', 4999).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).message).toBe('/part1.bin: file is 5000 bytes, over the limit of 4999');
    expect(read).toBe(before);
    expect((await vol.readFile('/part1.bin', 5000)).length).toBe(5000);
    // The default cap comes from the limits.
    const capped = await openIso9660(src, { maxFileBytes: 100 });
    await expect(capped.readFile('/part1.bin')).rejects.toThrow(LimitError);
  });

  it('bounds depth and entries per directory', async () => {
    const vol = await openIso9660(bufferSource('plain.iso', plainIso), { maxDepth: 1, maxEntriesPerDir: 4 });
    await expect(vol.list('/')).rejects.toThrow(/more than 4 directory records/);
    const shallow = await openIso9660(bufferSource('plain.iso', plainIso), { maxDepth: 1 });
    expect(await shallow.stat('/outer')).toBeDefined();
    await expect(shallow.stat('/outer/loopdir/x.txt')).rejects.toThrow(/deeper than 1 directories/);
  });

  it('never throws anything but a typed error, nor hangs, on corrupted metadata', async () => {
    // Mutate only bytes that carry metadata (non-zero bytes of the descriptors, path
    // tables and directories), where random damage matters.
    const hot = (image: Buffer): number[] => {
      const at: number[] = [];
      for (let i = 16 * 2048; i < Math.min(image.length, 40 * 2048); i++) if (image[i] !== 0) at.push(i);
      return at;
    };
    const hotPlain = hot(plainIso);
    const hotRr = hot(rrIso);
    let opened = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (rr, patches) => {
          const image = Buffer.from(rr ? rrIso : plainIso);
          const spots = rr ? hotRr : hotPlain;
          for (const [pick, value] of patches) image[spots[pick % spots.length]!] = value;
          try {
            const vol = await openIso9660(bufferSource('fuzz.iso', image));
            opened++;
            let visits = 0;
            const visit = async (dir: string, depth: number): Promise<void> => {
              for (const entry of await vol.list(dir)) {
                if (++visits > 500 || depth > 8) return;
                if (entry.type === 'dir') await visit(entry.path, depth + 1);
                else await vol.readFile(entry.path, 1024 * 1024);
              }
            };
            await visit('/', 0);
          } catch (err) {
            expect(err).toBeInstanceOf(GuestctxError);
            expect((err as GuestctxError).source).toBe('fuzz.iso');
          }
        },
      ),
      { numRuns: 400, seed: 20240611 },
    );
    // Most damage still leaves an openable volume: the walk above did real work.
    expect(opened).toBeGreaterThan(100);
  });
});

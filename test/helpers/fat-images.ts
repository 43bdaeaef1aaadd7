// Test helper: builds real vfat images from a directory with dosfstools (mkfs.fat -C)
// and mtools (mcopy), and reads them back with mtools as the reference to compare the
// user-space FAT reader against. Images live in fresh temp directories; call
// cleanupFatImages() in afterAll.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../../src/media/volume';

export interface FatImageOptions {
  /** Volume label for mkfs.fat -n; '' leaves the volume unlabelled ("NO NAME"). */
  label: string;
  /** Force FAT12, FAT16 or FAT32; mkfs.fat chooses by size when absent. */
  fatSize?: 12 | 16 | 32;
  /** Image size in KiB. Defaults: 2 MiB (FAT12 / unforced), 16 MiB (FAT16, the smallest mkfs.fat accepts with its default cluster size), 33 MiB (FAT32, mkfs.fat's minimum is ~32 MiB). */
  sizeKiB?: number;
  /** Logical sector size (mkfs.fat -S), 512 by default. */
  sectorSize?: number;
}

/** mtools refuses odd geometries on plain files unless told not to check; UTF-8 for long names. */
export const MTOOLS_ENV: NodeJS.ProcessEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

const createdDirs: string[] = [];

function defaultSizeKiB(fatSize: FatImageOptions['fatSize']): number {
  if (fatSize === 32) return 33 * 1024;
  if (fatSize === 16) return 16 * 1024;
  return 2 * 1024;
}

/** Build a vfat image holding a copy of `srcDir` (recursively) and return the image path. */
export function buildFatImage(srcDir: string, opts: FatImageOptions): string {
  const dir = mkdtempSync(join(tmpdir(), 'guestctx-fat-'));
  createdDirs.push(dir);
  const image = join(dir, 'image.img');
  const args = ['-C'];
  if (opts.fatSize !== undefined) args.push('-F', String(opts.fatSize));
  if (opts.sectorSize !== undefined) args.push('-S', String(opts.sectorSize));
  if (opts.label !== '') args.push('-n', opts.label);
  args.push(image, String(opts.sizeKiB ?? defaultSizeKiB(opts.fatSize)));
  // -C creates the file with ftruncate, so the image is sparse and cheap.
  execFileSync('mkfs.fat', args, { stdio: 'pipe', env: MTOOLS_ENV });
  const entries = readdirSync(srcDir).map((name) => join(srcDir, name));
  if (entries.length > 0) {
    execFileSync('mcopy', ['-s', '-i', image, ...entries, '::/'], { stdio: 'pipe', env: MTOOLS_ENV });
  }
  return image;
}

/** Every path mtools sees, as `mdir -/ -b -a` prints it ("::/dir/", "::/dir/file"), sorted. */
export function mtoolsList(image: string): string[] {
  const out = execFileSync('mdir', ['-/', '-b', '-a', '-i', image, '::/'], { encoding: 'utf8', env: MTOOLS_ENV });
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .sort();
}

/** Extract the whole volume with `mcopy -s -i IMG ::/ OUTDIR` and return OUTDIR. */
export function mtoolsExtract(image: string): string {
  const out = mkdtempSync(join(tmpdir(), 'guestctx-fat-out-'));
  createdDirs.push(out);
  execFileSync('mcopy', ['-s', '-n', '-i', image, '::/', out], { stdio: 'pipe', env: MTOOLS_ENV });
  return out;
}

/** The label libblkid reports (LABEL), or '' when it reports none. */
export function blkidValue(image: string, tag: 'LABEL' | 'LABEL_FATBOOT' | 'VERSION' | 'TYPE'): string {
  try {
    return execFileSync('blkid', ['-p', '-o', 'value', '-s', tag, image], { encoding: 'utf8' }).trim();
  } catch (err) {
    // blkid exits 2 when the tag is absent.
    if ((err as { status?: number }).status === 2) return '';
    throw err;
  }
}

/** A BlockSource over an image file, read on demand (like a block device through the Host). */
export function fileSource(path: string, name = path): BlockSource & { reads: number; close(): void } {
  const fd = openSync(path, 'r');
  const size = statSync(path).size;
  const source = {
    name,
    size,
    reads: 0,
    async read(offset: number, length: number): Promise<Buffer> {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      source.reads++;
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) throw new RangeError(`${name}: unexpected end of file at ${offset + done}`);
        done += n;
      }
      return buf;
    },
    close(): void {
      closeSync(fd);
    },
  };
  return source;
}

/** Remove every image and extraction directory this helper created. */
export function cleanupFatImages(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

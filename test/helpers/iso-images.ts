// Test helper: builds real ISO9660 images with xorriso or genisoimage, opens image
// files as BlockSources, and extracts them with the tools' own readers (osirrox,
// isoinfo) so tests can compare the user-space reader with an independent one.

import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../../src/media/volume';

export interface BuildIsoOptions {
  /** Volume identifier (-V), e.g. CONTEXT, config-2, cidata. */
  label: string;
  tool: 'xorriso' | 'genisoimage';
  /** Add a Joliet tree (-J). */
  joliet?: boolean;
  /** Add Rock Ridge. Off means plain ISO9660 names (xorriso gets --norock, as it writes Rock Ridge by default). */
  rockRidge?: boolean;
  /** '-r' (rationalized owners and modes, the default here) or '-R' (modes kept as on disk). */
  rockRidgeFlag?: '-r' | '-R';
  /** Where to write the image; default: a new temp directory. */
  out?: string;
  /** Further mkisofs-style options, placed before the source directory. */
  extraArgs?: string[];
}

/** Builds an ISO image of `dir` and returns the path of the .iso file. */
export function buildIso(dir: string, opts: BuildIsoOptions): string {
  const out = opts.out ?? join(mkdtempSync(join(tmpdir(), 'guestctx-iso-')), `${opts.label}.iso`);
  const args = ['-quiet', '-input-charset', 'utf-8', '-o', out, '-V', opts.label];
  if (opts.joliet) args.push('-J');
  if (opts.rockRidge) args.push(opts.rockRidgeFlag ?? '-r');
  else if (opts.tool === 'xorriso') args.push('--norock');
  args.push(...(opts.extraArgs ?? []), dir);
  if (opts.tool === 'xorriso') {
    execFileSync('xorriso', ['-as', 'mkisofs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  } else {
    execFileSync('genisoimage', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return out;
}

/**
 * Extracts the whole image with xorriso's own reader into a new temp directory and
 * returns its path. Names follow the same precedence as the kernel: Rock Ridge, then
 * Joliet, then plain names lowercased with ";1" removed (-ecma119_map lowercase).
 */
export function extractIso(iso: string): string {
  const out = join(mkdtempSync(join(tmpdir(), 'guestctx-isox-')), 'root');
  execFileSync('osirrox', ['-ecma119_map', 'lowercase', '-indev', iso, '-extract', '/', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return out;
}

/**
 * `isoinfo -f` listing of the image ('rr' adds -R, 'joliet' adds -J), one path per element.
 * isoinfo knows no UTF-8 output charset, so Joliet names are asked for in Latin-1.
 */
export function isoinfoList(iso: string, names: 'rr' | 'joliet' | 'plain'): string[] {
  const flag = names === 'rr' ? ['-R'] : names === 'joliet' ? ['-J', '-j', 'iso8859-1'] : [];
  const raw = execFileSync('isoinfo', ['-i', iso, ...flag, '-f']);
  const text = raw.toString(names === 'joliet' ? 'latin1' : 'utf8');
  return text.split('\n').filter((line) => line !== '');
}

/** One file's bytes as `isoinfo -x` extracts them. */
export function isoinfoExtract(iso: string, names: 'rr' | 'joliet' | 'plain', path: string): Buffer {
  const flag = names === 'rr' ? ['-R'] : names === 'joliet' ? ['-J'] : [];
  return execFileSync('isoinfo', ['-i', iso, ...flag, '-x', path], { maxBuffer: 64 * 1024 * 1024 });
}

/** A file-backed BlockSource (what the Host gives for /dev/sr0 or an image), plus a close and a read counter. */
export interface FileSource extends BlockSource {
  readonly bytesRead: number;
  close(): void;
}

export function fileSource(path: string): FileSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  let bytesRead = 0;
  return {
    name: path,
    size,
    get bytesRead() {
      return bytesRead;
    },
    async read(offset: number, length: number): Promise<Buffer> {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) throw new Error(`${path}: unexpected end of file at ${offset + done}`);
        done += n;
      }
      bytesRead += length;
      return buf;
    },
    close() {
      closeSync(fd);
    },
  };
}

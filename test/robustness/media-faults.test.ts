// Fault injection on removable media: a context CD whose reads start failing
// part-way (the disc is ejected, the drive dies) and a seed image truncated or
// deleted between detection and reading. The readers must either return the
// exact bytes or a typed error naming the medium, never partial or wrong data;
// a run whose required seed breaks stops with a usage error naming it.
import { truncateSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openNebula } from '../../datasources/opennebula';
import { hostname } from '../../modules/hostname';
import { GuestctxError, UsageError } from '../../src/errors';
import { memoryLogger } from '../../src/log/logger';
import { openFat } from '../../src/media/fat';
import { openIso9660 } from '../../src/media/iso9660';
import type { BlockSource } from '../../src/media/volume';
import { runPipeline } from '../../src/pipeline';
import type { Datasource } from '../../src/types';
import { buildFatImage, cleanupFatImages } from '../helpers/fat-images';
import { fileSource } from '../helpers/iso-images';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { contextIso, contextSeed } from './seed';

let root: TempRoot | undefined;
afterEach(() => {
  root?.cleanup();
  root = undefined;
  cleanupFatImages();
});

/** A source that serves `ok` reads, then fails every read like a device that went away. */
function failingAfter(src: BlockSource, ok: number): BlockSource & { reads: number } {
  let reads = 0;
  return {
    name: src.name,
    size: src.size,
    get reads() {
      return reads;
    },
    async read(offset, length) {
      if (reads++ >= ok) throw Object.assign(new Error(`EIO: i/o error, read`), { code: 'EIO' });
      return src.read(offset, length);
    },
  };
}

async function readThrough(open: (s: BlockSource) => Promise<{ readFile(p: string): Promise<Buffer> }>, image: string, file: string, ok: number): Promise<Buffer | GuestctxError> {
  const src = fileSource(image);
  try {
    const vol = await open(failingAfter(src, ok));
    return await vol.readFile(file);
  } catch (err) {
    if (err instanceof GuestctxError) return err;
    throw err;
  } finally {
    src.close();
  }
}

describe('a medium that disappears mid-read', () => {
  it('ISO9660: after any number of good reads, the result is the whole file or a typed error naming the image', async () => {
    const iso = contextIso({ SET_HOSTNAME: 'web-01', SSH_PUBLIC_KEY: 'x'.repeat(5000) });
    const whole = await readThrough((s) => openIso9660(s), iso, '/context.sh', Number.MAX_SAFE_INTEGER);
    expect(whole).toBeInstanceOf(Buffer);
    let failures = 0;
    for (let ok = 0; ok < 40; ok++) {
      const got = await readThrough((s) => openIso9660(s), iso, '/context.sh', ok);
      if (got instanceof GuestctxError) {
        failures++;
        expect(got.source).toBe(iso);
        expect(got.message).toMatch(/cannot read/);
      } else expect(got.equals(whole as Buffer)).toBe(true);
    }
    expect(failures).toBeGreaterThan(0);
  });

  it('FAT: the same, over a config drive image', async () => {
    const img = buildFatImage(path.join(__dirname, '../fixtures/media/fat/config-drive'), { label: 'config-2' });
    const file = '/openstack/latest/meta_data.json';
    const whole = await readThrough((s) => openFat(s), img, file, Number.MAX_SAFE_INTEGER);
    expect(whole).toBeInstanceOf(Buffer);
    let failures = 0;
    for (let ok = 0; ok < 40; ok++) {
      const got = await readThrough((s) => openFat(s), img, file, ok);
      if (got instanceof GuestctxError) {
        failures++;
        expect(got.source).toBe(img);
      } else expect(got.equals(whole as Buffer)).toBe(true);
    }
    expect(failures).toBeGreaterThan(0);
  });
});

/** OpenNebula, with `between` run after detection and before reading. */
function breakAfterDetect(between: () => void): Datasource {
  return {
    ...openNebula,
    async detect(ctx) {
      const d = await openNebula.detect(ctx);
      between();
      return d;
    },
  };
}

describe('a seed image changed between detect and read', () => {
  it('truncated: the run stops with a usage error naming the seed, and configures nothing', async () => {
    root = makeTempRoot();
    const iso = contextIso({ SET_HOSTNAME: 'web-01', SSH_PUBLIC_KEY: 'x'.repeat(20000) });
    const run = runPipeline({
      host: hostOn(root),
      log: memoryLogger(),
      stages: ['local'],
      seed: iso,
      datasources: [breakAfterDetect(() => truncateSync(iso, 36 * 1024))],
      modules: [hostname],
    });
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(iso);
    expect((err as Error).message).toMatch(/cannot read context\.sh/);
    expect(root.read('etc/hostname')).toBe('debian\n');
  });

  it('deleted: the open handle still reads the whole image, so the run completes (Linux keeps the inode)', async () => {
    root = makeTempRoot();
    const iso = contextIso({ SET_HOSTNAME: 'web-01' });
    const result = await runPipeline({ host: hostOn(root), log: memoryLogger(), stages: ['local'], seed: iso, datasources: [breakAfterDetect(() => unlinkSync(iso))], modules: [hostname] });
    expect(result.exitCode).toBe(0);
    expect(root.read('etc/hostname')).toBe('web-01\n');
  });

  it('a seed folder whose context.sh vanishes: a usage error naming it', async () => {
    root = makeTempRoot();
    const dir = contextSeed({ SET_HOSTNAME: 'web-01' });
    const err = await runPipeline({
      host: hostOn(root),
      log: memoryLogger(),
      stages: ['local'],
      seed: dir,
      datasources: [breakAfterDetect(() => unlinkSync(path.join(dir, 'context.sh')))],
      modules: [hostname],
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/context\.sh/);
    expect(root.read('etc/hostname')).toBe('debian\n');
  });
});

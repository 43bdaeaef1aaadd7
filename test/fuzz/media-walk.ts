// Walks a Volume the way datasources use one: list every directory (bounded),
// stat every entry, read every file with a size cap. Shared by the ISO9660 and
// FAT fuzz targets; the point is to touch every structure a hostile image has.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Volume } from '../../src/media/volume';
import { invariant } from './support';

const MAX_VISITS = 2000;
const READ_CAP = 1024 * 1024;

export async function walkVolume(vol: Volume): Promise<void> {
  const queue = ['/'];
  let visits = 0;
  while (queue.length > 0 && visits < MAX_VISITS) {
    const dir = queue.shift() as string;
    for (const e of await vol.list(dir)) {
      if (++visits > MAX_VISITS) break;
      invariant(e.path.startsWith('/'), `entry path ${JSON.stringify(e.path)} is not absolute`);
      await vol.stat(e.path);
      if (e.type === 'dir') queue.push(e.path);
      else if (e.type === 'file') {
        const data = await vol.readFile(e.path, READ_CAP);
        invariant(data.length <= READ_CAP, `readFile returned ${data.length} bytes past its cap`);
      }
    }
  }
  // Lookups datasources do by name, present or not.
  for (const p of ['/context.sh', '/openstack/latest/meta_data.json', '/user-data', '/../../etc/passwd', '/nested/deeper/notes.txt']) await vol.stat(p);
}

/** Runs `fn` in a scratch directory that is removed afterwards. */
export function withScratch<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-fuzz-seed-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { stdio: 'ignore', env });
}

/** The image cut after its last non-zero 4 KiB block: big FAT16/32 geometries, small seeds. */
export function trimmed(file: string): Buffer {
  const data = readFileSync(file);
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, Math.min(data.length, Math.ceil(end / 4096) * 4096 + 4096));
}

export function entriesOf(dir: string): string[] {
  return readdirSync(dir).map((n) => path.join(dir, n));
}

// A private working copy of the context CD. one-context and HEPiX run their
// scripts (INIT_SCRIPTS, init.sh, prolog.sh, epilog.sh) from the mounted CD,
// so the scripts expect its files in their working directory. guestctx reads
// the CD in user space and never mounts it; instead the CD's files are copied
// into a root-only directory under the state directory, which then serves as
// the scripts' working directory. The copy is bounded (entries, depth, total
// bytes) because the CD is untrusted, is checked against those bounds before
// anything is written, and mirrors the CD exactly: files that left the CD
// leave the copy too. Writes are content-compared, so copying an unchanged CD
// again changes nothing.
import { HostError, LimitError } from '../errors';
import type { Host } from '../host/host';
import type { Logger } from '../log/logger';
import type { Volume, VolumeEntry } from '../media/volume';
import { ensurePrivateDir } from './run-guest-script';

/** Where the copy lives, below the state directory. */
export const CONTEXT_DIR = 'instance/context';

export function contextDirOf(stateDir: string): string {
  return `${stateDir}/${CONTEXT_DIR}`;
}

export interface ContextDirLimits {
  /** Total bytes of all files copied. */
  readonly maxBytes: number;
  /** Files and directories copied. */
  readonly maxEntries: number;
  /** Directory levels below the CD root. */
  readonly maxDepth: number;
}

/** 128 MiB, 4096 entries, 16 levels: far above any context CD OpenNebula builds, far below a full disk. */
export const DEFAULT_CONTEXT_DIR_LIMITS: ContextDirLimits = Object.freeze({ maxBytes: 128 * 1024 * 1024, maxEntries: 4096, maxDepth: 16 });

export interface ContextDirResult {
  /** Guest path of the copy. */
  readonly dir: string;
  readonly files: number;
  readonly bytes: number;
}

/** A name that can safely become one path component of the copy. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

interface Planned {
  /** Path inside the CD, "/"-rooted. */
  readonly cdPath: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
}

/** Walk the CD, enforcing the limits, before a single byte is written. */
async function planCopy(medium: Volume, log: Logger, limits: ContextDirLimits): Promise<Planned[]> {
  const out: Planned[] = [];
  let bytes = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: VolumeEntry[];
    try {
      entries = await medium.list(dir);
    } catch (err) {
      throw new HostError(`context CD ${dir}`, 'cannot list directory', { cause: err });
    }
    for (const e of entries) {
      const cdPath = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      if (!safeName(e.name)) {
        log.warn(`context CD: entry ${JSON.stringify(e.name)} in ${dir} has an unusable name; not copied`);
        continue;
      }
      if (e.type === 'symlink') {
        // A link is only meaningful on the CD; following it could leave the CD.
        log.warn(`context CD: ${cdPath} is a symbolic link; not copied`);
        continue;
      }
      if (out.length + 1 > limits.maxEntries) throw new LimitError('context CD', `more than ${limits.maxEntries} files and directories; not copied`);
      if (e.type === 'dir') {
        if (depth + 1 > limits.maxDepth) throw new LimitError(`context CD ${cdPath}`, `directories nest deeper than ${limits.maxDepth} levels; not copied`);
        out.push({ cdPath, type: 'dir', size: 0 });
        await walk(cdPath, depth + 1);
        continue;
      }
      bytes += e.size;
      if (bytes > limits.maxBytes) throw new LimitError('context CD', `files total more than ${limits.maxBytes} bytes; not copied`);
      out.push({ cdPath, type: 'file', size: e.size });
    }
  };
  await walk('/', 0);
  return out;
}

/** Remove what is in the copy but not (or no longer of the same type) on the CD. */
async function pruneStale(host: Host, dir: string, wanted: ReadonlyMap<string, 'file' | 'dir'>, rel: string): Promise<void> {
  const here = rel === '' ? dir : `${dir}${rel}`;
  for (const name of await host.list(here)) {
    const relPath = `${rel}/${name}`;
    const want = wanted.get(relPath);
    const info = await host.stat(`${dir}${relPath}`);
    const type = info?.type === 'dir' ? 'dir' : 'file';
    if (want === undefined || want !== type) {
      await host.remove(`${dir}${relPath}`);
      continue;
    }
    if (type === 'dir') await pruneStale(host, dir, wanted, relPath);
  }
}

/**
 * Copy every file of the CD into `${stateDir}/instance/context` (0700, root).
 * Every file is 0700: the copy is root's alone, and any file of the CD may be
 * named in INIT_SCRIPTS whatever mode the CD recorded (if any).
 */
export async function materialiseContextDir(host: Host, log: Logger, medium: Volume, stateDir: string, limits: ContextDirLimits = DEFAULT_CONTEXT_DIR_LIMITS): Promise<ContextDirResult> {
  const plan = await planCopy(medium, log, limits);
  const dir = await ensurePrivateDir(host, stateDir, CONTEXT_DIR);
  await pruneStale(host, dir, new Map(plan.map((p) => [p.cdPath, p.type])), '');
  let files = 0;
  let bytes = 0;
  for (const p of plan) {
    const dest = `${dir}${p.cdPath}`;
    if (p.type === 'dir') {
      await host.mkdir(dest, { mode: 0o700, owner: 'root' });
      continue;
    }
    let content: Buffer;
    try {
      // The size seen while planning is the bound: a file cannot grow between.
      content = await medium.readFile(p.cdPath, Math.max(p.size, 1));
    } catch (err) {
      throw new HostError(`context CD ${p.cdPath}`, 'cannot read', { cause: err });
    }
    // The CD holds context.sh and its secrets: never diff its files in --dry-run.
    await host.writeFile(dest, content, { mode: 0o700, owner: 'root', secret: true });
    files += 1;
    bytes += content.length;
  }
  log.debug(`context CD copied to ${dir}: ${files} file(s), ${bytes} bytes`);
  return { dir, files, bytes };
}

// A Volume over a folder on the local machine: a --seed folder, a medium the
// system already mounted, or the mount point of the kernel-mount fallback.
// Synchronous calls behind the async Volume interface, as in node-host.ts.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { DatasourceError, LimitError } from '../errors';
import type { Volume, VolumeEntry } from '../media/volume';

export function dirVolume(base: string, label: string): Volume {
  const toLocal = (p: string): string => {
    const norm = path.posix.normalize(`/${p}`);
    return path.join(base, norm);
  };
  const entry = async (p: string): Promise<VolumeEntry | undefined> => {
    const norm = path.posix.normalize(`/${p}`);
    try {
      const s = lstatSync(toLocal(norm));
      const type = s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'file';
      return { name: path.posix.basename(norm), path: norm, type, size: s.size, mode: s.mode & 0o7777, ...(type === 'symlink' ? { target: readlinkSync(toLocal(norm)) } : {}) };
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR') return undefined;
      throw new DatasourceError(`${base}${norm}`, 'cannot stat', { cause: err });
    }
  };
  return {
    fsType: 'iso9660',
    label,
    async list(dir: string): Promise<VolumeEntry[]> {
      let names: string[];
      try {
        names = readdirSync(toLocal(dir));
      } catch (err) {
        throw new DatasourceError(`${base}${dir}`, 'cannot list directory', { cause: err });
      }
      const out: VolumeEntry[] = [];
      for (const n of names.sort()) {
        const e = await entry(path.posix.join(dir, n));
        if (e) out.push(e);
      }
      return out;
    },
    stat: entry,
    async readFile(p: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
      const e = await entry(p);
      if (!e || e.type !== 'file') throw new DatasourceError(`${base}${p}`, e ? 'is not a regular file' : 'no such file');
      if (e.size > maxBytes) throw new LimitError(`${base}${p}`, `file is ${e.size} bytes, more than the limit of ${maxBytes}`);
      return readFileSync(toLocal(p));
    },
  };
}

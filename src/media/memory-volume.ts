// A Volume over files held in memory: context delivered by other channels
// than a medium (VMware guestinfo keys) still offers the same interface to
// modules that copy files from "the CD" (INIT_SCRIPTS, FILES).
import path from 'node:path';
import { DatasourceError, LimitError } from '../errors';
import type { Volume, VolumeEntry } from './volume';

export function memoryVolume(name: string, files: ReadonlyMap<string, Buffer>): Volume {
  const norm = (p: string): string => path.posix.normalize(`/${p}`);
  const entryOf = (p: string, data: Buffer): VolumeEntry => ({ name: path.posix.basename(p), path: p, type: 'file', size: data.length, mode: 0o644 });
  return {
    fsType: 'iso9660',
    label: name,
    async list(dir: string): Promise<VolumeEntry[]> {
      const d = norm(dir);
      if (d !== '/') throw new DatasourceError(`${name}:${d}`, 'not a directory');
      return [...files].map(([p, data]) => entryOf(norm(p), data)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async stat(p: string): Promise<VolumeEntry | undefined> {
      const n = norm(p);
      if (n === '/') return { name: '', path: '/', type: 'dir', size: 0 };
      const data = files.get(n.slice(1));
      return data === undefined ? undefined : entryOf(n, data);
    },
    async readFile(p: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
      const data = files.get(norm(p).slice(1));
      if (data === undefined) throw new DatasourceError(`${name}:${norm(p)}`, 'no such file');
      if (data.length > maxBytes) throw new LimitError(`${name}:${norm(p)}`, `file is ${data.length} bytes, more than the limit of ${maxBytes}`);
      return data;
    },
  };
}

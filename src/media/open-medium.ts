// Open a context medium (CD, config drive, seed) as a Volume. Order:
//   1. a folder (a --seed directory) is read as it is;
//   2. a device or image already mounted is read at its mount point;
//   3. the user-space ISO9660 and FAT readers read the device or image file;
//   4. only on a live system, and only if those fail, the kernel mounts it
//      read-only, nosuid,nodev,noexec at a private temporary point, and it is
//      unmounted again when the caller closes the medium.
import { DatasourceError, describeError } from '../errors';
import type { Host, OpenedBlock } from '../host/host';
import type { Logger } from '../log/logger';
import { openFat, probeFatLabel } from './fat';
import { openIso9660, probeIso9660Label } from './iso9660';
import type { Volume } from './volume';

export interface OpenMedium {
  readonly volume: Volume;
  /** How it was read: "iso9660 reader", "vfat reader", "folder", "mounted at /x", "kernel mount". */
  readonly method: string;
  close(): Promise<void>;
}

export interface MediumLocation {
  /** A guest device path (/dev/sr0) or, with local=true, a path on this machine (--seed). */
  readonly path: string;
  readonly local: boolean;
}

/** Mount points of a device in /proc/mounts (octal escapes decoded). */
function mountPointOf(mounts: string, device: string): string | undefined {
  for (const line of mounts.split('\n')) {
    const [dev, point] = line.split(' ');
    if (dev === device && point !== undefined) return point.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

async function readBlock(block: OpenedBlock): Promise<{ volume: Volume; method: string }> {
  if ((await probeIso9660Label(block)) !== undefined) return { volume: await openIso9660(block), method: 'iso9660 reader' };
  if ((await probeFatLabel(block)) !== undefined) return { volume: await openFat(block), method: 'vfat reader' };
  throw new DatasourceError(block.name, 'neither ISO9660 nor FAT');
}

export async function openMedium(host: Host, where: MediumLocation, log: Logger): Promise<OpenMedium> {
  if (where.local && (await host.localIsDirectory(where.path))) {
    return { volume: host.localDirVolume(where.path, ''), method: 'folder', close: async () => undefined };
  }
  if (!where.local && host.root === '/') {
    const real = await host.localRealpath(where.path).catch(() => where.path);
    const point = mountPointOf((await host.localReadText('/proc/mounts')) ?? '', real);
    if (point !== undefined) return { volume: host.localDirVolume(point, ''), method: `mounted at ${point}`, close: async () => undefined };
  }
  const block = where.local ? await host.openBlock(where.path) : await host.openGuestBlock(where.path);
  let userSpaceError: unknown;
  try {
    const { volume, method } = await readBlock(block);
    return { volume, method, close: () => block.close() };
  } catch (err) {
    await block.close();
    userSpaceError = err;
  }
  if (!host.live) {
    const why = userSpaceError instanceof DatasourceError && userSpaceError.source === block.name ? userSpaceError.message : describeError(userSpaceError);
    throw new DatasourceError(where.path, `${why} (a kernel mount is only tried on a live system)`, { cause: userSpaceError });
  }
  log.warn(`${where.path}: user-space read failed (${describeError(userSpaceError)}); trying a read-only kernel mount`);
  const point = await host.localTempDir('guestctx-medium-');
  const res = await host.run('mount', ['-o', 'ro,nosuid,nodev,noexec', where.path, point], { timeoutMs: 15_000 });
  if (res.code !== 0) {
    await host.localRemoveDir(point);
    throw new DatasourceError(where.path, `cannot read the medium: user-space reader failed and mount exited ${res.code}: ${res.stderr.trim()}`, { cause: userSpaceError });
  }
  return {
    volume: host.localDirVolume(point, ''),
    method: 'kernel mount',
    async close() {
      const u = await host.run('umount', [point], { timeoutMs: 15_000 });
      if (u.code !== 0) log.warn(`umount ${point} exited ${u.code}: ${u.stderr.trim()}`);
      else await host.localRemoveDir(point);
    },
  };
}

// Swap files: how large ("auto" follows the guest's memory and free space),
// and the commands that create one. fallocate is fast but gives xfs and btrfs
// swap files with unwritten extents the kernel refuses, so those get dd.
import { ConfigError } from '../errors';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Below this a swap file is useless (and mkswap wants at least 10 pages). */
export const MIN_SWAP_BYTES = MiB;

/** MemTotal from /proc/meminfo, in bytes. */
export function memTotalBytes(meminfo: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** `df -P -B1 DIR` → bytes available to the filesystem holding DIR. */
export function parseDfAvailable(text: string): number | undefined {
  const line = text.trim().split('\n')[1];
  const f = line?.trim().split(/\s+/);
  const avail = f?.[3];
  return avail !== undefined && /^\d+$/.test(avail) ? Number(avail) : undefined;
}

/**
 * The "auto" size: as much as the memory up to 4 GiB, 4 GiB up to 16 GiB of
 * memory, then the square root of the memory in GiB (rounded) — never more
 * than `maxsize` nor half of the free space, so swap cannot fill the disk.
 */
export function autoSwapBytes(memBytes: number, freeBytes: number | undefined, maxsize: number | undefined): number {
  let size: number;
  if (memBytes < 4 * GiB) size = memBytes;
  else if (memBytes < 16 * GiB) size = 4 * GiB;
  else size = Math.round(Math.sqrt(memBytes / GiB)) * GiB;
  if (maxsize !== undefined) size = Math.min(size, maxsize);
  if (freeBytes !== undefined) size = Math.min(size, Math.floor(freeBytes / 2));
  return roundMiB(size);
}

export function roundMiB(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}

/** Check an explicit size; the caller already turned "512M" into bytes. */
export function checkSwapSize(size: number, maxsize: number | undefined, freeBytes: number | undefined, source: string): number {
  const capped = roundMiB(maxsize !== undefined ? Math.min(size, maxsize) : size);
  if (!Number.isFinite(size) || size < 0) throw new ConfigError(source, `swap size ${size} is not a size in bytes`);
  if (capped < MIN_SWAP_BYTES) throw new ConfigError(source, `swap size ${size} bytes${maxsize !== undefined && maxsize < size ? ` (capped by maxsize to ${maxsize})` : ''} is below the minimum of 1 MiB`);
  if (freeBytes !== undefined && capped > freeBytes) throw new ConfigError(source, `swap size ${capped} bytes is more than the ${freeBytes} bytes free on the filesystem`);
  return capped;
}

/** Commands that fill an (already created, empty, 0600) file with `bytes` and format it as swap. */
export function swapFileCommands(file: string, bytes: number, fsType: string | undefined): string[][] {
  const mib = Math.max(1, Math.floor(bytes / MiB));
  const cmds: string[][] = [];
  // btrfs swap files must not be copy-on-write; the flag only sticks on an empty file.
  if (fsType === 'btrfs') cmds.push(['chattr', '+C', file]);
  if (fsType === 'xfs' || fsType === 'btrfs') cmds.push(['dd', 'if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'status=none']);
  else cmds.push(['fallocate', '-l', String(mib * MiB), file]);
  cmds.push(['mkswap', file]);
  return cmds;
}

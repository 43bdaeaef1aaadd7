// Commands that put a partition table or a filesystem on a blank disk
// (cloud-config disk_setup / fs_setup). Pure: callers decide, after probing
// with blkid, whether a device is blank enough to touch.
import { ConfigError } from '../errors';

const LABEL_FLAG: Readonly<Record<string, string>> = {
  ext2: '-L', ext3: '-L', ext4: '-L', xfs: '-L', btrfs: '-L', vfat: '-n', fat: '-n', swap: '-L',
};
const FORCE_FLAG: Readonly<Record<string, string>> = {
  ext2: '-F', ext3: '-F', ext4: '-F', xfs: '-f', btrfs: '-f', swap: '-f',
};

/** argv for mkfs; ConfigError when guestctx does not know the filesystem. */
export function mkfsArgv(fs: string, device: string, opts: { label?: string; force?: boolean; extra?: readonly string[] }, source: string): string[] {
  const flag = LABEL_FLAG[fs];
  if (flag === undefined) throw new ConfigError(source, `filesystem "${fs}" is not supported; use ext2, ext3, ext4, xfs, btrfs, vfat or swap`);
  const tool = fs === 'swap' ? 'mkswap' : fs === 'fat' ? 'mkfs.vfat' : `mkfs.${fs}`;
  const force = opts.force ? FORCE_FLAG[fs] : undefined;
  return [tool, ...(opts.label !== undefined ? [flag, opts.label] : []), ...(force !== undefined ? [force] : []), ...(opts.extra ?? []), device];
}

/** cloud-config partition type (MBR hex or sgdisk code) → sfdisk's portable shortcut. */
const TYPE_ALIAS: Readonly<Record<string, string>> = {
  '82': 'S', '8200': 'S', '83': 'L', '8300': 'L', '8e': 'V', '8e00': 'V', fd: 'R', fd00: 'R', ef00: 'U',
};

export type Layout = true | readonly (number | readonly [number, number | string])[];

/**
 * sfdisk script for a new table: `true` is one partition over the whole disk,
 * a list gives each partition a percentage of the disk (the last one that
 * reaches 100% takes the rest, so alignment never pushes it past the end).
 */
export function sfdiskScript(table: 'mbr' | 'gpt', layout: Layout, diskBytes: number, source: string): string {
  const lines = [`label: ${table === 'gpt' ? 'gpt' : 'dos'}`];
  if (layout === true) {
    lines.push('type=L');
    return `${lines.join('\n')}\n`;
  }
  if (layout.length === 0) throw new ConfigError(source, 'layout lists no partitions');
  if (table === 'mbr' && layout.length > 4) throw new ConfigError(source, `an MBR table holds 4 primary partitions, layout lists ${layout.length}`);
  const total = layout.reduce<number>((s, p) => s + (typeof p === 'number' ? p : p[0]), 0);
  if (total > 100) throw new ConfigError(source, `layout asks for ${total}% of the disk`);
  const sectors = Math.floor(diskBytes / 512);
  layout.forEach((p, i) => {
    const pct = typeof p === 'number' ? p : p[0];
    const rawType = typeof p === 'number' ? '83' : String(p[1]).toLowerCase();
    const type = TYPE_ALIAS[rawType] ?? (table === 'mbr' && /^[0-9a-f]{1,2}$/.test(rawType) ? rawType : undefined);
    if (type === undefined) throw new ConfigError(source, `partition type "${rawType}" is not known for a ${table} table`);
    const last = i === layout.length - 1 && total === 100;
    // Whole MiB (2048 sectors) so every partition stays aligned.
    const size = Math.floor((sectors * pct) / 100 / 2048) * 2048;
    lines.push(last ? `type=${type}` : `size=${size}, type=${type}`);
  });
  return `${lines.join('\n')}\n`;
}

// The mounts module's closed configuration, built from cloud-config (mounts,
// mount_default_fields, swap, disk_setup, fs_setup), the EC2 block device
// mapping and OpenNebula CONTEXT (IGNORE_SWAP, DISK<n>_MOUNT_TAG/_POINT).
// A bad item becomes a recorded problem, not an exception: the other items
// still apply and the module reports the bad ones at the end.
import type { GuestConfig } from '../../src/config/guest-config';
import type { MountEntry } from '../../src/config/cloud-config';
import type { Layout } from '../../src/disks/format';
import type { FstabEntry } from '../../src/disks/fstab';

export const DEFAULT_MOUNT_FIELDS: MountEntry = [null, null, 'auto', 'defaults,nofail,x-systemd.requires=guestctx-local.service', '0', '2'];

/** One fstab line to manage, and where it came from. */
export interface MountRequest extends FstabEntry {
  /** "mounts[1]", "block-device-mapping ephemeral0", "context.sh DISK2_MOUNT_TAG". */
  readonly origin: string;
  /** A built-in default (ephemeral0 → /mnt): dropped quietly when the device is absent. */
  readonly implicit: boolean;
}

export interface SwapRequest {
  readonly filename: string;
  readonly size: number | 'auto';
  readonly maxsize?: number;
  readonly origin: string;
}

export interface FsRequest {
  readonly device: string;
  readonly filesystem: string;
  readonly label?: string;
  readonly partition: number | 'auto' | 'any' | 'none';
  readonly overwrite: boolean;
  readonly replaceFs?: string;
  readonly extra: readonly string[];
  readonly origin: string;
}

export interface DiskRequest {
  readonly device: string;
  readonly table: 'mbr' | 'gpt';
  readonly layout: Layout;
  readonly overwrite: boolean;
  readonly origin: string;
}

export interface Problem {
  readonly origin: string;
  readonly message: string;
}

export interface MountsConfig {
  readonly mounts: readonly MountRequest[];
  readonly swap?: SwapRequest;
  readonly diskSetup: readonly DiskRequest[];
  readonly fsSetup: readonly FsRequest[];
  readonly blockDeviceMapping?: Readonly<Record<string, string>>;
  /** OpenNebula: turn every swap-formatted device into active swap. */
  readonly activateSwapDevices: boolean;
  readonly problems: readonly Problem[];
}

/** One cloud-config entry filled from the default fields; null fs_file means "remove this spec". */
function fill(entry: MountEntry, defaults: MountEntry): [string | null, string | null, string | null, string | null, string | null, string | null] {
  const at = (i: number): string | null => entry[i] ?? defaults[i] ?? null;
  return [at(0), at(1), at(2), at(3), at(4), at(5)];
}

function isYes(v: string | undefined): boolean {
  return v !== undefined && /^(yes|y|true|1)$/i.test(v.trim());
}

export function parseMounts(cfg: GuestConfig): MountsConfig | undefined {
  const cloud = cfg.cloud;
  const problems: Problem[] = [];
  const defaults = cloud.mount_default_fields ?? DEFAULT_MOUNT_FIELDS;
  const bdm = cfg.instance?.blockDeviceMapping;

  // Built-in defaults first (cloud-init's ephemeral0 → /mnt and swap), only for names the cloud mapped.
  let mounts: MountRequest[] = [];
  if (bdm?.['ephemeral0'] !== undefined) {
    mounts.push({ spec: 'ephemeral0', file: '/mnt', vfstype: defaults[2] ?? 'auto', mntops: defaults[3] ?? 'defaults', freq: defaults[4] ?? '0', passno: defaults[5] ?? '2', origin: 'block-device-mapping ephemeral0', implicit: true });
  }
  if (bdm?.['swap'] !== undefined) {
    mounts.push({ spec: 'swap', file: 'none', vfstype: 'swap', mntops: 'sw', freq: '0', passno: '0', origin: 'block-device-mapping swap', implicit: true });
  }

  (cloud.mounts ?? []).forEach((entry, i) => {
    const origin = `mounts[${i}]`;
    const [spec, file, vfstype, mntops, freq, passno] = fill(entry, defaults);
    if (spec === null || spec.trim() === '') {
      problems.push({ origin, message: 'fs_spec (the first field) is empty' });
      return;
    }
    // A later entry for the same spec replaces an earlier one (and the built-in default).
    mounts = mounts.filter((m) => m.spec !== spec);
    if (file === null) return; // [ephemeral0] or [ephemeral0, null]: remove that mount
    const swap = vfstype === 'swap';
    if (!swap && !file.startsWith('/')) {
      problems.push({ origin, message: `mount point "${file}" is not an absolute path` });
      return;
    }
    mounts.push({ spec, file: swap ? 'none' : file, vfstype: vfstype ?? 'auto', mntops: mntops ?? 'defaults', freq: freq ?? '0', passno: passno ?? (swap ? '0' : '2'), origin, implicit: false });
  });

  const ctx = cfg.context;
  if (ctx) {
    // DISK<n>_MOUNT_TAG: a virtiofs share exported by the host under that tag.
    const ids = [...ctx.keys()].map((k) => /^DISK(\d+)_MOUNT_TAG$/.exec(k)?.[1]).filter((x): x is string => x !== undefined).sort((a, b) => Number(a) - Number(b));
    for (const id of ids) {
      const tag = (ctx.get(`DISK${id}_MOUNT_TAG`) ?? '').trim();
      const point = (ctx.get(`DISK${id}_MOUNT_POINT`) ?? '').trim();
      const origin = `context.sh DISK${id}_MOUNT_TAG`;
      if (tag === '') continue;
      if (/\s/.test(tag)) problems.push({ origin, message: `tag "${tag}" contains blanks` });
      else if (point === '') problems.push({ origin, message: `DISK${id}_MOUNT_POINT is not set, so there is nowhere to mount the virtiofs share "${tag}"` });
      else if (!point.startsWith('/')) problems.push({ origin, message: `DISK${id}_MOUNT_POINT "${point}" is not an absolute path` });
      else mounts.push({ spec: tag, file: point, vfstype: 'virtiofs', mntops: 'defaults,nofail,x-systemd.requires=guestctx-local.service', freq: '0', passno: '0', origin, implicit: false });
    }
  }
  const activateSwapDevices = ctx !== undefined && !isYes(ctx.get('IGNORE_SWAP'));

  let swap: SwapRequest | undefined;
  const sw = cloud.swap;
  if (sw && sw.size !== undefined && sw.size !== 0) {
    const filename = sw.filename ?? '/swap.img';
    if (!filename.startsWith('/') || /^\/(proc|sys|dev)(\/|$)/.test(filename)) problems.push({ origin: 'swap.filename', message: `"${filename}" is not a usable path for a swap file` });
    else swap = { filename, size: sw.size, ...(sw.maxsize !== undefined ? { maxsize: sw.maxsize } : {}), origin: 'swap' };
  }

  const diskSetup: DiskRequest[] = [];
  for (const [device, spec] of Object.entries(cloud.disk_setup ?? {})) {
    const origin = `disk_setup["${device}"]`;
    if (spec.layout === undefined || spec.layout === false) continue;
    if (spec.layout === 'remove') {
      problems.push({ origin, message: 'layout "remove" (wiping a partition table) is not supported by guestctx' });
      continue;
    }
    diskSetup.push({ device, table: spec.table_type ?? 'mbr', layout: spec.layout, overwrite: spec.overwrite ?? false, origin });
  }

  const fsSetup: FsRequest[] = [];
  (cloud.fs_setup ?? []).forEach((fs, i) => {
    const origin = `fs_setup[${i}]`;
    if (fs.cmd !== undefined) {
      problems.push({ origin, message: 'a custom "cmd" is not supported; give filesystem, label and extra_opts instead' });
      return;
    }
    if (fs.device === undefined) {
      problems.push({ origin, message: 'device is missing' });
      return;
    }
    const extra = fs.extra_opts === undefined ? [] : typeof fs.extra_opts === 'string' ? fs.extra_opts.split(/\s+/).filter((s) => s !== '') : [...fs.extra_opts];
    fsSetup.push({
      device: fs.device,
      filesystem: fs.filesystem ?? 'ext4',
      ...(fs.label !== undefined ? { label: fs.label } : {}),
      partition: fs.partition ?? 'none',
      overwrite: fs.overwrite ?? false,
      ...(fs.replace_fs !== undefined ? { replaceFs: fs.replace_fs } : {}),
      extra,
      origin,
    });
  });

  if (mounts.length === 0 && !swap && diskSetup.length === 0 && fsSetup.length === 0 && !activateSwapDevices && problems.length === 0) return undefined;
  return { mounts, ...(swap ? { swap } : {}), diskSetup, fsSetup, ...(bdm ? { blockDeviceMapping: bdm } : {}), activateSwapDevices, problems };
}

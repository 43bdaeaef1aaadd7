// growpart: grow partitions (and LVM) and filesystems to fill disks that are
// larger than the image — cloud-config growpart / resize_rootfs, OpenNebula
// GROW_ROOTFS / GROW_FS. Runs on every boot: each step is idempotent and a
// disk may have been enlarged while the VM was off.
import { ConfigError, GuestctxError, ModuleError } from '../src/errors';
import type { GuestConfig } from '../src/config/guest-config';
import { findGrowTarget, growSteps, runGrowSteps, type StepResult } from '../src/disks/grow';
import type { Host } from '../src/host/host';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface GrowItem {
  /** Mount point ("/", "/data") or device ("/dev/vdb1"). */
  readonly target: string;
  /** Grow the partition / LVM layers under it. */
  readonly partitions: boolean;
  /** Grow the filesystem itself. */
  readonly filesystem: boolean;
  readonly origin: string;
}

export interface GrowpartConfig {
  readonly items: readonly GrowItem[];
  /** Honour /etc/growroot-disabled (cloud-init's switch) unless told otherwise. */
  readonly ignoreGrowrootDisabled: boolean;
}

function yesNo(value: string | undefined, key: string, dflt: boolean): boolean {
  if (value === undefined || value.trim() === '') return dflt;
  const v = value.trim().toUpperCase();
  if (v === 'YES') return true;
  if (v === 'NO') return false;
  throw new ConfigError(`context.sh ${key}`, `${key}="${value}" is not YES or NO`);
}

export function parseGrowpart(cfg: GuestConfig): GrowpartConfig | undefined {
  const gp = cfg.cloud.growpart;
  if (gp?.mode === 'gpart') throw new ConfigError('growpart.mode', '"gpart" is FreeBSD\'s tool; guestctx runs on Linux guests, use "auto" or "growpart"');
  const partitions = gp?.mode !== 'off';
  const resizeRoot = cfg.cloud.resize_rootfs !== false;
  const ctx = cfg.context;
  const growRoot = yesNo(ctx?.get('GROW_ROOTFS'), 'GROW_ROOTFS', true);
  const items = new Map<string, GrowItem>();
  const add = (target: string, item: Omit<GrowItem, 'target'>): void => {
    if (!target.startsWith('/')) throw new ConfigError(item.origin, `"${target}" is neither a mount point nor a /dev path`);
    const key = target.length > 1 ? target.replace(/\/+$/, '') : target;
    const prev = items.get(key);
    items.set(key, prev ? { ...prev, partitions: prev.partitions || item.partitions, filesystem: prev.filesystem || item.filesystem } : { target: key, ...item });
  };
  // cloud-init grows "/" unless told otherwise; OpenNebula GROW_ROOTFS=NO turns the default off.
  const devices = gp?.devices ?? (growRoot ? ['/'] : []);
  for (const d of devices) add(d, { partitions, filesystem: d === '/' ? resizeRoot : true, origin: gp?.devices ? 'growpart.devices' : 'default (grow /)' });
  // An explicit resize_rootfs still grows the root filesystem when "/" is not among the devices.
  if (!devices.includes('/') && resizeRoot && cfg.cloud.resize_rootfs !== undefined) add('/', { partitions: false, filesystem: true, origin: 'resize_rootfs' });
  for (const mp of (ctx?.get('GROW_FS') ?? '').split(/\s+/).filter((s) => s !== '')) add(mp, { partitions, filesystem: true, origin: 'context.sh GROW_FS' });
  const useful = [...items.values()].filter((i) => i.partitions || i.filesystem);
  if (useful.length === 0) return undefined;
  return { items: useful, ignoreGrowrootDisabled: gp?.ignore_growroot_disabled ?? false };
}

export interface GrowReport {
  readonly target: string;
  readonly device?: string;
  readonly fsType?: string;
  readonly steps: readonly StepResult[];
  readonly error?: string;
}

/** Grow every item through the host; one item's failure does not stop the others. Does not check host.live. */
export async function growAll(host: Host, config: GrowpartConfig): Promise<GrowReport[]> {
  const reports: GrowReport[] = [];
  for (const item of config.items) {
    try {
      const t = await findGrowTarget(host, item.target);
      const steps = growSteps(t, { partitions: item.partitions, filesystem: item.filesystem });
      const results = await runGrowSteps(host, steps);
      const bad = results.filter((r) => r.outcome === 'failed' || r.outcome === 'not-installed');
      const missingGrowpart = results.some((r) => r.outcome === 'not-installed' && r.argv[0] === 'growpart');
      reports.push({
        target: item.target,
        device: t.device,
        fsType: t.fsType,
        steps: results,
        ...(bad.length > 0
          ? { error: `${item.target} (${item.origin}): ${bad.map((r) => r.message).join('; ')}${missingGrowpart ? '; the partition was not grown' : ''}` }
          : {}),
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const src = err instanceof GuestctxError ? err.source : item.target;
      reports.push({ target: item.target, steps: [], error: `${src} (${item.origin}): ${msg}` });
    }
  }
  return reports;
}

export const growpart: Module<GrowpartConfig> = {
  name: 'growpart',
  stage: 'network',
  frequency: 'always',
  description: 'grow partitions, LVM volumes and filesystems to fill their disks (growpart, resize_rootfs, GROW_ROOTFS, GROW_FS)',
  parse: parseGrowpart,
  async run(ctx: ModuleContext, config: GrowpartConfig): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (!host.live) return { skipped: 'needs the running guest (partitions and mounted filesystems are grown in place)' };
    if (!config.ignoreGrowrootDisabled && (await host.exists('/etc/growroot-disabled'))) {
      return { skipped: '/etc/growroot-disabled exists (set growpart.ignore_growroot_disabled to override)' };
    }
    const reports = await growAll(host, config);
    for (const r of reports) {
      for (const s of r.steps) if (s.outcome === 'changed') log.info(`${r.target}: ${s.argv.join(' ')}: ${s.message}`);
    }
    const errors = reports.filter((r) => r.error !== undefined).map((r) => r.error as string);
    if (errors.length > 0) throw new ModuleError('growpart', errors.join('; '), { details: { targets: reports } });
    return { details: { targets: reports } };
  },
};

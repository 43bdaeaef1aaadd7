// mounts: ephemeral disks, extra mounts, swap and virtiofs shares.
// Order of work: partition tables (disk_setup), filesystems (fs_setup), the
// swap file, then one managed block in /etc/fstab (every other line kept),
// and on the running guest the mounts and swap are activated. Every managed
// fstab line carries nofail, so a missing disk never blocks a boot.
import { GuestctxError, ModuleError, describeError } from '../../src/errors';
import { listSwapDevices, probeDevice } from '../../src/disks/blkid';
import { blockSizeBytes, isIndirectSpec, listPartitions, partitionDevice, resolveDevice } from '../../src/disks/devices';
import { mkfsArgv, sfdiskScript } from '../../src/disks/format';
import { parseFstab, renderFstab, withOptions, type FstabEntry } from '../../src/disks/fstab';
import { parseMountinfo, type MountInfo } from '../../src/disks/mountinfo';
import { autoSwapBytes, checkSwapSize, memTotalBytes, parseDfAvailable, swapFileCommands } from '../../src/disks/swap';
import type { Host } from '../../src/host/host';
import type { Logger } from '../../src/log/logger';
import type { Module, ModuleContext, ModuleOutcome } from '../../src/types';
import { parseMounts, type DiskRequest, type FsRequest, type MountsConfig, type Problem, type SwapRequest } from './plan';

export { parseMounts, DEFAULT_MOUNT_FIELDS, type MountsConfig } from './plan';

interface Work {
  readonly host: Host;
  readonly log: Logger;
  readonly problems: Problem[];
  readonly done: string[];
}

async function runTool(w: Work, argv: readonly string[], origin: string, opts: { input?: string } = {}): Promise<boolean> {
  const [tool, ...args] = argv as [string, ...string[]];
  const path = await w.host.which(tool);
  if (path === undefined) {
    w.problems.push({ origin, message: `${tool} is not installed in the guest` });
    return false;
  }
  const res = await w.host.run(path, args, { timeoutMs: 10 * 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  if (res.code !== 0) {
    w.problems.push({ origin, message: `${argv.join(' ')} exited ${res.code}: ${(res.stderr || res.stdout).trim().split('\n').slice(-2).join('; ')}` });
    return false;
  }
  return true;
}

/** Run one item; a typed failure (missing tool, unreadable device) becomes that item's problem. */
async function guarded(w: Work, origin: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof GuestctxError)) throw err;
    w.problems.push({ origin, message: describeError(err) });
  }
}

async function resolveOrReport(w: Work, cfg: MountsConfig, name: string, origin: string): Promise<string | undefined> {
  const r = await resolveDevice(w.host, name, cfg.blockDeviceMapping);
  if ('missing' in r) {
    w.problems.push({ origin, message: `device "${name}": ${r.missing}` });
    return undefined;
  }
  return r.device;
}

async function setupDisk(w: Work, cfg: MountsConfig, d: DiskRequest): Promise<void> {
  const dev = await resolveOrReport(w, cfg, d.device, d.origin);
  if (dev === undefined) return;
  const probe = await probeDevice(w.host, dev);
  if ((probe.type !== undefined || probe.ptType !== undefined) && !d.overwrite) {
    w.log.info(`${dev} already has ${probe.ptType !== undefined ? `a ${probe.ptType} partition table` : `a ${probe.type} signature`}; left alone (${d.origin}, overwrite is false)`);
    return;
  }
  const size = await blockSizeBytes(w.host, dev.replace(/^\/dev\//, ''));
  if (size === undefined) {
    w.problems.push({ origin: d.origin, message: `cannot read the size of ${dev} from /sys/class/block` });
    return;
  }
  let script: string;
  try {
    script = sfdiskScript(d.table, d.layout, size, d.origin);
  } catch (err) {
    w.problems.push({ origin: d.origin, message: describeError(err) });
    return;
  }
  if (await runTool(w, ['sfdisk', ...(d.overwrite ? ['--wipe', 'always'] : []), dev], d.origin, { input: script })) w.done.push(`partitioned ${dev} (${d.table})`);
}

async function setupFs(w: Work, cfg: MountsConfig, f: FsRequest): Promise<void> {
  const disk = await resolveOrReport(w, cfg, f.device, f.origin);
  if (disk === undefined) return;
  let dev = disk;
  if (typeof f.partition === 'number' && f.partition > 0) dev = partitionDevice(disk, f.partition);
  else if (f.partition === 'auto' || f.partition === 'any') {
    const parts = await listPartitions(w.host, disk.replace(/^\/dev\//, ''));
    if (parts[0] !== undefined) dev = `/dev/${parts[0]}`;
  }
  if (dev !== disk && !(await w.host.exists(dev))) {
    w.problems.push({ origin: f.origin, message: `partition ${dev} does not exist` });
    return;
  }
  const probe = await probeDevice(w.host, dev);
  const replacing = f.replaceFs !== undefined && probe.type === f.replaceFs;
  if (probe.type !== undefined && !f.overwrite && !replacing) {
    w.log.info(`${dev} already has a ${probe.type} filesystem; not formatted (${f.origin}, overwrite is false)`);
    return;
  }
  if (probe.ptType !== undefined && probe.type === undefined && !f.overwrite) {
    w.log.info(`${dev} holds a ${probe.ptType} partition table; not formatted (${f.origin}, overwrite is false)`);
    return;
  }
  let argv: string[];
  try {
    argv = mkfsArgv(f.filesystem, dev, { ...(f.label !== undefined ? { label: f.label } : {}), force: f.overwrite || replacing || probe.ptType !== undefined, extra: f.extra }, f.origin);
  } catch (err) {
    w.problems.push({ origin: f.origin, message: describeError(err) });
    return;
  }
  if (await runTool(w, argv, f.origin)) w.done.push(`made ${f.filesystem} on ${dev}`);
}

function mountOf(mounts: readonly MountInfo[], file: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const prefix = m.mountPoint === '/' ? '/' : `${m.mountPoint}/`;
    if ((file.startsWith(prefix) || file === m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** Create (or keep) the swap file; returns its fstab entry, or undefined when there is none to record. */
async function setupSwapFile(w: Work, s: SwapRequest, mounts: readonly MountInfo[]): Promise<FstabEntry | undefined> {
  const { host } = w;
  const dir = s.filename.replace(/\/[^/]*$/, '') || '/';
  let free: number | undefined;
  if (host.live && (await host.which('df'))) {
    const df = await host.run('df', ['-P', '-B1', dir], { readOnly: true, timeoutMs: 10_000 });
    if (df.code === 0) free = parseDfAvailable(df.stdout);
  }
  const existing = await host.stat(s.filename);
  let bytes: number;
  if (s.size === 'auto') {
    if (!host.live) {
      w.log.info(`swap size "auto" depends on the running guest's memory; ${s.filename} is left for the next boot`);
      return undefined;
    }
    const mem = memTotalBytes((await host.readTextIfExists('/proc/meminfo')) ?? '');
    if (mem === undefined) {
      w.problems.push({ origin: 'swap.size', message: 'cannot read MemTotal from /proc/meminfo for size "auto"' });
      return undefined;
    }
    bytes = autoSwapBytes(mem, free !== undefined ? free + (existing?.size ?? 0) : undefined, s.maxsize);
  } else {
    try {
      bytes = checkSwapSize(s.size, s.maxsize, free !== undefined ? free + (existing?.size ?? 0) : undefined, 'swap.size');
    } catch (err) {
      w.problems.push({ origin: 'swap.size', message: describeError(err) });
      return undefined;
    }
  }
  if (bytes <= 0) {
    w.problems.push({ origin: 'swap.size', message: 'not enough free space for an automatic swap file' });
    return undefined;
  }
  const entry: FstabEntry = { spec: s.filename, file: 'none', vfstype: 'swap', mntops: 'sw,nofail', freq: '0', passno: '0' };
  if (existing) {
    if (existing.type !== 'file') {
      w.problems.push({ origin: 'swap.filename', message: `${s.filename} exists and is not a regular file` });
      return undefined;
    }
    const probe = await probeDevice(host, s.filename);
    if (probe.type !== 'swap') {
      w.problems.push({ origin: 'swap.filename', message: `${s.filename} exists and is not a swap file; it is not replaced` });
      return undefined;
    }
    if (existing.size === bytes) return entry;
    const active = (await host.readTextIfExists('/proc/swaps')) ?? '';
    if (active.split('\n').some((l) => l.split(/\s+/)[0] === s.filename)) {
      w.log.info(`${s.filename} is in use as swap; its size is kept`);
      return entry;
    }
    await host.remove(s.filename);
  }
  // An empty 0600 file first: swap must never be readable by users, and btrfs needs +C on an empty file.
  await host.writeFile(s.filename, '', { mode: 0o600 });
  for (const argv of swapFileCommands(s.filename, bytes, mountOf(mounts, s.filename)?.fsType)) {
    if (!(await runTool(w, argv, 'swap'))) {
      await host.remove(s.filename);
      return undefined;
    }
  }
  w.done.push(`created swap file ${s.filename} (${bytes} bytes)`);
  return entry;
}

async function readMountinfo(host: Host): Promise<MountInfo[]> {
  const text = host.live ? await host.readTextIfExists('/proc/self/mountinfo') : undefined;
  return text !== undefined ? parseMountinfo(text) : [];
}

/** Everything but the live activation; exported so tests can drive it on any root. */
export async function applyMounts(host: Host, log: Logger, cfg: MountsConfig): Promise<{ entries: FstabEntry[]; problems: Problem[]; done: string[] }> {
  const w: Work = { host, log, problems: [...cfg.problems], done: [] };
  const live = host.live;
  if (cfg.diskSetup.length + cfg.fsSetup.length > 0 && !live) log.info('disk_setup and fs_setup need the running guest; skipped');
  if (live) {
    for (const d of cfg.diskSetup) await guarded(w, d.origin, () => setupDisk(w, cfg, d));
    for (const f of cfg.fsSetup) await guarded(w, f.origin, () => setupFs(w, cfg, f));
  }
  const existingFstab = await host.readTextIfExists('/etc/fstab');
  const fstabText = existingFstab ?? '';
  const fstab = parseFstab(fstabText);
  const takenSpecs = new Set(fstab.foreignEntries.map((e) => e.spec));
  const takenPoints = new Set(fstab.foreignEntries.filter((e) => e.file !== 'none' && e.vfstype !== 'swap').map((e) => e.file));
  const entries: FstabEntry[] = [];
  const add = (e: FstabEntry, origin: string): void => {
    if (takenSpecs.has(e.spec) || (e.file !== 'none' && takenPoints.has(e.file))) {
      log.warn(`${origin}: /etc/fstab already has a line for ${takenSpecs.has(e.spec) ? e.spec : e.file}; that line is kept and no entry is added`);
      return;
    }
    if (entries.some((x) => x.spec === e.spec || (x.file !== 'none' && x.file === e.file))) {
      w.problems.push({ origin, message: `${e.spec} on ${e.file} conflicts with an earlier entry` });
      return;
    }
    entries.push({ ...e, mntops: withOptions(e.mntops, ['nofail']) });
  };

  for (const m of cfg.mounts) {
    let spec = m.spec;
    if (m.vfstype !== 'virtiofs' && !isIndirectSpec(m.spec)) {
      const r = await resolveDevice(host, m.spec, cfg.blockDeviceMapping);
      if ('missing' in r) {
        if (m.implicit) log.debug(`${m.origin}: ${r.missing}; default mount skipped`);
        else w.problems.push({ origin: m.origin, message: `device "${m.spec}": ${r.missing}` });
        continue;
      }
      spec = r.device;
    }
    add({ spec, file: m.file, vfstype: m.vfstype, mntops: m.mntops, freq: m.freq, passno: m.passno }, m.origin);
  }

  // Offline, blkid would see the devices of the machine guestctx runs on, not the guest's.
  if (cfg.activateSwapDevices && live) {
    await guarded(w, 'IGNORE_SWAP', async () => {
      for (const dev of await listSwapDevices(host)) {
        if (entries.some((e) => e.spec === dev) || takenSpecs.has(dev)) continue;
        add({ spec: dev, file: 'none', vfstype: 'swap', mntops: 'sw', freq: '0', passno: '0' }, `swap device ${dev}`);
      }
    });
  }

  const mounts = await readMountinfo(host);
  const swap = cfg.swap;
  if (swap) {
    await guarded(w, swap.origin, async () => {
      const e = await setupSwapFile(w, swap, mounts);
      if (e) add(e, 'swap');
    });
  }

  const nextFstab = renderFstab(fstabText, entries);
  // No fstab and nothing to put in it: do not create an empty one.
  if ((existingFstab !== undefined || entries.length > 0) && (await host.writeFile('/etc/fstab', nextFstab, { mode: 0o644 }))) w.done.push(`/etc/fstab: ${entries.length} managed entries`);
  for (const e of entries) {
    if (e.vfstype === 'swap' || e.file === 'none') continue;
    const info = await host.stat(e.file);
    if (info === undefined) await host.mkdir(e.file, { mode: 0o755 });
    else if (info.type !== 'dir') w.problems.push({ origin: e.spec, message: `mount point ${e.file} exists and is not a directory` });
  }
  return { entries, problems: w.problems, done: w.done };
}

/** On the running guest: reload systemd's view of fstab, mount what is not mounted, enable swap. */
async function activate(host: Host, entries: readonly FstabEntry[], problems: Problem[], done: string[]): Promise<void> {
  if (await host.which('systemctl')) await host.run('systemctl', ['daemon-reload'], { timeoutMs: 60_000 });
  const mounted = new Set((await readMountinfo(host)).map((m) => m.mountPoint));
  const swaps = new Set(((await host.readTextIfExists('/proc/swaps')) ?? '').split('\n').slice(1).map((l) => l.split(/\s+/)[0]));
  for (const e of entries) {
    const swap = e.vfstype === 'swap';
    if (swap ? swaps.has(e.spec) : mounted.has(e.file)) continue;
    const tool = await host.which(swap ? 'swapon' : 'mount');
    if (tool === undefined) {
      problems.push({ origin: e.spec, message: `${swap ? 'swapon' : 'mount'} is not installed in the guest; the entry is in /etc/fstab for the next boot` });
      continue;
    }
    const res = await host.run(tool, swap ? [e.spec] : [e.file], { timeoutMs: swap ? 60_000 : 120_000 });
    if (res.code !== 0) problems.push({ origin: e.spec, message: `${swap ? 'swapon' : 'mount'} ${swap ? e.spec : e.file} failed (${res.code}): ${res.stderr.trim()}` });
    else done.push(swap ? `swap on ${e.spec}` : `mounted ${e.spec} on ${e.file}`);
  }
}

export const mounts: Module<MountsConfig> = {
  name: 'mounts',
  stage: 'network',
  frequency: 'per-instance',
  description: 'ephemeral disks, cloud-config mounts/swap/fs_setup/disk_setup, OpenNebula swap and virtiofs shares into /etc/fstab',
  parse: parseMounts,
  async run(ctx: ModuleContext, config: MountsConfig): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    const { entries, problems, done } = await applyMounts(host, log, config);
    if (host.live) await activate(host, entries, problems, done);
    else if (entries.length > 0) done.push('mounts and swap are activated at the next boot (not the running guest)');
    for (const d of done) log.info(d);
    const details = { fstab: entries.map((e) => `${e.spec} ${e.file} ${e.vfstype}`), done };
    if (problems.length > 0) throw new ModuleError('mounts', problems.map((p) => `${p.origin}: ${p.message}`).join('; '), { details: { ...details, problems } });
    return { details };
  },
};

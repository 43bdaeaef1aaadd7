// Growing a filesystem to fill its disk: find what backs a mount point (plain
// partition, whole disk, or LVM logical volume), then list the commands that
// grow each layer bottom-up — partition (growpart), physical volume, logical
// volume, filesystem. Every step is idempotent, so running it on each boot is
// cheap and picks up a disk that was enlarged while the VM was off.
import { ConfigError, HostError } from '../errors';
import type { Host } from '../host/host';
import { probeDevice } from './blkid';
import { blockNameByMajorMinor, describeBlock, splitDmName, type BlockNode } from './devices';
import { findMount, parseMountinfo, type MountInfo } from './mountinfo';

export interface GrowStep {
  readonly kind: 'partition' | 'pv' | 'lv' | 'fs';
  readonly argv: readonly string[];
  /** Output (stdout+stderr) of a non-zero exit that only means "already as large as it can be". */
  readonly unchanged?: RegExp;
  /** Package that provides argv[0], for the "not installed" message. */
  readonly pkg: string;
}

/** What to grow, as found in the guest. */
export interface GrowTarget {
  /** Mount point or device as the user named it. */
  readonly target: string;
  /** Device holding the filesystem (/dev/vda1, /dev/vg0/root). */
  readonly device: string;
  readonly fsType: string;
  readonly mountPoint?: string;
  /** The partition under the filesystem, when there is one. */
  readonly partition?: { readonly disk: string; readonly number: number };
  /** LVM: the physical volumes (each maybe a partition) and the logical volume. */
  readonly lvm?: { readonly pvs: readonly { readonly device: string; readonly partition?: { readonly disk: string; readonly number: number } }[]; readonly lv: string };
}

const EXT = new Set(['ext2', 'ext3', 'ext4']);

/** The command that grows a filesystem to fill its device; ConfigError for a filesystem we cannot grow. */
export function resizeFsStep(fsType: string, device: string, mountPoint: string | undefined, source = device): GrowStep {
  if (EXT.has(fsType)) return { kind: 'fs', argv: ['resize2fs', device], pkg: 'e2fsprogs' };
  if (fsType === 'xfs') {
    if (mountPoint === undefined) throw new ConfigError(source, 'xfs can only be grown while mounted, and it is not mounted');
    return { kind: 'fs', argv: ['xfs_growfs', mountPoint], pkg: 'xfsprogs' };
  }
  if (fsType === 'btrfs') {
    if (mountPoint === undefined) throw new ConfigError(source, 'btrfs can only be grown while mounted, and it is not mounted');
    return { kind: 'fs', argv: ['btrfs', 'filesystem', 'resize', 'max', mountPoint], pkg: 'btrfs-progs' };
  }
  throw new ConfigError(source, `cannot grow a ${fsType || 'unrecognised'} filesystem on ${device}: guestctx grows ext2/3/4, xfs and btrfs`);
}

/** growpart's own exit status 1 with "NOCHANGE:" means the partition already fills the disk. */
export function growPartitionStep(disk: string, number: number): GrowStep {
  return { kind: 'partition', argv: ['growpart', disk, String(number)], unchanged: /^NOCHANGE:/m, pkg: 'cloud-guest-utils' };
}

/** The ordered commands for a target. `partitions: false` leaves partitions and LVM alone (growpart mode off). */
export function growSteps(t: GrowTarget, opts: { partitions: boolean; filesystem: boolean }): GrowStep[] {
  const steps: GrowStep[] = [];
  if (opts.partitions) {
    if (t.lvm) {
      for (const pv of t.lvm.pvs) {
        if (pv.partition) steps.push(growPartitionStep(pv.partition.disk, pv.partition.number));
        steps.push({ kind: 'pv', argv: ['pvresize', pv.device], pkg: 'lvm2' });
      }
      steps.push({
        kind: 'lv',
        argv: ['lvextend', '-l', '+100%FREE', t.lvm.lv],
        // lvm2 refuses a zero-extent extension; its wording changed between versions.
        unchanged: /matches existing size|not larger than existing size|no free extents/i,
        pkg: 'lvm2',
      });
    } else if (t.partition) {
      steps.push(growPartitionStep(t.partition.disk, t.partition.number));
    }
  }
  if (opts.filesystem) steps.push(resizeFsStep(t.fsType, t.device, t.mountPoint, t.target));
  return steps;
}

async function partitionOf(host: Host, node: BlockNode): Promise<{ disk: string; number: number } | undefined> {
  if (node.partition === undefined) return undefined;
  if (node.disk === undefined) throw new HostError(`/sys/class/block/${node.name}`, `partition ${node.partition} of an unknown disk: no /sys/block/*/${node.name}`);
  return { disk: `/dev/${node.disk}`, number: node.partition };
}

/** Find what backs `target` (a mount point, or a /dev path) by reading the guest's mountinfo and sysfs. */
export async function findGrowTarget(host: Host, target: string): Promise<GrowTarget> {
  const text = await host.readTextIfExists('/proc/self/mountinfo');
  if (text === undefined) throw new HostError('/proc/self/mountinfo', 'is missing: is /proc mounted?');
  const mounts = parseMountinfo(text);
  let mount: MountInfo | undefined;
  let name: string | undefined;
  if (target.startsWith('/dev/')) {
    name = target.slice('/dev/'.length);
    if (name.startsWith('mapper/')) {
      // /dev/mapper/X is a link to ../dm-N; the dm name file says which.
      const dmName = name.slice('mapper/'.length);
      for (const n of await host.list('/sys/class/block')) {
        if ((await host.readTextIfExists(`/sys/class/block/${n}/dm/name`))?.trim() === dmName) name = n;
      }
    }
    const dev = (await host.readTextIfExists(`/sys/class/block/${name}/dev`))?.trim();
    if (dev === undefined) throw new ConfigError(target, 'no such block device in the guest');
    mount = [...mounts].reverse().find((m) => m.majorMinor === dev);
  } else {
    mount = findMount(mounts, target);
    if (!mount) throw new ConfigError(target, 'is not a mount point in the running guest');
    name = await blockNameByMajorMinor(host, mount.majorMinor);
    if (name === undefined && mount.source.startsWith('/dev/') && mount.source !== '/dev/root') name = mount.source.slice(5);
    if (name === undefined) throw new ConfigError(target, `is mounted from ${mount.source} (${mount.majorMinor}), which is not a block device (${mount.fsType})`);
  }
  const node = await describeBlock(host, name);
  const device = node.dmName !== undefined ? `/dev/mapper/${node.dmName}` : `/dev/${name}`;
  const fsType = mount?.fsType ?? (await probeDevice(host, device)).type ?? '';
  const base = { target, device, fsType, ...(mount ? { mountPoint: mount.mountPoint } : {}) };
  if (node.dmUuid !== undefined) {
    if (!node.dmUuid.startsWith('LVM-')) throw new ConfigError(target, `${device} is a device-mapper device that is not LVM (${node.dmUuid.split('-')[0]}); guestctx grows partitions and LVM volumes only`);
    const names = node.dmName !== undefined ? splitDmName(node.dmName) : undefined;
    if (!names) throw new ConfigError(target, `cannot tell the volume group of ${device}`);
    const pvs = [];
    for (const slave of node.slaves) {
      const part = await partitionOf(host, await describeBlock(host, slave));
      pvs.push({ device: `/dev/${slave}`, ...(part ? { partition: part } : {}) });
    }
    return { ...base, device: `/dev/${names.vg}/${names.lv}`, lvm: { pvs, lv: `/dev/${names.vg}/${names.lv}` } };
  }
  const part = await partitionOf(host, node);
  return { ...base, ...(part ? { partition: part } : {}) };
}

export interface StepResult {
  readonly argv: readonly string[];
  readonly outcome: 'changed' | 'unchanged' | 'failed' | 'not-installed';
  readonly message: string;
}

/**
 * Run the steps in order through the host. A missing tool or a failing step is
 * recorded and the later steps still run: growing the filesystem is useful
 * even if the partition could not be grown (an initramfs may have done it).
 */
export async function runGrowSteps(host: Host, steps: readonly GrowStep[]): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) {
    const [tool, ...args] = step.argv as [string, ...string[]];
    const path = await host.which(tool);
    if (path === undefined) {
      results.push({ argv: step.argv, outcome: 'not-installed', message: `${tool} is not installed in the guest (package ${step.pkg})` });
      continue;
    }
    const res = await host.run(path, args, { timeoutMs: 10 * 60_000 });
    const output = `${res.stdout}\n${res.stderr}`;
    if (res.code === 0) results.push({ argv: step.argv, outcome: /NOCHANGE|Nothing to do/i.test(output) ? 'unchanged' : 'changed', message: summary(output) });
    else if (step.unchanged?.test(output)) results.push({ argv: step.argv, outcome: 'unchanged', message: summary(output) });
    else results.push({ argv: step.argv, outcome: 'failed', message: `${step.argv.join(' ')} exited ${res.code}: ${summary(output) || '(no output)'}` });
  }
  return results;
}

/** The tool's own words on one line, bounded (resize2fs and lvm print several lines). */
function summary(s: string): string {
  const text = s.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ');
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

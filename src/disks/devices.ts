// Device names and block topology. Clouds name disks the way the hypervisor
// sees them (EC2 "sdb", the block-device-mapping "ephemeral0"); the guest's
// kernel may call the same disk /dev/xvdb or /dev/vdb, so a name is mapped to
// the node that exists in the guest's /dev. Topology (which disk a partition
// belongs to, what a device-mapper node sits on) is read from sysfs files, so a
// folder of fixtures is a whole fake machine.
import type { Host } from '../host/host';

export type Resolved = { readonly device: string } | { readonly missing: string };

const META_NAME = /^(ephemeral\d+|swap|root|ami|ebs\d+)(?:\.(\d+))?$/;
const KERNEL_DISK = /^\/dev\/(sd|xvd|vd|hd)([a-z]+)(\d*)$/;

/** The partition node of a disk: vdb + 1 → vdb1, nvme0n1 + 1 → nvme0n1p1. */
export function partitionDevice(disk: string, n: number): string {
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}

/** Specs used as they are: labels, UUIDs, network filesystems, virtiofs tags handled by callers. */
export function isIndirectSpec(spec: string): boolean {
  return /^(LABEL|UUID|PARTUUID|PARTLABEL)=/.test(spec) || /^[^/]+:/.test(spec) || spec.startsWith('//');
}

/**
 * Turn a cloud device name into a /dev path that exists in the guest.
 * `ephemeral0` and `swap` go through the block device mapping; `sdb` becomes
 * whichever of /dev/sdb, /dev/xvdb, /dev/vdb exists; `ephemeral0.1` is its first partition.
 */
export async function resolveDevice(host: Host, name: string, mapping: Readonly<Record<string, string>> | undefined): Promise<Resolved> {
  let base = name;
  let part: number | undefined;
  const meta = META_NAME.exec(name);
  if (meta) {
    const mapped = mapping?.[meta[1] as string];
    if (mapped === undefined) return { missing: `${meta[1]} is not in the block device mapping of this instance` };
    base = mapped;
    if (meta[2] !== undefined) part = Number(meta[2]);
  }
  if (isIndirectSpec(base)) return { device: base };
  const path = base.startsWith('/') ? base : `/dev/${base}`;
  const candidates = [path];
  const k = KERNEL_DISK.exec(path);
  if (k) {
    for (const prefix of ['sd', 'xvd', 'vd']) {
      const alt = `/dev/${prefix}${k[2]}${k[3]}`;
      if (!candidates.includes(alt)) candidates.push(alt);
    }
  }
  for (const c of candidates) {
    const dev = part !== undefined ? partitionDevice(c, part) : c;
    if (await host.exists(dev)) return { device: dev };
  }
  const tried = candidates.map((c) => (part !== undefined ? partitionDevice(c, part) : c));
  return { missing: `no such device in the guest (tried ${tried.join(', ')})` };
}

export interface BlockNode {
  /** Kernel name: vda1, dm-0, nvme0n1p2. */
  readonly name: string;
  /** Partition number when this is a partition. */
  readonly partition?: number;
  /** Kernel name of the whole disk that holds this partition. */
  readonly disk?: string;
  /** Device-mapper name (vg0-root) and uuid (LVM-...), for dm nodes. */
  readonly dmName?: string;
  readonly dmUuid?: string;
  /** Devices below a dm node (its physical volumes). */
  readonly slaves: readonly string[];
}

async function readTrim(host: Host, path: string): Promise<string | undefined> {
  return (await host.readTextIfExists(path))?.trim();
}

/** Kernel name of the block device with this major:minor (from /sys/class/block/N/dev). */
export async function blockNameByMajorMinor(host: Host, majorMinor: string): Promise<string | undefined> {
  for (const name of await host.list('/sys/class/block')) {
    if ((await readTrim(host, `/sys/class/block/${name}/dev`)) === majorMinor) return name;
  }
  return undefined;
}

/** What sysfs says about one block device. */
export async function describeBlock(host: Host, name: string): Promise<BlockNode> {
  const base = `/sys/class/block/${name}`;
  const partText = await readTrim(host, `${base}/partition`);
  let disk: string | undefined;
  if (partText !== undefined) {
    // A partition appears as a child folder of its disk: /sys/block/vda/vda1.
    for (const d of await host.list('/sys/block')) {
      if (await host.exists(`/sys/block/${d}/${name}/partition`)) {
        disk = d;
        break;
      }
    }
  }
  const dmName = await readTrim(host, `${base}/dm/name`);
  const dmUuid = await readTrim(host, `${base}/dm/uuid`);
  const slaves = await host.list(`${base}/slaves`);
  return {
    name,
    ...(partText !== undefined && /^\d+$/.test(partText) ? { partition: Number(partText) } : {}),
    ...(disk !== undefined ? { disk } : {}),
    ...(dmName !== undefined ? { dmName } : {}),
    ...(dmUuid !== undefined ? { dmUuid } : {}),
    slaves,
  };
}

/** Partition kernel names of a disk (children of /sys/block/DISK with a partition file), in number order. */
export async function listPartitions(host: Host, disk: string): Promise<string[]> {
  const out: { name: string; n: number }[] = [];
  for (const child of await host.list(`/sys/block/${disk}`)) {
    const p = await readTrim(host, `/sys/block/${disk}/${child}/partition`);
    if (p !== undefined && /^\d+$/.test(p)) out.push({ name: child, n: Number(p) });
  }
  return out.sort((a, b) => a.n - b.n).map((p) => p.name);
}

/** Size of a block device in bytes (sysfs counts 512-byte sectors whatever the logical block size). */
export async function blockSizeBytes(host: Host, name: string): Promise<number | undefined> {
  const s = await readTrim(host, `/sys/class/block/${name}/size`);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) * 512 : undefined;
}

/** "vg--data-root" → { vg: "vg-data", lv: "root" }: device-mapper doubles the hyphens inside names. */
export function splitDmName(dmName: string): { vg: string; lv: string } | undefined {
  const m = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(dmName);
  if (!m) return undefined;
  return { vg: (m[1] as string).replace(/--/g, '-'), lv: (m[2] as string).replace(/--/g, '-') };
}

// What is on a block device, asked of the guest's own blkid. `blkid -p` probes
// the device itself (no cache), so a disk OpenNebula or EC2 attached a moment
// ago is seen as it is. Exit status 2 means "nothing recognised", not failure.
import { HostError } from '../errors';
import type { Host } from '../host/host';

/** `blkid -o export` text → one record per device (blank lines separate devices). */
export function parseBlkidExport(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let cur: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      cur = undefined;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    if (!cur) {
      cur = {};
      out.push(cur);
    }
    // blkid escapes unsafe characters with backslashes in export mode.
    cur[line.slice(0, eq)] = line.slice(eq + 1).replace(/\\(.)/g, '$1');
  }
  return out;
}

export interface Probe {
  /** Filesystem or other content type: ext4, xfs, swap, LVM2_member... */
  readonly type?: string;
  /** Partition table type (gpt, dos) when the device carries one. */
  readonly ptType?: string;
  readonly usage?: string;
  readonly uuid?: string;
  readonly label?: string;
}

/** Probe a device; an empty probe means blank (no filesystem, no partition table). */
export async function probeDevice(host: Host, device: string): Promise<Probe> {
  const tool = await host.which('blkid');
  if (!tool) throw new HostError('blkid', 'blkid is not installed in the guest (package util-linux / libblkid)');
  const res = await host.run(tool, ['-p', '-o', 'export', device], { readOnly: true, timeoutMs: 30_000 });
  if (res.code === 2) return {};
  if (res.code !== 0) throw new HostError(device, `blkid -p exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`);
  const rec = parseBlkidExport(res.stdout)[0] ?? {};
  return {
    ...(rec['TYPE'] !== undefined ? { type: rec['TYPE'] } : {}),
    ...(rec['PTTYPE'] !== undefined ? { ptType: rec['PTTYPE'] } : {}),
    ...(rec['USAGE'] !== undefined ? { usage: rec['USAGE'] } : {}),
    ...(rec['UUID'] !== undefined ? { uuid: rec['UUID'] } : {}),
    ...(rec['LABEL'] !== undefined ? { label: rec['LABEL'] } : {}),
  };
}

/** Devices carrying a swap signature (`blkid -t TYPE=swap -o device`). */
export async function listSwapDevices(host: Host): Promise<string[]> {
  const tool = await host.which('blkid');
  if (!tool) throw new HostError('blkid', 'blkid is not installed in the guest (package util-linux / libblkid)');
  const res = await host.run(tool, ['-t', 'TYPE=swap', '-o', 'device'], { readOnly: true, timeoutMs: 30_000 });
  if (res.code === 2) return [];
  if (res.code !== 0) throw new HostError('blkid', `blkid -t TYPE=swap exited ${res.code}: ${res.stderr.trim()}`);
  return res.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
}

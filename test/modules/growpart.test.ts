// growpart against fake machines (sysfs, mountinfo and /dev in a temp root,
// tools answering with outputs captured from the real ones), then for real:
// growpart and resize2fs on image files of this machine.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import type { CloudConfig } from '../../src/config/cloud-config';
import { ConfigError, ModuleError } from '../../src/errors';
import { growPartitionStep, growSteps, resizeFsStep, runGrowSteps } from '../../src/disks/grow';
import { probeDevice } from '../../src/disks/blkid';
import { splitDmName } from '../../src/disks/devices';
import type { CommandResult, Host } from '../../src/host/host';
import { NodeHost } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { growAll, growpart, parseGrowpart } from '../../modules/growpart';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/disks');
const fixture = (name: string): string => readFileSync(path.join(FIX, name), 'utf8');

let root: TempRoot;
afterEach(() => root?.cleanup());

/** The guest's argv from a recorded chroot call: "growpart /dev/vda 1". */
function guestCmd(argv: readonly string[]): string {
  const a = argv[0] === 'chroot' ? argv.slice(5) : argv;
  return [path.posix.basename(a[0] as string), ...a.slice(1)].join(' ');
}

/** A host over a temp root that claims to be the running guest, so the live-only paths run (commands stay recorded). */
function liveView(host: Host): Host {
  return new Proxy(host, { get: (t, p) => (p === 'live' ? true : Reflect.get(t, p, t)) });
}

function addTools(r: TempRoot, ...tools: string[]): void {
  for (const t of tools) r.write(`usr/sbin/${t}`, '#!/bin/sh\n', 0o755);
}

interface FakeBlock {
  readonly dev: string;
  readonly partOf?: readonly [string, number];
  readonly dm?: { readonly name: string; readonly uuid: string; readonly slaves: readonly string[] };
}

/** sysfs as the kernel lays it out: /sys/class/block/N/{dev,partition,dm/*,slaves/*} and /sys/block/DISK/PART. */
function addBlock(r: TempRoot, name: string, b: FakeBlock): void {
  r.write(`sys/class/block/${name}/dev`, `${b.dev}\n`);
  r.write(`dev/${name}`, '');
  if (b.partOf) {
    r.write(`sys/class/block/${name}/partition`, `${b.partOf[1]}\n`);
    r.write(`sys/block/${b.partOf[0]}/${name}/partition`, `${b.partOf[1]}\n`);
  }
  if (b.dm) {
    r.write(`sys/class/block/${name}/dm/name`, `${b.dm.name}\n`);
    r.write(`sys/class/block/${name}/dm/uuid`, `${b.dm.uuid}\n`);
    for (const s of b.dm.slaves) r.write(`sys/class/block/${name}/slaves/${s}`, '');
  }
}

function addDisk(r: TempRoot, name: string, dev: string): void {
  addBlock(r, name, { dev });
  r.write(`sys/block/${name}/dev`, `${dev}\n`);
}

/** mountinfo lines in the kernel's format (as on this machine: "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw"). */
function mountinfo(r: TempRoot, rows: readonly [string, string, string, string][]): void {
  r.write('proc/self/mountinfo', rows.map(([mm, mp, fs, src], i) => `${20 + i} 1 ${mm} / ${mp} rw,relatime shared:1 - ${fs} ${src} rw`).join('\n') + '\n');
}

const ok = (stdout = '', stderr = ''): CommandResult => ({ code: 0, stdout, stderr });
const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function cfg(cloud: CloudConfig, context?: Record<string, string>): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud, ...(context ? { context: new Map(Object.entries(context)) } : {}) };
}

/** A Debian cloud image: ext4 root on vda1, growpart and resize2fs installed. */
function debianRoot(): TempRoot {
  const r = makeTempRoot();
  addDisk(r, 'vda', '254:0');
  addBlock(r, 'vda1', { dev: '254:1', partOf: ['vda', 1] });
  mountinfo(r, [['254:1', '/', 'ext4', '/dev/vda1']]);
  r.write('usr/bin/growpart', '#!/bin/sh\n', 0o755);
  addTools(r, 'resize2fs');
  return r;
}

describe('parseGrowpart', () => {
  const cases: { name: string; cloud: CloudConfig; context?: Record<string, string>; want: unknown }[] = [
    { name: 'nothing configured grows / like cloud-init', cloud: {}, want: [{ target: '/', partitions: true, filesystem: true }] },
    { name: 'resize_rootfs false leaves the root filesystem', cloud: { resize_rootfs: false }, want: [{ target: '/', partitions: true, filesystem: false }] },
    { name: 'mode off still resizes the filesystem', cloud: { growpart: { mode: 'off' } }, want: [{ target: '/', partitions: false, filesystem: true }] },
    { name: 'devices list', cloud: { growpart: { devices: ['/', '/data/'] } }, want: [{ target: '/', partitions: true, filesystem: true }, { target: '/data', partitions: true, filesystem: true }] },
    { name: 'GROW_ROOTFS=NO', cloud: {}, context: { GROW_ROOTFS: 'NO' }, want: undefined },
    { name: 'GROW_FS adds mount points', cloud: {}, context: { GROW_ROOTFS: 'yes', GROW_FS: '/srv  /var/lib ' }, want: [{ target: '/' }, { target: '/srv' }, { target: '/var/lib' }] },
    { name: 'mode off and no resize: nothing to do', cloud: { growpart: { mode: 'off' }, resize_rootfs: false }, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseGrowpart(cfg(c.cloud, c.context));
      if (c.want === undefined) expect(got).toBeUndefined();
      else expect(got?.items).toMatchObject(c.want as object);
    });
  }

  it('rejects gpart and a GROW_ROOTFS that is not YES/NO, naming the key', () => {
    expect(() => parseGrowpart(cfg({ growpart: { mode: 'gpart' } }))).toThrow(ConfigError);
    expect(() => parseGrowpart(cfg({ growpart: { mode: 'gpart' } }))).toThrow(/FreeBSD/);
    expect(() => parseGrowpart(cfg({}, { GROW_ROOTFS: 'maybe' }))).toThrow(/GROW_ROOTFS/);
  });
});

describe('growing on a fake machine', () => {
  it('grows the root partition then its ext4 filesystem', async () => {
    root = debianRoot();
    const rec = recorder((argv) => (guestCmd(argv).startsWith('growpart') ? ok(fixture('growpart-changed.txt')) : ok(fixture('resize2fs-changed.stdout'), fixture('resize2fs-changed.stderr'))));
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 1', 'resize2fs /dev/vda1']);
    expect(reports[0]).toMatchObject({ target: '/', device: '/dev/vda1', fsType: 'ext4' });
    expect(reports[0]?.steps.map((s) => s.outcome)).toEqual(['changed', 'changed']);
    expect(reports[0]?.error).toBeUndefined();
  });

  it('finds the device by major:minor when mountinfo says /dev/root', async () => {
    root = debianRoot();
    mountinfo(root, [['254:1', '/', 'ext4', '/dev/root']]);
    const rec = recorder();
    await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 1', 'resize2fs /dev/vda1']);
  });

  it('a partition that already fills the disk is "unchanged", not an error (growpart exit 1 NOCHANGE)', async () => {
    root = debianRoot();
    const rec = recorder((argv) =>
      guestCmd(argv).startsWith('growpart') ? { code: 1, stdout: fixture('growpart-nochange.txt'), stderr: '' } : ok(fixture('resize2fs-nochange.stdout'), fixture('resize2fs-nochange.stderr')),
    );
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(reports[0]?.steps.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(reports[0]?.error).toBeUndefined();
  });

  it('a real growpart failure (exit 2) is reported with its message', async () => {
    root = debianRoot();
    const rec = recorder((argv) => (guestCmd(argv).startsWith('growpart') ? { code: 2, stdout: fixture('growpart-failed.txt'), stderr: '' } : undefined));
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(reports[0]?.error).toMatch(/growpart \/dev\/vda 1 exited 2: FAILED: failed to get start and end/);
    // The filesystem step still ran.
    expect(rec.calls.map(guestCmd)).toContain('resize2fs /dev/vda1');
  });

  it('whole-disk xfs root: no growpart, xfs_growfs on the mount point', async () => {
    root = makeTempRoot();
    addDisk(root, 'vda', '254:0');
    mountinfo(root, [['254:0', '/', 'xfs', '/dev/vda']]);
    addTools(root, 'xfs_growfs');
    const rec = recorder();
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(rec.calls.map(guestCmd)).toEqual(['xfs_growfs /']);
    expect(reports[0]?.error).toBeUndefined();
  });

  it('btrfs on a partition named in GROW_FS, nvme naming', async () => {
    root = debianRoot();
    addDisk(root, 'nvme0n1', '259:0');
    addBlock(root, 'nvme0n1p2', { dev: '259:2', partOf: ['nvme0n1', 2] });
    mountinfo(root, [['254:1', '/', 'ext4', '/dev/vda1'], ['259:2', '/data', 'btrfs', '/dev/nvme0n1p2']]);
    root.write('usr/bin/btrfs', '#!/bin/sh\n', 0o755);
    const rec = recorder();
    await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}, { GROW_ROOTFS: 'NO', GROW_FS: '/data' }))!);
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/nvme0n1 2', 'btrfs filesystem resize max /data']);
  });

  it('LVM root: partition, physical volume, logical volume, filesystem', async () => {
    root = makeTempRoot();
    addDisk(root, 'vda', '254:0');
    addBlock(root, 'vda2', { dev: '254:2', partOf: ['vda', 2] });
    addBlock(root, 'dm-0', { dev: '253:0', dm: { name: 'vg--sys-root', uuid: 'LVM-abcdefabcdefabcdef', slaves: ['vda2'] } });
    mountinfo(root, [['253:0', '/', 'ext4', '/dev/mapper/vg--sys-root']]);
    root.write('usr/bin/growpart', '#!/bin/sh\n', 0o755);
    addTools(root, 'pvresize', 'lvextend', 'resize2fs');
    // lvm2 refuses an extension by zero extents with exit 5: already grown, not a failure.
    const rec = recorder((argv) => (guestCmd(argv).startsWith('lvextend') ? { code: 5, stdout: '', stderr: '  New size (2559 extents) matches existing size (2559 extents).\n' } : undefined));
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 2', 'pvresize /dev/vda2', 'lvextend -l +100%FREE /dev/vg-sys/root', 'resize2fs /dev/vg-sys/root']);
    expect(reports[0]?.steps.map((s) => s.outcome)).toEqual(['changed', 'changed', 'unchanged', 'changed']);
    expect(reports[0]?.error).toBeUndefined();
  });

  it('growpart missing: says so clearly and still resizes the filesystem', async () => {
    root = debianRoot();
    rmSync(root.file('usr/bin/growpart'));
    const rec = recorder();
    const reports = await growAll(liveView(hostOn(root, { executor: rec.executor })), parseGrowpart(cfg({}))!);
    expect(reports[0]?.error).toMatch(/growpart is not installed in the guest \(package cloud-guest-utils\).*partition was not grown/);
    expect(rec.calls.map(guestCmd)).toEqual(['resize2fs /dev/vda1']);
  });

  it('resize2fs missing: the module fails naming the tool, after growing the partition', async () => {
    root = debianRoot();
    for (const d of ['sbin', 'usr/sbin', 'usr/bin', 'bin']) rmSync(root.file(`${d}/resize2fs`), { force: true });
    const rec = recorder((argv) => (guestCmd(argv).startsWith('growpart') ? ok(fixture('growpart-changed.txt')) : undefined));
    const host = liveView(hostOn(root, { executor: rec.executor }));
    const reports = await growAll(host, parseGrowpart(cfg({}))!);
    expect(reports[0]?.error).toMatch(/resize2fs/);
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 1']);
    const ctx = { host, log: memoryLogger(), instance, stage: 'network' as const, stateDir: '/var/lib/guestctx' };
    await expect(growpart.run(ctx, parseGrowpart(cfg({}))!)).rejects.toThrow(/resize2fs/);
  });

  it('bad items fail alone: unsupported filesystem, not a mount point, non-LVM device mapper', async () => {
    root = debianRoot();
    addDisk(root, 'vdb', '254:16');
    addBlock(root, 'dm-1', { dev: '253:1', dm: { name: 'cryptdata', uuid: 'CRYPT-LUKS2-0123-cryptdata', slaves: ['vdc'] } });
    mountinfo(root, [['254:1', '/', 'ext4', '/dev/vda1'], ['254:16', '/boot/efi', 'vfat', '/dev/vdb'], ['253:1', '/secret', 'ext4', '/dev/mapper/cryptdata']]);
    const rec = recorder();
    const host = liveView(hostOn(root, { executor: rec.executor }));
    const reports = await growAll(host, parseGrowpart(cfg({ growpart: { devices: ['/', '/boot/efi', '/nope', '/secret'] } }))!);
    expect(reports.map((r) => r.error ?? 'ok')).toEqual([
      'ok',
      expect.stringMatching(/\/boot\/efi.*cannot grow a vfat filesystem on \/dev\/vdb: guestctx grows ext2\/3\/4, xfs and btrfs/),
      expect.stringMatching(/\/nope.*is not a mount point/),
      expect.stringMatching(/not LVM \(CRYPT\)/),
    ]);
    // Nothing ran for the bad items: each failed while planning.
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 1', 'resize2fs /dev/vda1']);
    // The module reports the failures together, with details per target.
    const ctx: ModuleContext = { host, log: memoryLogger(), instance, stage: 'network', stateDir: '/var/lib/guestctx' };
    await expect(growpart.run(ctx, parseGrowpart(cfg({ growpart: { devices: ['/', '/boot/efi'] } }))!)).rejects.toThrow(ModuleError);
  });

  it('the module skips offline and honours /etc/growroot-disabled', async () => {
    root = debianRoot();
    const rec = recorder();
    const offline: ModuleContext = { host: hostOn(root, { executor: rec.executor }), log: memoryLogger(), instance, stage: 'network', stateDir: '/var/lib/guestctx' };
    expect(await growpart.run(offline, parseGrowpart(cfg({}))!)).toMatchObject({ skipped: expect.stringMatching(/needs the running guest/) });
    root.write('etc/growroot-disabled', '');
    const live = { ...offline, host: liveView(offline.host) };
    expect(await growpart.run(live, parseGrowpart(cfg({}))!)).toMatchObject({ skipped: expect.stringMatching(/growroot-disabled/) });
    expect(await growpart.run(live, parseGrowpart(cfg({ growpart: { ignore_growroot_disabled: true } }))!)).toMatchObject({ details: expect.anything() });
    expect(rec.calls.map(guestCmd)).toEqual(['growpart /dev/vda 1', 'resize2fs /dev/vda1']);
  });
});

describe('step builders', () => {
  it('names the filesystem tools and refuses what it cannot grow', () => {
    expect(resizeFsStep('ext3', '/dev/vdb', undefined).argv).toEqual(['resize2fs', '/dev/vdb']);
    expect(() => resizeFsStep('xfs', '/dev/vdb', undefined)).toThrow(/xfs can only be grown while mounted/);
    expect(() => resizeFsStep('ntfs', '/dev/vdb', '/win')).toThrow(/cannot grow a ntfs filesystem/);
    expect(growSteps({ target: '/', device: '/dev/vda1', fsType: 'ext4', partition: { disk: '/dev/vda', number: 1 } }, { partitions: false, filesystem: true }).map((s) => s.argv[0])).toEqual(['resize2fs']);
    expect(splitDmName('vg--data-my--lv')).toEqual({ vg: 'vg-data', lv: 'my-lv' });
  });
});

describe('real tools on image files', () => {
  let tmp = '';
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'guestctx-grow-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));
  // Root "/" only to run this machine's tools on files in a temp folder; nothing under /etc is touched.
  const host = new NodeHost({ root: '/' });
  const has = (tool: string): boolean => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`]);
      return true;
    } catch {
      return false;
    }
  };
  const blockCount = (img: string): number => Number(/Block count:\s+(\d+)/.exec(execFileSync('dumpe2fs', ['-h', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString())?.[1]);

  it.runIf(has('mkfs.ext4') && has('resize2fs') && has('dumpe2fs'))('resize2fs grows an ext4 image that was made larger, then has nothing to do', async () => {
    const img = path.join(tmp, 'disk.img');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img]);
    const before = blockCount(img);
    execFileSync('truncate', ['-s', '128M', img]);
    expect(await probeDevice(host, img)).toMatchObject({ type: 'ext4' });
    const first = await runGrowSteps(host, growSteps({ target: img, device: img, fsType: 'ext4' }, { partitions: true, filesystem: true }));
    expect(first.map((r) => r.outcome)).toEqual(['changed']);
    expect(blockCount(img)).toBe(before * 2);
    const again = await runGrowSteps(host, [resizeFsStep('ext4', img, undefined)]);
    expect(again.map((r) => r.outcome)).toEqual(['unchanged']);
  });

  it.runIf(has('growpart') && has('sfdisk'))('growpart grows a partition of an image, then reports NOCHANGE, and fails clearly on a missing partition', async () => {
    const img = path.join(tmp, 'part.img');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('sfdisk', ['-q', img], { input: 'label: gpt\n,32M,L\n' });
    const size = (): number => (JSON.parse(execFileSync('sfdisk', ['-J', img]).toString()) as { partitiontable: { partitions: { size: number }[] } }).partitiontable.partitions[0]!.size;
    expect(size()).toBe(65536);
    const res = await runGrowSteps(host, [growPartitionStep(img, 1), growPartitionStep(img, 1), growPartitionStep(img, 3)]);
    expect(res.map((r) => r.outcome)).toEqual(['changed', 'unchanged', 'failed']);
    expect(res[2]?.message).toMatch(/exited 2: FAILED/);
    expect(size()).toBeGreaterThan(120000);
  });

  it('a blank image probes as empty', async () => {
    const img = path.join(tmp, 'blank.img');
    execFileSync('truncate', ['-s', '8M', img]);
    expect(await probeDevice(host, img)).toEqual({});
  });
});

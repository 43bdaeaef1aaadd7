// mounts against temp roots: EC2 block device mapping, cloud-config mounts,
// swap files, fs_setup/disk_setup, OpenNebula swap devices and virtiofs
// shares; /etc/fstab keeps every foreign line and a second run changes
// nothing. Real tools prove the blkid parsing and the swap-file commands.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import type { CloudConfig } from '../../src/config/cloud-config';
import { ModuleError } from '../../src/errors';
import { parseBlkidExport, probeDevice } from '../../src/disks/blkid';
import { sfdiskScript, mkfsArgv } from '../../src/disks/format';
import { BLOCK_BEGIN, BLOCK_END, parseFstab, renderFstab, type FstabEntry } from '../../src/disks/fstab';
import { autoSwapBytes, swapFileCommands } from '../../src/disks/swap';
import type { CommandResult, Host } from '../../src/host/host';
import { NodeHost, type Executor } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { mounts, parseMounts } from '../../modules/mounts';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/disks');
const fixture = (name: string): string => readFileSync(path.join(FIX, name), 'utf8');
const REQ = 'x-systemd.requires=guestctx-local.service';

let root: TempRoot;
afterEach(() => root?.cleanup());

const FSTAB = `# /etc/fstab: static file system information.
UUID=0a1b2c3d-0000-4000-8000-000000000001 / ext4 rw,discard,errors=remount-ro 0 1
/dev/vdz1  /boot/efi  vfat  umask=0077  0  1
`;

function guestCmd(argv: readonly string[]): string {
  const a = argv[0] === 'chroot' ? argv.slice(5) : argv;
  return [path.posix.basename(a[0] as string), ...a.slice(1)].join(' ');
}

function liveView(host: Host): Host {
  return new Proxy(host, { get: (t, p) => (p === 'live' ? true : Reflect.get(t, p, t)) });
}

/** Records argv and stdin; `answer` plays the guest's tools. */
function tools(answer: (cmd: string) => CommandResult | undefined = () => undefined): { calls: string[]; inputs: Map<string, string>; executor: Executor } {
  const calls: string[] = [];
  const inputs = new Map<string, string>();
  return {
    calls,
    inputs,
    executor: async (argv, opts) => {
      const cmd = guestCmd(argv);
      calls.push(cmd);
      if (opts.input !== undefined && opts.input.length > 0) inputs.set(cmd, opts.input.toString());
      return answer(cmd) ?? { code: 0, stdout: '', stderr: '' };
    },
  };
}

function guestRoot(devs: readonly string[] = []): TempRoot {
  const r = makeTempRoot();
  r.write('etc/fstab', FSTAB);
  for (const d of devs) r.write(`dev/${d}`, '');
  for (const t of ['blkid', 'mkfs.ext4', 'mkfs.xfs', 'mkswap', 'swapon', 'sfdisk']) r.write(`usr/sbin/${t}`, '#!/bin/sh\n', 0o755);
  for (const t of ['mount', 'df', 'fallocate', 'dd', 'systemctl']) r.write(`usr/bin/${t}`, '#!/bin/sh\n', 0o755);
  return r;
}

const instance = (bdm?: Record<string, string>): InstanceData => ({
  datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [],
  ...(bdm ? { blockDeviceMapping: bdm } : {}),
});

function cfg(cloud: CloudConfig, opts: { bdm?: Record<string, string>; context?: Record<string, string> } = {}): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud, instance: instance(opts.bdm), ...(opts.context ? { context: new Map(Object.entries(opts.context)) } : {}) };
}

function ctxOn(host: Host): ModuleContext {
  return { host, log: memoryLogger(), instance: instance(), stage: 'network', stateDir: '/var/lib/guestctx' };
}

/** The managed lines of the guest's fstab, fields joined by one space. */
function managed(r: TempRoot): string[] {
  return parseFstab(r.read('etc/fstab')).managed.map((e) => [e.spec, e.file, e.vfstype, e.mntops, e.freq, e.passno].join(' '));
}

async function runModule(host: Host, c: GuestConfig): Promise<unknown> {
  return mounts.run(ctxOn(host), parseMounts(c)!);
}

describe('fstab rendering', () => {
  const entry: FstabEntry = { spec: '/dev/vdb', file: '/mnt/my data', vfstype: 'auto', mntops: 'defaults,nofail', freq: '0', passno: '2' };

  it('keeps every existing line byte for byte and appends one block', () => {
    const out = renderFstab(FSTAB, [entry]);
    expect(out.startsWith(FSTAB)).toBe(true);
    expect(out.slice(FSTAB.length)).toBe(`${BLOCK_BEGIN}\n/dev/vdb\t/mnt/my\\040data\tauto\tdefaults,nofail\t0\t2\n${BLOCK_END}\n`);
    expect(parseFstab(out).managed).toEqual([entry]);
  });

  it('is idempotent, replaces the block in place, and removes it when empty', () => {
    const once = renderFstab(FSTAB, [entry]);
    expect(renderFstab(once, [entry])).toBe(once);
    const withAfter = `${once}tmpfs /tmp tmpfs defaults 0 0\n`;
    const replaced = renderFstab(withAfter, [{ ...entry, spec: '/dev/vdc' }]);
    expect(replaced).toMatch(/\/dev\/vdc\t.*\n# guestctx: end managed entries\ntmpfs \/tmp/);
    expect(replaced).not.toMatch(/\/dev\/vdb/);
    expect(renderFstab(withAfter, [])).toBe(`${FSTAB}tmpfs /tmp tmpfs defaults 0 0\n`);
  });

  it('a block whose end marker was deleted owns only our lines', () => {
    const damaged = `${BLOCK_BEGIN}\n/dev/vdb /mnt auto defaults,nofail,${REQ} 0 2\n/dev/sda9 /home ext4 defaults 0 2\n`;
    const parsed = parseFstab(damaged);
    expect(parsed.managed.map((e) => e.spec)).toEqual(['/dev/vdb']);
    expect(renderFstab(damaged, [])).toBe('/dev/sda9 /home ext4 defaults 0 2\n');
  });
});

describe('mounts module, offline root (fstab only)', () => {
  it('EC2 mapping: ephemeral0 on /mnt and swap, names mapped to the xvd devices that exist', async () => {
    root = guestRoot(['xvdb', 'xvdc']);
    const t = tools();
    await runModule(hostOn(root, { executor: t.executor }), cfg({}, { bdm: { ami: 'sda1', root: '/dev/sda1', ephemeral0: 'sdb', swap: 'sdc' } }));
    expect(managed(root)).toEqual([`/dev/xvdb /mnt auto defaults,nofail,${REQ} 0 2`, '/dev/xvdc none swap sw,nofail 0 0']);
    expect(root.read('etc/fstab').startsWith(FSTAB)).toBe(true);
    expect(statSync(root.file('mnt')).isDirectory()).toBe(true);
    expect(root.mode('etc/fstab')).toBe(0o644);
    // Offline nothing is run: no mount, no swapon, no blkid of this machine's disks.
    expect(t.calls).toEqual([]);
  });

  it('cloud-config mounts: defaults filled, [ephemeral0] removes the default, a missing device fails alone', async () => {
    root = guestRoot(['vdb', 'vdc']);
    const c = cfg({ mounts: [['ephemeral0'], ['vdc', '/data', 'ext4'], ['/dev/vdq', '/scratch'], ['LABEL=logs', '/var/log/app', 'xfs', 'noatime', '0', '0'], ['/dev/vdc', 'relative/path']] }, { bdm: { ephemeral0: 'vdb' } });
    const err = await runModule(hostOn(root), c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as Error).message).toMatch(/mounts\[2\]: device "\/dev\/vdq": no such device in the guest \(tried \/dev\/vdq, \/dev\/sdq, \/dev\/xvdq\)/);
    expect((err as Error).message).toMatch(/mounts\[4\]: mount point "relative\/path" is not an absolute path/);
    expect(managed(root)).toEqual([`/dev/vdc /data ext4 defaults,nofail,${REQ} 0 2`, 'LABEL=logs /var/log/app xfs noatime,nofail 0 0']);
    expect(statSync(root.file('var/log/app')).isDirectory()).toBe(true);
  });

  it('a second run changes nothing; a new configuration replaces only the managed lines', async () => {
    root = guestRoot(['vdb']);
    const c = cfg({ mounts: [['vdb', '/data']], mount_default_fields: [null, null, 'ext4', 'defaults', '0', '2'] });
    await runModule(hostOn(root), c);
    const before = hashTree(root.dir);
    const host = hostOn(root);
    await runModule(host, c);
    expect(hashTree(root.dir)).toBe(before);
    expect(host.changes()).toEqual([]);
    await runModule(hostOn(root), cfg({ mounts: [['vdb', '/srv']] }));
    expect(managed(root)).toEqual([`/dev/vdb /srv auto defaults,nofail,${REQ} 0 2`]);
    expect(root.read('etc/fstab').startsWith(FSTAB)).toBe(true);
  });

  it('an admin line for the same mount point wins: it is kept and no entry is added', async () => {
    root = guestRoot(['vdb', 'vdz1']);
    const log = memoryLogger();
    await mounts.run({ ...ctxOn(hostOn(root)), log }, parseMounts(cfg({ mounts: [['vdb', '/boot/efi']] }))!);
    expect(managed(root)).toEqual([]);
    expect(root.read('etc/fstab')).toBe(FSTAB);
    expect(log.lines.join('\n')).toMatch(/already has a line for \/boot\/efi/);
  });

  it('OpenNebula virtiofs shares; a tag without a mount point is that item\'s error', async () => {
    root = guestRoot();
    const c = cfg({}, { context: { DISK1_MOUNT_TAG: 'share', DISK1_MOUNT_POINT: '/srv/share', DISK3_MOUNT_TAG: 'other', IGNORE_SWAP: 'YES' } });
    await expect(runModule(hostOn(root), c)).rejects.toThrow(/DISK3_MOUNT_TAG: DISK3_MOUNT_POINT is not set/);
    expect(managed(root)).toEqual([`share /srv/share virtiofs defaults,nofail,${REQ} 0 0`]);
    expect(statSync(root.file('srv/share')).isDirectory()).toBe(true);
  });

  it('fs_setup and disk_setup wait for the running guest', async () => {
    root = guestRoot(['vdb']);
    const t = tools();
    await runModule(hostOn(root, { executor: t.executor }), cfg({ fs_setup: [{ device: '/dev/vdb' }] }));
    expect(t.calls).toEqual([]);
  });
});

describe('mounts module, running guest (commands recorded)', () => {
  it('mounts what is not mounted, enables swap devices found by blkid (OpenNebula)', async () => {
    root = guestRoot(['vdb', 'vdc']);
    root.write('proc/self/mountinfo', '27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n');
    root.write('proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
    const t = tools((cmd) => (cmd === 'blkid -t TYPE=swap -o device' ? { code: 0, stdout: '/dev/vdc\n', stderr: '' } : undefined));
    await runModule(liveView(hostOn(root, { executor: t.executor })), cfg({ mounts: [['vdb', '/data']] }, { context: { ETH0_IP: '10.0.0.2' } }));
    expect(managed(root)).toEqual([`/dev/vdb /data auto defaults,nofail,${REQ} 0 2`, '/dev/vdc none swap sw,nofail 0 0']);
    expect(t.calls).toEqual(['blkid -t TYPE=swap -o device', 'systemctl daemon-reload', 'mount /data', 'swapon /dev/vdc']);
  });

  it('IGNORE_SWAP=YES leaves swap devices alone', async () => {
    root = guestRoot(['vdc']);
    const t = tools(() => ({ code: 0, stdout: '/dev/vdc\n', stderr: '' }));
    const c = cfg({}, { context: { IGNORE_SWAP: 'YES', DISK0_MOUNT_TAG: 'x', DISK0_MOUNT_POINT: '/x' } });
    await runModule(liveView(hostOn(root, { executor: t.executor })), c);
    expect(t.calls).not.toContain('blkid -t TYPE=swap -o device');
    expect(t.calls).not.toContain('swapon /dev/vdc');
  });

  it('swap file: created 0600, fallocate + mkswap + swapon, recorded in fstab; bad sizes fail alone', async () => {
    root = guestRoot(['vdb']);
    root.write('proc/self/mountinfo', '27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n');
    root.write('proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n');
    const df = 'Filesystem     1-blocks       Used   Available Capacity Mounted on\n/dev/vda1   10434662400 2040000000 8394662400      20% /\n';
    const t = tools((cmd) => (cmd.startsWith('df ') ? { code: 0, stdout: df, stderr: '' } : undefined));
    const host = liveView(hostOn(root, { executor: t.executor }));
    await runModule(host, cfg({ swap: { filename: '/swapfile', size: 64 * 1024 * 1024 }, mounts: [['vdb', '/data']] }));
    expect(t.calls).toEqual(['df -P -B1 /', 'fallocate -l 67108864 /swapfile', 'mkswap /swapfile', 'systemctl daemon-reload', 'mount /data', 'swapon /swapfile']);
    expect(root.mode('swapfile')).toBe(0o600);
    expect(managed(root)).toContain('/swapfile none swap sw,nofail 0 0');

    root.cleanup();
    root = guestRoot(['vdb']);
    const t2 = tools((cmd) => (cmd.startsWith('df ') ? { code: 0, stdout: df, stderr: '' } : undefined));
    const tooSmall = runModule(liveView(hostOn(root, { executor: t2.executor })), cfg({ swap: { filename: '/swapfile', size: 1000 }, mounts: [['vdb', '/data']] }));
    await expect(tooSmall).rejects.toThrow(/swap\.size: .*swap size 1000 bytes is below the minimum of 1 MiB/);
    expect(managed(root)).toEqual([`/dev/vdb /data auto defaults,nofail,${REQ} 0 2`]);
    const tooBig = runModule(liveView(hostOn(root, { executor: t2.executor })), cfg({ swap: { filename: '/swapfile', size: 20 * 1024 ** 3 } }));
    await expect(tooBig).rejects.toThrow(/more than the 8394662400 bytes free/);
    expect(t2.calls.filter((c) => /fallocate|mkswap/.test(c))).toEqual([]);
  });

  it('swap file on xfs uses dd; "auto" follows memory and free space', async () => {
    root = guestRoot();
    root.write('proc/self/mountinfo', '27 1 254:1 / / rw,relatime shared:1 - xfs /dev/vda1 rw\n');
    root.write('proc/meminfo', 'MemTotal:        2014512 kB\nMemFree:          512000 kB\n');
    const t = tools((cmd) => (cmd.startsWith('df ') ? { code: 0, stdout: 'Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/vda1 1 1 104857600000 1% /\n', stderr: '' } : undefined));
    await runModule(liveView(hostOn(root, { executor: t.executor })), cfg({ swap: { filename: '/swap.img', size: 'auto', maxsize: 1024 ** 3 } }));
    expect(t.calls).toContain('dd if=/dev/zero of=/swap.img bs=1M count=1024 status=none');
    expect(autoSwapBytes(2014512 * 1024, undefined, undefined)).toBe(1967 * 1024 * 1024);
    expect(autoSwapBytes(32 * 1024 ** 3, 100 * 1024 ** 3, undefined)).toBe(6 * 1024 ** 3);
    expect(autoSwapBytes(8 * 1024 ** 3, 2 * 1024 ** 3, undefined)).toBe(1024 ** 3);
  });

  it('fs_setup formats only blank devices; overwrite forces; an unknown filesystem fails alone', async () => {
    root = guestRoot(['vdb', 'vdc', 'vdd', 'vde']);
    const blkid: Record<string, CommandResult> = {
      'blkid -p -o export /dev/vdb': { code: 2, stdout: '', stderr: '' },
      'blkid -p -o export /dev/vdc': { code: 0, stdout: fixture('blkid-ext4.txt'), stderr: '' },
      'blkid -p -o export /dev/vdd': { code: 0, stdout: fixture('blkid-xfs.txt'), stderr: '' },
      'blkid -p -o export /dev/vde': { code: 2, stdout: '', stderr: '' },
    };
    const t = tools((cmd) => blkid[cmd]);
    const c = cfg({
      fs_setup: [
        { device: 'ephemeral0', label: 'eph' },
        { device: '/dev/vdc', filesystem: 'xfs' },
        { device: '/dev/vdd', filesystem: 'ext4', overwrite: true },
        { device: '/dev/vde', filesystem: 'zfs' },
        { device: '/dev/vdq' },
      ],
      mounts: [['ephemeral0', '/mnt/eph']],
    }, { bdm: { ephemeral0: 'sdb' } });
    const err = await runModule(liveView(hostOn(root, { executor: t.executor })), c).catch((e: unknown) => e);
    expect(t.calls.filter((x) => x.startsWith('mkfs'))).toEqual(['mkfs.ext4 -L eph /dev/vdb', 'mkfs.ext4 -F /dev/vdd']);
    expect((err as Error).message).toMatch(/fs_setup\[3\]: .*filesystem "zfs" is not supported/);
    expect((err as Error).message).toMatch(/fs_setup\[4\]: device "\/dev\/vdq": no such device/);
    expect(managed(root)).toEqual([`/dev/vdb /mnt/eph auto defaults,nofail,${REQ} 0 2`]);
  });

  it('a missing mkfs fails that item naming the tool; the mounts are still written', async () => {
    root = guestRoot(['vdb']);
    rmSync(root.file('usr/sbin/mkfs.ext4'));
    const t = tools((cmd) => (cmd.startsWith('blkid -p') ? { code: 2, stdout: '', stderr: '' } : undefined));
    const err = await runModule(liveView(hostOn(root, { executor: t.executor })), cfg({ fs_setup: [{ device: '/dev/vdb', filesystem: 'ext4' }], mounts: [['/dev/vdb', '/data']] })).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/mkfs\.ext4 is not installed in the guest/);
    expect(t.calls.filter((x) => x.startsWith('mkfs'))).toEqual([]);
    expect(managed(root)).toEqual([`/dev/vdb /data auto defaults,nofail,${REQ} 0 2`]);
  });

  it('disk_setup partitions a blank disk through sfdisk and leaves a used one alone', async () => {
    root = guestRoot(['vdb', 'vdc']);
    root.write('sys/class/block/vdb/size', '2097152\n');
    const t = tools((cmd) => (cmd === 'blkid -p -o export /dev/vdc' ? { code: 0, stdout: fixture('blkid-gpt.txt'), stderr: '' } : cmd.startsWith('blkid -p') ? { code: 2, stdout: '', stderr: '' } : undefined));
    await runModule(liveView(hostOn(root, { executor: t.executor })), cfg({ disk_setup: { '/dev/vdb': { table_type: 'gpt', layout: [50, [50, 82]] }, '/dev/vdc': { layout: true } } }));
    expect(t.calls.filter((x) => x.startsWith('sfdisk'))).toEqual(['sfdisk /dev/vdb']);
    expect(t.inputs.get('sfdisk /dev/vdb')).toBe('label: gpt\nsize=1048576, type=L\ntype=S\n');
  });
});

describe('helpers', () => {
  it('parses blkid export output of several devices', () => {
    const recs = parseBlkidExport(`${fixture('blkid-ext4.txt')}\n${fixture('blkid-swap.txt')}`);
    expect(recs.map((r) => [r['DEVNAME'], r['TYPE']])).toEqual([['/dev/vdb', 'ext4'], ['/dev/vdc', 'swap']]);
  });

  it('mkfs and sfdisk arguments, with clear errors', () => {
    expect(mkfsArgv('xfs', '/dev/vdb', { label: 'data', force: true, extra: ['-m', 'crc=1'] }, 'x')).toEqual(['mkfs.xfs', '-L', 'data', '-f', '-m', 'crc=1', '/dev/vdb']);
    expect(sfdiskScript('mbr', true, 1 << 30, 'x')).toBe('label: dos\ntype=L\n');
    expect(() => sfdiskScript('gpt', [[100, 'ab12']], 1 << 30, 'd')).toThrow(/partition type "ab12" is not known/);
    expect(() => sfdiskScript('mbr', [60, 60], 1 << 30, 'd')).toThrow(/120%/);
  });

  it('real tools: the swap-file commands make a file blkid calls swap', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'guestctx-swap-'));
    try {
      const file = path.join(tmp, 'swapfile');
      execFileSync('install', ['-m', '600', '/dev/null', file]);
      for (const argv of swapFileCommands(file, 8 * 1024 * 1024, 'ext4')) execFileSync(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
      expect(statSync(file).size).toBe(8 * 1024 * 1024);
      expect(await probeDevice(new NodeHost({ root: '/' }), file)).toMatchObject({ type: 'swap' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

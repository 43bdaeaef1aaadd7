// The disk every scenario of one run boots: the cached base rootfs, plus the
// project's own .deb installed with dpkg in a chroot (so the package's
// maintainer scripts are exercised for real), the test-only report unit, a
// serial console, and fstab for a raw ext4 disk without partitions. Built
// once per run as a sparse raw image; each boot gets a sparse copy.
import { readdirSync, copyFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootFiles, withChrootMounts } from './base-image.mjs';
import { log, run } from './proc.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/vm/guest');
export const DISK_SIZE = '3G';
export const BASE_HOSTNAME = 'vm-base';
const UNITS = ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'];

function enableUnit(rootfs, target, unitPath, name = path.basename(unitPath)) {
  const wants = path.join(rootfs, 'etc/systemd/system', `${target}.wants`);
  mkdirSync(wants, { recursive: true });
  const link = path.join(wants, name);
  rmSync(link, { force: true });
  symlinkSync(unitPath, link);
}

/**
 * Build <work>/image: rootfs (a copy of the base), disk.raw, kernel, initrd.
 * Returns the paths and how long each step took.
 */
export function prepareRunImage({ baseRootfs, deb, work }) {
  const times = {};
  let t = Date.now();
  const rootfs = path.join(work, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  run('cp', ['-a', '--reflink=auto', baseRootfs, rootfs], { quiet: true });
  times.copyMs = Date.now() - t;

  // The package, installed the way an image builder would: dpkg -i in a chroot.
  t = Date.now();
  copyFileSync(deb, path.join(rootfs, 'tmp/guestctx.deb'));
  const dpkgOut = withChrootMounts(rootfs, () => run('chroot', [rootfs, 'dpkg', '-i', '/tmp/guestctx.deb'], { quiet: true }));
  rmSync(path.join(rootfs, 'tmp/guestctx.deb'));
  times.dpkgMs = Date.now() - t;
  // The postinst must have enabled the three units without a running systemd.
  // lstat: the links are absolute guest paths, which do not resolve on the host.
  const isLink = (p) => {
    try {
      return lstatSync(p).isSymbolicLink();
    } catch (err) {
      if (err.code === 'ENOENT') return false;
      throw err;
    }
  };
  const missing = UNITS.filter((u) => !isLink(path.join(rootfs, 'etc/systemd/system/multi-user.target.wants', u)));
  if (missing.length) throw new Error(`dpkg -i did not enable ${missing.join(', ')} in the chroot:\n${dpkgOut}`);
  const exe = path.join(rootfs, 'usr/bin/guestctx');
  if (!lstatSync(exe).isFile()) throw new Error('the package did not install /usr/bin/guestctx');

  // Test-only guest setup.
  writeFileSync(path.join(rootfs, 'etc/fstab'), '/dev/vda / ext4 defaults 0 1\n');
  writeFileSync(path.join(rootfs, 'etc/hostname'), `${BASE_HOSTNAME}\n`);
  writeFileSync(path.join(rootfs, 'etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${BASE_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  // debootstrap copied the build host's resolv.conf; the guest starts without
  // one of its own so whatever appears there came from the boot under test.
  rmSync(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  writeFileSync(path.join(rootfs, 'etc/resolv.conf'), '# vm-base: no nameserver configured\n');
  enableUnit(rootfs, 'getty.target', '/lib/systemd/system/serial-getty@.service', 'serial-getty@ttyS0.service');
  const sbin = path.join(rootfs, 'usr/local/sbin/vm-report');
  mkdirSync(path.dirname(sbin), { recursive: true });
  copyFileSync(path.join(FIXTURES, 'vm-report'), sbin);
  chmodSync(sbin, 0o755);
  copyFileSync(path.join(FIXTURES, 'vm-report.service'), path.join(rootfs, 'etc/systemd/system/vm-report.service'));
  enableUnit(rootfs, 'multi-user.target', '/etc/systemd/system/vm-report.service');
  // A fixed machine id: no first-boot preset pass, stable journal location.
  writeFileSync(path.join(rootfs, 'etc/machine-id'), 'a4b5c6d7e8f90123456789abcdef0123\n');

  t = Date.now();
  const disk = path.join(work, 'disk.raw');
  rmSync(disk, { force: true });
  run('truncate', ['-s', DISK_SIZE, disk], { quiet: true });
  run('mkfs.ext4', ['-q', '-F', '-L', 'vmroot', '-d', rootfs, disk], { quiet: true, timeoutMs: 5 * 60_000 });
  times.mkfsMs = Date.now() - t;
  const { kernel, initrd } = bootFiles(rootfs);
  // Kernel and initrd are read by qemu from outside: keep copies next to the disk.
  copyFileSync(kernel, path.join(work, 'vmlinuz'));
  copyFileSync(initrd, path.join(work, 'initrd.img'));
  rmSync(rootfs, { recursive: true, force: true });
  log(`run image: copy ${times.copyMs} ms, dpkg -i ${times.dpkgMs} ms, mkfs.ext4 -d ${times.mkfsMs} ms`);
  return { disk, kernel: path.join(work, 'vmlinuz'), initrd: path.join(work, 'initrd.img'), times };
}

/** A private sparse copy of a disk, for one boot. */
export function copyDisk(src, dst) {
  rmSync(dst, { force: true });
  run('cp', ['--sparse=always', src, dst], { quiet: true });
  return dst;
}

/** Run fn(mountpoint) with the ext4 image mounted read-only; always unmounts. */
export function withMountedDisk(disk, mnt, fn) {
  mkdirSync(mnt, { recursive: true });
  // noload: never replay a journal, so reading cannot change the image.
  run('mount', ['-o', 'loop,ro,noload', disk, mnt], { quiet: true });
  try {
    return fn(mnt);
  } finally {
    run('umount', [mnt], { quiet: true });
  }
}

/** Run fn(mountpoint) with the ext4 image mounted read-write (to prepare a scenario's guest); always unmounts. */
export function withWritableDisk(disk, mnt, fn) {
  mkdirSync(mnt, { recursive: true });
  run('mount', ['-o', 'loop', disk, mnt], { quiet: true });
  try {
    return fn(mnt);
  } finally {
    run('umount', [mnt], { quiet: true });
  }
}

/** Enable a unit in a mounted guest (the symlink `systemctl enable` makes). */
export function enableGuestUnit(rootfs, target, unitPath) {
  enableUnit(rootfs, target, unitPath);
}

/** Disable a unit in a mounted guest: remove its symlinks from every *.wants folder. */
export function disableGuestUnit(rootfs, name) {
  const dir = path.join(rootfs, 'etc/systemd/system');
  for (const wants of readdirSync(dir).filter((d) => d.endsWith('.wants'))) rmSync(path.join(dir, wants, name), { force: true });
}

/** Read a guest file from a mounted image, or undefined. */
export function readGuestFile(mnt, guestPath) {
  const p = path.join(mnt, guestPath);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

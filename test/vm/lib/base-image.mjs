// The cached Debian base root filesystem the VM scenarios boot. Building it
// with debootstrap takes minutes, so it is built once and kept OUTSIDE the
// repository under /var/cache/guestctx-vm/<sha256 of the recipe>/rootfs; any
// change to the recipe (suite, package list, mirror, post-steps) gives a new
// key, so a stale image is never reused by accident.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log, run } from './proc.mjs';

export const CACHE_ROOT = process.env.GUESTCTX_VM_CACHE ?? '/var/cache/guestctx-vm';

const INCLUDE = [
  'systemd-sysv', 'udev', 'iproute2', 'openssh-server', 'kmod', 'e2fsprogs', 'util-linux', 'mount',
  'ifupdown', 'isc-dhcp-client', 'sudo', 'linux-image-amd64',
];

/** The mirror apt on this machine uses (debootstrap is one more apt client of it). */
export function debianMirror() {
  if (process.env.GUESTCTX_VM_MIRROR) return process.env.GUESTCTX_VM_MIRROR;
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(path.join(dir, f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    // deb822 ("URIs: ...") and one-line ("deb URL suite ...") forms.
    for (const m of text.matchAll(/^URIs:\s*(\S+)/gm)) if (/\/debian\/?$/.test(m[1])) return m[1].replace(/\/$/, '');
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/gm)) if (/\/debian\/?$/.test(m[1]) && !/security/.test(m[2])) return m[1].replace(/\/$/, '');
  }
  return 'http://deb.debian.org/debian';
}

/** Everything that decides the content of the base image; its hash is the cache key. */
export function baseRecipe() {
  return {
    version: 2, // bump when the post-steps below change
    suite: 'bookworm',
    arch: 'amd64',
    variant: 'minbase',
    include: INCLUDE,
    mirror: debianMirror(),
    post: ['apt-clean', 'machine-id-empty', 'root-unlocked-no-password', 'initramfs-virtio'],
  };
}

export function recipeKey(recipe = baseRecipe()) {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

/** Kernel and initrd inside a root filesystem (the newest, if several). */
export function bootFiles(rootfs) {
  const boot = path.join(rootfs, 'boot');
  const names = readdirSync(boot);
  const kernel = names.filter((n) => n.startsWith('vmlinuz-')).sort().pop();
  const initrd = names.filter((n) => n.startsWith('initrd.img-')).sort().pop();
  if (!kernel || !initrd) throw new Error(`no kernel/initrd in ${boot} (found: ${names.join(', ')})`);
  return { kernel: path.join(boot, kernel), initrd: path.join(boot, initrd) };
}

/**
 * Return the path of the cached base rootfs, building it first when missing.
 * The build goes to a temporary sibling and is renamed into place only when
 * complete, so an interrupted build never leaves a half image that looks valid.
 */
export function ensureBaseRootfs() {
  const recipe = baseRecipe();
  const key = recipeKey(recipe);
  const dir = path.join(CACHE_ROOT, key);
  const rootfs = path.join(dir, 'rootfs');
  if (existsSync(path.join(dir, 'complete'))) {
    log(`base image: cached ${dir}`);
    return { rootfs, key, builtMs: 0, cached: true };
  }
  const started = Date.now();
  mkdirSync(CACHE_ROOT, { recursive: true });
  const tmp = path.join(CACHE_ROOT, `${key}.building-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tmpRoot = path.join(tmp, 'rootfs');
  log(`base image: debootstrap ${recipe.suite} from ${recipe.mirror} into ${tmpRoot} (a few minutes)`);
  run('debootstrap', [`--variant=${recipe.variant}`, `--arch=${recipe.arch}`, `--include=${recipe.include.join(',')}`, recipe.suite, tmpRoot, recipe.mirror], {
    quiet: true,
    timeoutMs: 20 * 60_000,
  });
  // Post-steps (listed in the recipe): a smaller image, a fresh machine-id per
  // boot (the guest's systemd fills an empty file), a console root login for
  // debugging a kept disk by hand, and virtio drivers in the initramfs.
  rmSync(path.join(tmpRoot, 'var/cache/apt/archives'), { recursive: true, force: true });
  mkdirSync(path.join(tmpRoot, 'var/cache/apt/archives/partial'), { recursive: true });
  rmSync(path.join(tmpRoot, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(path.join(tmpRoot, 'var/lib/apt/lists/partial'), { recursive: true });
  writeFileSync(path.join(tmpRoot, 'etc/machine-id'), '');
  run('chroot', [tmpRoot, 'passwd', '-d', 'root'], { quiet: true });
  const modules = path.join(tmpRoot, 'etc/initramfs-tools/modules');
  writeFileSync(modules, `${readFileSync(modules, 'utf8')}virtio_pci\nvirtio_blk\nvirtio_net\next4\n`);
  withChrootMounts(tmpRoot, () => run('chroot', [tmpRoot, 'update-initramfs', '-u', '-k', 'all'], { quiet: true, timeoutMs: 10 * 60_000 }));
  writeFileSync(path.join(tmp, 'recipe.json'), `${JSON.stringify(recipe, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const builtMs = Date.now() - started;
  writeFileSync(path.join(dir, 'complete'), `${new Date().toISOString()} ${builtMs} ms\n`);
  log(`base image: built in ${(builtMs / 1000).toFixed(0)} s -> ${dir}`);
  return { rootfs, key, builtMs, cached: false };
}

/** Run fn with /proc, /sys and /dev mounted in a chroot, always unmounting after. */
export function withChrootMounts(root, fn) {
  const mounted = [];
  try {
    for (const [type, src, dst, opts] of [['proc', 'proc', 'proc', []], ['sysfs', 'sys', 'sys', []], [null, '/dev', 'dev', ['--bind']]]) {
      const target = path.join(root, dst);
      mkdirSync(target, { recursive: true });
      run('mount', type ? ['-t', type, src, target] : [...opts, src, target], { quiet: true });
      mounted.unshift(target);
    }
    return fn();
  } finally {
    for (const m of mounted) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch (err) {
        log(`warning: could not unmount ${m}: ${err.message}`);
      }
    }
  }
}

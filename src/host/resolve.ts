// Map a guest path to a path on this machine, resolving symlinks *inside* the
// guest root: an absolute link target is re-rooted and ".." never climbs above
// the root, so a link in an image (or a user's home) cannot point a write at
// the machine guestctx runs on.
// Synchronous on purpose: every guest file access walks its path here, and a
// thread-pool round trip per component cost more than the lstat itself
// (hundreds per run; each a thread switch, which is dear under emulation).
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { HostError } from '../errors';

const MAX_LINKS = 40;

export interface ResolveOptions {
  /** Refuse when a component strictly below this guest directory is a symlink. */
  readonly noSymlinkBelow?: string;
}

/** Normalise a guest path to an absolute, '..'-free form without touching the disk. */
export function normaliseGuestPath(guestPath: string): string {
  if (!guestPath.startsWith('/')) throw new HostError(guestPath, 'guest paths must be absolute');
  if (guestPath.includes('\0')) throw new HostError(JSON.stringify(guestPath), 'path contains a NUL byte');
  return path.posix.normalize(guestPath).replace(/\/+$/, '') || '/';
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 'ENOENT';
}

/**
 * Resolve `guestPath` under `root`. Components that do not exist yet are kept
 * as they are (so the path of a file about to be created resolves too).
 * Returns the host path and the guest path it finally designates.
 */
export async function resolveInRoot(root: string, guestPath: string, opts: ResolveOptions = {}): Promise<{ hostPath: string; guestPath: string }> {
  return resolveInRootSync(root, guestPath, opts);
}

/** resolveInRoot without the promise, for the Host's own use. */
export function resolveInRootSync(root: string, guestPath: string, opts: ResolveOptions = {}): { hostPath: string; guestPath: string } {
  const guard = opts.noSymlinkBelow !== undefined ? normaliseGuestPath(opts.noSymlinkBelow) : undefined;
  let pending = normaliseGuestPath(guestPath).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  let missing = false;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    done.push(part);
    if (missing) continue;
    const hostPath = path.join(root, ...done);
    let isLink = false;
    try {
      isLink = lstatSync(hostPath).isSymbolicLink();
    } catch (err) {
      if (!isNotFound(err)) throw new HostError(`/${done.join('/')}`, 'cannot inspect path', { cause: err });
      missing = true;
      continue;
    }
    if (!isLink) continue;
    const current = `/${done.join('/')}`;
    if (guard !== undefined && current.startsWith(guard === '/' ? '/' : `${guard}/`)) {
      throw new HostError(current, `is a symbolic link inside ${guard}; refusing to follow it`);
    }
    if (++links > MAX_LINKS) throw new HostError(guestPath, 'too many levels of symbolic links');
    const target = readlinkSync(hostPath);
    done.pop();
    const targetParts = target.split('/').filter(Boolean);
    if (target.startsWith('/')) done.length = 0;
    pending = [...targetParts, ...pending];
  }
  const resolvedGuest = `/${done.join('/')}`;
  return { hostPath: done.length === 0 ? root : path.join(root, ...done), guestPath: resolvedGuest };
}

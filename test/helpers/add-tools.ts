// Copy real programs of this machine (and the shared libraries they link)
// into a temp guest root, so a module's commands (ssh-keygen, ln, ...) really
// run chrooted there, as they would in an offline image that has them; and
// give the root the /dev/null that chrooted programs open.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

function realPath(p: string): string {
  return execFileSync('readlink', ['-f', p]).toString().trim();
}

function copyLibs(root: string, binary: string): void {
  let ldd = '';
  try {
    ldd = execFileSync('ldd', [binary], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (err) {
    // A static binary or a script: ldd exits non-zero and there is nothing to copy.
    if (!(err instanceof Error)) throw err;
    return;
  }
  for (const m of ldd.matchAll(/(\/\S+\.so[^\s]*)/g)) {
    const lib = m[1] as string;
    const dest = path.join(root, lib);
    if (existsSync(dest)) continue;
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(realPath(lib), dest);
  }
}

/**
 * Install each program at the same path inside root (a symlinked program is
 * copied from its target). Returns the tools that do not exist on this machine.
 */
export function addTools(root: string, tools: readonly string[]): string[] {
  const missing: string[] = [];
  for (const tool of tools) {
    if (!existsSync(tool)) {
      missing.push(tool);
      continue;
    }
    const src = realPath(tool);
    const dest = path.join(root, tool);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(src, dest);
    chmodSync(dest, 0o755);
    copyLibs(root, src);
  }
  return missing;
}

/** A real /dev/null character device in the root (we run as root), as a booted guest has. */
export function addDevNull(root: string): void {
  const dev = path.join(root, 'dev');
  mkdirSync(dev, { recursive: true });
  if (!existsSync(path.join(dev, 'null'))) execFileSync('mknod', ['-m', '666', path.join(dev, 'null'), 'c', '1', '3']);
}

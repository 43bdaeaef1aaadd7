// Give a temp guest root a working /bin/sh (this machine's dash and the
// libraries it links), so scripts can run chrooted exactly as they would in an
// offline image that has a shell.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, existsSync, chmodSync } from 'node:fs';
import path from 'node:path';

function copyWithLibs(root: string, binary: string, as?: string): void {
  const dest = path.join(root, as ?? binary);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(binary, dest);
  chmodSync(dest, 0o755);
  const ldd = execFileSync('ldd', [binary]).toString();
  for (const m of ldd.matchAll(/(\/\S+\.so[^\s]*)/g)) {
    const lib = m[1] as string;
    const libDest = path.join(root, lib);
    if (existsSync(libDest)) continue;
    mkdirSync(path.dirname(libDest), { recursive: true });
    copyFileSync(lib, libDest);
  }
}

/** Installs sh, env, echo-capable coreutils used by test scripts into root. */
export function addShell(root: string): void {
  const real = (p: string): string => execFileSync('readlink', ['-f', p]).toString().trim();
  copyWithLibs(root, real('/bin/sh'), '/bin/sh');
  for (const tool of ['/usr/bin/env', '/usr/bin/cat', '/usr/bin/hostname', '/usr/bin/id']) {
    if (existsSync(tool)) copyWithLibs(root, real(tool), tool);
  }
  mkdirSync(path.join(root, 'var/tmp'), { recursive: true });
  if (!existsSync(path.join(root, 'usr/bin/sh'))) symlinkSync('/bin/sh', path.join(root, 'usr/bin/sh'));
}

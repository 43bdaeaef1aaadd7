// Give a temp guest root a working /bin/sh (this machine's dash and the
// libraries it links), so scripts can run chrooted exactly as they would in an
// offline image that has a shell.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { addTools } from './add-tools';

/** Installs sh, env, echo-capable coreutils used by test scripts into root. */
export function addShell(root: string): void {
  // /bin/sh is a symlink to dash: addTools copies the program it points at to /bin/sh.
  const missing = addTools(root, ['/bin/sh', '/usr/bin/env', '/usr/bin/cat', '/usr/bin/hostname', '/usr/bin/id']);
  if (missing.includes('/bin/sh')) throw new Error('this machine has no /bin/sh to copy');
  mkdirSync(path.join(root, 'var/tmp'), { recursive: true });
  if (!existsSync(path.join(root, 'usr/bin/sh'))) symlinkSync('/bin/sh', path.join(root, 'usr/bin/sh'));
}

// Give a temp guest root this machine's real account tools (useradd, groupadd,
// usermod, gpasswd, chpasswd, passwd, visudo) with the libraries they link and
// the files they read, so the modules' commands run for real, chrooted, and
// the test reads the resulting /etc/passwd, /etc/shadow and /etc/group.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addTools } from './add-tools';

export const ACCOUNT_TOOLS = ['/usr/sbin/useradd', '/usr/sbin/groupadd', '/usr/sbin/usermod', '/usr/bin/gpasswd', '/usr/sbin/chpasswd', '/usr/bin/passwd'];

/** True when this machine has every tool (and visudo when asked). */
export function haveTools(withVisudo = false): boolean {
  return [...ACCOUNT_TOOLS, '/usr/bin/env', ...(withVisudo ? ['/usr/sbin/visudo'] : [])].every((t) => existsSync(t));
}

/**
 * Copy the account tools (and env, which the Host runs chrooted commands
 * through) into `root`, with /etc/login.defs and shadow files matching the
 * root's /etc/passwd and /etc/group. `visudo` adds sudo's checker.
 */
export function addAccountTools(root: string, opts: { visudo?: boolean } = {}): void {
  const missing = addTools(root, [...ACCOUNT_TOOLS, '/usr/bin/env', ...(opts.visudo ? ['/usr/sbin/visudo'] : [])]);
  if (missing.length > 0) throw new Error(`this machine lacks ${missing.join(', ')} (check haveTools() first)`);
  if (existsSync('/etc/login.defs')) copyFileSync('/etc/login.defs', path.join(root, 'etc/login.defs'));
  mkdirSync(path.join(root, 'etc/skel'), { recursive: true });
  writeFileSync(path.join(root, 'etc/skel/.profile'), '# skel\n');
  mkdirSync(path.join(root, 'home'), { recursive: true });
  // Shells named by the test users, so useradd does not warn.
  for (const sh of ['/bin/bash', '/bin/sh']) {
    const dest = path.join(root, sh);
    if (!existsSync(dest)) {
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, '', { mode: 0o755 });
    }
  }
}

/** /etc/shadow and /etc/gshadow matching the root's /etc/passwd and /etc/group (0640, as on Debian). */
export function addShadowFiles(root: string): void {
  const fields = (f: string): string[][] =>
    readFileSync(path.join(root, f), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => l.split(':'));
  const shadow = fields('etc/passwd').map((f) => `${f[0]}:*:19000:0:99999:7:::\n`).join('');
  const gshadow = fields('etc/group').map((f) => `${f[0]}:*::${f[3] ?? ''}\n`).join('');
  writeFileSync(path.join(root, 'etc/shadow'), shadow, { mode: 0o640 });
  writeFileSync(path.join(root, 'etc/gshadow'), gshadow, { mode: 0o640 });
}

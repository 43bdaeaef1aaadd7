// Read the guest's account databases (/etc/passwd, /etc/group, /etc/shadow) as
// data, so modules decide what to change before running any tool, and a second
// run can see that nothing is left to do. Writes always go through the guest's
// own tools (useradd, chpasswd, ...), which lock the files properly.
import { HostError } from '../errors';
import type { Host } from '../host/host';
import { parseGroupFile, parsePasswd, type GroupEntry } from '../host/passwd';

// The group file is parsed where the Host reads owners: one parser for both.
export { parseGroupFile, type GroupEntry };

export interface ShadowEntry {
  /** The password field: a hash, "!"-prefixed when locked, "*" or "!" for none. */
  readonly password: string;
  /** Days since 1970-01-01 of the last change; "0" forces a change at next login. */
  readonly lastChange: string;
}

export function parseShadowFile(text: string): Map<string, ShadowEntry> {
  const out = new Map<string, ShadowEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    out.set(f[0] as string, { password: f[1] ?? '', lastChange: f[2] ?? '' });
  }
  return out;
}

/** A snapshot of the guest's accounts; re-read after tools changed them. */
export interface Accounts {
  readonly users: ReadonlyMap<string, { readonly uid: number; readonly gid: number; readonly home: string }>;
  readonly groups: ReadonlyMap<string, GroupEntry>;
  /** Empty when the guest has no /etc/shadow (or it cannot be read). */
  readonly shadow: ReadonlyMap<string, ShadowEntry>;
}

export async function readAccounts(host: Host): Promise<Accounts> {
  const passwd = parsePasswd((await host.readTextIfExists('/etc/passwd')) ?? '');
  const users = new Map(passwd.map((u) => [u.name, { uid: u.uid, gid: u.gid, home: u.home }]));
  const groups = parseGroupFile((await host.readTextIfExists('/etc/group')) ?? '');
  let shadowText = '';
  try {
    shadowText = (await host.readTextIfExists('/etc/shadow')) ?? '';
  } catch (err) {
    // Unreadable shadow (not root, e.g. a --dry-run by hand): passwords are then
    // always (re)set, which is correct, only not minimal.
    if (!(err instanceof HostError)) throw err;
  }
  const shadow = parseShadowFile(shadowText);
  return { users, groups, shadow };
}

/** Groups `user` belongs to: its primary group and every group listing it. */
export function groupsOf(accounts: Accounts, user: string): Set<string> {
  const out = new Set<string>();
  const u = accounts.users.get(user);
  for (const g of accounts.groups.values()) {
    if (g.members.includes(user) || (u !== undefined && g.gid === u.gid)) out.add(g.name);
  }
  return out;
}

export function isLocked(entry: ShadowEntry | undefined): boolean {
  return entry !== undefined && entry.password.startsWith('!');
}

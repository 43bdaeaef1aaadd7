// Parse the guest's own /etc/passwd and /etc/group: owners are looked up in the
// target system, never in the machine guestctx runs on (they differ with --root).
import type { GuestUser } from './host';

export function parsePasswd(text: string): GuestUser[] {
  const users: GuestUser[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    users.push({ name: f[0] as string, uid, gid, home: f[5] as string, shell: f[6] as string });
  }
  return users;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export function parseGroupFile(text: string): Map<string, GroupEntry> {
  const groups = new Map<string, GroupEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    groups.set(f[0] as string, { name: f[0] as string, gid, members });
  }
  return groups;
}

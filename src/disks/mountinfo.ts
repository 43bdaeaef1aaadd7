// /proc/self/mountinfo (proc(5)): which device backs a mount point. The
// major:minor field is what identifies the device, because the source column
// can say "/dev/root" when the kernel mounted / itself without an initramfs.
import { ParseError } from '../errors';

export interface MountInfo {
  readonly id: number;
  readonly parent: number;
  /** "254:1" */
  readonly majorMinor: string;
  /** Root of the mount inside its filesystem ("/" unless a bind mount). */
  readonly root: string;
  readonly mountPoint: string;
  readonly options: string;
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: string;
}

/** The kernel escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string, where = '/proc/self/mountinfo'): MountInfo[] {
  const out: MountInfo[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const f = line.trim().split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || f.length < sep + 3) throw new ParseError(where, `malformed line "${line}"`, { line: i + 1 });
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      majorMinor: f[2] as string,
      root: unescape(f[3] as string),
      mountPoint: unescape(f[4] as string),
      options: f[5] as string,
      fsType: f[sep + 1] as string,
      source: unescape(f[sep + 2] as string),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return out;
}

/** The mount visible at a mount point: the last one listed there (later mounts hide earlier ones). */
export function findMount(mounts: readonly MountInfo[], mountPoint: string): MountInfo | undefined {
  const want = mountPoint.length > 1 ? mountPoint.replace(/\/+$/, '') : mountPoint;
  let found: MountInfo | undefined;
  for (const m of mounts) if (m.mountPoint === want) found = m;
  return found;
}

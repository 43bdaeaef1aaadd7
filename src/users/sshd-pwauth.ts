// sshd's PasswordAuthentication for cloud-config ssh_pwauth. sshd keeps the
// FIRST value it reads, and Debian's sshd_config includes sshd_config.d/*.conf
// at its top: with that Include a drop-in decides (and a global line placed
// before the Include is corrected too); without it the main file is edited.
// Every other line is kept byte for byte.

export const PWAUTH_DROPIN = '/etc/ssh/sshd_config.d/50-guestctx-pwauth.conf';
export const SSHD_CONFIG = '/etc/ssh/sshd_config';

const KEY = /^(\s*)(PasswordAuthentication)(\s*=\s*|\s+)(\S+)(.*)$/i;
const MATCH = /^\s*Match\s/i;
const INCLUDE = /^\s*Include\s+(.*)$/i;

function dropInDirIncluded(args: string): boolean {
  return args.split(/\s+/).some((a) => a === '/etc/ssh/sshd_config.d/*.conf' || a === 'sshd_config.d/*.conf');
}

interface Scan {
  readonly lines: string[];
  /** Index of the first global Include of sshd_config.d/*.conf, or -1. */
  readonly include: number;
  /** Index of the first global PasswordAuthentication line, or -1. */
  readonly key: number;
  /** Index of the first Match line, or -1. */
  readonly match: number;
}

function scan(text: string): Scan {
  const lines = text.split('\n');
  let include = -1;
  let key = -1;
  let match = -1;
  lines.forEach((line, i) => {
    if (match !== -1) return;
    if (MATCH.test(line)) {
      match = i;
      return;
    }
    const inc = INCLUDE.exec(line);
    if (include === -1 && inc?.[1] !== undefined && dropInDirIncluded(inc[1])) include = i;
    if (key === -1 && KEY.test(line)) key = i;
  });
  return { lines, include, key, match };
}

/** sshd_config includes /etc/ssh/sshd_config.d/*.conf (outside any Match block). */
export function includesDropIns(text: string): boolean {
  return scan(text).include !== -1;
}

function withValue(line: string, value: 'yes' | 'no'): string {
  return line.replace(KEY, (_m, indent: string, key: string, sep: string, _old: string, rest: string) => `${indent}${key}${sep}${value}${rest}`);
}

/**
 * The main file with PasswordAuthentication set. `dropIn`: only a global line
 * that sshd reads before the drop-ins is corrected; otherwise the first global
 * line is set, or one is added before the first Match block (or at the end).
 */
export function editSshdConfig(text: string, value: 'yes' | 'no', dropIn: boolean): string {
  const s = scan(text);
  const lines = [...s.lines];
  if (s.key !== -1 && (!dropIn || s.key < s.include)) {
    lines[s.key] = withValue(lines[s.key] as string, value);
    return lines.join('\n');
  }
  if (dropIn) return text;
  const added = `PasswordAuthentication ${value}`;
  if (s.match !== -1) {
    lines.splice(s.match, 0, added);
    return lines.join('\n');
  }
  const body = text.endsWith('\n') || text === '' ? text : `${text}\n`;
  return `${body}${added}\n`;
}

export function dropInText(value: 'yes' | 'no'): string {
  return `# Written by guestctx from cloud-config ssh_pwauth.\nPasswordAuthentication ${value}\n`;
}

/** Does a drop-in file set PasswordAuthentication (globally)? */
export function setsPasswordAuthentication(text: string): boolean {
  return scan(text).key !== -1;
}

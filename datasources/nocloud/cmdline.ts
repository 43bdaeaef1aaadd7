// The NoCloud switches of the kernel command line (or of the SMBIOS system
// serial number, which carries the same string):
//   ds=nocloud[;key=value...]   (also the old spelling ds=nocloud-net)
// keys: s / seedfrom (a guest folder, file:// URL or http(s) URL ending in
// "/"), i / instance-id, h / local-hostname.

export interface NoCloudSwitches {
  /** The ds= name as written ("nocloud" or "nocloud-net"). */
  readonly ds: string;
  readonly seedfrom?: string;
  readonly instanceId?: string;
  readonly hostname?: string;
  /** The word it came from, for evidence. */
  readonly word: string;
}

/** Split a kernel command line into words; double quotes group (grub needs them around ';'). */
export function cmdlineWords(cmdline: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quoted = false;
  let inWord = false;
  for (const ch of cmdline) {
    if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const KEY_ALIASES: Record<string, 'seedfrom' | 'instanceId' | 'hostname'> = {
  s: 'seedfrom',
  seedfrom: 'seedfrom',
  i: 'instanceId',
  'instance-id': 'instanceId',
  h: 'hostname',
  'local-hostname': 'hostname',
};

/** Parse one "ds=nocloud;..." string; undefined when it names another datasource. */
export function parseDsString(word: string): NoCloudSwitches | undefined {
  if (!word.startsWith('ds=')) return undefined;
  const [name, ...pairs] = word.slice(3).split(';');
  const ds = (name ?? '').toLowerCase();
  if (ds !== 'nocloud' && ds !== 'nocloud-net') return undefined;
  const out: { ds: string; word: string; seedfrom?: string; instanceId?: string; hostname?: string } = { ds, word };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = KEY_ALIASES[pair.slice(0, eq).trim().toLowerCase()];
    const value = pair.slice(eq + 1).trim();
    if (key !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/** The NoCloud switches of a kernel command line, or undefined when it has none. */
export function noCloudFromCmdline(cmdline: string): NoCloudSwitches | undefined {
  for (const w of cmdlineWords(cmdline)) {
    const parsed = parseDsString(w);
    if (parsed) return parsed;
  }
  return undefined;
}

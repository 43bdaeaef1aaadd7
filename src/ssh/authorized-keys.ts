// Parse and merge authorized_keys lines. A key is identified by its type and
// base64 blob, so the same key with another comment or options is not added
// twice, and lines already in the file are never dropped.

export const KEY_TYPES: readonly string[] = [
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-rsa-cert-v01@openssh.com',
  'ssh-dss-cert-v01@openssh.com',
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
];

export interface ParsedKey {
  readonly type: string;
  readonly blob: string;
  readonly line: string;
}

/**
 * Parse one authorized_keys line; returns a reason string when it is not a key.
 * Options before the key type are allowed; the blob must be base64 whose first
 * field names the same key type (that is how a truncated or pasted-wrong key
 * is caught here rather than silently ignored by sshd).
 */
export function parseKeyLine(line: string): ParsedKey | string {
  const trimmed = line.trim();
  const tokens = trimmed.split(/\s+/);
  const at = tokens.findIndex((t) => KEY_TYPES.includes(t));
  if (at < 0) return `no known key type (expected one of ssh-ed25519, ssh-rsa, ecdsa-sha2-*, ...)`;
  const type = tokens[at] as string;
  const blob = tokens[at + 1];
  if (blob === undefined) return `${type} key has no key data`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) return `${type} key data is not base64`;
  const raw = Buffer.from(blob, 'base64');
  const len = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  const inner = len > 0 && len < 64 && raw.length >= 4 + len ? raw.subarray(4, 4 + len).toString('latin1') : '';
  if (inner !== type) return `${type} key data does not encode a ${type} key`;
  return { type, blob, line: trimmed };
}

/** Append the new keys that are not already present; existing lines stay as they are. */
export function mergeAuthorizedKeys(existing: string, keys: readonly ParsedKey[]): { text: string; added: number } {
  const lines = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  const present = new Set<string>();
  for (const l of lines) {
    const p = parseKeyLine(l);
    if (typeof p !== 'string') present.add(`${p.type} ${p.blob}`);
  }
  let added = 0;
  for (const k of keys) {
    const id = `${k.type} ${k.blob}`;
    if (present.has(id)) continue;
    present.add(id);
    lines.push(k.line);
    added++;
  }
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, added };
}

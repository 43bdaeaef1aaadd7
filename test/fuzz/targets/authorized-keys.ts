// Fuzz target: the authorized_keys line parser and merge. parseKeyLine never
// throws; merging keeps every existing line in order, never adds a key twice,
// and merging the same keys again adds nothing.
import { mergeAuthorizedKeys, parseKeyLine, type ParsedKey } from '../../../src/ssh/authorized-keys';
import { invariant } from '../support';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBW+vBjnHLtIH4P/h/VTyjLy59HA+CLDJkRhsNOr3K+a alice@example.org';
const RSA_SHORT = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 bob';
export const tokens = ['ssh-ed25519 ', 'ssh-rsa ', 'ecdsa-sha2-nistp256 ', 'command="/bin/false" ', 'no-pty,', 'from="10.0.0.0/8" ', 'AAAA', '====', '\u00a0', '\r'];
export const maxLen = 64 * 1024;

export function seeds(): Buffer[] {
  return [
    Buffer.from(`${ED}\n`),
    Buffer.from(`# comment\ncommand="echo hi",no-pty ${ED} with comment\n\n${RSA_SHORT}\n`),
    Buffer.from(`${ED}\n\0${ED.replace('alice', 'carol')}\n`),
    Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExistingKeyExistingKeyExistingKeyExisting existing\n'),
  ];
}

export function fuzz(data: Buffer): string {
  const text = data.toString('utf8');
  // A NUL splits the input into the file already there and the keys to add.
  const nul = text.indexOf('\0');
  const existing = nul >= 0 ? text.slice(0, nul) : '';
  const incoming = nul >= 0 ? text.slice(nul + 1) : text;
  const keys: ParsedKey[] = [];
  const reasons = new Set<string>();
  for (const line of incoming.split('\n')) {
    const parsed = parseKeyLine(line);
    if (typeof parsed === 'string') {
      reasons.add(parsed);
      continue;
    }
    invariant(parsed.line.includes(parsed.blob) && parsed.line.includes(parsed.type), 'parsed key line lost its type or blob');
    invariant(typeof parseKeyLine(parsed.line) !== 'string', 'a parsed line does not parse again');
    keys.push(parsed);
  }
  const once = mergeAuthorizedKeys(existing, keys);
  const before = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  const after = once.text === '' ? [] : once.text.replace(/\n$/, '').split('\n');
  invariant(before.every((l, i) => after[i] === l), 'merge dropped or changed an existing line');
  invariant(after.length === before.length + once.added, 'merge added a different number of lines than it reported');
  const twice = mergeAuthorizedKeys(once.text, keys);
  invariant(twice.added === 0 && twice.text === once.text, 'merging the same keys twice changed the file');
  return `${Math.min(keys.length, 4)}|${Math.min(once.added, 4)}|${[...reasons].sort().join('|')}`;
}

// Validation of a file path a user or a datasource asks us to write. The Host
// already keeps every path inside the guest root; this check turns a path
// that tries to climb out ("/../../etc/x") into a clear error naming the key,
// instead of silently writing somewhere else than the user asked.
import { ConfigError } from '../errors';

export interface CheckedPath {
  /** Absolute, normalised guest path. */
  readonly path: string;
  /** Set when the path was relative and was anchored at "/", as cloud-init does. */
  readonly warning?: string;
}

export function checkGuestPath(raw: string, where: string): CheckedPath {
  if (raw.trim() === '') throw new ConfigError(where, 'path is empty');
  if (raw.includes('\0')) throw new ConfigError(where, 'path contains a NUL byte');
  if (raw.endsWith('/')) throw new ConfigError(where, `${JSON.stringify(raw)} names a directory, not a file`);
  // cloud-init resolves a relative path against its working directory, which is "/" at boot.
  const relative = !raw.startsWith('/');
  const parts: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) throw new ConfigError(where, `${JSON.stringify(raw)} climbs above / with ".."; refusing to write it`);
      parts.pop();
      continue;
    }
    parts.push(seg);
  }
  if (parts.length === 0) throw new ConfigError(where, `${JSON.stringify(raw)} is the root directory, not a file`);
  const path = `/${parts.join('/')}`;
  return relative ? { path, warning: `${where}: relative path ${JSON.stringify(raw)} taken as ${path}` } : { path };
}

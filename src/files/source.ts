// Fetching a write_files `source.uri` through the Host: http and https only
// (a file:// URI would read the machine guestctx runs on, not the guest),
// one bounded request with a time limit, and a non-2xx status is a failure.
import { ConfigError, HostError, describeError } from '../errors';
import type { Host } from '../host/host';
import { MAX_FILE_BYTES } from './encoding';

export const SOURCE_TIMEOUT_MS = 30_000;

export interface SourceLimits {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export async function fetchSource(host: Host, uri: string, headers: Readonly<Record<string, string>> | undefined, where: string, limits: SourceLimits = {}): Promise<Buffer> {
  let scheme: string;
  try {
    scheme = new URL(uri).protocol;
  } catch (err) {
    throw new ConfigError(where, `${JSON.stringify(uri)} is not a valid URL`, { cause: err });
  }
  if (scheme !== 'http:' && scheme !== 'https:') {
    throw new ConfigError(where, `only http and https sources are allowed, not ${scheme.replace(/:$/, '')}`);
  }
  const maxBytes = limits.maxBytes ?? MAX_FILE_BYTES;
  let res;
  try {
    res = await host.fetch(uri, { method: 'GET', ...(headers ? { headers } : {}), timeoutMs: limits.timeoutMs ?? SOURCE_TIMEOUT_MS, maxBytes });
  } catch (err) {
    throw new HostError(where, `cannot fetch ${uri}: ${describeError(err)}`, { cause: err });
  }
  if (res.status < 200 || res.status > 299) throw new HostError(where, `fetching ${uri} answered HTTP ${res.status}`);
  return res.body;
}

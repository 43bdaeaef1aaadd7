// Decode the instance's user-data and vendor-data once per run and validate
// the merged cloud-config into its typed form. Network access for #include
// goes through the Host (http/https only, bounded); include-once bodies are
// cached per instance under the state directory. Every problem is returned,
// not thrown: invalid user-data marks the run failed, it is never ignored.
import { validateCloudConfig, formatIssue, type CloudConfig } from '../config/cloud-config';
import { HostError, type GuestctxError, describeError } from '../errors';
import type { Host } from '../host/host';
import type { InstanceData } from '../types';
import { decodeUserAndVendorData, type UserDataPart } from './index';
import { crypto } from '../host/builtins';

export interface LoadedUserData {
  readonly cloud: CloudConfig;
  readonly parts: readonly UserDataPart[];
  /** Merged cloud-config before typing, for `query userdata`. */
  readonly merged: Record<string, unknown>;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly vendorEnabled: boolean;
}

const INCLUDE_TIMEOUT_MS = 10_000;
const INCLUDE_MAX_BYTES = 16 * 1024 * 1024;

export const EMPTY_USERDATA: LoadedUserData = { cloud: {}, parts: [], merged: {}, errors: [], warnings: [], vendorEnabled: true };

function urlKey(url: string): string {
  return crypto().createHash('sha256').update(url).digest('hex');
}

export async function loadUserData(host: Host, instance: InstanceData, stateDir: string): Promise<LoadedUserData> {
  if (instance.userData === undefined && instance.vendorData === undefined) return EMPTY_USERDATA;
  const cacheDir = `${stateDir}/instance/include-once`;
  const cache = new Map<string, Buffer>();
  for (const name of await host.list(cacheDir)) cache.set(name, await host.readFile(`${cacheDir}/${name}`));
  const fresh = new Map<string, Buffer>();
  const decoded = await decodeUserAndVendorData(instance.userData, instance.vendorData, {
    userSource: 'user-data',
    vendorSource: 'vendor-data',
    fetch: async (url: string) => {
      const res = await host.fetch(url, { timeoutMs: INCLUDE_TIMEOUT_MS, maxBytes: INCLUDE_MAX_BYTES, maxRedirects: 3 });
      if (res.status !== 200) throw new HostError(url, `HTTP ${res.status}`);
      return res.body;
    },
    includeOnceCache: {
      get: (url) => cache.get(urlKey(url)),
      set: (url, body) => {
        cache.set(urlKey(url), body);
        fresh.set(urlKey(url), body);
      },
    },
  });
  if (fresh.size > 0) {
    await host.mkdir(`${stateDir}/instance`, { mode: 0o700, owner: 'root' });
    await host.mkdir(cacheDir, { mode: 0o700, owner: 'root' });
    for (const [k, body] of fresh) await host.writeFile(`${cacheDir}/${k}`, body, { mode: 0o600, secret: true });
  }
  const typed = validateCloudConfig(decoded.cloudConfig, 'cloud-config');
  return {
    cloud: typed.config,
    parts: decoded.parts,
    merged: decoded.cloudConfig,
    errors: [...decoded.errors.map((e: GuestctxError) => describeError(e)), ...typed.errors.map(formatIssue)],
    warnings: [...decoded.warnings, ...typed.warnings.map(formatIssue)],
    vendorEnabled: decoded.vendorEnabled,
  };
}

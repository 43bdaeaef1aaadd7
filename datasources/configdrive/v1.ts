// The old config-drive-v1 layout (nova before Folsom, and StratusLab's
// _CLOUD_INIT disk, which copied it): a vfat volume with /meta.js (JSON),
// /root/.ssh/authorized_keys and /etc/network/interfaces, all optional.
import { DatasourceError, type GuestctxError } from '../../src/errors';
import type { Volume } from '../../src/media/volume';
import type { InstanceData } from '../../src/types';
import { MAX_METADATA_BYTES, contentId, isFile, isRecord, keysFromText, keysFromValue, parseJson, readOptional, unique } from './local-media';

export const V1_FILES = ['/meta.js', '/root/.ssh/authorized_keys', '/etc/network/interfaces'] as const;

/** True when the volume carries at least one of the v1 files. */
export async function hasV1Markers(volume: Volume): Promise<boolean> {
  for (const f of V1_FILES) if (await isFile(volume, f)) return true;
  return false;
}

function stringField(meta: Record<string, unknown>, key: string, origin: string, problems: GuestctxError[]): string | undefined {
  const v = meta[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  problems.push(new DatasourceError(`${origin} ${key}`, `expected a string, found ${Array.isArray(v) ? 'a list' : typeof v}; ignored`));
  return undefined;
}

/**
 * Read a v1 volume. `name` is the datasource reporting it ('configdrive' or
 * 'stratuslab'); the instance id is meta.js "instance-id", else a hash of the
 * three files (documented: never a constant, so two drives with different
 * content are two instances).
 */
export async function readConfigDriveV1(volume: Volume, source: string, name: string): Promise<InstanceData> {
  const metaJs = await readOptional(volume, '/meta.js', MAX_METADATA_BYTES, source);
  const authorized = await readOptional(volume, '/root/.ssh/authorized_keys', MAX_METADATA_BYTES, source);
  const interfaces = await readOptional(volume, '/etc/network/interfaces', MAX_METADATA_BYTES, source);
  if (metaJs === undefined && authorized === undefined && interfaces === undefined) {
    throw new DatasourceError(source, 'no meta.js, root/.ssh/authorized_keys or etc/network/interfaces: not a config-drive-v1 volume');
  }
  const origin = `${source}:/meta.js`;
  const problems: GuestctxError[] = [];
  let meta: Record<string, unknown> = {};
  if (metaJs !== undefined) {
    const parsed = parseJson(metaJs, origin);
    if (!isRecord(parsed)) throw new DatasourceError(origin, `expected a JSON object, found ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
    meta = parsed;
  }
  const givenId = stringField(meta, 'instance-id', origin, problems)?.trim();
  const userData = stringField(meta, 'user-data', origin, problems) ?? stringField(meta, 'userdata', origin, problems);
  const hostname = (stringField(meta, 'local-hostname', origin, problems) ?? stringField(meta, 'hostname', origin, problems))?.trim();
  const publicKeys = unique([...keysFromValue(meta['public-keys']), ...(authorized ? keysFromText(authorized.toString('utf8')) : [])]);
  const raw: Record<string, unknown> = { layout: 'config-drive-v1', ...meta };
  delete raw['user-data'];
  delete raw['userdata'];
  return {
    datasource: name,
    source,
    instanceId: givenId || contentId(name, [metaJs, authorized, interfaces]),
    instanceIdRule: givenId ? 'instance-id from meta.js' : 'SHA-256 of meta.js, root/.ssh/authorized_keys and etc/network/interfaces (no instance-id)',
    ...(hostname ? { hostname } : {}),
    publicKeys,
    ...(userData !== undefined && userData !== '' ? { userData: Buffer.from(userData, 'utf8') } : {}),
    ...(interfaces !== undefined ? { network: { kind: 'eni' as const, text: interfaces.toString('utf8'), origin: `${source}:/etc/network/interfaces` } } : {}),
    medium: volume,
    raw,
    secretKeys: [],
    problems,
  };
}

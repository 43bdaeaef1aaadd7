// OpenStack config drive: a vfat or ISO9660 volume labelled config-2 (nova
// writes it lowercase; some tools upper-case vfat labels) carrying
// openstack/<version>/{meta_data.json, user_data, vendor_data.json,
// vendor_data2.json, network_data.json} and openstack/content/NNNN for the
// injected ("personality") files. The old v1 layout (meta.js and friends at
// the top) is read by ./v1.
import { DatasourceError, type GuestctxError } from '../../src/errors';
import type { Volume } from '../../src/media/volume';
import type { Datasource, DatasourceContext, Detection, InjectedFile, InstanceData } from '../../src/types';
import {
  MAX_METADATA_BYTES,
  MAX_PAYLOAD_BYTES,
  contentId,
  isDir,
  isFile,
  isRecord,
  keysFromText,
  openDetected,
  parseJson,
  readOptional,
  readRequired,
  reason,
  unique,
} from './local-media';
import { hasV1Markers, readConfigDriveV1 } from './v1';

export const CONFIG_DRIVE_LABELS = ['config-2', 'CONFIG-2'];
const DATED = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The metadata version folder to read: "latest" when it has meta_data.json,
 * else the newest dated folder (YYYY-MM-DD sorts as text) that has one.
 */
export async function pickVersion(volume: Volume): Promise<string | undefined> {
  if (await isFile(volume, '/openstack/latest/meta_data.json')) return 'latest';
  if (!(await isDir(volume, '/openstack'))) return undefined;
  const dated = (await volume.list('/openstack'))
    .filter((e) => e.type === 'dir' && DATED.test(e.name))
    .map((e) => e.name)
    .sort()
    .reverse();
  for (const v of dated) if (await isFile(volume, `/openstack/${v}/meta_data.json`)) return v;
  return undefined;
}

/**
 * Vendor data as nova hands it: a JSON string, or an object whose "cloud-init"
 * key holds the payload (vendor_data2.json nests one object per vendordata
 * service, so one level further down is looked at too). An object payload is
 * cloud-config written as JSON, which is YAML.
 */
export function vendorPayload(value: unknown): Buffer | undefined {
  if (typeof value === 'string') return value === '' ? undefined : Buffer.from(value, 'utf8');
  if (!isRecord(value)) return undefined;
  const ci = value['cloud-init'];
  if (typeof ci === 'string') return ci === '' ? undefined : Buffer.from(ci, 'utf8');
  if (isRecord(ci)) return Buffer.from(`#cloud-config\n${JSON.stringify(ci, null, 2)}\n`, 'utf8');
  for (const v of Object.values(value)) {
    if (isRecord(v) && v['cloud-init'] !== undefined) {
      const nested = vendorPayload(v);
      if (nested) return nested;
    }
  }
  return undefined;
}

/** Keys from public_keys ({name: key}) and keys ([{type: 'ssh', data}]), in that order, without duplicates. */
export function openStackKeys(meta: Record<string, unknown>): string[] {
  const out: string[] = [];
  const pk = meta['public_keys'];
  if (isRecord(pk)) for (const v of Object.values(pk)) if (typeof v === 'string') out.push(...keysFromText(v));
  const keys = meta['keys'];
  if (Array.isArray(keys)) {
    for (const k of keys) {
      if (isRecord(k) && (k['type'] === undefined || k['type'] === 'ssh') && typeof k['data'] === 'string') out.push(...keysFromText(k['data']));
    }
  }
  return unique(out);
}

/** The "files" of meta_data.json, read from openstack/content/; a bad entry is a problem, not a failure. */
async function injectedFiles(volume: Volume, meta: Record<string, unknown>, source: string, problems: GuestctxError[]): Promise<InjectedFile[]> {
  const files = meta['files'];
  if (files === undefined) return [];
  if (!Array.isArray(files)) {
    problems.push(new DatasourceError(`${source}:meta_data.json files`, 'expected a list; ignored'));
    return [];
  }
  const out: InjectedFile[] = [];
  for (const [i, f] of files.entries()) {
    const where = `${source}:meta_data.json files[${i}]`;
    const path = isRecord(f) ? f['path'] : undefined;
    const contentPath = isRecord(f) ? f['content_path'] : undefined;
    if (typeof path !== 'string' || !path.startsWith('/') || typeof contentPath !== 'string') {
      problems.push(new DatasourceError(where, 'needs an absolute "path" and a "content_path"; ignored'));
      continue;
    }
    // content_path is relative to openstack/ ("/content/0000"); anything that
    // leaves openstack/content/ is refused rather than followed.
    const segments = contentPath.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.length !== 2 || segments[0] !== 'content' || segments[1] === '..') {
      problems.push(new DatasourceError(where, `content_path ${JSON.stringify(contentPath)} is not under openstack/content/; ignored`));
      continue;
    }
    const mediumPath = `/openstack/content/${segments[1]}`;
    try {
      const content = await readOptional(volume, mediumPath, MAX_PAYLOAD_BYTES, source);
      if (content === undefined) problems.push(new DatasourceError(`${source}:${mediumPath}`, `missing (file for ${path}); ignored`));
      else out.push({ path, content, origin: `${source}:${mediumPath}` });
    } catch (err) {
      problems.push(new DatasourceError(`${source}:${mediumPath}`, `cannot read the file for ${path}; ignored`, { cause: err }));
    }
  }
  return out;
}

async function readJsonObject(volume: Volume, path: string, source: string, required: boolean): Promise<unknown> {
  const bytes = required ? await readRequired(volume, path, MAX_METADATA_BYTES, source) : await readOptional(volume, path, MAX_METADATA_BYTES, source);
  if (bytes === undefined) return undefined;
  return parseJson(bytes, `${source}:${path}`);
}

/** Read an openstack/ config drive (v2) from a volume. */
export async function readConfigDriveV2(volume: Volume, source: string, name = 'configdrive'): Promise<InstanceData> {
  const version = await pickVersion(volume);
  if (version === undefined) throw new DatasourceError(`${source}:/openstack`, 'no openstack/latest/meta_data.json and no dated version folder with one');
  const dir = `/openstack/${version}`;
  const metaPath = `${dir}/meta_data.json`;
  const metaBytes = await readRequired(volume, metaPath, MAX_METADATA_BYTES, source);
  const meta = parseJson(metaBytes, `${source}:${metaPath}`);
  if (!isRecord(meta)) throw new DatasourceError(`${source}:${metaPath}`, `expected a JSON object, found ${Array.isArray(meta) ? 'a list' : typeof meta}`);
  const problems: GuestctxError[] = [];

  const userData = await readOptional(volume, `${dir}/user_data`, MAX_PAYLOAD_BYTES, source);
  const vendor1 = await readJsonObject(volume, `${dir}/vendor_data.json`, source, false);
  const vendor2 = await readJsonObject(volume, `${dir}/vendor_data2.json`, source, false);
  const network = await readJsonObject(volume, `${dir}/network_data.json`, source, false);
  // vendor_data.json (static) is what images have always read; the dynamic
  // vendor_data2.json is used when the static one carries nothing for us.
  const vendorData = vendorPayload(vendor1) ?? vendorPayload(vendor2);
  if (vendorPayload(vendor1) !== undefined && vendorPayload(vendor2) !== undefined) {
    problems.push(new DatasourceError(`${source}:${dir}/vendor_data2.json`, 'both vendor_data.json and vendor_data2.json carry cloud-init data; vendor_data.json is used'));
  }
  const files = await injectedFiles(volume, meta, source, problems);

  const uuid = typeof meta['uuid'] === 'string' ? meta['uuid'].trim() : '';
  const hostname = typeof meta['hostname'] === 'string' ? meta['hostname'].trim() : '';
  const raw: Record<string, unknown> = { ...meta, metadata_version: version };
  if (vendor1 !== undefined) raw['vendor_data'] = vendor1;
  if (vendor2 !== undefined) raw['vendor_data2'] = vendor2;
  return {
    datasource: name,
    source,
    instanceId: uuid || contentId(name, [metaBytes]),
    instanceIdRule: uuid ? `uuid from openstack/${version}/meta_data.json` : `SHA-256 of openstack/${version}/meta_data.json (no uuid)`,
    ...(hostname ? { hostname } : {}),
    publicKeys: openStackKeys(meta),
    ...(userData !== undefined && userData.length > 0 ? { userData } : {}),
    ...(vendorData ? { vendorData } : {}),
    ...(network !== undefined ? { network: { kind: 'openstack' as const, data: network, origin: `${source}:${dir}/network_data.json` } } : {}),
    ...(files.length > 0 ? { files } : {}),
    medium: volume,
    raw,
    // admin_pass is the instance's root password; random_seed seeds its RNG.
    secretKeys: ['admin_pass', 'random_seed', 'vendor_data', 'vendor_data2'].filter((k) => k in raw),
    problems,
  };
}

/** What a volume looks like to this datasource: v2, v1, or neither (with the reason). */
async function layoutOf(volume: Volume): Promise<'v2' | 'v1' | undefined> {
  if ((await pickVersion(volume)) !== undefined) return 'v2';
  if (await hasV1Markers(volume)) return 'v1';
  return undefined;
}

export const configDrive: Datasource = {
  name: 'configdrive',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    try {
      if (ctx.seed) {
        const seed = ctx.seed;
        // StratusLab's _CLOUD_INIT disk has the v1 layout too; it is that datasource's.
        const layout = seed.volume.label === '_CLOUD_INIT' ? undefined : await layoutOf(seed.volume);
        return layout
          ? { found: true, evidence: `seed ${seed.path} has a config drive (${layout === 'v2' ? 'openstack/' : 'config-drive-v1'} layout)`, location: seed.path }
          : { found: false, evidence: `seed ${seed.path} has neither openstack/<version>/meta_data.json nor config-drive-v1 files` };
      }
      const labels = await ctx.labels();
      const dev = labels.find(...CONFIG_DRIVE_LABELS);
      if (dev === undefined) return { found: false, evidence: `no filesystem labelled config-2 (${labels.evidence})` };
      return { found: true, evidence: `filesystem labelled config-2 at ${dev}`, location: dev };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${reason(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    const { volume, source } = await openDetected(ctx, where);
    const layout = await layoutOf(volume);
    if (layout === 'v2') return readConfigDriveV2(volume, source);
    if (layout === 'v1') return readConfigDriveV1(volume, source, 'configdrive');
    throw new DatasourceError(source, 'labelled config-2 but has neither openstack/<version>/meta_data.json nor config-drive-v1 files');
  },
};


// NoCloud (cloud-init's name): meta-data (YAML), user-data, vendor-data and
// network-config, found, in this order, in
//   1. a --seed folder or image;
//   2. the folder or URL named by s= on the kernel command line
//      (ds=nocloud;s=file:///seed/ or ds=nocloud;s=http://host/path/) or in the
//      SMBIOS serial number;
//   3. a seed folder in the guest: /var/lib/guestctx/seed/nocloud, then
//      cloud-init's /var/lib/cloud/seed/nocloud and .../nocloud-net;
//   4. a vfat or ISO9660 volume labelled cidata or CIDATA.
// i= and h= on the command line override instance-id and local-hostname, and
// alone (no seed) they are a datasource of their own, as in cloud-init.
import { load, YAMLException } from 'js-yaml';
import { DatasourceError, LimitError, type GuestctxError } from '../../src/errors';
import type { Volume } from '../../src/media/volume';
import type { Datasource, DatasourceContext, Detection, InstanceData, NetworkSource } from '../../src/types';
import {
  MAX_METADATA_BYTES,
  MAX_PAYLOAD_BYTES,
  contentId,
  guestDirVolume,
  isFile,
  isRecord,
  keysFromValue,
  openDetected,
  readOptional,
  reason,
  unique,
} from '../configdrive/local-media';
import { noCloudFromCmdline, parseDsString, type NoCloudSwitches } from './cmdline';

export const NOCLOUD_LABELS = ['cidata', 'CIDATA'];
/** Guest seed folders, ours first, then cloud-init's (so an image prepared for cloud-init works as it is). */
export const NOCLOUD_SEED_DIRS = ['/var/lib/guestctx/seed/nocloud', '/var/lib/cloud/seed/nocloud', '/var/lib/cloud/seed/nocloud-net'];
const DMI_SERIAL = '/sys/class/dmi/id/product_serial';

/** Where the NoCloud files are. */
type Place =
  | { readonly kind: 'seed' }
  | { readonly kind: 'dir'; readonly dir: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'device'; readonly device: string }
  | { readonly kind: 'switches-only' };

interface Located {
  readonly place: Place;
  readonly switches?: NoCloudSwitches;
  readonly evidence: string;
  readonly location: string;
}

interface NoCloudFiles {
  readonly metaData?: Buffer;
  readonly userData?: Buffer;
  readonly vendorData?: Buffer;
  readonly networkConfig?: Buffer;
}

/** The switches from /proc/cmdline, else from the SMBIOS serial number (qemu -smbios type=1,serial=ds=nocloud;...). */
async function switchesOf(ctx: DatasourceContext): Promise<{ switches: NoCloudSwitches; from: string } | undefined> {
  const fromCmdline = noCloudFromCmdline(ctx.cmdline);
  if (fromCmdline) return { switches: fromCmdline, from: 'kernel command line' };
  const serial = (await ctx.host.readTextIfExists(DMI_SERIAL, 4096).catch(() => undefined))?.trim();
  const fromDmi = serial ? parseDsString(serial) : undefined;
  return fromDmi ? { switches: fromDmi, from: `SMBIOS serial (${DMI_SERIAL})` } : undefined;
}

/** A seedfrom value as a guest folder, or an http(s) URL; anything else is refused with the reason. */
export function seedTarget(seedfrom: string): { dir: string } | { url: string } | { error: string } {
  if (seedfrom.startsWith('file://')) {
    const p = decodeURIComponent(seedfrom.slice('file://'.length));
    return p.startsWith('/') ? { dir: p } : { error: `file URL ${JSON.stringify(seedfrom)} has no absolute path` };
  }
  if (seedfrom.startsWith('/')) return { dir: seedfrom };
  if (/^https?:\/\//i.test(seedfrom)) return { url: seedfrom.endsWith('/') ? seedfrom : `${seedfrom}/` };
  return { error: `seedfrom ${JSON.stringify(seedfrom)} is neither a folder, a file:// URL nor an http(s) URL` };
}

async function locate(ctx: DatasourceContext): Promise<Located | { notFound: string }> {
  if (ctx.seed) {
    return (await isFile(ctx.seed.volume, '/meta-data'))
      ? { place: { kind: 'seed' }, evidence: `seed ${ctx.seed.path} has meta-data`, location: ctx.seed.path }
      : { notFound: `seed ${ctx.seed.path} has no meta-data` };
  }
  const sw = await switchesOf(ctx);
  const switches = sw?.switches;
  const withSwitches = switches ? { switches } : {};
  if (sw && switches?.seedfrom !== undefined) {
    const target = seedTarget(switches.seedfrom);
    if ('error' in target) return { notFound: `${sw.from}: ${target.error}` };
    if ('url' in target) return { place: { kind: 'url', url: target.url }, ...withSwitches, evidence: `${sw.from} has ${switches.word}`, location: target.url };
    return { place: { kind: 'dir', dir: target.dir }, ...withSwitches, evidence: `${sw.from} has ${switches.word}`, location: target.dir };
  }
  for (const dir of NOCLOUD_SEED_DIRS) {
    if ((await ctx.host.stat(`${dir}/meta-data`))?.type === 'file') {
      return { place: { kind: 'dir', dir }, ...withSwitches, evidence: `seed folder ${dir} has meta-data`, location: dir };
    }
  }
  const labels = await ctx.labels();
  const dev = labels.find(...NOCLOUD_LABELS);
  if (dev !== undefined) return { place: { kind: 'device', device: dev }, ...withSwitches, evidence: `filesystem labelled cidata at ${dev}`, location: dev };
  if (sw && switches && (switches.instanceId !== undefined || switches.hostname !== undefined)) {
    return { place: { kind: 'switches-only' }, switches, evidence: `${sw.from} has ${switches.word} (no seed)`, location: sw.from };
  }
  return { notFound: `no cidata filesystem, no seed folder with meta-data, no ds=nocloud seed (${labels.evidence})` };
}

const FILES = [
  ['metaData', 'meta-data', MAX_METADATA_BYTES],
  ['userData', 'user-data', MAX_PAYLOAD_BYTES],
  ['vendorData', 'vendor-data', MAX_PAYLOAD_BYTES],
  ['networkConfig', 'network-config', MAX_METADATA_BYTES],
] as const;

async function filesFromVolume(volume: Volume, source: string): Promise<NoCloudFiles> {
  const out: Record<string, Buffer> = {};
  for (const [key, name, max] of FILES) {
    const data = await readOptional(volume, `/${name}`, max, source);
    if (data !== undefined) out[key] = data;
  }
  return out;
}

/**
 * Fetch the files under a seed URL within the network budget. meta-data must
 * answer 200; the others may be 404 (absent). Any other status is an error:
 * a server that fails half-way must not give a half-configured instance.
 */
async function filesFromUrl(ctx: DatasourceContext, base: string): Promise<NoCloudFiles> {
  const deadline = ctx.host.monotonicMs() + ctx.networkBudgetMs;
  const out: Record<string, Buffer> = {};
  for (const [key, name, max] of FILES) {
    const url = new URL(name, base).toString();
    const timeoutMs = Math.max(1, Math.floor(deadline - ctx.host.monotonicMs()));
    if (deadline - ctx.host.monotonicMs() <= 0) throw new LimitError(url, `the network budget of ${ctx.networkBudgetMs} ms ran out`);
    let res;
    try {
      res = await ctx.host.fetch(url, { timeoutMs, maxBytes: max });
    } catch (err) {
      throw new DatasourceError(url, `cannot fetch ${name}`, { cause: err });
    }
    if (res.status === 200) out[key] = res.body;
    else if (res.status === 404 && key !== 'metaData') continue;
    else throw new DatasourceError(url, `HTTP ${res.status} for ${name}`);
  }
  return out;
}

/** YAML into a plain value, naming the file and the line on failure. */
export function parseYaml(bytes: Buffer, origin: string): unknown {
  try {
    return load(bytes.toString('utf8'), { filename: origin });
  } catch (err) {
    const line = err instanceof YAMLException ? err.mark.line + 1 : undefined;
    const why = err instanceof YAMLException ? err.reason : err instanceof Error ? err.message : String(err);
    throw new DatasourceError(line !== undefined ? `${origin}:${line}` : origin, `not valid YAML: ${why}`, { cause: err });
  }
}

/** meta-data as a mapping ({} when empty). */
export function parseMetaData(bytes: Buffer | undefined, origin: string): Record<string, unknown> {
  if (bytes === undefined) return {};
  const v = parseYaml(bytes, origin);
  if (v === null || v === undefined) return {};
  if (!isRecord(v)) throw new DatasourceError(origin, `expected a YAML mapping, found ${Array.isArray(v) ? 'a list' : typeof v}`);
  return v;
}

/** network-config as cloud-init network configuration; a top-level "network:" wrapper is removed. */
export function parseNetworkConfig(bytes: Buffer, origin: string): unknown {
  const v = parseYaml(bytes, origin);
  if (v === null || v === undefined) return undefined;
  if (!isRecord(v)) throw new DatasourceError(origin, `expected a YAML mapping, found ${Array.isArray(v) ? 'a list' : typeof v}`);
  const inner = v['network'];
  return isRecord(inner) && Object.keys(v).length === 1 ? inner : v;
}

function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/**
 * Build InstanceData from the files. Instance id: meta-data instance-id (or
 * i= on the command line, which wins); without one, "nocloud-" and 16 hex
 * digits of the SHA-256 of meta-data and user-data. cloud-init uses the
 * constant "nocloud" there, which makes every clone of an image the same
 * instance and skips its per-instance work; a content hash does not.
 */
export function noCloudInstanceData(
  files: NoCloudFiles,
  source: string,
  fileOrigin: (name: string) => string,
  switches: NoCloudSwitches | undefined,
  medium: Volume | undefined,
): InstanceData {
  const problems: GuestctxError[] = [];
  const metaOrigin = fileOrigin('meta-data');
  const md = parseMetaData(files.metaData, metaOrigin);
  const merged: Record<string, unknown> = { ...md };
  if (switches?.instanceId !== undefined) merged['instance-id'] = switches.instanceId;
  if (switches?.hostname !== undefined) merged['local-hostname'] = switches.hostname;

  const givenId = scalar(merged['instance-id']);
  const hostname = scalar(merged['local-hostname']) ?? scalar(merged['hostname']);
  const publicKeys = unique(keysFromValue(merged['public-keys']));

  let network: NetworkSource | undefined;
  if (files.networkConfig !== undefined) {
    const origin = fileOrigin('network-config');
    const data = parseNetworkConfig(files.networkConfig, origin);
    if (data !== undefined) network = { kind: 'cloudinit', data, origin };
  }
  const eni = merged['network-interfaces'];
  if (network === undefined && typeof eni === 'string' && eni.trim() !== '') network = { kind: 'eni', text: eni, origin: `${metaOrigin} network-interfaces` };
  else if (eni !== undefined && typeof eni !== 'string') problems.push(new DatasourceError(`${metaOrigin} network-interfaces`, 'expected /etc/network/interfaces text; ignored'));

  const idRule =
    switches?.instanceId !== undefined ? 'i= (instance-id) on the kernel command line' : givenId !== undefined ? 'instance-id from meta-data' : 'SHA-256 of meta-data and user-data (no instance-id)';
  return {
    datasource: 'nocloud',
    source,
    instanceId: givenId ?? contentId('nocloud', [files.metaData, files.userData]),
    instanceIdRule: idRule,
    ...(hostname ? { hostname } : {}),
    publicKeys,
    ...(files.userData !== undefined && files.userData.length > 0 ? { userData: files.userData } : {}),
    ...(files.vendorData !== undefined && files.vendorData.length > 0 ? { vendorData: files.vendorData } : {}),
    ...(network ? { network } : {}),
    ...(medium ? { medium } : {}),
    raw: merged,
    secretKeys: [],
    problems,
  };
}

export const noCloud: Datasource = {
  name: 'nocloud',
  stage: 'local',

  async detect(ctx: DatasourceContext): Promise<Detection> {
    try {
      const found = await locate(ctx);
      if ('notFound' in found) return { found: false, evidence: found.notFound };
      return { found: true, evidence: found.evidence, location: found.location };
    } catch (err) {
      return { found: false, evidence: `detection failed: ${reason(err)}` };
    }
  },

  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    // Locating again is cheap (a few stats) and keeps read independent of how
    // the Detection was carried; the place found must be the one detected.
    const found = await locate(ctx);
    if ('notFound' in found) throw new DatasourceError(where.location ?? 'nocloud', `the NoCloud seed is gone: ${found.notFound}`);
    const { place, switches } = found;
    switch (place.kind) {
      case 'seed':
      case 'device': {
        const { volume, source } = await openDetected(ctx, place.kind === 'device' ? { ...where, location: place.device } : where);
        const files = await filesFromVolume(volume, source);
        if (files.metaData === undefined) throw new DatasourceError(`${source}:/meta-data`, 'the file is missing (a NoCloud volume needs meta-data)');
        return noCloudInstanceData(files, source, (n) => `${source}:/${n}`, switches, volume);
      }
      case 'dir': {
        const volume = guestDirVolume(ctx.host, place.dir);
        const files = await filesFromVolume(volume, place.dir);
        if (files.metaData === undefined) throw new DatasourceError(`${place.dir}/meta-data`, 'the file is missing (a NoCloud seed folder needs meta-data)');
        return noCloudInstanceData(files, place.dir, (n) => `${place.dir.replace(/\/+$/, '')}/${n}`, switches, volume);
      }
      case 'url':
        return noCloudInstanceData(await filesFromUrl(ctx, place.url), place.url, (n) => new URL(n, place.url).toString(), switches, undefined);
      case 'switches-only':
        return noCloudInstanceData({}, found.location, (n) => `${found.location} (${n})`, switches, undefined);
    }
  },
};

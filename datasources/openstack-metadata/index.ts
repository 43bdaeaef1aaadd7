// OpenStack metadata service (nova's http://169.254.169.254/openstack/latest/).
// Detection is local evidence only (DMI names nova writes, the nova-lxd
// environment, ds=openstack, --metadata-url); reading fetches, in parallel and
// inside one network budget: meta_data.json (required), network_data.json,
// user_data, vendor_data.json, vendor_data2.json (each 404 = absent), then the
// injected files that meta_data.json lists. That is 5 requests plus one per file.
// The payload shapes are the config drive's, so the same decoding is used.
import { DatasourceError, type GuestctxError } from '../../src/errors';
import type { HttpResponse } from '../../src/host/host';
import { startBudget, type Budget } from '../../src/http/budget';
import { createLimiter, type Limiter } from '../../src/http/limit';
import { jsonBody, unexpectedStatus } from '../../src/http/response';
import { fetchWithRetry, policyForBudget, type RetryPolicy } from '../../src/http/retry';
import type { Datasource, DatasourceContext, Detection, InjectedFile, InstanceData } from '../../src/types';
import { openStackKeys, vendorPayload } from '../configdrive';
import { isRecord } from '../configdrive/local-media';
import { cmdlineSelects, describeDmi, readDmi, type DmiFacts } from '../../src/detect/dmi';

export const OPENSTACK_METADATA_URL = 'http://169.254.169.254';
const MAX_JSON_BYTES = 1024 * 1024;
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const MAX_FILES = 64;
const MAX_PARALLEL = 6;

/** DMI values nova and clouds built on it write (cloud-init documents the same list). */
const NOVA_NAMES = ['openstack nova', 'openstack compute'];
const ASSET_TAGS = ['huaweicloud', 'opentelekomcloud', 'sap ccloud vm', 'openstack nova', 'openstack compute'];

/**
 * DMI evidence: product_name or sys_vendor "OpenStack Nova"/"OpenStack
 * Compute", sys_vendor "OpenStack Foundation" (nova's default manufacturer),
 * or chassis_asset_tag HUAWEICLOUD, OpenTelekomCloud, SAP CCloud VM,
 * OpenStack Nova, OpenStack Compute. Non-x86 guests whose DMI says nothing
 * need ds=openstack: no evidence means no network probe here.
 */
export function openStackDmiEvidence(dmi: DmiFacts): string | undefined {
  const lc = (v: string | undefined): string => (v ?? '').toLowerCase();
  if (NOVA_NAMES.includes(lc(dmi.product_name))) return `DMI product_name is ${JSON.stringify(dmi.product_name)}`;
  if (NOVA_NAMES.includes(lc(dmi.sys_vendor)) || lc(dmi.sys_vendor) === 'openstack foundation') return `DMI sys_vendor is ${JSON.stringify(dmi.sys_vendor)}`;
  if (ASSET_TAGS.includes(lc(dmi.chassis_asset_tag))) return `DMI chassis_asset_tag is ${JSON.stringify(dmi.chassis_asset_tag)}`;
  return undefined;
}

/** nova-lxd containers have no DMI; PID 1's environment carries product_name instead. */
async function novaLxdEvidence(ctx: DatasourceContext): Promise<string | undefined> {
  try {
    const env = await ctx.host.readTextIfExists('/proc/1/environ', 256 * 1024);
    if (env === undefined) return undefined;
    const prefix = 'product_name=';
    const hit = env.split('\0').find((kv) => kv.toLowerCase().startsWith(prefix) && NOVA_NAMES.includes(kv.slice(prefix.length).toLowerCase()));
    return hit !== undefined ? `/proc/1/environ has ${hit}` : undefined;
  } catch {
    // Unreadable PID 1 environment: no evidence either way.
    return undefined;
  }
}

async function detectOpenStack(ctx: DatasourceContext): Promise<Detection> {
  try {
    if (ctx.metadataUrl !== undefined) return { found: true, evidence: `explicit metadata URL ${ctx.metadataUrl}`, location: ctx.metadataUrl };
    const dmi = await readDmi(ctx.host, ['sys_vendor', 'product_name', 'chassis_asset_tag']);
    const evidence =
      (cmdlineSelects(ctx.cmdline, 'openstack') ? 'ds=openstack on the kernel command line' : undefined) ?? openStackDmiEvidence(dmi) ?? (await novaLxdEvidence(ctx));
    if (evidence === undefined) return { found: false, evidence: `no OpenStack evidence (${describeDmi(dmi)}; no ds=openstack; no --metadata-url)` };
    return { found: true, evidence, location: OPENSTACK_METADATA_URL };
  } catch (err) {
    return { found: false, evidence: `detection failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

interface Fetcher {
  readonly base: string;
  get(path: string, maxBytes: number): Promise<HttpResponse | undefined>;
}

function fetcher(ctx: DatasourceContext, base: string, budget: Budget, policy: RetryPolicy, limit: Limiter): Fetcher {
  return {
    base,
    async get(path, maxBytes) {
      const url = `${base}${path}`;
      const res = await limit(() => fetchWithRetry(ctx.host, url, { method: 'GET', maxBytes, maxRedirects: 0 }, { budget, policy, log: ctx.log }));
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw unexpectedStatus(res);
      return res;
    },
  };
}

/** The "files" of meta_data.json, fetched from /openstack/content/NNNN; a bad entry is a problem, not a failure. */
async function injectedFiles(f: Fetcher, meta: Record<string, unknown>, problems: GuestctxError[]): Promise<InjectedFile[]> {
  const files = meta['files'];
  if (files === undefined) return [];
  const where = `${f.base}/openstack/latest/meta_data.json files`;
  if (!Array.isArray(files)) {
    problems.push(new DatasourceError(where, 'expected a list; ignored'));
    return [];
  }
  if (files.length > MAX_FILES) problems.push(new DatasourceError(where, `${files.length} files listed; only the first ${MAX_FILES} are read`));
  const out = await Promise.all(
    files.slice(0, MAX_FILES).map(async (entry: unknown, i): Promise<InjectedFile | undefined> => {
      const path = isRecord(entry) ? entry['path'] : undefined;
      const contentPath = isRecord(entry) ? entry['content_path'] : undefined;
      if (typeof path !== 'string' || !path.startsWith('/') || typeof contentPath !== 'string') {
        problems.push(new DatasourceError(`${where}[${i}]`, 'needs an absolute "path" and a "content_path"; ignored'));
        return undefined;
      }
      // content_path is relative to /openstack ("/content/0000"); nothing outside content/ is fetched.
      const m = /^\/?content\/([A-Za-z0-9_.-]+)$/.exec(contentPath);
      if (m === null || m[1] === '..' || m[1] === '.') {
        problems.push(new DatasourceError(`${where}[${i}]`, `content_path ${JSON.stringify(contentPath)} is not under /openstack/content/; ignored`));
        return undefined;
      }
      const res = await f.get(`/openstack/content/${m[1]}`, MAX_PAYLOAD_BYTES);
      if (res === undefined) {
        problems.push(new DatasourceError(`${f.base}/openstack/content/${m[1]}`, `missing (file for ${path}); ignored`));
        return undefined;
      }
      return { path, content: res.body, origin: res.url };
    }),
  );
  return out.filter((x): x is InjectedFile => x !== undefined);
}

async function readOpenStack(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
  const base = (where.location ?? ctx.metadataUrl ?? OPENSTACK_METADATA_URL).replace(/\/+$/, '');
  const budget = startBudget(ctx.host, ctx.networkBudgetMs);
  const f = fetcher(ctx, base, budget, policyForBudget(ctx.networkBudgetMs), createLimiter(MAX_PARALLEL));
  const dir = '/openstack/latest';
  const json = async (name: string): Promise<unknown> => {
    const res = await f.get(`${dir}/${name}`, MAX_JSON_BYTES);
    return res === undefined ? undefined : jsonBody(res);
  };
  const [meta, network, userData, vendor1, vendor2] = await Promise.all([
    json('meta_data.json'),
    json('network_data.json'),
    f.get(`${dir}/user_data`, MAX_PAYLOAD_BYTES).then((r) => r?.body),
    json('vendor_data.json'),
    json('vendor_data2.json'),
  ]);
  const metaUrl = `${base}${dir}/meta_data.json`;
  if (meta === undefined) throw new DatasourceError(metaUrl, 'HTTP 404: no OpenStack metadata here (not an OpenStack metadata service?)');
  if (!isRecord(meta)) throw new DatasourceError(metaUrl, `expected a JSON object, found ${Array.isArray(meta) ? 'a list' : meta === null ? 'null' : typeof meta}`);
  // A service answer is not stable content (random_seed changes on every
  // request), so unlike a config drive there is no content-derived fallback.
  const uuid = typeof meta['uuid'] === 'string' ? meta['uuid'].trim() : '';
  if (uuid === '') throw new DatasourceError(metaUrl, 'has no "uuid" (the instance id)');
  if (network !== undefined && !isRecord(network)) throw new DatasourceError(`${base}${dir}/network_data.json`, 'expected a JSON object');

  const problems: GuestctxError[] = [];
  const v1 = vendorPayload(vendor1);
  const v2 = vendorPayload(vendor2);
  if (v1 !== undefined && v2 !== undefined) {
    problems.push(new DatasourceError(`${base}${dir}/vendor_data2.json`, 'both vendor_data.json and vendor_data2.json carry cloud-init data; vendor_data.json is used'));
  }
  const vendorData = v1 ?? v2;
  const files = await injectedFiles(f, meta, problems);
  const hostname = typeof meta['hostname'] === 'string' ? meta['hostname'].trim() : '';

  const raw: Record<string, unknown> = { ...meta, metadata_version: 'latest', metadata_url: base };
  if (vendor1 !== undefined) raw['vendor_data'] = vendor1;
  if (vendor2 !== undefined) raw['vendor_data2'] = vendor2;
  if (userData !== undefined) raw['user_data'] = userData.toString('utf8');
  ctx.log.debug(`openstack: read ${base} in ${Math.round(budget.elapsedMs())} ms`);
  return {
    datasource: 'openstack',
    source: base,
    instanceId: uuid,
    instanceIdRule: 'uuid from openstack/latest/meta_data.json (metadata service)',
    ...(hostname ? { hostname } : {}),
    publicKeys: openStackKeys(meta),
    ...(userData !== undefined && userData.length > 0 ? { userData } : {}),
    ...(vendorData ? { vendorData } : {}),
    ...(network !== undefined ? { network: { kind: 'openstack' as const, data: network, origin: `${base}${dir}/network_data.json` } } : {}),
    ...(files.length > 0 ? { files } : {}),
    raw,
    // admin_pass is the instance's root password; random_seed seeds its RNG.
    secretKeys: ['admin_pass', 'random_seed', 'vendor_data', 'vendor_data2', 'user_data'].filter((k) => k in raw),
    problems,
  };
}

export const openstackMetadata: Datasource = {
  name: 'openstack',
  stage: 'network',
  detect: detectOpenStack,
  async read(ctx: DatasourceContext, where: Detection): Promise<InstanceData> {
    try {
      return await readOpenStack(ctx, where);
    } catch (err) {
      if (err instanceof DatasourceError) throw err;
      throw new DatasourceError(where.location ?? ctx.metadataUrl ?? OPENSTACK_METADATA_URL, 'cannot read the OpenStack metadata service', { cause: err });
    }
  },
};

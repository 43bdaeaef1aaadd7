// The OpenStack metadata-service datasource against a real metadata server on
// 127.0.0.1: detection from DMI / PID 1's environment / ds=openstack with no
// network probe, a full read (meta_data.json, network_data.json, user_data,
// vendor data, injected files) and the failure modes.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openstackMetadata, openStackDmiEvidence, OPENSTACK_METADATA_URL } from '../../datasources/openstack-metadata';
import { DatasourceError } from '../../src/errors';
import { NodeHost } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import { fromOpenStack } from '../../src/network/from-openstack';
import type { LabelIndex } from '../../src/detect/labels';
import type { DatasourceContext, InstanceData } from '../../src/types';
import { loadSpec, startMetadataServer, type MetadataServer, type MetadataSpec } from '../helpers/metadata-server';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const BASIC = loadSpec(path.join(__dirname, '../fixtures/datasources/openstack-metadata/basic/metadata.json'));
const DIR = '/openstack/latest/';
const BUDGET_MS = 1500;

let root: TempRoot;
let server: MetadataServer | undefined;

beforeEach(() => {
  root = makeTempRoot({ minimal: true });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  root.cleanup();
});

function context(opts: { metadataUrl?: string; cmdline?: string; budgetMs?: number } = {}): DatasourceContext {
  return {
    host: new NodeHost({ root: root.dir }),
    log: memoryLogger(),
    cmdline: opts.cmdline ?? '',
    labels: async (): Promise<LabelIndex> => {
      throw new Error('labels listed by a network datasource');
    },
    onCleanup: () => undefined,
    ...(opts.metadataUrl !== undefined ? { metadataUrl: opts.metadataUrl } : {}),
    networkBudgetMs: opts.budgetMs ?? BUDGET_MS,
  };
}

async function serve(spec: MetadataSpec): Promise<MetadataServer> {
  server = await startMetadataServer(spec);
  return server;
}

function withFiles(patch: Record<string, MetadataSpec['files'][string] | undefined>): MetadataSpec {
  const files = { ...BASIC.files };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete files[k];
    else files[k] = v;
  }
  return { files };
}

async function read(srv: MetadataServer, budgetMs = BUDGET_MS): Promise<InstanceData> {
  const ctx = context({ metadataUrl: srv.url, budgetMs });
  return openstackMetadata.read(ctx, await openstackMetadata.detect(ctx));
}

async function readError(srv: MetadataServer, budgetMs = BUDGET_MS): Promise<{ err: DatasourceError; elapsed: number }> {
  const t0 = performance.now();
  const err = await read(srv, budgetMs).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasourceError);
  return { err: err as DatasourceError, elapsed: performance.now() - t0 };
}

describe('openstack detect', () => {
  it('finds nothing without evidence, and makes no request', async () => {
    const srv = await serve(BASIC);
    root.write('sys/class/dmi/id/sys_vendor', 'QEMU\n');
    root.write('sys/class/dmi/id/product_name', 'Standard PC (i440FX + PIIX, 1996)\n');
    const t0 = performance.now();
    const d = await openstackMetadata.detect(context({ cmdline: 'ro quiet' }));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('product_name="Standard PC (i440FX + PIIX, 1996)"');
    expect(srv.requests).toHaveLength(0);
  });

  it.each([
    ['product_name', 'OpenStack Nova'],
    ['product_name', 'OpenStack Compute'],
    ['sys_vendor', 'OpenStack Foundation'],
    ['chassis_asset_tag', 'OpenTelekomCloud'],
    ['chassis_asset_tag', 'HUAWEICLOUD'],
    ['chassis_asset_tag', 'SAP CCloud VM'],
  ])('finds OpenStack from DMI %s=%s', async (field, value) => {
    root.write(`sys/class/dmi/id/${field}`, `${value}\n`);
    const d = await openstackMetadata.detect(context());
    expect(d).toEqual({ found: true, evidence: `DMI ${field} is ${JSON.stringify(value)}`, location: OPENSTACK_METADATA_URL });
  });

  it('finds nova-lxd from PID 1 environment, and ds=openstack', async () => {
    root.write('proc/1/environ', 'container=lxc\0product_name=OpenStack Nova\0');
    expect((await openstackMetadata.detect(context())).evidence).toBe('/proc/1/environ has product_name=OpenStack Nova');
    expect((await openstackMetadata.detect(context({ cmdline: 'ds=openstack' }))).evidence).toBe('ds=openstack on the kernel command line');
    expect(openStackDmiEvidence({ product_name: 'KVM', chassis_asset_tag: 'Amazon EC2' })).toBeUndefined();
  });
});

describe('openstack read', () => {
  it('reads meta_data, network_data, user_data, vendor data and files in 6 requests', async () => {
    const srv = await serve(BASIC);
    const data = await read(srv);
    expect(data).toMatchObject({
      datasource: 'openstack',
      source: srv.url,
      instanceId: '83679162-1378-4288-a2d4-70e13ec132aa',
      hostname: 'web-1.novalocal',
      problems: [],
    });
    // public_keys and keys carry the same first key: kept once.
    expect(data.publicKeys).toHaveLength(2);
    expect(data.publicKeys[0]).toMatch(/ my-key$/);
    expect(data.publicKeys[1]).toMatch(/ other-key$/);
    expect(data.userData?.toString()).toBe('#cloud-config\npackages: [tmux]\n');
    expect(data.vendorData?.toString()).toBe('#cloud-config\nntp:\n  enabled: true\n');
    expect(data.files).toEqual([{ path: '/etc/motd', content: Buffer.from('Welcome to web-1\n'), origin: `${srv.url}/openstack/content/0000` }]);
    expect(data.network).toMatchObject({ kind: 'openstack', origin: `${srv.url}${DIR}network_data.json` });
    const model = fromOpenStack(data.network?.kind === 'openstack' ? data.network.data : undefined);
    expect(model.links).toHaveLength(1);
    expect(model.links[0]?.ipv4.addresses.map((a) => `${a.address}/${a.prefix}`)).toEqual(['10.0.0.5/24']);
    expect(data.raw['admin_pass']).toBe('s3cr3t-Admin-Pass');
    expect(data.secretKeys).toEqual(expect.arrayContaining(['admin_pass', 'random_seed', 'user_data', 'vendor_data']));
    expect(srv.requests).toHaveLength(6);
    expect(srv.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('treats a 404 user_data, vendor data and network_data as absent', async () => {
    const srv = await serve(withFiles({ [`${DIR}user_data`]: undefined, [`${DIR}vendor_data.json`]: undefined, [`${DIR}vendor_data2.json`]: undefined, [`${DIR}network_data.json`]: undefined }));
    const data = await read(srv);
    expect(data.instanceId).toBe('83679162-1378-4288-a2d4-70e13ec132aa');
    expect(data.userData).toBeUndefined();
    expect(data.vendorData).toBeUndefined();
    expect(data.network).toBeUndefined();
  });

  it('uses vendor_data2.json when the static vendor data has nothing, and notes when both have some', async () => {
    const v2 = { json: { mysvc: { 'cloud-init': '#cloud-config\nruncmd: [true]\n' } } };
    const srv = await serve(withFiles({ [`${DIR}vendor_data.json`]: undefined, [`${DIR}vendor_data2.json`]: v2 }));
    expect((await read(srv)).vendorData?.toString()).toBe('#cloud-config\nruncmd: [true]\n');
    await srv.close();
    const both = await serve(withFiles({ [`${DIR}vendor_data2.json`]: { json: { 'cloud-init': '#cloud-config\n{}\n' } } }));
    const data = await read(both);
    expect(data.vendorData?.toString()).toContain('ntp');
    expect(data.problems.map((p) => p.message)).toEqual([expect.stringContaining('vendor_data.json is used')]);
  });

  it('fails clearly without meta_data.json, without a uuid, or with HTML', async () => {
    const srv = await serve(withFiles({ [`${DIR}meta_data.json`]: undefined }));
    let { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${DIR}meta_data.json`);
    expect(err.message).toContain('HTTP 404');
    srv.setFault(`${DIR}meta_data.json`, { kind: 'html' });
    ({ err } = await readError(srv));
    expect(err.message).toContain('HTML page');
    await srv.close();
    const noUuid = await serve(withFiles({ [`${DIR}meta_data.json`]: { json: { hostname: 'x' } } }));
    expect((await readError(noUuid)).err.message).toContain('no "uuid"');
  });

  it('names the URL of invalid JSON', async () => {
    const srv = await serve(withFiles({ [`${DIR}network_data.json`]: '{"links": [' }));
    const { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${DIR}network_data.json`);
    expect(err.message).toContain('not valid JSON');
  });

  it('refuses injected files outside /openstack/content/ as a problem, not a failure', async () => {
    const meta = (BASIC.files[`${DIR}meta_data.json`] as { json: Record<string, unknown> }).json;
    const srv = await serve(withFiles({ [`${DIR}meta_data.json`]: { json: { ...meta, files: [{ path: '/etc/x', content_path: '/../latest/meta_data.json' }] } } }));
    const data = await read(srv);
    expect(data.files).toBeUndefined();
    expect(data.problems[0]?.message).toContain('not under /openstack/content/');
    expect(srv.requests).toHaveLength(5);
  });

  it('retries a 500 and gives up on a black hole within the budget', async () => {
    const srv = await serve(BASIC);
    srv.setFault(`${DIR}meta_data.json`, { kind: 'status', status: 500, times: 1 });
    expect((await read(srv)).instanceId).toBe('83679162-1378-4288-a2d4-70e13ec132aa');
    expect(srv.count('GET', `${DIR}meta_data.json`)).toBe(2);
    srv.setFault(`${DIR}network_data.json`, { kind: 'blackhole' });
    const { err, elapsed } = await readError(srv, 1000);
    expect(err.source).toBe(`${srv.url}${DIR}network_data.json`);
    expect(err.message).toContain('network budget of 1000 ms');
    expect(elapsed).toBeLessThan(1000 + 400);
  });
});

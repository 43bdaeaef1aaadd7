// The EC2 datasource against a real metadata server on 127.0.0.1: detection from
// a fake machine's DMI files (no network without evidence), IMDSv2 and the v1
// fallback, token refresh, retries, budgets, and the number of requests per boot.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ec2 } from '../../datasources/ec2';
import { detectEc2, ec2DmiEvidence, IMDS_IPV4, IMDS_IPV6 } from '../../datasources/ec2/detect';
import { DatasourceError } from '../../src/errors';
import { NodeHost } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import { fromEc2 } from '../../src/network/from-ec2';
import type { LabelIndex } from '../../src/detect/labels';
import type { DatasourceContext, Ec2Network, InstanceData } from '../../src/types';
import { loadSpec, startMetadataServer, TOKEN_PATH, type MetadataServer, type MetadataSpec } from '../helpers/metadata-server';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIXTURES = path.join(__dirname, '../fixtures/datasources/ec2');
const ONE_NIC = loadSpec(path.join(FIXTURES, 'one-nic/metadata.json'));
const TWO_NICS = loadSpec(path.join(FIXTURES, 'two-nics/metadata.json'));
const MD = '/latest/meta-data/';
const MAC0 = '0e:1a:2b:3c:4d:5e';
const MAC1 = '0e:99:88:77:66:55';
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

function context(opts: { metadataUrl?: string; cmdline?: string; budgetMs?: number } = {}): { ctx: DatasourceContext; log: ReturnType<typeof memoryLogger> } {
  const log = memoryLogger();
  const ctx: DatasourceContext = {
    host: new NodeHost({ root: root.dir }),
    log,
    cmdline: opts.cmdline ?? '',
    // Metadata datasources must never need the block device labels.
    labels: async (): Promise<LabelIndex> => {
      throw new Error('labels listed by a network datasource');
    },
    onCleanup: () => undefined,
    ...(opts.metadataUrl !== undefined ? { metadataUrl: opts.metadataUrl } : {}),
    networkBudgetMs: opts.budgetMs ?? BUDGET_MS,
  };
  return { ctx, log };
}

function dmi(fields: Record<string, string>): void {
  for (const [k, v] of Object.entries(fields)) root.write(`sys/class/dmi/id/${k}`, `${v}\n`);
}

function withoutFiles(spec: MetadataSpec, ...paths: string[]): MetadataSpec {
  const files = { ...spec.files };
  for (const p of paths) delete files[p];
  return { ...spec, files };
}

async function serve(spec: MetadataSpec): Promise<MetadataServer> {
  server = await startMetadataServer(spec);
  return server;
}

async function readFrom(srv: MetadataServer, budgetMs = BUDGET_MS): Promise<{ data: InstanceData; log: ReturnType<typeof memoryLogger> }> {
  const { ctx, log } = context({ metadataUrl: srv.url, budgetMs });
  const where = await ec2.detect(ctx);
  expect(where.found).toBe(true);
  return { data: await ec2.read(ctx, where), log };
}

async function readError(srv: MetadataServer, budgetMs = BUDGET_MS): Promise<{ err: DatasourceError; elapsed: number }> {
  const { ctx } = context({ metadataUrl: srv.url, budgetMs });
  const t0 = performance.now();
  const err = await ec2.read(ctx, await ec2.detect(ctx)).then(
    () => undefined,
    (e: unknown) => e,
  );
  const elapsed = performance.now() - t0;
  expect(err).toBeInstanceOf(DatasourceError);
  return { err: err as DatasourceError, elapsed };
}

describe('ec2 detect', () => {
  it('finds nothing on a machine without evidence, quickly and without any request', async () => {
    const srv = await serve(ONE_NIC);
    dmi({ sys_vendor: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)', product_uuid: '4c4c4544-0000-1000-8000-000000000000' });
    const { ctx } = context({ cmdline: 'root=/dev/vda ro quiet' });
    const t0 = performance.now();
    const d = await ec2.detect(ctx);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('sys_vendor="QEMU"');
    expect(d.evidence).toContain('no ds=ec2');
    expect(srv.requests).toHaveLength(0);
  });

  it('finds nothing on an empty root (offline image: no /sys at all)', async () => {
    const d = await ec2.detect(context().ctx);
    expect(d).toEqual({ found: false, evidence: expect.stringContaining('no DMI facts') as unknown as string });
  });

  it.each([
    [{ sys_vendor: 'Amazon EC2' }, 'sys_vendor is "Amazon EC2"'],
    [{ bios_vendor: 'Amazon EC2' }, 'bios_vendor'],
    [{ chassis_asset_tag: 'Amazon EC2' }, 'chassis_asset_tag'],
    [{ product_version: '4.11.amazon' }, 'contains "amazon"'],
    [{ product_uuid: 'EC2E1916-9099-7CAF-FD21-012345678901' }, 'starts with "ec2"'],
    [{ product_uuid: 'ec2e1916-9099-7caf-fd21-012345678901', product_serial: 'ec2e1916-9099-7caf-fd21-012345678901' }, 'starts with "ec2"'],
  ])('finds EC2 from DMI %o', async (fields, seen) => {
    dmi(fields);
    const d = await ec2.detect(context().ctx);
    expect(d.found).toBe(true);
    expect(d.evidence).toContain(seen);
    expect(d.location).toBe(IMDS_IPV4);
  });

  it('does not trust a UUID that starts with ec2 by chance (serial differs)', () => {
    expect(ec2DmiEvidence({ product_uuid: 'ec2a0000-1111-2222-3333-444455556666', product_serial: 'VMware-56 4d 12' })).toBeUndefined();
  });

  it('is forced by ds=ec2 and by an explicit metadata URL', async () => {
    expect((await detectEc2(context({ cmdline: 'quiet ds=ec2;seedfrom=x' }).ctx)).evidence).toContain('ds=ec2 on the kernel command line');
    const d = await detectEc2(context({ metadataUrl: 'http://127.0.0.1:9' }).ctx);
    expect(d).toMatchObject({ found: true, location: 'http://127.0.0.1:9' });
  });

  it('uses the IPv6 address only on an IPv6-only guest', async () => {
    dmi({ sys_vendor: 'Amazon EC2' });
    root.write('proc/net/route', 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n');
    root.write(
      'proc/net/if_inet6',
      '00000000000000000000000000000001 01 80 10 80       lo\n2a05d018000100020000000000000010 02 80 00 00     ens5\nfe80000000000000040a2bfffe3c4d5e 02 40 20 80     ens5\n',
    );
    const v6 = await ec2.detect(context().ctx);
    expect(v6.location).toBe(IMDS_IPV6);
    expect(v6.evidence).toContain('global IPv6 on ens5');
    // Dual stack: an IPv4 default route exists, so the IPv4 address is kept.
    root.write('proc/net/route', 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nens5\t00000000\t01001FAC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n');
    expect((await ec2.detect(context().ctx)).location).toBe(IMDS_IPV4);
  });
});

describe('ec2 read', () => {
  it('reads one NIC and one key over IMDSv2 in 12 requests, token on every GET', async () => {
    const srv = await serve(ONE_NIC);
    const { data, log } = await readFrom(srv);
    expect(data).toMatchObject({
      datasource: 'ec2',
      source: srv.url,
      instanceId: 'i-0123456789abcdef0',
      hostname: 'ip-172-31-10-20.eu-west-1.compute.internal',
      blockDeviceMapping: { ephemeral0: 'sdb' },
      secretKeys: ['user-data'],
      problems: [],
    });
    expect(data.publicKeys).toHaveLength(1);
    expect(data.publicKeys[0]).toMatch(/^ssh-ed25519 AAAA\S+ my-key$/);
    expect(data.userData?.toString()).toBe('#cloud-config\nruncmd:\n  - echo hello\n');
    expect(data.network).toEqual({
      kind: 'ec2',
      origin: `${srv.url}/latest/meta-data/network/interfaces/macs/`,
      data: { primaryMac: MAC0, macs: [{ mac: MAC0, deviceNumber: 0, localIpv4s: ['172.31.10.20'] }] },
    });
    expect(data.raw['meta-data/placement/availability-zone']).toBe('eu-west-1a');
    expect(data.raw['imds-version']).toBe('v2');

    // The request budget: 1 PUT + 11 GETs, nothing fetched twice, nothing we can derive.
    expect(srv.requests).toHaveLength(12);
    expect(srv.count('PUT', TOKEN_PATH)).toBe(1);
    expect(srv.requests[0]).toMatchObject({ method: 'PUT', path: TOKEN_PATH, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
    const gets = srv.requests.filter((r) => r.method === 'GET');
    expect(new Set(gets.map((r) => r.path)).size).toBe(gets.length);
    for (const r of gets) expect(r.headers['x-aws-ec2-metadata-token']).toBe(srv.tokens[0]);
    for (const p of ['local-ipv4', 'mac', 'block-device-mapping/ami', 'block-device-mapping/root', `network/interfaces/macs/${MAC0}/device-number`]) {
      expect(srv.count('GET', `${MD}${p}`)).toBe(0);
    }
    expect(srv.count('GET', `${MD}network/interfaces/macs/${MAC0}/ipv6s`)).toBe(1); // a 404: no IPv6

    // The token is never kept or logged.
    const token = srv.tokens[0] as string;
    expect(JSON.stringify(data)).not.toContain(token);
    expect(log.lines.join('\n')).not.toContain(token);
  });

  it('reads two NICs in 15 requests (meta-data/mac names the primary); the result converts to the network model', async () => {
    const srv = await serve(TWO_NICS); // v2-required: a GET without a token would be refused
    const { data } = await readFrom(srv);
    expect(srv.requests).toHaveLength(15);
    expect(srv.count('GET', `${MD}mac`)).toBe(1);
    expect(srv.count('GET', `${MD}network/interfaces/macs/${MAC0}/device-number`)).toBe(0);
    const net = data.network?.kind === 'ec2' ? data.network.data : undefined;
    expect(net).toEqual<Ec2Network>({
      primaryMac: MAC0,
      macs: [
        { mac: MAC0, deviceNumber: 0, localIpv4s: ['172.31.10.20'], ipv6s: ['2a05:d018:1:2::10'] },
        { mac: MAC1, deviceNumber: 1, localIpv4s: ['172.31.20.5'] },
      ],
    });
    const model = fromEc2(net as Ec2Network);
    expect(model.links.map((l) => l.kind === 'physical' && l.mac)).toEqual([MAC0, MAC1]);
  });

  it('asks device-number after all when a two-NIC service has no mac key', async () => {
    const srv = await serve(withoutFiles(TWO_NICS, `${MD}mac`));
    const { data } = await readFrom(srv);
    expect(srv.count('GET', `${MD}network/interfaces/macs/${MAC1}/device-number`)).toBe(1);
    const net = data.network?.kind === 'ec2' ? data.network.data : undefined;
    expect(net?.primaryMac).toBe(MAC0);
    expect(net?.macs.map((m) => m.deviceNumber)).toEqual([0, 1]);
  });

  it('fetches a subnet only for secondary addresses (+1 request per such NIC)', async () => {
    const p1 = `${MD}network/interfaces/macs/${MAC1}/`;
    const srv = await serve({ ...TWO_NICS, files: { ...TWO_NICS.files, [`${p1}local-ipv4s`]: '172.31.20.5\n172.31.20.6' } });
    const { data } = await readFrom(srv);
    expect(srv.requests).toHaveLength(16);
    expect(srv.count('GET', `${p1}subnet-ipv4-cidr-block`)).toBe(1);
    const net = data.network?.kind === 'ec2' ? data.network.data : undefined;
    expect(net?.macs[1]).toEqual({ mac: MAC1, deviceNumber: 1, localIpv4s: ['172.31.20.5', '172.31.20.6'], subnetIpv4Cidr: '172.31.16.0/20' });
    const link = fromEc2(net as Ec2Network).links[1];
    expect(link?.kind === 'physical' && link.ipv4.addresses.map((a) => `${a.address}/${a.prefix}`)).toEqual(['172.31.20.6/20']);
  });

  it.each([404, 403, 405])('falls back to IMDSv1 when the token PUT gets %i', async (status) => {
    const srv = await serve({ ...ONE_NIC, mode: 'v1-only', tokenRefusalStatus: status });
    const { data } = await readFrom(srv);
    expect(data.instanceId).toBe('i-0123456789abcdef0');
    expect(data.raw['imds-version']).toBe('v1');
    expect(srv.requests).toHaveLength(12);
    expect(srv.count('PUT')).toBe(1);
    for (const r of srv.requests.filter((x) => x.method === 'GET')) expect(r.headers['x-aws-ec2-metadata-token']).toBeUndefined();
  });

  it('reports a service that refuses tokens yet requires one', async () => {
    const srv = await serve(TWO_NICS); // v2-required
    srv.refuseToken(404);
    const { err } = await readError(srv);
    expect(err.message).toContain('wants an IMDSv2 token but refused to issue one');
    expect(srv.count('PUT')).toBe(1);
  });

  it('does not fall back to IMDSv1 on other token answers (400)', async () => {
    const srv = await serve(ONE_NIC);
    srv.refuseToken(400);
    const { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${TOKEN_PATH}`);
    expect(err.message).toContain('HTTP 400');
    expect(srv.count('GET')).toBe(0);
  });

  it('refreshes the token once on a 401 (expired token) and goes on', async () => {
    const srv = await serve(TWO_NICS);
    srv.setFault(`${MD}instance-id`, { kind: 'expire-tokens', times: 1 });
    const { data, log } = await readFrom(srv);
    expect(data.instanceId).toBe('i-0123456789abcdef0');
    expect(srv.count('PUT', TOKEN_PATH)).toBe(2);
    expect(srv.count('GET', `${MD}instance-id`)).toBe(2);
    const second = srv.tokens[1] as string;
    expect(srv.requests.filter((r) => r.path === `${MD}instance-id`)[1]?.headers['x-aws-ec2-metadata-token']).toBe(second);
    expect(log.lines.join('\n')).not.toContain(second);
  });

  it('gives up after one refresh when 401 persists', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}instance-id`, { kind: 'status', status: 401 });
    const { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${MD}instance-id`);
    expect(err.message).toContain('401 even with a fresh IMDSv2 token');
    expect(srv.count('PUT', TOKEN_PATH)).toBe(2);
  });

  it('treats a 404 user-data as no user-data', async () => {
    const srv = await serve(withoutFiles(ONE_NIC, '/latest/user-data'));
    const { data } = await readFrom(srv);
    expect(data.userData).toBeUndefined();
    expect(data.secretKeys).toEqual([]);
    expect(srv.count('GET', '/latest/user-data')).toBe(1);
  });

  it('reads an instance without keys, block devices or interfaces (older services)', async () => {
    const keep = ['instance-id', 'local-hostname'].map((k) => `${MD}${k}`);
    const srv = await serve({ files: Object.fromEntries(Object.entries(ONE_NIC.files).filter(([p]) => keep.includes(p))) });
    const { data } = await readFrom(srv);
    expect(data).toMatchObject({ instanceId: 'i-0123456789abcdef0', publicKeys: [] });
    expect(data.network).toBeUndefined();
    expect(data.blockDeviceMapping).toBeUndefined();
  });

  it('retries a 500 with backoff and then succeeds', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}instance-id`, { kind: 'status', status: 500, times: 2 });
    srv.setFault(`${MD}local-hostname`, { kind: 'reset', times: 1 });
    const { data } = await readFrom(srv);
    expect(data.instanceId).toBe('i-0123456789abcdef0');
    expect(data.hostname).toBe('ip-172-31-10-20.eu-west-1.compute.internal');
    expect(srv.count('GET', `${MD}instance-id`)).toBe(3);
    expect(srv.count('GET', `${MD}local-hostname`)).toBe(2);
  });

  it('fails with the last status when 500 persists, within the budget', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}instance-id`, { kind: 'status', status: 503 });
    const { err, elapsed } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${MD}instance-id`);
    expect(err.message).toContain('last error: HTTP 503');
    expect(elapsed).toBeLessThan(BUDGET_MS + 400);
    // Up to 5 attempts, never more.
    expect(srv.count('GET', `${MD}instance-id`)).toBeLessThanOrEqual(5);
    expect(srv.count('GET', `${MD}instance-id`)).toBeGreaterThanOrEqual(3);
  });

  it('gives up on a black hole within the budget', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}instance-id`, { kind: 'blackhole' });
    const { err, elapsed } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${MD}instance-id`);
    expect(err.message).toMatch(/no usable answer within the network budget of 1500 ms/);
    expect(elapsed).toBeGreaterThan(BUDGET_MS - 100);
    expect(elapsed).toBeLessThan(BUDGET_MS + 400);
    // Each attempt gets at most half the budget, so a second one was made.
    expect(srv.count('GET', `${MD}instance-id`)).toBe(2);
  });

  it('gives up on a black-holed token request without falling back to v1', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(TOKEN_PATH, { kind: 'blackhole' });
    const { err, elapsed } = await readError(srv, 800);
    expect(err.source).toBe(`${srv.url}${TOKEN_PATH}`);
    expect(elapsed).toBeLessThan(800 + 400);
    expect(srv.count('GET')).toBe(0);
  });

  it('accepts a slow trickle that ends in time, and cuts one that does not', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}placement/availability-zone`, { kind: 'trickle', intervalMs: 20, chunkBytes: 2, times: 1 });
    expect((await readFrom(srv)).data.raw['meta-data/placement/availability-zone']).toBe('eu-west-1a');
    srv.setFault(`${MD}local-hostname`, { kind: 'trickle', intervalMs: 300, chunkBytes: 1 });
    const { err, elapsed } = await readError(srv, 1000);
    expect(err.source).toBe(`${srv.url}${MD}local-hostname`);
    expect(elapsed).toBeLessThan(1000 + 400);
  });

  it('rejects an HTML page where text is expected, naming the URL', async () => {
    const srv = await serve(ONE_NIC);
    srv.setFault(`${MD}instance-id`, { kind: 'html' });
    const { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${MD}instance-id`);
    expect(err.message).toContain('HTML page');
  });

  it('rejects answers of the wrong shape, naming the URL and the value', async () => {
    const bad = `${MD}network/interfaces/macs/${MAC0}/local-ipv4s`;
    const srv = await serve({ ...ONE_NIC, files: { ...ONE_NIC.files, [bad]: '172.31.10.20\nnot-an-address' } });
    const { err } = await readError(srv);
    expect(err.source).toBe(`${srv.url}${bad}`);
    expect(err.message).toContain('"not-an-address" is not a valid entry');

    await srv.close();
    const srv2 = await serve({ ...ONE_NIC, files: { ...ONE_NIC.files, [`${MD}public-keys/`]: 'my-key' } });
    const e2 = (await readError(srv2)).err;
    expect(e2.source).toBe(`${srv2.url}${MD}public-keys/`);

    await srv2.close();
    const srv3 = await serve({ ...ONE_NIC, files: { ...ONE_NIC.files, [`${MD}instance-id`]: { base64: Buffer.from([0x69, 0, 0xff]).toString('base64') } } });
    expect((await readError(srv3)).err.message).toContain('binary');
  });

  it('fails clearly when the required instance-id is missing', async () => {
    const srv = await serve(withoutFiles(ONE_NIC, `${MD}instance-id`));
    const { err } = await readError(srv);
    expect(err.message).toContain('HTTP 404');
    expect(err.source).toBe(`${srv.url}${MD}instance-id`);
  });
});

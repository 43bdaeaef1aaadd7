// NoCloud read from real media (ISO9660 by xorriso and genisoimage, vfat by
// mkfs.vfat + mtools) in a fake machine, from guest seed folders, from
// ds=nocloud;s=... on the kernel command line (a guest folder, and a real HTTP
// server on 127.0.0.1), and the bad-input cases.
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noCloud, parseNetworkConfig, seedTarget } from '../../datasources/nocloud';
import { cmdlineWords, noCloudFromCmdline } from '../../datasources/nocloud/cmdline';
import { DatasourceError } from '../../src/errors';
import type { InstanceData } from '../../src/types';
import { buildFatImage, cleanupFatImages } from '../helpers/fat-images';
import { buildIso } from '../helpers/iso-images';
import { datasourceHarness, type ContextOptions } from '../helpers/datasource-harness';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.resolve(__dirname, '../fixtures/datasources/nocloud');
const harness = datasourceHarness();

function machine(media: { label: string; image: string; dev?: string }[], cmdline = ''): TempRoot {
  const root = makeTempRoot();
  harness.track(root);
  mkdirSync(root.file('dev/disk/by-label'), { recursive: true });
  for (const [i, m] of media.entries()) {
    const dev = m.dev ?? (i === 0 ? 'sr0' : 'vdb');
    copyFileSync(m.image, root.file(`dev/${dev}`));
    symlinkSync(`../../${dev}`, root.file(`dev/disk/by-label/${m.label}`));
  }
  if (cmdline) root.write('proc/cmdline', `${cmdline}\n`);
  return root;
}

async function readError(root: TempRoot, opts: { networkBudgetMs?: number } = {}): Promise<DatasourceError> {
  const ctx = await contextOf(root, opts);
  const d = await noCloud.detect(ctx);
  expect(d.found, d.evidence).toBe(true);
  const err = await noCloud.read(ctx, d).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as DatasourceError;
}

const contextOf = (root: TempRoot, opts: ContextOptions = {}) => harness.contextOf(root, opts);
const detectAndRead = (root: TempRoot, opts: ContextOptions = {}): Promise<InstanceData> => harness.detectAndRead(noCloud, root, opts);
afterAll(() => cleanupFatImages());

function expectBasic(data: InstanceData): void {
  expect(data.datasource).toBe('nocloud');
  expect(data.instanceId).toBe('iid-local01');
  expect(data.instanceIdRule).toBe('instance-id from meta-data');
  expect(data.hostname).toBe('cloudimg');
  expect(data.publicKeys).toEqual(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIErin erin@example', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABFrank frank@example']);
  expect(data.userData?.toString()).toBe(readFileSync(path.join(FIX, 'basic/user-data'), 'utf8'));
  expect(data.vendorData?.toString()).toBe('#cloud-config\npackages: [curl]\n');
  expect(data.network?.kind).toBe('cloudinit');
  // The "network:" wrapper is gone: the data starts at version.
  if (data.network?.kind === 'cloudinit') expect((data.network.data as { version: number }).version).toBe(2);
  expect(data.problems).toEqual([]);
}

describe('nocloud from labelled media', () => {
  it('reads a cidata ISO made by xorriso and by genisoimage (as cloud-localds does)', async () => {
    for (const tool of ['xorriso', 'genisoimage'] as const) {
      const iso = buildIso(path.join(FIX, 'basic'), { label: 'cidata', tool, joliet: true, rockRidge: true });
      const data = await detectAndRead(machine([{ label: 'cidata', image: iso }]));
      expectBasic(data);
      expect(data.source).toBe('/dev/disk/by-label/cidata');
      if (data.network?.kind === 'cloudinit') expect(data.network.origin).toBe('/dev/disk/by-label/cidata:/network-config');
    }
  });

  it('reads a vfat volume labelled CIDATA', async () => {
    const img = buildFatImage(path.join(FIX, 'basic'), { label: 'CIDATA' });
    expectBasic(await detectAndRead(machine([{ label: 'CIDATA', image: img, dev: 'vdb' }])));
  });

  it('maps public-keys given as a map and network-interfaces (ENI text)', async () => {
    const iso = buildIso(path.join(FIX, 'eni'), { label: 'cidata', tool: 'genisoimage', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([{ label: 'cidata', image: iso }]));
    expect(data.hostname).toBe('eni-host');
    expect(data.publicKeys).toEqual(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrace grace@example', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABHeidi heidi@example']);
    expect(data.network?.kind).toBe('eni');
    if (data.network?.kind === 'eni') expect(data.network.text).toContain('address 198.51.100.7');
    expect(data.vendorData).toBeUndefined();
  });

  it('derives the instance id from the content when meta-data has none (clones with other seeds differ)', async () => {
    const iso = buildIso(path.join(FIX, 'no-id'), { label: 'cidata', tool: 'xorriso', joliet: true, rockRidge: true });
    const a = await detectAndRead(machine([{ label: 'cidata', image: iso }]));
    const again = await detectAndRead(machine([{ label: 'cidata', image: iso }]));
    expect(a.instanceId).toMatch(/^nocloud-[0-9a-f]{16}$/);
    expect(again.instanceId).toBe(a.instanceId);
    expect(a.instanceIdRule).toContain('SHA-256');
    expect(a.publicKeys).toEqual(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIvan ivan@example']);
    const other = await detectAndRead(machine([]), { seed: path.join(FIX, 'eni') });
    expect(other.instanceId).not.toBe(a.instanceId);
  });

  it('rejects meta-data that is not YAML, naming the medium, file and line', async () => {
    const iso = buildIso(path.join(FIX, 'bad-yaml'), { label: 'cidata', tool: 'xorriso', joliet: true, rockRidge: true });
    const err = await readError(machine([{ label: 'cidata', image: iso }]));
    expect(err).toBeInstanceOf(DatasourceError);
    expect(err.source).toMatch(/^\/dev\/disk\/by-label\/cidata:\/meta-data:\d+$/);
    expect(err.message).toMatch(/not valid YAML/);
  });

  it('rejects meta-data that is YAML but not a mapping, and a medium without meta-data', async () => {
    const dir = makeTempRoot({ minimal: true });
    harness.track(dir);
    dir.write('meta-data', '- just\n- a list\n');
    const iso = buildIso(dir.dir, { label: 'cidata', tool: 'xorriso', rockRidge: true });
    const err = await readError(machine([{ label: 'cidata', image: iso }]));
    expect(err.message).toMatch(/expected a YAML mapping, found a list/);

    const empty = makeTempRoot({ minimal: true });
    harness.track(empty);
    empty.write('user-data', '#!/bin/sh\n');
    const iso2 = buildIso(empty.dir, { label: 'cidata', tool: 'xorriso', rockRidge: true });
    const err2 = await readError(machine([{ label: 'cidata', image: iso2 }]));
    expect(err2.source).toBe('/dev/disk/by-label/cidata:/meta-data');
  });

  it('is not found without a label, seed folder or ds=nocloud, and says so', async () => {
    const d = await noCloud.detect(await contextOf(machine([])));
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('no cidata filesystem');
  });
});

describe('nocloud seed folders and the command line', () => {
  it('reads cloud-init seed folders in the guest, ours first', async () => {
    const root = machine([]);
    cpSync(path.join(FIX, 'eni'), root.file('var/lib/cloud/seed/nocloud-net'), { recursive: true });
    expect((await detectAndRead(root)).instanceId).toBe('iid-eni');
    cpSync(path.join(FIX, 'no-id'), root.file('var/lib/cloud/seed/nocloud'), { recursive: true });
    expect((await detectAndRead(root)).hostname).toBe('no-id-host');
    cpSync(path.join(FIX, 'basic'), root.file('var/lib/guestctx/seed/nocloud'), { recursive: true });
    const data = await detectAndRead(root);
    expectBasic(data);
    expect(data.source).toBe('/var/lib/guestctx/seed/nocloud');
    if (data.network?.kind === 'cloudinit') expect(data.network.origin).toBe('/var/lib/guestctx/seed/nocloud/network-config');
  });

  it('prefers a seed folder to a cidata medium', async () => {
    const iso = buildIso(path.join(FIX, 'eni'), { label: 'cidata', tool: 'xorriso', rockRidge: true });
    const root = machine([{ label: 'cidata', image: iso }]);
    cpSync(path.join(FIX, 'basic'), root.file('var/lib/cloud/seed/nocloud'), { recursive: true });
    expect((await detectAndRead(root)).instanceId).toBe('iid-local01');
  });

  it('follows ds=nocloud;s=file:///path/ and applies i= and h= over meta-data', async () => {
    const root = machine([], 'root=/dev/vda ro "ds=nocloud;s=file:///srv/seed/;i=iid-cmdline;h=from-cmdline" quiet');
    cpSync(path.join(FIX, 'basic'), root.file('srv/seed'), { recursive: true });
    const data = await detectAndRead(root);
    expect(data.instanceId).toBe('iid-cmdline');
    expect(data.instanceIdRule).toContain('kernel command line');
    expect(data.hostname).toBe('from-cmdline');
    expect(data.userData?.toString()).toContain('from-nocloud');
    expect(data.source).toBe('/srv/seed/');
  });

  it('takes the same string from the SMBIOS serial number', async () => {
    const root = machine([]);
    root.write('sys/class/dmi/id/product_serial', 'ds=nocloud;s=/seed/\n');
    cpSync(path.join(FIX, 'eni'), root.file('seed'), { recursive: true });
    expect((await detectAndRead(root)).instanceId).toBe('iid-eni');
  });

  it('accepts i= and h= alone as a seed of their own', async () => {
    const data = await detectAndRead(machine([], 'ds=nocloud;i=iid-only;h=only-host'));
    expect(data.instanceId).toBe('iid-only');
    expect(data.hostname).toBe('only-host');
    expect(data.userData).toBeUndefined();
  });

  it('refuses a seedfrom that is neither a folder nor http(s)', async () => {
    const d = await noCloud.detect(await contextOf(machine([], 'ds=nocloud;s=ftp://host/seed/')));
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('neither a folder');
    expect(seedTarget('https://h/x')).toEqual({ url: 'https://h/x/' });
    expect(seedTarget('file:///a%20b/')).toEqual({ dir: '/a b/' });
  });

  it('honours a --seed folder and image, and reports a seed without meta-data', async () => {
    expectBasic(await detectAndRead(machine([]), { seed: path.join(FIX, 'basic') }));
    const img = buildFatImage(path.join(FIX, 'basic'), { label: 'CIDATA' });
    expectBasic(await detectAndRead(machine([]), { seed: img }));
    const d = await noCloud.detect(await contextOf(machine([]), { seed: path.join(FIX, '..') }));
    expect(d).toEqual({ found: false, evidence: expect.stringContaining('has no meta-data') as unknown });
  });
});

describe('nocloud over HTTP (ds=nocloud;s=http://...)', () => {
  let server: http.Server;
  let base = '';
  const requests: string[] = [];
  const files = new Map<string, string>([
    ['/seed/meta-data', readFileSync(path.join(FIX, 'basic/meta-data'), 'utf8')],
    ['/seed/user-data', readFileSync(path.join(FIX, 'basic/user-data'), 'utf8')],
    ['/seed/vendor-data', readFileSync(path.join(FIX, 'basic/vendor-data'), 'utf8')],
    ['/broken/meta-data', 'instance-id: iid-broken\n'],
  ]);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      if (url.startsWith('/slow/')) return; // never answers: the budget must end the wait
      if (url === '/broken/user-data') {
        res.writeHead(500).end('oops');
        return;
      }
      const body = files.get(url);
      if (body === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fetches meta-data, user-data, vendor-data and network-config (404 = absent)', async () => {
    requests.length = 0;
    const data = await detectAndRead(machine([], `ds=nocloud;s=${base}/seed/;h=http-host`));
    expect(data.instanceId).toBe('iid-local01');
    expect(data.hostname).toBe('http-host');
    expect(data.userData?.toString()).toContain('from-nocloud');
    expect(data.vendorData?.toString()).toContain('curl');
    expect(data.network).toBeUndefined();
    expect(data.medium).toBeUndefined();
    expect(data.source).toBe(`${base}/seed/`);
    expect(requests).toEqual(['/seed/meta-data', '/seed/user-data', '/seed/vendor-data', '/seed/network-config']);
  });

  it('adds the trailing slash cloud-init requires and accepts the old nocloud-net spelling', async () => {
    const data = await detectAndRead(machine([], `ds=nocloud-net;s=${base}/seed`));
    expect(data.instanceId).toBe('iid-local01');
  });

  it('fails on a server error, naming the URL', async () => {
    const err = await readError(machine([], `ds=nocloud;s=${base}/broken/`));
    expect(err).toBeInstanceOf(DatasourceError);
    expect(err.source).toBe(`${base}/broken/user-data`);
    expect(err.message).toContain('HTTP 500');
  });

  it('fails when meta-data is missing', async () => {
    const err = await readError(machine([], `ds=nocloud;s=${base}/nothing/`));
    expect(err.source).toBe(`${base}/nothing/meta-data`);
    expect(err.message).toContain('HTTP 404');
  });

  it('gives up on a server that never answers within the network budget', async () => {
    const started = Date.now();
    const err = await readError(machine([], `ds=nocloud;s=${base}/slow/`), { networkBudgetMs: 300 });
    expect(err).toBeInstanceOf(DatasourceError);
    expect(err.source).toBe(`${base}/slow/meta-data`);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('nocloud parsing helpers', () => {
  it('splits the command line with grub-style quotes', () => {
    expect(cmdlineWords('a "ds=nocloud;s=/x y/" b')).toEqual(['a', 'ds=nocloud;s=/x y/', 'b']);
    expect(noCloudFromCmdline('ro ds=nocloud;seedfrom=/s/;instance-id=i1;local-hostname=h1')).toMatchObject({ ds: 'nocloud', seedfrom: '/s/', instanceId: 'i1', hostname: 'h1' });
    expect(noCloudFromCmdline('ds=ec2')).toBeUndefined();
    expect(noCloudFromCmdline('')).toBeUndefined();
  });

  it('keeps a network-config without wrapper and refuses a non-mapping', () => {
    expect(parseNetworkConfig(Buffer.from('version: 1\nconfig: []\n'), 'x')).toEqual({ version: 1, config: [] });
    expect(parseNetworkConfig(Buffer.from('network: {version: 2}\n'), 'x')).toEqual({ version: 2 });
    expect(parseNetworkConfig(Buffer.from(''), 'x')).toBeUndefined();
    expect(() => parseNetworkConfig(Buffer.from('- a\n'), 'nc')).toThrow(/expected a YAML mapping/);
  });
});

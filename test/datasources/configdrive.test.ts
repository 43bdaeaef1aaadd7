// The OpenStack config drive read from real media: ISO9660 images made with
// xorriso and genisoimage, vfat images made with mkfs.vfat + mtools, each put
// in a fake machine (/dev/disk/by-label/<label> -> /dev/sr0 or /dev/vdb) and
// read the way the guest reads its own devices.
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configDrive, openStackKeys, pickVersion, vendorPayload } from '../../datasources/configdrive';
import { DatasourceError } from '../../src/errors';
import type { InstanceData } from '../../src/types';
import { buildFatImage, cleanupFatImages } from '../helpers/fat-images';
import { buildIso } from '../helpers/iso-images';
import { datasourceHarness } from '../helpers/datasource-harness';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.resolve(__dirname, '../fixtures/datasources/configdrive');
const harness = datasourceHarness();

/** A fake guest: the image is /dev/<dev>, udev's by-label link points at it. */
function machine(media: { label: string; image: string; dev?: string }[], cmdline = ''): TempRoot {
  const root = makeTempRoot();
  harness.track(root);
  mkdirSync(root.file('dev/disk/by-label'), { recursive: true });
  for (const [i, m] of media.entries()) {
    const dev = m.dev ?? (i === 0 ? 'sr0' : `vd${String.fromCharCode(98 + i)}`);
    copyFileSync(m.image, root.file(`dev/${dev}`));
    symlinkSync(`../../${dev}`, root.file(`dev/disk/by-label/${m.label}`));
  }
  if (cmdline) root.write('proc/cmdline', `${cmdline}\n`);
  return root;
}

const contextOf = (root: TempRoot, seed?: string) => harness.contextOf(root, seed !== undefined ? { seed } : {});
const detectAndRead = (root: TempRoot, seed?: string): Promise<InstanceData> => harness.detectAndRead(configDrive, root, seed !== undefined ? { seed } : {});
afterAll(() => cleanupFatImages());

/** What every medium holding the v2 fixture must yield, whatever tool wrote it. */
function expectV2(data: InstanceData, source: string): void {
  expect(data.datasource).toBe('configdrive');
  expect(data.source).toBe(source);
  expect(data.instanceId).toBe('83679162-1378-4288-a2d4-70e13ec132aa');
  expect(data.instanceIdRule).toContain('uuid');
  expect(data.hostname).toBe('web-1.novalocal');
  // public_keys and keys name alice twice: one copy; the x509 entry is not an SSH key.
  expect(data.publicKeys).toEqual([
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice@example',
    'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABBob bob@example',
  ]);
  expect(data.userData?.toString()).toBe('#cloud-config\nruncmd:\n  - [touch, /run/from-config-drive]\n');
  expect(data.vendorData?.toString()).toBe('#cloud-config\npackages: [htop]\n');
  expect(data.network?.kind).toBe('openstack');
  if (data.network?.kind === 'openstack') {
    expect((data.network.data as { networks: { ip_address: string }[] }).networks[0]?.ip_address).toBe('10.0.0.5');
    expect(data.network.origin).toBe(`${source}:/openstack/latest/network_data.json`);
  }
  expect(data.files?.map((f) => [f.path, f.content.toString()])).toEqual([
    ['/etc/motd', 'Welcome to web-1\n'],
    ['/root/notes.txt', 'notes for root\n'],
  ]);
  // The escaping content_path and the missing content file are reported, not followed or fatal.
  const problems = data.problems.map((p) => p.describe());
  expect(problems.some((p) => p.includes('files[2]') && p.includes('not under openstack/content/'))).toBe(true);
  expect(problems.some((p) => p.includes('/openstack/content/0009') && p.includes('/etc/missing'))).toBe(true);
  expect(problems.some((p) => p.includes('vendor_data2.json'))).toBe(true);
  expect(data.raw['admin_pass']).toBe('s3cret-admin');
  expect(data.raw['metadata_version']).toBe('latest');
  expect(data.secretKeys).toEqual(expect.arrayContaining(['admin_pass', 'random_seed']));
}

describe('configdrive datasource', () => {
  it('reads an ISO9660 config-2 drive made by xorriso (Rock Ridge + Joliet)', async () => {
    const iso = buildIso(path.join(FIX, 'v2'), { label: 'config-2', tool: 'xorriso', joliet: true, rockRidge: true });
    const root = machine([{ label: 'config-2', image: iso }]);
    expectV2(await detectAndRead(root), '/dev/disk/by-label/config-2');
  });

  it('reads the same drive made by genisoimage as nova does (-J -r), and Joliet-only', async () => {
    for (const rockRidge of [true, false]) {
      const iso = buildIso(path.join(FIX, 'v2'), { label: 'config-2', tool: 'genisoimage', joliet: true, rockRidge });
      const root = machine([{ label: 'config-2', image: iso }]);
      expectV2(await detectAndRead(root), '/dev/disk/by-label/config-2');
    }
  });

  it('reads a vfat drive labelled CONFIG-2 on a second disk', async () => {
    const img = buildFatImage(path.join(FIX, 'v2'), { label: 'CONFIG-2' });
    const root = machine([{ label: 'CONFIG-2', image: img, dev: 'vdb' }]);
    expectV2(await detectAndRead(root), '/dev/disk/by-label/CONFIG-2');
  });

  it('picks the newest dated version when latest/ is absent', async () => {
    const img = buildFatImage(path.join(FIX, 'dated'), { label: 'config-2' });
    const root = machine([{ label: 'config-2', image: img, dev: 'vdb' }]);
    const data = await detectAndRead(root);
    expect(data.instanceId).toBe('uuid-2018-08-27');
    expect(data.hostname).toBe('newer');
    expect(data.raw['metadata_version']).toBe('2018-08-27');
    expect(data.userData?.toString()).toBe('user data of 2018\n');
    expect(data.files?.[0]?.content.toString()).toBe('dated issue\n');
    expect(data.network).toBeUndefined();
    expect(data.vendorData).toBeUndefined();
  });

  it('prefers latest/ over older dated folders', async () => {
    const iso = buildIso(path.join(FIX, 'v2'), { label: 'config-2', tool: 'xorriso', joliet: true, rockRidge: true });
    const root = machine([{ label: 'config-2', image: iso }]);
    const ctx = await contextOf(root);
    const d = await configDrive.detect(ctx);
    const data = await configDrive.read(ctx, d);
    expect(data.instanceId).not.toBe('old-2012-uuid');
    // pickVersion on a folder volume sees the same choice.
    expect(await pickVersion(hostOn(root).localDirVolume(path.join(FIX, 'dated'), ''))).toBe('2018-08-27');
  });

  it('reads the old config-drive-v1 layout (meta.js, authorized_keys, interfaces)', async () => {
    const img = buildFatImage(path.join(FIX, 'v1'), { label: 'config-2' });
    const root = machine([{ label: 'config-2', image: img, dev: 'vdb' }]);
    const data = await detectAndRead(root);
    expect(data.instanceId).toBe('i-v1-0001');
    expect(data.userData?.toString()).toBe('#!/bin/sh\necho v1 user data\n');
    expect(data.publicKeys).toEqual(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICarol carol@example', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABDave dave@example']);
    expect(data.network).toEqual({ kind: 'eni', text: expect.stringContaining('address 192.0.2.10') as unknown, origin: '/dev/disk/by-label/config-2:/etc/network/interfaces' });
    expect(data.raw['dsmode']).toBe('local');
    expect(data.raw['user-data']).toBeUndefined();
  });

  it('honours a --seed folder and says why when it has no config drive', async () => {
    const root = machine([]);
    const data = await detectAndRead(root, path.join(FIX, 'v2'));
    expect(data.instanceId).toBe('83679162-1378-4288-a2d4-70e13ec132aa');
    expect(data.source).toBe(path.join(FIX, 'v2'));

    const ctx = await contextOf(root, path.join(FIX, 'v1', 'etc'));
    const d = await configDrive.detect(ctx);
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('neither openstack/');
  });

  it('honours a --seed image file', async () => {
    const iso = buildIso(path.join(FIX, 'v2'), { label: 'config-2', tool: 'xorriso', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([]), iso);
    expectV2(data, iso);
  });

  it('is not found without a config-2 label, and says so', async () => {
    const iso = buildIso(path.join(FIX, 'v2'), { label: 'OTHER', tool: 'xorriso', rockRidge: true });
    const ctx = await contextOf(machine([{ label: 'OTHER', image: iso }]));
    const d = await configDrive.detect(ctx);
    expect(d).toEqual({ found: false, evidence: expect.stringContaining('no filesystem labelled config-2') as unknown });
  });

  it('rejects meta_data.json that is not JSON, naming the medium and the file', async () => {
    const iso = buildIso(path.join(FIX, 'bad-json'), { label: 'config-2', tool: 'genisoimage', joliet: true, rockRidge: true });
    const root = machine([{ label: 'config-2', image: iso }]);
    const ctx = await contextOf(root);
    const d = await configDrive.detect(ctx);
    const err = await configDrive.read(ctx, d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasourceError);
    expect((err as DatasourceError).source).toBe('/dev/disk/by-label/config-2:/openstack/latest/meta_data.json');
    expect((err as DatasourceError).message).toMatch(/not valid JSON/);
  });

  it('fails the read of a config-2 medium that holds neither layout', async () => {
    const iso = buildIso(path.join(FIX, 'v2', 'ec2'), { label: 'config-2', tool: 'xorriso', rockRidge: true });
    const root = machine([{ label: 'config-2', image: iso }]);
    const ctx = await contextOf(root);
    const d = await configDrive.detect(ctx);
    await expect(configDrive.read(ctx, d)).rejects.toThrow(/neither openstack\/<version>\/meta_data.json nor config-drive-v1/);
  });

  it('never throws from detect, even when the labelled device is not a filesystem', async () => {
    const root = machine([]);
    root.write('dev/sr0', 'not a filesystem');
    symlinkSync('../../sr0', root.file('dev/disk/by-label/config-2'));
    const ctx = await contextOf(root);
    const d = await configDrive.detect(ctx);
    expect(d.found).toBe(true);
    await expect(configDrive.read(ctx, d)).rejects.toBeInstanceOf(DatasourceError);
  });
});

describe('config drive helpers', () => {
  it('takes vendor data from a string, a cloud-init key, or a vendor_data2 service', () => {
    expect(vendorPayload('#cloud-config\n{}\n')?.toString()).toBe('#cloud-config\n{}\n');
    expect(vendorPayload({ 'cloud-init': '#!/bin/sh\n' })?.toString()).toBe('#!/bin/sh\n');
    expect(vendorPayload({ 'cloud-init': { packages: ['x'] } })?.toString()).toMatch(/^#cloud-config\n/);
    expect(vendorPayload({ svc: { 'cloud-init': 'nested' } })?.toString()).toBe('nested');
    expect(vendorPayload({ other: 1 })).toBeUndefined();
    expect(vendorPayload(null)).toBeUndefined();
  });

  it('collects keys from public_keys and ssh entries of keys, once each', () => {
    expect(openStackKeys({ public_keys: { a: 'k1\n' }, keys: [{ type: 'ssh', data: 'k1' }, { type: 'ssh', data: 'k2' }, { data: 'k3' }] })).toEqual(['k1', 'k2', 'k3']);
    expect(openStackKeys({})).toEqual([]);
  });
});

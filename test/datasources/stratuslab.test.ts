// StratusLab's three shapes on real media in a fake machine: the _STRATUSLAB
// CD (genisoimage -J -R as StratusLab's TMContext built it, and xorriso), the
// CONTEXT_METHOD=cloud-init variables in its context.sh, and the _CLOUD_INIT
// vfat disk in the config-drive-v1 layout; plus the limits and bad input.
import { copyFileSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openNebula } from '../../datasources/opennebula';
import { STRATUSLAB_MAX_GZIP_BYTES, applyStratusLabCloudInit, stratusLab, stratusLabCloudInit } from '../../datasources/stratuslab';
import { DatasourceError, LimitError } from '../../src/errors';
import type { InstanceData } from '../../src/types';
import { buildFatImage, cleanupFatImages } from '../helpers/fat-images';
import { buildIso } from '../helpers/iso-images';
import { datasourceHarness } from '../helpers/datasource-harness';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.resolve(__dirname, '../fixtures/datasources/stratuslab');
const harness = datasourceHarness();

function machine(media: { label: string; image: string; dev?: string }[]): TempRoot {
  const root = makeTempRoot();
  harness.track(root);
  mkdirSync(root.file('dev/disk/by-label'), { recursive: true });
  for (const [i, m] of media.entries()) {
    const dev = m.dev ?? (i === 0 ? 'sr0' : 'vdb');
    copyFileSync(m.image, root.file(`dev/${dev}`));
    symlinkSync(`../../${dev}`, root.file(`dev/disk/by-label/${m.label}`));
  }
  return root;
}

/** A folder holding the fixture CD plus extra context.sh lines (for the cloud-init method). */
function cdDir(extra = ''): string {
  const dir = makeTempRoot({ minimal: true });
  harness.track(dir);
  cpSync(path.join(FIX, 'cd'), dir.dir, { recursive: true });
  if (extra) dir.write('context.sh', `${dir.read('context.sh')}${extra}`);
  return dir.dir;
}

const contextOf = (root: TempRoot, seed?: string) => harness.contextOf(root, seed !== undefined ? { seed } : {});
const detectAndRead = (root: TempRoot, seed?: string): Promise<InstanceData> => harness.detectAndRead(stratusLab, root, seed !== undefined ? { seed } : {});
afterAll(() => cleanupFatImages());

const USER_DATA = '#!/bin/sh\necho "hello from StratusLab" > /run/sl\n';
const KEYS_TEXT = 'Comment: "rsa-key-20130101"\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABKen ken@example\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILiz liz@example\n';
const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

function cloudInitLines(userData: Buffer = gzipSync(USER_DATA)): string {
  return `CONTEXT_METHOD="cloud-init"\nCLOUD_INIT_AUTHORIZED_KEYS="${b64(KEYS_TEXT)}"\nCLOUD_INIT_USER_DATA="${b64(userData)}"\n`;
}

describe('stratuslab: the _STRATUSLAB context CD', () => {
  it('reads context.sh like OpenNebula, under its own label (genisoimage -J -R and xorriso)', async () => {
    for (const tool of ['genisoimage', 'xorriso'] as const) {
      const iso = buildIso(cdDir(), { label: '_STRATUSLAB', tool, joliet: true, rockRidge: true, rockRidgeFlag: '-R' });
      const data = await detectAndRead(machine([{ label: '_STRATUSLAB', image: iso }]));
      expect(data.datasource).toBe('stratuslab');
      expect(data.source).toBe('/dev/disk/by-label/_STRATUSLAB');
      expect(data.instanceId).toBe('42');
      expect(data.context?.get('ETH0_IP')).toBe('10.1.2.3');
      expect(data.context?.get('PUBLIC_KEY')).toContain('judy@example');
      expect(data.userData).toBeUndefined();
      expect(data.problems).toEqual([]);
    }
  });

  it('decodes CONTEXT_METHOD=cloud-init: gzip user-data and authorized keys', async () => {
    const iso = buildIso(cdDir(cloudInitLines()), { label: '_STRATUSLAB', tool: 'genisoimage', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([{ label: '_STRATUSLAB', image: iso }]));
    expect(data.userData?.toString()).toBe(USER_DATA);
    // The SSH2 "Comment:" line is not a key.
    expect(data.publicKeys).toEqual(['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABKen ken@example', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILiz liz@example']);
    expect(data.secretKeys).toContain('CLOUD_INIT_USER_DATA');
    expect(data.raw['CONTEXT_METHOD']).toBe('cloud-init');
  });

  it('refuses compressed user-data over 16 KiB with a clear error', async () => {
    // Random bytes do not compress: the gzip is a little over 17 KiB.
    const big = gzipSync(randomBytes(17 * 1024));
    expect(big.length).toBeGreaterThan(STRATUSLAB_MAX_GZIP_BYTES);
    const iso = buildIso(cdDir(cloudInitLines(big)), { label: '_STRATUSLAB', tool: 'xorriso', joliet: true, rockRidge: true });
    const ctx = await contextOf(machine([{ label: '_STRATUSLAB', image: iso }]));
    const err = await stratusLab.read(ctx, await stratusLab.detect(ctx)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).source).toBe('/dev/disk/by-label/_STRATUSLAB:/context.sh CLOUD_INIT_USER_DATA');
    expect((err as LimitError).message).toMatch(/compressed user-data is \d+ bytes, more than StratusLab's limit of 16384/);
  });

  it('applies the cloud-init method to a context read by the OpenNebula datasource too', async () => {
    const iso = buildIso(cdDir(cloudInitLines()), { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true });
    const ctx = await contextOf(machine([{ label: 'CONTEXT', image: iso }]));
    expect((await stratusLab.detect(ctx)).found).toBe(false);
    const one = await openNebula.read(ctx, await openNebula.detect(ctx));
    const applied = applyStratusLabCloudInit(one, 'CONTEXT:/context.sh');
    expect(applied.datasource).toBe('opennebula');
    expect(applied.userData?.toString()).toBe(USER_DATA);
    expect(applied.publicKeys).toHaveLength(2);
    // Without the method, InstanceData is returned as it was.
    const plain = { ...one, context: new Map([['VMID', '1']]) };
    expect(applyStratusLabCloudInit(plain, 'x')).toBe(plain);
  });

  it('keeps bad lines of context.sh as problems, and fails only when nothing is usable', async () => {
    const iso = buildIso(cdDir('for x in a b; do echo $x; done\n'), { label: '_STRATUSLAB', tool: 'xorriso', rockRidge: true });
    const data = await detectAndRead(machine([{ label: '_STRATUSLAB', image: iso }]));
    expect(data.instanceId).toBe('42');
    expect(data.problems.length).toBeGreaterThan(0);
    expect(data.problems[0]?.source).toMatch(/_STRATUSLAB:\/context\.sh:\d+$/);

    const junk = makeTempRoot({ minimal: true });
    harness.track(junk);
    junk.write('context.sh', '<html><body>502 Bad Gateway</body></html>\n');
    const iso2 = buildIso(junk.dir, { label: '_STRATUSLAB', tool: 'xorriso', rockRidge: true });
    const ctx = await contextOf(machine([{ label: '_STRATUSLAB', image: iso2 }]));
    await expect(stratusLab.read(ctx, await stratusLab.detect(ctx))).rejects.toThrow(/not a usable context/);
  });
});

describe('stratuslab: the _CLOUD_INIT disk', () => {
  it('reads meta.js, root authorized_keys and interfaces from vfat', async () => {
    const img = buildFatImage(path.join(FIX, 'cloud-init-disk'), { label: '_CLOUD_INIT' });
    const data = await detectAndRead(machine([{ label: '_CLOUD_INIT', image: img, dev: 'vdb' }]));
    expect(data.datasource).toBe('stratuslab');
    expect(data.source).toBe('/dev/disk/by-label/_CLOUD_INIT');
    expect(data.userData?.toString()).toContain('echo stratuslab');
    expect(data.publicKeys).toEqual(['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABMallory mallory@example']);
    expect(data.network).toEqual({ kind: 'eni', text: 'auto eth0\niface eth0 inet dhcp\n', origin: '/dev/disk/by-label/_CLOUD_INIT:/etc/network/interfaces' });
    expect(data.raw['dsmode']).toBe('local');
    expect(data.instanceId).toMatch(/^stratuslab-[0-9a-f]{16}$/);
  });

  it('rejects a meta.js that is not JSON', async () => {
    const dir = makeTempRoot({ minimal: true });
    harness.track(dir);
    cpSync(path.join(FIX, 'cloud-init-disk'), dir.dir, { recursive: true });
    dir.write('meta.js', "{'user-data': 'single quotes are not JSON'}\n");
    const img = buildFatImage(dir.dir, { label: '_CLOUD_INIT' });
    const ctx = await contextOf(machine([{ label: '_CLOUD_INIT', image: img, dev: 'vdb' }]));
    const err = await stratusLab.read(ctx, await stratusLab.detect(ctx)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasourceError);
    expect((err as DatasourceError).source).toBe('/dev/disk/by-label/_CLOUD_INIT:/meta.js');
  });
});

describe('stratuslab detection and seeds', () => {
  it('claims a --seed whose context asks for cloud-init, not a plain OpenNebula one', async () => {
    const data = await detectAndRead(machine([]), cdDir(cloudInitLines()));
    expect(data.userData?.toString()).toBe(USER_DATA);
    const ctx = await contextOf(machine([]), cdDir());
    expect(await stratusLab.detect(ctx)).toEqual({ found: false, evidence: expect.stringContaining('neither a _STRATUSLAB CD') as unknown });
  });

  it('claims labelled seed images', async () => {
    const iso = buildIso(cdDir(), { label: '_STRATUSLAB', tool: 'genisoimage', joliet: true, rockRidge: true });
    expect((await detectAndRead(machine([]), iso)).instanceId).toBe('42');
    const img = buildFatImage(path.join(FIX, 'cloud-init-disk'), { label: '_CLOUD_INIT' });
    expect((await detectAndRead(machine([]), img)).publicKeys).toHaveLength(1);
  });

  it('is not found without its labels, and says so', async () => {
    const d = await stratusLab.detect(await contextOf(machine([])));
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('_STRATUSLAB or _CLOUD_INIT');
  });
});

describe('stratusLabCloudInit', () => {
  const vars = (m: Record<string, string>): Map<string, string> => new Map(Object.entries(m));

  it('does nothing unless CONTEXT_METHOD is cloud-init', () => {
    expect(stratusLabCloudInit(vars({ CLOUD_INIT_USER_DATA: b64(gzipSync('x')) }))).toBeUndefined();
    expect(stratusLabCloudInit(vars({ CONTEXT_METHOD: 'Cloud-Init ' }))).toEqual({ publicKeys: [] });
  });

  it('bounds the inflated user-data', () => {
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(STRATUSLAB_MAX_GZIP_BYTES);
    expect(() => stratusLabCloudInit(vars({ CONTEXT_METHOD: 'cloud-init', CLOUD_INIT_USER_DATA: b64(bomb) }), 'ctx', { maxGzipBytes: 16384, maxUserDataBytes: 1024 * 1024 })).toThrow(LimitError);
  });

  it('names the variable when the text is not base64 or not gzip', () => {
    expect(() => stratusLabCloudInit(vars({ CONTEXT_METHOD: 'cloud-init', CLOUD_INIT_USER_DATA: 'not*base64' }), 'cd')).toThrow(/is not valid base64/);
    try {
      stratusLabCloudInit(vars({ CONTEXT_METHOD: 'cloud-init', CLOUD_INIT_USER_DATA: b64('plain text') }), 'cd');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DatasourceError);
      expect((err as DatasourceError).source).toBe('cd CLOUD_INIT_USER_DATA');
      expect((err as DatasourceError).message).toContain('not gzip');
    }
    expect(() => stratusLabCloudInit(vars({ CONTEXT_METHOD: 'cloud-init', CLOUD_INIT_AUTHORIZED_KEYS: '@@' }), 'cd')).toThrow(/CLOUD_INIT_AUTHORIZED_KEYS|base64/);
  });
});

// HEPiX context CDs on real ISO9660 images (xorriso, genisoimage) in a fake
// machine: told apart from plain OpenNebula CDs by prolog.sh / epilog.sh,
// EC2_USER_DATA, PUBLIC_KEY and ROOT_PUBKEY decoded, the scripts exposed.
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEPIX_SCRIPTS_KEY, ROOT_PUBLIC_KEYS_KEY, hepix, hepixScriptsOf } from '../../datasources/hepix';
import { openNebula } from '../../datasources/opennebula';
import { DatasourceError } from '../../src/errors';
import type { InstanceData } from '../../src/types';
import { buildIso } from '../helpers/iso-images';
import { datasourceHarness } from '../helpers/datasource-harness';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.resolve(__dirname, '../fixtures/datasources/hepix');
const harness = datasourceHarness();

function machine(media: { label: string; image: string }[]): TempRoot {
  const root = makeTempRoot();
  harness.track(root);
  mkdirSync(root.file('dev/disk/by-label'), { recursive: true });
  for (const [i, m] of media.entries()) {
    const dev = i === 0 ? 'sr0' : `sr${i}`;
    copyFileSync(m.image, root.file(`dev/${dev}`));
    symlinkSync(`../../${dev}`, root.file(`dev/disk/by-label/${m.label}`));
  }
  return root;
}

/** A copy of the HEPiX CD folder, with files changed or removed. */
function cdDir(change: (dir: TempRoot) => void = () => undefined): string {
  const dir = makeTempRoot({ minimal: true });
  harness.track(dir);
  cpSync(path.join(FIX, 'cd'), dir.dir, { recursive: true });
  change(dir);
  return dir.dir;
}

const contextOf = (root: TempRoot, seed?: string) => harness.contextOf(root, seed !== undefined ? { seed } : {});
const detectAndRead = (root: TempRoot, seed?: string): Promise<InstanceData> => harness.detectAndRead(hepix, root, seed !== undefined ? { seed } : {});

function expectHepix(data: InstanceData): void {
  expect(data.datasource).toBe('hepix');
  expect(data.instanceId).toBe('7');
  expect(data.context?.get('HOSTNAME')).toBe('hepix-wn-7');
  expect(data.userData?.toString()).toBe('#!/bin/sh\necho hepix user data > /run/hepix\n');
  const rootKeys = ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABRoot root@ui.example', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@site.example'];
  expect(data.raw[ROOT_PUBLIC_KEYS_KEY]).toEqual(rootKeys);
  expect(data.publicKeys).toEqual(rootKeys);
  const scripts = hepixScriptsOf(data);
  expect(scripts?.prolog?.content.toString()).toBe(readFileSync(path.join(FIX, 'cd/prolog.sh'), 'utf8'));
  expect(scripts?.epilog?.content.toString()).toContain('epilog > /run/hepix-epilog');
  expect(scripts?.init?.name).toBe('hepix-init.sh');
  expect(scripts?.prolog?.origin).toBe(`${data.source}:/prolog.sh`);
  expect(data.secretKeys).toEqual(expect.arrayContaining(['EC2_USER_DATA', HEPIX_SCRIPTS_KEY]));
  expect(data.problems).toEqual([]);
}

describe('hepix datasource', () => {
  it('reads a CONTEXT CD with prolog.sh and epilog.sh (xorriso and genisoimage)', async () => {
    for (const tool of ['xorriso', 'genisoimage'] as const) {
      const iso = buildIso(path.join(FIX, 'cd'), { label: 'CONTEXT', tool, joliet: true, rockRidge: true });
      const data = await detectAndRead(machine([{ label: 'CONTEXT', image: iso }]));
      expectHepix(data);
      expect(data.source).toBe('/dev/disk/by-label/CONTEXT');
    }
  });

  it('leaves a plain OpenNebula CD to the opennebula datasource', async () => {
    const iso = buildIso(path.join(FIX, 'opennebula-only'), { label: 'CONTEXT', tool: 'genisoimage', joliet: true, rockRidge: true });
    const ctx = await contextOf(machine([{ label: 'CONTEXT', image: iso }]));
    const d = await hepix.detect(ctx);
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('without prolog.sh or epilog.sh');
    const one = await openNebula.detect(ctx);
    expect(one.found).toBe(true);
  });

  it('finds a CD with only epilog.sh, under StratusLab\'s label', async () => {
    // Only context.sh, epilog.sh and root.pub: no prolog, no init.
    const only = makeTempRoot({ minimal: true });
    harness.track(only);
    for (const f of ['context.sh', 'epilog.sh', 'root.pub']) cpSync(path.join(FIX, 'cd', f), only.file(f));
    const iso = buildIso(only.dir, { label: '_STRATUSLAB', tool: 'genisoimage', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([{ label: '_STRATUSLAB', image: iso }]));
    const scripts = hepixScriptsOf(data);
    expect(scripts?.prolog).toBeUndefined();
    expect(scripts?.init).toBeUndefined();
    expect(scripts?.epilog).toBeDefined();
  });

  it('looks at every candidate label and says what it saw', async () => {
    const plain = buildIso(path.join(FIX, 'opennebula-only'), { label: 'CONTEXT', tool: 'xorriso', rockRidge: true });
    const real = buildIso(path.join(FIX, 'cd'), { label: 'CDROM', tool: 'xorriso', rockRidge: true });
    const ctx = await contextOf(
      machine([
        { label: 'CONTEXT', image: plain },
        { label: 'CDROM', image: real },
      ]),
    );
    const d = await hepix.detect(ctx);
    expect(d).toEqual({ found: true, evidence: expect.stringContaining('CDROM-labelled medium') as unknown, location: '/dev/disk/by-label/CDROM' });
  });

  it('honours a --seed folder', async () => {
    expectHepix(await detectAndRead(machine([]), path.join(FIX, 'cd')));
    const ctx = await contextOf(machine([]), path.join(FIX, 'opennebula-only'));
    expect((await hepix.detect(ctx)).found).toBe(false);
  });

  it('rejects EC2_USER_DATA that is not base64, naming the variable', async () => {
    const dir = cdDir((d) => d.write('context.sh', `${d.read('context.sh')}EC2_USER_DATA='not base64 at all!'\n`));
    const iso = buildIso(dir, { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true });
    const ctx = await contextOf(machine([{ label: 'CONTEXT', image: iso }]));
    const err = await hepix.read(ctx, await hepix.detect(ctx)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasourceError);
    expect((err as DatasourceError).source).toBe('/dev/disk/by-label/CONTEXT:/context.sh EC2_USER_DATA');
  });

  it('reports a ROOT_PUBKEY file missing from the CD and keeps PUBLIC_KEY', async () => {
    const dir = cdDir((d) => d.write('context.sh', d.read('context.sh').replace("ROOT_PUBKEY='root.pub'", "ROOT_PUBKEY='../../etc/shadow'")));
    const iso = buildIso(dir, { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([{ label: 'CONTEXT', image: iso }]));
    expect(data.raw[ROOT_PUBLIC_KEYS_KEY]).toEqual(['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABRoot root@ui.example']);
    expect(data.problems.map((p) => p.describe())).toEqual([expect.stringContaining('names /etc/shadow, which is not on the CD')]);
  });

  it('keeps unreadable context.sh lines as problems', async () => {
    const dir = cdDir((d) => d.write('context.sh', `${d.read('context.sh')}echo "run me" | sh\n`));
    const iso = buildIso(dir, { label: 'CONTEXT', tool: 'genisoimage', joliet: true, rockRidge: true });
    const data = await detectAndRead(machine([{ label: 'CONTEXT', image: iso }]));
    expect(data.instanceId).toBe('7');
    expect(data.problems.length).toBeGreaterThan(0);
  });

  it('is not found without a context CD, and says so', async () => {
    const d = await hepix.detect(await contextOf(machine([])));
    expect(d.found).toBe(false);
    expect(d.evidence).toContain('no filesystem labelled CONTEXT');
  });
});

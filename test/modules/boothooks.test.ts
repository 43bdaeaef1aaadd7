// The boothooks module against temp roots with a real shell: user-data built
// as real MIME (make-mime.py) and decoded by the real decoder; hooks really run
// chrooted, in order, with INSTANCE_ID and the context variables, header
// stripped; every run runs them again without touching any other file; a
// failing hook fails the module with its status while the others still run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { boothookBody, boothooks, planBoothooks } from '../../modules/boothooks';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { ModuleError } from '../../src/errors';
import { memoryLogger } from '../../src/log/logger';
import type { Host } from '../../src/host/host';
import type { InstanceData, ModuleContext } from '../../src/types';
import { decodeUserData } from '../../src/userdata';
import type { UserDataPart } from '../../src/userdata/types';
import { addShell } from '../helpers/chroot';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/scripts');
const HOOKS = '/var/lib/guestctx/instance/boothooks';
let root: TempRoot;
afterEach(() => root?.cleanup());

const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-77', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage: 'local', stateDir: '/var/lib/guestctx', applyLive: false };
}

async function fixtureParts(): Promise<UserDataPart[]> {
  const mime = execFileSync('python3', [path.join(__dirname, '../helpers/make-mime.py'), path.join(FIX, 'userdata/spec.json')]);
  const decoded = await decodeUserData(mime, { source: 'user-data' });
  expect(decoded.errors).toEqual([]);
  return decoded.parts;
}

function cfgWith(parts: readonly UserDataPart[]): GuestConfig {
  return { ...emptyGuestConfig('i-77'), parts, scriptEnv: new Map([['GREETING', 'hello world']]) };
}

function part(content: string, filename: string): UserDataPart {
  return { kind: 'boothook', contentType: 'text/cloud-boothook', filename, origin: `user-data (${filename})`, content: Buffer.from(content) };
}

function guest(shell = true): TempRoot {
  const r = makeTempRoot();
  if (shell) addShell(r.dir);
  mkdirSync(r.file('out'));
  return r;
}

const log = (): string[] => (existsSync(root.file('out/log')) ? root.read('out/log').trimEnd().split('\n') : []);

describe('boothookBody', () => {
  it.each([
    ['header then shebang', '#cloud-boothook\n#!/bin/bash\necho x\n', '#!/bin/bash\necho x\n'],
    ['DOS line ends', '#cloud-boothook\r\n#!/bin/sh\r\necho x\r\n', '#!/bin/sh\necho x\n'],
    ['blank lines after the header', '#cloud-boothook\n\n\n#!/bin/sh\n', '#!/bin/sh\n'],
    ['MIME type only, no header', '#!/bin/sh\necho y\n', '#!/bin/sh\necho y\n'],
    ['header without a shebang', '#cloud-boothook\necho z\n', 'echo z\n'],
  ])('%s', (_name, input, want) => {
    expect(boothookBody(Buffer.from(input)).toString()).toBe(want);
  });
});

describe('boothooks module', () => {
  it('is a local-stage module that runs on every boot, and has nothing to do without boothook parts', async () => {
    expect([boothooks.stage, boothooks.frequency]).toEqual(['local', 'always']);
    expect(planBoothooks(emptyGuestConfig('i-1'))).toBeUndefined();
    const nonHooks = (await fixtureParts()).filter((p) => p.kind !== 'boothook');
    expect(planBoothooks(cfgWith(nonHooks))).toBeUndefined();
  });

  it('runs every boothook part in order, chrooted, with INSTANCE_ID and the context variables, header stripped', async () => {
    root = guest();
    const plan = boothooks.parse(cfgWith(await fixtureParts()));
    expect(plan?.hooks.map((h) => h.name)).toEqual(['boothook-001-hook.sh', 'boothook-002-hook2.sh']);
    const out = await boothooks.run(ctxFor(hostOn(root)), plan!);
    expect(log()).toEqual(['hook1 i-77 hello world', `hook2 ${HOOKS}/boothook-002-hook2.sh`]);
    expect(root.read(`${HOOKS}/boothook-001-hook.sh`)).toBe('#!/bin/sh\necho "hook1 $INSTANCE_ID $GREETING" >> /out/log\n');
    expect(root.read(`${HOOKS}/boothook-002-hook2.sh`)).toBe('echo "hook2 $0" >> /out/log\n');
    for (const p of ['var/lib/guestctx', 'var/lib/guestctx/instance', HOOKS, `${HOOKS}/boothook-001-hook.sh`]) expect(root.mode(p), p).toBe(0o700);
    expect(out?.skipped).toBeUndefined();
    expect(out?.details?.scripts).toEqual([
      { name: 'boothook-001-hook.sh', origin: expect.stringContaining('hook.sh'), exitCode: 0 },
      { name: 'boothook-002-hook2.sh', origin: expect.stringContaining('hook2.sh'), exitCode: 0 },
    ]);
  });

  it('runs again on the next run (every boot) and changes no file besides what the hooks write', async () => {
    root = guest();
    const plan = boothooks.parse(cfgWith(await fixtureParts()))!;
    await boothooks.run(ctxFor(hostOn(root)), plan);
    const before = [hashTree(root.file('var')), hashTree(root.file('etc'))];
    await boothooks.run(ctxFor(hostOn(root)), plan);
    expect(log()).toHaveLength(4);
    expect(log()[2]).toBe('hook1 i-77 hello world');
    expect([hashTree(root.file('var')), hashTree(root.file('etc'))]).toEqual(before);
  });

  it('a failing hook fails the module with its exit status; the hooks after it still run', async () => {
    root = guest();
    const plan = boothooks.parse(cfgWith([part('#cloud-boothook\necho one >> /out/log\nexit 3\n', 'bad.sh'), part('#cloud-boothook\necho two >> /out/log\n', 'good.sh')]))!;
    const err = await boothooks.run(ctxFor(hostOn(root)), plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).message).toMatch(/1 of 2 script\(s\) failed: user-data \(bad\.sh\): exited with status 3/);
    expect((err as ModuleError).details?.scripts).toEqual([
      { name: 'boothook-001-bad.sh', origin: 'user-data (bad.sh)', error: 'user-data (bad.sh): exited with status 3' },
      { name: 'boothook-002-good.sh', origin: 'user-data (good.sh)', exitCode: 0 },
    ]);
    expect(log()).toEqual(['one', 'two']);
  });

  it('removes hooks of an earlier user-data from the hooks directory', async () => {
    root = guest();
    root.write(`${HOOKS}/boothook-009-old.sh`, 'echo old secret\n', 0o700);
    await boothooks.run(ctxFor(hostOn(root)), boothooks.parse(cfgWith([part('#cloud-boothook\necho new >> /out/log\n', 'new.sh')]))!);
    expect(existsSync(root.file(`${HOOKS}/boothook-009-old.sh`))).toBe(false);
    expect(existsSync(root.file(`${HOOKS}/boothook-001-new.sh`))).toBe(true);
    expect(log()).toEqual(['new']);
  });

  it('offline on a root without /bin/sh: skipped as needing the running guest, nothing written', async () => {
    root = guest(false);
    const before = hashTree(root.dir);
    const out = await boothooks.run(ctxFor(hostOn(root)), boothooks.parse(cfgWith(await fixtureParts()))!);
    expect(out?.skipped).toMatch(/needs the running guest/);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('a dry run records the hook commands and runs nothing', async () => {
    root = guest();
    const host = hostOn(root, { dryRun: true });
    await boothooks.run(ctxFor(host), boothooks.parse(cfgWith(await fixtureParts()))!);
    expect(existsSync(root.file('out/log'))).toBe(false);
    expect(existsSync(root.file(HOOKS))).toBe(false);
    const cmds = host.changes().filter((c) => c.kind === 'command');
    expect(cmds.map((c) => (c.kind === 'command' ? [c.argv, c.ran] : []))).toEqual([
      [[`${HOOKS}/boothook-001-hook.sh`], false],
      [['/bin/sh', `${HOOKS}/boothook-002-hook2.sh`], false],
    ]);
    expect(readFileSync(root.file('etc/hostname'), 'utf8')).toBe('debian\n');
  });
});

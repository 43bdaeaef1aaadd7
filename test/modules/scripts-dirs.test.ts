// scripts-per-boot / -per-instance / -per-once against temp roots with a real
// shell: the executables of guestctx's and cloud-init's directories run
// chrooted in lexical order, then the user-data parts of that frequency (real
// MIME, real decoder); non-executables are skipped with a warning; one failure
// fails the module with each failed script and status while the others run;
// running again runs again and writes no other file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptDirsFor, scriptsPerBoot, scriptsPerInstance, scriptsPerOnce, type ScriptsDirPlan } from '../../modules/scripts-dirs';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { ModuleError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, Module, ModuleContext } from '../../src/types';
import { decodeUserData } from '../../src/userdata';
import type { UserDataPart } from '../../src/userdata/types';
import { addShell } from '../helpers/chroot';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/scripts');
let root: TempRoot;
afterEach(() => root?.cleanup());

const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-5', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx', applyLive: false };
}

let parts: UserDataPart[] | undefined;
async function fixtureParts(): Promise<UserDataPart[]> {
  if (parts) return parts;
  const mime = execFileSync('python3', [path.join(__dirname, '../helpers/make-mime.py'), path.join(FIX, 'userdata/spec.json')]);
  parts = (await decodeUserData(mime, { source: 'user-data' })).parts;
  return parts;
}

async function cfg(withUserData = true): Promise<GuestConfig> {
  return { ...emptyGuestConfig('i-5'), parts: withUserData ? await fixtureParts() : [], scriptEnv: new Map([['GREETING', 'hi there']]) };
}

const script = (tag: string, status = 0): string => `#!/bin/sh\necho "${tag} $INSTANCE_ID $GREETING" >> /out/log\nexit ${status}\n`;

function guest(shell = true): TempRoot {
  const r = makeTempRoot();
  if (shell) addShell(r.dir);
  mkdirSync(r.file('out'));
  return r;
}

const log = (): string[] => (existsSync(root.file('out/log')) ? root.read('out/log').trimEnd().split('\n') : []);

async function run(mod: Module<ScriptsDirPlan>, host: Host, c: GuestConfig) {
  const ctx = ctxFor(host);
  const plan = mod.parse(c);
  expect(plan).toBeDefined();
  return { out: await mod.run(ctx, plan!), ctx };
}

describe('scripts-dirs modules', () => {
  it.each([
    [scriptsPerBoot, 'scripts-per-boot', 'always', 'per-boot'],
    [scriptsPerInstance, 'scripts-per-instance', 'per-instance', 'per-instance'],
    [scriptsPerOnce, 'scripts-per-once', 'once', 'per-once'],
  ] as const)('%#: %s runs in the final stage with frequency %s', (mod, name, freq, which) => {
    expect([mod.name, mod.stage, mod.frequency]).toEqual([name, 'final', freq]);
    expect(scriptDirsFor('/var/lib/guestctx', which)).toEqual([`/var/lib/guestctx/scripts/${which}`, `/var/lib/cloud/scripts/${which}`]);
  });

  it('per-boot: guestctx dir in lexical order, then cloud-init dir, then user-data per-boot parts; non-executables skipped with a warning', async () => {
    root = guest();
    root.write('var/lib/guestctx/scripts/per-boot/20-b', script('b'), 0o755);
    root.write('var/lib/guestctx/scripts/per-boot/10-a', '# no shebang: handed to /bin/sh\necho "a $PWD" >> /out/log\n', 0o700);
    root.write('var/lib/guestctx/scripts/per-boot/15-notes.txt', 'echo never >> /out/log\n', 0o644);
    mkdirSync(root.file('var/lib/guestctx/scripts/per-boot/sub.d'));
    root.write('var/lib/cloud/scripts/per-boot/05-ci', script('ci'), 0o755);
    const { out, ctx } = await run(scriptsPerBoot, hostOn(root), await cfg());
    expect(log()).toEqual(['a /', 'b i-5 hi there', 'ci i-5 hi there', 'ud-boot i-5']);
    expect(ctx.log.lines.join('\n')).toMatch(/15-notes\.txt is not executable; skipped/);
    expect((out?.details?.scripts as { name: string }[]).map((s) => s.name)).toEqual(['10-a', '20-b', '05-ci', 'user-data-001-boot.sh']);
    // The user-data script is stored privately, like user-scripts' ones.
    expect(root.mode('var/lib/guestctx/instance/scripts-per-boot/user-data-001-boot.sh')).toBe(0o700);
    expect(root.mode('var/lib/guestctx/instance/scripts-per-boot')).toBe(0o700);
  });

  it('per-instance runs its directories but never the per-instance user-data scripts (user-scripts runs those)', async () => {
    root = guest();
    root.write('var/lib/guestctx/scripts/per-instance/01-x', script('inst-dir'), 0o755);
    await run(scriptsPerInstance, hostOn(root), await cfg());
    expect(log()).toEqual(['inst-dir i-5 hi there']);
  });

  it('per-once runs its directory and the user-data per-once parts', async () => {
    root = guest();
    root.write('var/lib/cloud/scripts/per-once/run-me', script('once-dir'), 0o755);
    await run(scriptsPerOnce, hostOn(root), await cfg());
    expect(log()).toEqual(['once-dir i-5 hi there', 'ud-once']);
  });

  it('one failing script fails the module naming it and its status; the others still run', async () => {
    root = guest();
    root.write('var/lib/guestctx/scripts/per-boot/10-a', script('a', 4), 0o755);
    root.write('var/lib/guestctx/scripts/per-boot/20-b', script('b'), 0o755);
    root.write('var/lib/guestctx/scripts/per-boot/30-c', script('c', 9), 0o755);
    const err = await run(scriptsPerBoot, hostOn(root), await cfg(false)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    const e = err as ModuleError;
    expect(e.source).toBe('scripts-per-boot');
    expect(e.message).toContain('2 of 3 script(s) failed');
    expect(e.message).toContain('/var/lib/guestctx/scripts/per-boot/10-a: exited with status 4');
    expect(e.message).toContain('/var/lib/guestctx/scripts/per-boot/30-c: exited with status 9');
    expect(e.details?.scripts).toEqual([
      { name: '10-a', origin: '/var/lib/guestctx/scripts/per-boot/10-a', error: '/var/lib/guestctx/scripts/per-boot/10-a: exited with status 4' },
      { name: '20-b', origin: '/var/lib/guestctx/scripts/per-boot/20-b', exitCode: 0 },
      { name: '30-c', origin: '/var/lib/guestctx/scripts/per-boot/30-c', error: '/var/lib/guestctx/scripts/per-boot/30-c: exited with status 9' },
    ]);
    expect(log()).toEqual(['a i-5 hi there', 'b i-5 hi there', 'c i-5 hi there']);
  });

  it('follows a symlinked script inside the guest root and reports a dangling one', async () => {
    root = guest();
    root.write('usr/local/lib/site/hello', script('linked'), 0o755);
    mkdirSync(root.file('var/lib/guestctx/scripts/per-boot'), { recursive: true });
    symlinkSync('/usr/local/lib/site/hello', root.file('var/lib/guestctx/scripts/per-boot/50-hello'));
    symlinkSync('/nowhere', root.file('var/lib/guestctx/scripts/per-boot/60-gone'));
    const { ctx } = await run(scriptsPerBoot, hostOn(root), await cfg(false));
    expect(log()).toEqual(['linked i-5 hi there']);
    expect(ctx.log.lines.join('\n')).toMatch(/60-gone is a dangling symbolic link/);
  });

  it('nothing to run: skipped (so no marker is written and scripts added later still run)', async () => {
    root = guest();
    const { out } = await run(scriptsPerOnce, hostOn(root), await cfg(false));
    expect(out?.skipped).toMatch(/no scripts in \/var\/lib\/guestctx\/scripts\/per-once or \/var\/lib\/cloud\/scripts\/per-once/);
  });

  it('per-boot runs everything again on the next run and writes no other file', async () => {
    root = guest();
    root.write('var/lib/guestctx/scripts/per-boot/10-a', script('a'), 0o755);
    const c = await cfg();
    await run(scriptsPerBoot, hostOn(root), c);
    const before = [hashTree(root.file('var')), hashTree(root.file('etc'))];
    await run(scriptsPerBoot, hostOn(root), c);
    expect(log()).toEqual(['a i-5 hi there', 'ud-boot i-5', 'a i-5 hi there', 'ud-boot i-5']);
    expect([hashTree(root.file('var')), hashTree(root.file('etc'))]).toEqual(before);
  });

  it('offline without /bin/sh: skipped as needing the running guest, nothing written', async () => {
    root = guest(false);
    root.write('var/lib/guestctx/scripts/per-boot/10-a', script('a'), 0o755);
    const before = hashTree(root.dir);
    const { out } = await run(scriptsPerBoot, hostOn(root), await cfg());
    expect(out?.skipped).toMatch(/needs the running guest/);
    expect(hashTree(root.dir)).toBe(before);
  });
});

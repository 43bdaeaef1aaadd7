// init-scripts (OpenNebula INIT_SCRIPTS / init.sh) against a real context CD:
// an ISO made by xorriso from the fixture folder, read by the user-space
// ISO9660 reader, decoded by the OpenNebula datasource code and turned into
// GuestConfig by buildGuestConfig. Scripts run chrooted in a temp root with a
// real shell, from the private copy of the CD. Also the copy itself
// (src/scripts/context-dir.ts): modes, bounds, pruning, idempotence.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contextInstanceData } from '../../datasources/opennebula';
import { cdPathOf, initScripts, planInitScripts, type InitScriptsPlan } from '../../modules/init-scripts';
import { buildGuestConfig } from '../../src/config/build';
import type { GuestConfig } from '../../src/config/guest-config';
import { ConfigError, LimitError, ModuleError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import { openIso9660 } from '../../src/media/iso9660';
import type { Volume } from '../../src/media/volume';
import { materialiseContextDir } from '../../src/scripts/context-dir';
import type { ModuleContext } from '../../src/types';
import { addShell } from '../helpers/chroot';
import { buildIso, fileSource, type FileSource } from '../helpers/iso-images';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/scripts/init-cd');
const COPY = '/var/lib/guestctx/instance/context';

let root: TempRoot;
afterEach(() => root?.cleanup());

const work = mkdtempSync(path.join(os.tmpdir(), 'guestctx-initcd-'));
const sources: FileSource[] = [];
let cd: Volume;
let cdNoInit: Volume;

async function isoVolume(dir: string, name: string): Promise<Volume> {
  const iso = buildIso(dir, { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true, out: path.join(work, `${name}.iso`) });
  const src = fileSource(iso);
  sources.push(src);
  return openIso9660(src);
}

beforeAll(async () => {
  cd = await isoVolume(FIX, 'context');
  const noInit = path.join(work, 'no-init');
  cpSync(FIX, noInit, { recursive: true });
  rmSync(path.join(noInit, 'init.sh'));
  cdNoInit = await isoVolume(noInit, 'no-init');
});
afterAll(() => {
  for (const s of sources) s.close();
  rmSync(work, { recursive: true, force: true });
});

function config(medium: Volume | undefined, change: Record<string, string | undefined> = {}): GuestConfig {
  const instance = contextInstanceData('opennebula', '/dev/sr0', readFileSync(path.join(FIX, 'context.sh')), medium);
  const vars = new Map(instance.context);
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) vars.delete(k);
    else vars.set(k, v);
  }
  return buildGuestConfig({ ...instance, context: vars }, {});
}

function ctxFor(host: Host): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  const instance = contextInstanceData('opennebula', '/dev/sr0', readFileSync(path.join(FIX, 'context.sh')), cd);
  return { host, log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx', applyLive: false };
}

function guest(shell = true): TempRoot {
  const r = makeTempRoot();
  if (shell) addShell(r.dir);
  mkdirSync(r.file('out'));
  return r;
}

const log = (): string[] => (existsSync(root.file('out/log')) ? root.read('out/log').trimEnd().split('\n') : []);

async function runWith(c: GuestConfig, host: Host = hostOn(root)) {
  const plan = initScripts.parse(c) as InitScriptsPlan;
  expect(plan).toBeDefined();
  const ctx = ctxFor(host);
  return { out: await initScripts.run(ctx, plan), ctx };
}

describe('init-scripts: parse', () => {
  it('is a per-instance final-stage module', () => {
    expect([initScripts.name, initScripts.stage, initScripts.frequency]).toEqual(['init-scripts', 'final', 'per-instance']);
  });

  it.each([
    ['INIT_SCRIPTS in order', { INIT_SCRIPTS: 'users.sh init.sh' }, ['users.sh', 'init.sh']],
    ['extra blanks and newlines', { INIT_SCRIPTS: '  a.sh\n\tb.sh  ' }, ['a.sh', 'b.sh']],
    ['unset: init.sh by default', { INIT_SCRIPTS: undefined }, undefined],
    ['empty: init.sh by default', { INIT_SCRIPTS: '' }, undefined],
  ])('%s', (_n, change, names) => {
    expect(planInitScripts(config(cd, change))?.names).toEqual(names);
  });

  it('no context (not an OpenNebula-style datasource): nothing to do', () => {
    const c = config(cd);
    expect(planInitScripts({ ...c, context: undefined } as GuestConfig)).toBeUndefined();
  });

  it('INIT_SCRIPTS without a medium to read the files from is a ConfigError naming the key', () => {
    expect(() => planInitScripts(config(undefined))).toThrow(ConfigError);
    const err = (() => {
      try {
        planInitScripts(config(undefined));
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    expect(err?.describe()).toMatch(/^context INIT_SCRIPTS: names files of the context CD \(users\.sh init\.sh\).*no medium/);
    expect(planInitScripts(config(undefined, { INIT_SCRIPTS: undefined }))).toBeUndefined();
  });

  it.each([
    ['init.sh', '/init.sh'],
    ['/init.sh', '/init.sh'],
    ['./scripts//a.sh', '/scripts/a.sh'],
    ['../etc/shadow', undefined],
    ['a/../../b', undefined],
    ['.', undefined],
  ])('cdPathOf(%j) = %j', (name, want) => {
    expect(cdPathOf(name)).toBe(want);
  });
});

describe('init-scripts: run', () => {
  it('runs the INIT_SCRIPTS in the given order, from a copy of the CD, with the context variables', async () => {
    root = guest();
    const { out } = await runWith(config(cd));
    expect(log()).toEqual(['users 42', `init  hello world 42 ${COPY}`, 'notes from the CD']);
    expect(out?.details?.scripts).toEqual([
      { name: 'users.sh', origin: 'context INIT_SCRIPTS users.sh', exitCode: 0 },
      { name: 'init.sh', origin: 'context INIT_SCRIPTS init.sh', exitCode: 0 },
    ]);
    // The copy mirrors the CD, root only.
    expect(root.read(`${COPY}/data/notes.txt`)).toBe('notes from the CD\n');
    expect(root.read(`${COPY}/context.sh`)).toBe(readFileSync(path.join(FIX, 'context.sh'), 'utf8'));
    for (const p of ['var/lib/guestctx', 'var/lib/guestctx/instance', COPY, `${COPY}/data`, `${COPY}/context.sh`, `${COPY}/users.sh`]) expect(root.mode(p), p).toBe(0o700);
  });

  it('INIT_SCRIPTS unset: runs init.sh when the CD has it', async () => {
    root = guest();
    await runWith(config(cd, { INIT_SCRIPTS: undefined }));
    expect(log()).toEqual([`init  hello world 42 ${COPY}`, 'notes from the CD']);
  });

  it.each(['START_SCRIPT', 'START_SCRIPT_BASE64'])('INIT_SCRIPTS unset and %s given: init.sh is not run by default', async (key) => {
    root = guest();
    const { out } = await runWith(config(cd, { INIT_SCRIPTS: undefined, [key]: 'ZWNobyBoaQo=' }));
    expect(out?.skipped).toMatch(/START_SCRIPT is: init\.sh is not run by default/);
    expect(log()).toEqual([]);
  });

  it('INIT_SCRIPTS given with a START_SCRIPT: the listed scripts still run', async () => {
    root = guest();
    await runWith(config(cd, { INIT_SCRIPTS: 'users.sh', START_SCRIPT: 'echo hi' }));
    expect(log()).toEqual(['users 42']);
  });

  it('INIT_SCRIPTS unset and no init.sh on the CD: skipped, nothing copied', async () => {
    root = guest();
    const { out } = await runWith(config(cdNoInit, { INIT_SCRIPTS: undefined }));
    expect(out?.skipped).toBe('INIT_SCRIPTS is not set and the context CD has no init.sh');
    expect(existsSync(root.file(COPY))).toBe(false);
  });

  it('a failing, a missing and an escaping name each fail; the rest still run', async () => {
    root = guest();
    const err = await runWith(config(cd, { INIT_SCRIPTS: 'failing.sh missing.sh ../../../bin/sh users.sh' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    const e = err as ModuleError;
    expect(e.message).toContain('3 of 4 script(s) failed');
    expect(e.message).toContain('context INIT_SCRIPTS failing.sh: exited with status 7');
    expect(e.message).toContain('context INIT_SCRIPTS missing.sh: is not on the context CD');
    expect(e.message).toContain('context INIT_SCRIPTS ../../../bin/sh: is not a file name inside the context CD');
    expect(log()).toEqual(['failing', 'users 42']);
  });

  it('a dry run writes nothing and records the commands it would run, in order, from the copy', async () => {
    root = guest();
    const before = hashTree(root.dir);
    const host = hostOn(root, { dryRun: true });
    await runWith(config(cd), host);
    expect(hashTree(root.dir)).toBe(before);
    const cmds = host.changes().flatMap((c) => (c.kind === 'command' ? [c.argv] : []));
    expect(cmds).toEqual([
      ['/bin/sh', `${COPY}/users.sh`],
      [`${COPY}/init.sh`],
    ]);
  });

  it('offline without /bin/sh: skipped as needing the running guest, nothing written', async () => {
    root = guest(false);
    const before = hashTree(root.dir);
    const { out } = await runWith(config(cd));
    expect(out?.skipped).toMatch(/needs the running guest/);
    expect(hashTree(root.dir)).toBe(before);
  });
});

describe('context CD copy', () => {
  it('a second copy of the same CD changes nothing; files that left the CD leave the copy', async () => {
    root = guest(false);
    const host = hostOn(root);
    await materialiseContextDir(host, memoryLogger(), cd, '/var/lib/guestctx');
    const first = hashTree(root.file('var'));
    const again = hostOn(root);
    await materialiseContextDir(again, memoryLogger(), cd, '/var/lib/guestctx');
    expect(hashTree(root.file('var'))).toBe(first);
    expect(again.changes()).toEqual([]);
    root.write(`${COPY}/stale.sh`, 'old\n');
    mkdirSync(root.file(`${COPY}/old-dir`));
    const res = await materialiseContextDir(hostOn(root), memoryLogger(), cdNoInit, '/var/lib/guestctx');
    expect(existsSync(root.file(`${COPY}/stale.sh`))).toBe(false);
    expect(existsSync(root.file(`${COPY}/old-dir`))).toBe(false);
    expect(existsSync(root.file(`${COPY}/init.sh`))).toBe(false);
    expect(res.files).toBe(4);
  });

  it.each([
    ['total bytes', { maxBytes: 100, maxEntries: 100, maxDepth: 8 }, /files total more than 100 bytes/],
    ['entries', { maxBytes: 1 << 20, maxEntries: 3, maxDepth: 8 }, /more than 3 files and directories/],
    ['depth', { maxBytes: 1 << 20, maxEntries: 100, maxDepth: 0 }, /deeper than 0 levels/],
  ])('a CD over the %s bound is refused before anything is written', async (_n, limits, msg) => {
    root = guest(false);
    const before = hashTree(root.dir);
    const err = await materialiseContextDir(hostOn(root), memoryLogger(), cd, '/var/lib/guestctx', limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).message).toMatch(msg);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('symbolic links on the CD are not copied (they could point off the CD)', async () => {
    root = guest(false);
    const dir = path.join(work, 'with-link');
    mkdirSync(dir);
    cpSync(path.join(FIX, 'init.sh'), path.join(dir, 'init.sh'));
    symlinkSync('/etc/shadow', path.join(dir, 'shadow'));
    const vol = await isoVolume(dir, 'with-link');
    const logger = memoryLogger();
    await materialiseContextDir(hostOn(root), logger, vol, '/var/lib/guestctx');
    expect(existsSync(root.file(`${COPY}/shadow`))).toBe(false);
    expect(existsSync(root.file(`${COPY}/init.sh`))).toBe(true);
    expect(logger.lines.join('\n')).toMatch(/\/shadow is a symbolic link; not copied/);
  });
});

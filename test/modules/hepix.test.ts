// hepix-prolog / hepix-epilog / runEpilogStop against a real HEPiX CD: an ISO
// made by xorriso from the fixture folder, read by the user-space ISO9660
// reader and the HEPiX datasource code. prolog.sh and epilog.sh run chrooted
// in a temp root with a real shell, as "<script> start" (and "epilog.sh stop"
// at shutdown) from the private copy of the CD, with the context variables.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEPIX_SCRIPTS_KEY, readHepix } from '../../datasources/hepix';
import { contextInstanceData } from '../../datasources/opennebula';
import { epilogStopPlanPath, hepixEpilog, hepixProlog, runEpilogStop, type EpilogStopPlan, type HepixPlan } from '../../modules/hepix';
import { buildGuestConfig } from '../../src/config/build';
import { ModuleError, ParseError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import { memoryLogger } from '../../src/log/logger';
import { openIso9660 } from '../../src/media/iso9660';
import type { InstanceData, Module, ModuleContext } from '../../src/types';
import { addShell } from '../helpers/chroot';
import { buildIso, fileSource, type FileSource } from '../helpers/iso-images';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/scripts/hepix-cd');
const STATE = '/var/lib/guestctx';
const COPY = `${STATE}/instance/context`;

let root: TempRoot;
afterEach(() => root?.cleanup());

const work = mkdtempSync(path.join(os.tmpdir(), 'guestctx-hepixcd-'));
let src: FileSource;
let hepixInstance: InstanceData;

beforeAll(async () => {
  const iso = buildIso(FIX, { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true, out: path.join(work, 'hepix.iso') });
  src = fileSource(iso);
  hepixInstance = await readHepix(await openIso9660(src), '/dev/sr0');
});
afterAll(() => {
  src.close();
  rmSync(work, { recursive: true, force: true });
});

function guest(shell = true): TempRoot {
  const r = makeTempRoot();
  if (shell) addShell(r.dir);
  mkdirSync(r.file('out'));
  return r;
}

const log = (): string[] => (existsSync(root.file('out/log')) ? root.read('out/log').trimEnd().split('\n') : []);

function ctxFor(host: Host, instance: InstanceData, stage: 'local' | 'final'): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage, stateDir: STATE, applyLive: false };
}

async function run(mod: Module<HepixPlan>, instance: InstanceData = hepixInstance, host: Host = hostOn(root)) {
  const plan = mod.parse(buildGuestConfig(instance, {}));
  expect(plan).toBeDefined();
  return mod.run(ctxFor(host, instance, mod.stage === 'local' ? 'local' : 'final'), plan!);
}

describe('hepix modules: selection', () => {
  it('prolog early on every boot, epilog late on every boot', () => {
    expect([hepixProlog.name, hepixProlog.stage, hepixProlog.frequency]).toEqual(['hepix-prolog', 'local', 'always']);
    expect([hepixEpilog.name, hepixEpilog.stage, hepixEpilog.frequency]).toEqual(['hepix-epilog', 'final', 'always']);
  });

  it('nothing to do on a plain OpenNebula CD or when the CD lacks that script', () => {
    const plain = contextInstanceData('opennebula', '/dev/sr0', readFileSync(path.join(FIX, 'context.sh')), undefined);
    expect(hepixProlog.parse(buildGuestConfig(plain, {}))).toBeUndefined();
    const noEpilog: InstanceData = { ...hepixInstance, raw: { ...hepixInstance.raw, [HEPIX_SCRIPTS_KEY]: { prolog: { name: 'p', content: Buffer.from(''), origin: 'x' } } } };
    expect(hepixEpilog.parse(buildGuestConfig(noEpilog, {}))).toBeUndefined();
    expect(hepixProlog.parse(buildGuestConfig(noEpilog, {}))).toBeDefined();
  });
});

describe('hepix modules: run', () => {
  it('prolog.sh start runs from the CD copy with the context variables', async () => {
    root = guest();
    const out = await run(hepixProlog);
    expect(log()).toEqual(['prolog start hi 7', 'site=cern']);
    expect(out?.details?.scripts).toEqual([{ name: 'prolog.sh', origin: '/dev/sr0:/prolog.sh start', exitCode: 0 }]);
    expect(root.read(`${COPY}/site.conf`)).toBe('site=cern\n');
    expect(root.mode(COPY)).toBe(0o700);
  });

  it('prolog on every boot: a second run runs it again and writes no other file', async () => {
    root = guest();
    await run(hepixProlog);
    const before = [hashTree(root.file('var')), hashTree(root.file('etc'))];
    await run(hepixProlog);
    expect(log()).toEqual(['prolog start hi 7', 'site=cern', 'prolog start hi 7', 'site=cern']);
    expect([hashTree(root.file('var')), hashTree(root.file('etc'))]).toEqual(before);
  });

  it('epilog.sh start at boot leaves a private stop plan; runEpilogStop runs epilog.sh stop the same way', async () => {
    root = guest();
    root.write(`${STATE.slice(1)}/instance-id`, '7\n', 0o600);
    await run(hepixEpilog);
    expect(log()).toEqual([`epilog start hi ${COPY}`]);
    const planFile = epilogStopPlanPath(STATE).slice(1);
    expect(root.mode(planFile)).toBe(0o600);
    const plan = JSON.parse(root.read(planFile)) as EpilogStopPlan;
    expect(plan).toMatchObject({ version: 1, instanceId: '7', script: `${COPY}/epilog.sh`, cwd: COPY });
    expect(plan.env).toMatchObject({ GREETING: 'hi', INSTANCE_ID: '7' });
    const res = await runEpilogStop({ host: hostOn(root), log: memoryLogger(), stateDir: STATE });
    expect(res).toEqual({ ran: true, run: { name: 'epilog.sh', origin: `HEPiX ${COPY}/epilog.sh stop`, exitCode: 0 } });
    expect(log()).toEqual([`epilog start hi ${COPY}`, `epilog stop hi ${COPY}`]);
  });

  it('a failing prolog fails the module with its exit status (no medium: the script alone is the working directory)', async () => {
    root = guest();
    const failing: InstanceData = {
      ...hepixInstance,
      raw: { ...hepixInstance.raw, [HEPIX_SCRIPTS_KEY]: { prolog: { name: 'hepix-prolog.sh', content: Buffer.from('echo "bad $1 $(pwd)" >> /out/log\nexit 5\n'), origin: 'test prolog.sh' } } },
    };
    delete (failing as { medium?: unknown }).medium;
    const err = await run(hepixProlog, failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).describe()).toMatch(/^hepix-prolog: 1 of 1 script\(s\) failed: test prolog\.sh start: exited with status 5/);
    expect(log()).toEqual([`bad start ${COPY}`]);
    expect(root.read(`${COPY}/prolog.sh`)).toMatch(/exit 5/);
  });

  it('offline without /bin/sh: skipped as needing the running guest, no copy and no stop plan', async () => {
    root = guest(false);
    const before = hashTree(root.dir);
    const out = await run(hepixEpilog);
    expect(out?.skipped).toMatch(/needs the running guest/);
    expect(hashTree(root.dir)).toBe(before);
  });
});

describe('runEpilogStop', () => {
  const ctx = () => ({ host: hostOn(root), log: memoryLogger(), stateDir: STATE });
  const writePlan = (p: Partial<EpilogStopPlan>): void =>
    root.write(epilogStopPlanPath(STATE).slice(1), JSON.stringify({ version: 1, instanceId: '7', script: `${COPY}/epilog.sh`, cwd: COPY, env: { PATH: '/usr/bin:/bin' }, ...p }), 0o600);

  it('no epilog ran: nothing to do', async () => {
    root = guest();
    expect(await runEpilogStop(ctx())).toEqual({ ran: false, reason: expect.stringMatching(/no HEPiX epilog ran/) });
  });

  it('the guest has become another instance: the old epilog is not run', async () => {
    root = guest();
    root.write(`${COPY.slice(1)}/epilog.sh`, '#!/bin/sh\necho ran >> /out/log\n', 0o700);
    root.write(`${STATE.slice(1)}/instance-id`, 'other\n');
    writePlan({});
    expect(await runEpilogStop(ctx())).toEqual({ ran: false, reason: expect.stringMatching(/belongs to instance 7, not other/) });
    expect(log()).toEqual([]);
  });

  it('a plan naming a script outside the CD copy is refused', async () => {
    root = guest();
    writePlan({ script: '/bin/sh' });
    await expect(runEpilogStop(ctx())).rejects.toThrow(ParseError);
    writePlan({ script: `${COPY}/../../../../bin/sh` });
    await expect(runEpilogStop(ctx())).rejects.toThrow(/not a script of/);
  });

  it('a failing epilog.sh stop throws with its exit status', async () => {
    root = guest();
    root.write(`${COPY.slice(1)}/epilog.sh`, '#!/bin/sh\necho "stop $1" >> /out/log\nexit 2\n', 0o700);
    writePlan({});
    const err = await runEpilogStop(ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).describe()).toBe(`HEPiX ${COPY}/epilog.sh stop: exited with status 2`);
    expect(log()).toEqual(['stop stop']);
  });
});

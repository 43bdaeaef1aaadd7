// Pipeline behaviour around the modules: no datasource (network fallback
// only), guestctx.yaml, the three ways to disable a module, image hooks, and
// guestctx=off.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../src/log/logger';
import { runPipeline } from '../src/pipeline';
import { State } from '../src/state/state';
import { STAGES } from '../src/types';
import { addShell } from './helpers/chroot';
import { hostOn, makeTempRoot, type TempRoot } from './helpers/temp-root';

const FIX = path.join(__dirname, 'fixtures/opennebula');
let root: TempRoot;
afterEach(() => root?.cleanup());

async function run(opts: { seed?: string; stages?: typeof STAGES } = {}) {
  const log = memoryLogger();
  const result = await runPipeline({ host: hostOn(root), log, stages: opts.stages ?? STAGES, ...(opts.seed ? { seed: opts.seed } : {}) });
  const modules = Object.assign({}, ...result.outcomes.map((o) => o.status.modules)) as Record<string, { result: string; reason?: string; error?: string }>;
  return { result, log, modules };
}

describe('no datasource', () => {
  it('only the network fallback runs: DHCP on the first NIC; stages say no-datasource', async () => {
    root = makeTempRoot();
    const { result, modules } = await run();
    expect(result.exitCode).toBe(0);
    expect(result.outcomes.map((o) => o.status.result)).toEqual(['no-datasource', 'no-datasource', 'no-datasource']);
    expect(Object.keys(modules)).toEqual(['network']);
    expect(root.read('etc/network/interfaces.d/guestctx')).toMatch(/iface eth0 inet dhcp/);
  });

  // The boot's local unit: with nothing for a later stage to find, those stages are
  // settled now and the flag their units check is raised, so no runtime starts for them.
  const settled = [
    { name: 'no evidence at all: later stages settled, flag raised', setup: () => undefined, stages: ['local'] as const, flag: true },
    { name: 'EC2 DMI evidence: the network stage must look', setup: () => root.write('sys/class/dmi/id/sys_vendor', 'Amazon EC2\n'), stages: ['local'] as const, flag: false },
    { name: 'OpenStack DMI evidence: the network stage must look', setup: () => root.write('sys/class/dmi/id/product_name', 'OpenStack Nova\n'), stages: ['local'] as const, flag: false },
    { name: 'a full run goes through every stage itself', setup: () => undefined, stages: STAGES, flag: false },
  ];
  it.each(settled)('$name', async ({ setup, stages, flag }) => {
    root = makeTempRoot();
    setup();
    const { result, log } = await run({ stages: [...stages] });
    expect(result.outcomes[0]?.status.result).toBe('no-datasource');
    expect(existsSync(root.file('run/guestctx/no-datasource'))).toBe(flag);
    const status = await new State(hostOn(root), '/var/lib/guestctx').readStatus();
    if (flag) {
      expect(status.stages.network).toMatchObject({ result: 'no-datasource', durationMs: 0, modules: {} });
      expect(status.stages.final).toMatchObject({ result: 'no-datasource', durationMs: 0, modules: {} });
      expect(log.lines.join('\n')).toMatch(/network and final stages have nothing to do/);
    } else if (stages.length === 1) {
      expect(status.stages.network).toBeUndefined();
      expect(status.stages.final).toBeUndefined();
    }
  });
});

describe('module control', () => {
  it('EXCLUDE_MODULE_<NAME> in the context disables a module', async () => {
    root = makeTempRoot();
    const dir = path.join(root.dir, '../', `seed-${path.basename(root.dir)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'context.sh'), "SET_HOSTNAME='ctl-01'\nEXCLUDE_MODULE_HOSTNAME='YES'\nVMID='5'\n");
    const { modules } = await run({ seed: dir });
    expect(modules.hostname?.result).toBe('skipped');
    expect(modules.hostname?.reason).toBe('disabled by the context variable EXCLUDE_MODULE_HOSTNAME');
    expect(root.read('etc/hostname')).toBe('debian\n');
  });

  it('guestctx.yaml modules.disabled and guestctx.disable= on the kernel command line', async () => {
    root = makeTempRoot();
    root.write('etc/guestctx/guestctx.yaml', 'modules:\n  disabled: [ssh-authorized-keys]\n');
    root.write('proc/cmdline', 'root=/dev/vda ro guestctx.disable=network,user-scripts\n');
    const { modules, result } = await run({ seed: path.join(FIX, 'basic') });
    expect(result.exitCode).toBe(0);
    expect(modules['ssh-authorized-keys']?.reason).toBe('disabled in /etc/guestctx/guestctx.yaml');
    expect(modules.network?.reason).toBe('disabled by guestctx.disable= on the kernel command line');
    expect(modules.hostname?.result).toBe('ok');
  });

  it('a bad guestctx.yaml is one clear error naming file and key; defaults apply', async () => {
    root = makeTempRoot();
    root.write('etc/guestctx/guestctx.yaml', 'network_timeout: -3\nbogus: 1\n');
    const { result, log } = await run({ seed: path.join(FIX, 'basic') });
    expect(result.exitCode).toBe(1);
    const text = log.lines.join('\n');
    expect(text).toMatch(/\/etc\/guestctx\/guestctx\.yaml: network_timeout: expected seconds/);
    expect(text).toMatch(/\/etc\/guestctx\/guestctx\.yaml: bogus: unknown setting/);
    expect(root.read('etc/hostname')).toBe('web-01\n');
  });

  it('guestctx=off on the kernel command line records disabled and changes nothing', async () => {
    root = makeTempRoot();
    root.write('proc/cmdline', 'quiet guestctx=off\n');
    const { result } = await run({ seed: path.join(FIX, 'basic') });
    expect(result.outcomes.every((o) => o.status.result === 'disabled')).toBe(true);
    expect(root.read('etc/hostname')).toBe('debian\n');
  });
});

describe('image hooks', () => {
  it('pre and post hooks run around a module, replace runs instead of it', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    const hook = (mod: string, phase: string, body: string): void => {
      root.write(`etc/guestctx/hooks/${mod}/${phase}`, `#!/bin/sh\n${body}\n`, 0o755);
      chmodSync(root.file(`etc/guestctx/hooks/${mod}/${phase}`), 0o755);
    };
    hook('hostname', 'pre', 'echo "pre $GUESTCTX_MODULE $INSTANCE_ID" >> /var/tmp/hooks.log');
    hook('hostname', 'post', 'echo "post $GUESTCTX_MODULE $GUESTCTX_RESULT" >> /var/tmp/hooks.log');
    hook('ssh-authorized-keys', 'replace', 'echo "replaced keys for $USERNAME" >> /var/tmp/hooks.log');
    const { modules } = await run({ seed: path.join(FIX, 'basic') });
    expect(modules.hostname?.result).toBe('ok');
    expect(modules['ssh-authorized-keys']?.result).toBe('ok');
    expect(root.read('var/tmp/hooks.log')).toBe('pre hostname 4711\npost hostname ok\nreplaced keys for debian\n');
    expect(() => root.read('home/debian/.ssh/authorized_keys')).toThrow();
  });

  it('a failing pre hook fails the module without running it', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    root.write('etc/guestctx/hooks/hostname/pre', '#!/bin/sh\nexit 4\n', 0o755);
    chmodSync(root.file('etc/guestctx/hooks/hostname/pre'), 0o755);
    const { modules, result } = await run({ seed: path.join(FIX, 'basic') });
    expect(result.exitCode).toBe(1);
    expect(modules.hostname?.error).toMatch(/hooks\/hostname\/pre: pre hook exited 4/);
    expect(root.read('etc/hostname')).toBe('debian\n');
  });
});

describe('a read-only /var', () => {
  it('the modules still run, the run fails clearly, and status is kept in /run for this boot', async () => {
    root = makeTempRoot();
    const varDir = root.file('var');
    mkdirSync(varDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', varDir]);
    try {
      const { result, log, modules } = await run({ seed: path.join(FIX, 'basic') });
      expect(result.exitCode).toBe(1);
      expect(modules.hostname?.result).toBe('ok');
      expect(modules['ssh-authorized-keys']?.result).toBe('ok');
      expect(root.read('etc/hostname')).toBe('web-01\n');
      const text = log.lines.join('\n');
      expect(text).toMatch(/cannot record the instance in \/var\/lib\/guestctx/);
      expect(text).toMatch(/\/var\/lib\/guestctx\/status\.json is not writable; status recorded in \/run\/guestctx\/status\.json/);
      const status = await new State(hostOn(root)).readStatus();
      expect(status.stages.final?.modules['final-message']).toBeDefined();
      expect(status.stages.local?.result).toBe('failed');
    } finally {
      execFileSync('umount', [varDir]);
    }
  });
});

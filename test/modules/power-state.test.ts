// power-state: the shutdown command for each mode, delay and message, the
// condition's verdicts, and the skip offline. The live host here has root "/"
// and ALWAYS a recording executor: nothing is ever run on this machine, the
// argv is only recorded. The background waiter itself is tested for real with
// sh and a fake `shutdown` script that only writes down its arguments.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateCloudConfigText } from '../../src/config/cloud-config';
import { emptyGuestConfig } from '../../src/config/guest-config';
import { ConfigError, ModuleError } from '../../src/errors';
import type { CommandResult, Host } from '../../src/host/host';
import { NodeHost } from '../../src/host/node-host';
import { memoryLogger } from '../../src/log/logger';
import type { InstanceData, ModuleContext } from '../../src/types';
import { WAITER, powerState, shutdownArgs, type PowerStatePlan } from '../../modules/power-state';
import { hostOn, makeTempRoot, recorder, type Recorder, type TempRoot } from '../helpers/temp-root';

let root: TempRoot | undefined;
const cleanups: (() => void)[] = [];
afterEach(() => {
  root?.cleanup();
  root = undefined;
  for (const c of cleanups.splice(0)) c();
});

const instance: InstanceData = { datasource: 'nocloud', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

/** The running system ("/", live) whose commands are recorded, never executed. */
function recordedLiveHost(answer?: (argv: readonly string[]) => CommandResult | undefined): { host: NodeHost; rec: Recorder } {
  const rec = recorder(answer);
  const host = new NodeHost({ root: '/', executor: rec.executor });
  expect(host.live).toBe(true);
  return { host, rec };
}

function ctxFor(host: Host): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host, log: memoryLogger(), instance, stage: 'final', stateDir: '/var/lib/guestctx' };
}

function planFrom(yaml: string): PowerStatePlan | undefined {
  const res = validateCloudConfigText(`#cloud-config\n${yaml}\n`, 'user-data');
  expect(res.errors).toEqual([]);
  return powerState.parse({ ...emptyGuestConfig('i-1'), cloud: res.config });
}

/** The waiter call: sh -c WAITER name pid limit shutdown-argv... */
function waiterCall(limit: string, shutdownArgv: string[]): unknown[] {
  return [expect.stringMatching(/\/sh$/), '-c', WAITER, 'guestctx-power-state', String(process.pid), limit, ...shutdownArgv];
}

describe('power-state on the running guest (commands recorded)', () => {
  it.each([
    ['power_state: {mode: poweroff}', ['/usr/sbin/shutdown', '-P', 'now'], '30'],
    ['power_state: {mode: reboot, delay: "+5", message: "Rebooting for kernel 6.1", timeout: 10}', ['/usr/sbin/shutdown', '-r', '+5', 'Rebooting for kernel 6.1'], '10'],
    ['power_state: {mode: halt, delay: 2, timeout: 2.5}', ['/usr/sbin/shutdown', '-H', '+2'], '3'],
    ['power_state: {mode: poweroff, delay: now, condition: true, message: "bye $USER; `id`"}', ['/usr/sbin/shutdown', '-P', 'now', 'bye $USER; `id`'], '30'],
  ])('%s schedules %j', async (yaml, argv, limit) => {
    const { host, rec } = recordedLiveHost();
    const ctx = ctxFor(host);
    const out = await powerState.run(ctx, planFrom(yaml)!);
    expect(rec.calls).toEqual([waiterCall(limit, argv)]);
    expect(out).toEqual({ details: { mode: expect.any(String), scheduled: true, command: argv, waitS: Number(limit) } });
    expect(ctx.log.lines.join('\n')).toMatch(/scheduled .*\/usr\/sbin\/shutdown/);
  });

  it('a condition command exiting 0 lets the shutdown go (a string runs through sh -c)', async () => {
    const { host, rec } = recordedLiveHost();
    await powerState.run(ctxFor(host), planFrom('power_state: {mode: reboot, condition: "test -f /run/reboot-required", timeout: 5}')!);
    expect(rec.calls[0]).toEqual(['/bin/sh', '-c', 'test -f /run/reboot-required']);
    expect(rec.calls[1]).toEqual(waiterCall('5', ['/usr/sbin/shutdown', '-r', 'now']));
  });

  it('a condition list runs as argv; exit 1 means no shutdown, and the module still succeeds', async () => {
    const { host, rec } = recordedLiveHost((argv) => (argv[0] === 'test' ? { code: 1, stdout: '', stderr: '' } : undefined));
    const ctx = ctxFor(host);
    const out = await powerState.run(ctx, planFrom('power_state: {mode: poweroff, condition: [test, -f, /run/x]}')!);
    expect(rec.calls).toEqual([['test', '-f', '/run/x']]);
    expect(out).toEqual({ details: { mode: 'poweroff', scheduled: false, condition: 'test -f /run/x', conditionExit: 1 } });
    expect(ctx.log.lines.join('\n')).toMatch(/exited 1: not going to poweroff/);
  });

  it('a condition exiting 2 is an error, and nothing is scheduled', async () => {
    const { host, rec } = recordedLiveHost((argv) => (argv[0] === '/bin/sh' && argv[1] === '-c' && argv[2] === 'false-ish' ? { code: 2, stdout: '', stderr: '' } : undefined));
    const err = await powerState.run(ctxFor(host), planFrom('power_state: {mode: halt, condition: false-ish}')!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).describe()).toMatch(/^power_state\.condition: "false-ish" exited with status 2 .*not shutting down$/);
    expect(rec.calls).toHaveLength(1);
  });

  it('a condition that outlives the timeout is an error, and nothing is scheduled', async () => {
    const { host, rec } = recordedLiveHost((argv) => (argv[2] === 'sleep 99' ? { code: 137, stdout: '', stderr: '', signal: 'SIGKILL' } : undefined));
    const err = await powerState.run(ctxFor(host), planFrom('power_state: {mode: reboot, condition: "sleep 99", timeout: 1}')!).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/did not finish within 1 s \(SIGKILL\); not shutting down/);
    expect(rec.calls).toHaveLength(1);
  });

  it('condition: false is nothing to do', () => {
    expect(planFrom('power_state: {mode: reboot, condition: false}')).toBeUndefined();
    expect(powerState.parse(emptyGuestConfig('i-1'))).toBeUndefined();
  });

  it('a message starting with "-" is refused, naming the key', () => {
    expect(() => planFrom('power_state: {mode: reboot, message: "-k now"}')).toThrow(ConfigError);
    try {
      planFrom('power_state: {mode: reboot, message: "-k now"}');
    } catch (err) {
      expect((err as ConfigError).describe()).toMatch(/^power_state\.message: "-k now" starts with "-"/);
    }
  });
});

describe('power-state offline', () => {
  it('is skipped on an offline root and in --dry-run, running nothing', async () => {
    root = makeTempRoot();
    const rec = recorder();
    const offline = await powerState.run(ctxFor(hostOn(root, { executor: rec.executor })), planFrom('power_state: {mode: poweroff}')!);
    expect(offline).toEqual({ skipped: expect.stringMatching(/needs the running guest/) });
    const dry = new NodeHost({ root: '/', dryRun: true, executor: rec.executor });
    expect(await powerState.run(ctxFor(dry), planFrom('power_state: {mode: poweroff}')!)).toEqual({ skipped: expect.stringMatching(/needs the running guest/) });
    expect(rec.calls).toEqual([]);
  });

  it('fails clearly when the guest has no shutdown', async () => {
    root = makeTempRoot();
    const rec = recorder();
    // A booted guest without shutdown: the temp root as the live system, commands recorded.
    const host = Object.create(hostOn(root, { executor: rec.executor }), { live: { value: true } }) as Host;
    const err = await powerState.run(ctxFor(host), planFrom('power_state: {mode: poweroff}')!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).describe()).toBe('power_state: tool shutdown is not installed in the guest');
    expect(rec.calls).toEqual([]);
  });
});

describe('the background waiter (real sh, fake shutdown)', () => {
  /** A fake shutdown that appends its argv, one per line, to `log`. */
  function fakeShutdown(): { bin: string; log: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-waiter-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'fake-shutdown');
    const log = path.join(dir, 'argv');
    writeFileSync(bin, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${log}\n`, { mode: 0o755 });
    return { bin, log };
  }

  function runWaiter(pid: number, limit: number, argv: string[]): Promise<number> {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      execFile('/bin/sh', ['-c', WAITER, 'guestctx-power-state', String(pid), String(limit), ...argv], (err) => (err ? reject(err) : resolve(performance.now() - t0)));
    });
  }

  async function waitFor(file: string, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      if (existsSync(file) && readFileSync(file, 'utf8') !== '') return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  it('returns at once, waits for the process to exit, then runs the command with its arguments untouched', async () => {
    const { bin, log } = fakeShutdown();
    const agent = spawn('sleep', ['30'], { stdio: 'ignore' });
    cleanups.push(() => agent.kill('SIGKILL'));
    const message = 'it\'s "done"; $(touch /tmp/pwned) `id`';
    const took = await runWaiter(agent.pid!, 20, [bin, '-P', 'now', message]);
    expect(took).toBeLessThan(1000);
    // Still waiting while the agent runs.
    expect(await waitFor(log, 1200)).toBe(false);
    agent.kill('SIGTERM');
    expect(await waitFor(log, 4000)).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe(`-P\nnow\n${message}\n`);
    expect(existsSync('/tmp/pwned')).toBe(false);
  });

  it('runs the command after the timeout even if the process never exits', async () => {
    const { bin, log } = fakeShutdown();
    const agent = spawn('sleep', ['30'], { stdio: 'ignore' });
    cleanups.push(() => agent.kill('SIGKILL'));
    await runWaiter(agent.pid!, 1, [bin, '-r', '+5']);
    expect(await waitFor(log, 4000)).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('-r\n+5\n');
  });

  it('shutdownArgs maps modes to -P / -r / -H', () => {
    expect(shutdownArgs({ mode: 'poweroff', delay: 'now', timeoutS: 30, condition: true })).toEqual(['-P', 'now']);
    expect(shutdownArgs({ mode: 'reboot', delay: 0, timeoutS: 30, condition: true, message: 'm' })).toEqual(['-r', '+0', 'm']);
    expect(shutdownArgs({ mode: 'halt', delay: 15, timeoutS: 30, condition: true })).toEqual(['-H', '+15']);
  });
});

// A run killed mid-stage (power cut, OOM killer): the bundled CLI is started
// on a temp root whose START_SCRIPT sleeps the first time, the whole process
// group gets SIGKILL while the script sleeps, and the next runs must finish
// the per-instance work exactly once: markers are written only after success,
// so the killed script runs again, completes, and never runs a third time.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addShell } from '../helpers/chroot';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { addTools, contextSeed } from './seed';

const REPO = path.resolve(__dirname, '../..');
const CLI = path.join(REPO, 'dist/guestctx.cjs');

const SCRIPT = `#!/bin/sh
echo start >> /var/tmp/runs
if [ ! -e /var/tmp/slept ]; then
  : > /var/tmp/slept
  sleep 30
fi
echo done >> /var/tmp/done
`;

let root: TempRoot | undefined;
afterEach(() => {
  root?.cleanup();
  root = undefined;
});

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync(process.execPath, [path.join(REPO, 'packaging/build.mjs')], { env: { ...process.env, GUESTCTX_NO_SEA: '1' }, stdio: 'ignore' });
}, 60_000);

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function status(r: TempRoot): { stages: Record<string, { modules: Record<string, { result: string; reason?: string }> }> } {
  return JSON.parse(r.read('var/lib/guestctx/status.json'));
}

describe('a run killed mid-stage', () => {
  it('the next run completes the per-instance script exactly once', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    addTools(root.dir, ['/usr/bin/sleep']);
    const seed = contextSeed({ SET_HOSTNAME: 'killed-01', START_SCRIPT: SCRIPT });
    const args = [CLI, 'run', '--root', root.dir, '--seed', seed];

    // Own process group, so the kill takes guestctx, chroot and the script together.
    const first = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => first.on('exit', (_code, signal) => resolve(signal)));
    await waitFor(() => existsSync(root!.file('var/tmp/slept')), 15_000);
    process.kill(-(first.pid as number), 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(lines(root.file('var/tmp/runs'))).toEqual(['start']);
    expect(lines(root.file('var/tmp/done'))).toEqual([]);
    expect(existsSync(root.file('var/lib/guestctx/sem/4711/user-scripts'))).toBe(false);

    const second = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 });
    expect(second.signal).toBeNull();
    expect(lines(root.file('var/tmp/runs'))).toEqual(['start', 'start']);
    expect(lines(root.file('var/tmp/done'))).toEqual(['done']);
    expect(status(root).stages.final?.modules['user-scripts']?.result).toBe('ok');
    expect(existsSync(root.file('var/lib/guestctx/sem/4711/user-scripts'))).toBe(true);
    expect(root.read('etc/hostname')).toBe('killed-01\n');

    const third = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 });
    expect(third.signal).toBeNull();
    expect(lines(root.file('var/tmp/runs'))).toEqual(['start', 'start']);
    expect(lines(root.file('var/tmp/done'))).toEqual(['done']);
    expect(status(root).stages.final?.modules['user-scripts']?.reason).toBe('already ran (per-instance)');
  });
});

// Fault injection on the guest's disk: /etc of a temp guest root is a real
// 64 KiB tmpfs (we run as root, as CI does), filled to the last byte, then
// remounted read-only. Writing /etc/hostname must fail with a clear error
// naming the file and the errno, leave the previous file byte for byte and no
// temp file behind; modules writing elsewhere (~/.ssh) still succeed.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from '../../modules/hostname';
import { sshAuthorizedKeys } from '../../modules/ssh-authorized-keys';
import { memoryLogger } from '../../src/log/logger';
import { runPipeline } from '../../src/pipeline';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { ALICE_KEY, contextSeed } from './seed';

let root: TempRoot | undefined;
let mounted: string | undefined;
let canMount = true;

beforeAll(() => {
  // Mounting needs root and a kernel that allows it; the design runs tests as root.
  const probe = makeTempRoot({ minimal: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe.dir]);
    execFileSync('umount', [probe.dir]);
  } catch {
    canMount = false;
  } finally {
    probe.cleanup();
  }
});

function unmount(): void {
  if (mounted !== undefined) execFileSync('umount', ['-l', mounted]);
  mounted = undefined;
}

afterEach(() => {
  unmount();
  root?.cleanup();
  root = undefined;
});
// Never leave a mount behind, even if a test body threw before afterEach ran.
afterAll(unmount);

/** A temp root whose /etc is a 64 KiB tmpfs holding the same files as before. */
function rootWithTinyEtc(): TempRoot {
  const r = makeTempRoot();
  const etc = r.file('etc');
  const saved = ['passwd', 'group', 'hosts', 'hostname'].map((f) => [f, readFileSync(path.join(etc, f))] as const);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', etc]);
  mounted = etc;
  for (const [f, data] of saved) r.write(`etc/${f}`, data.toString());
  mkdirSync(path.join(etc, 'network/interfaces.d'), { recursive: true });
  return r;
}

/** Fill the filesystem holding `dir` until the kernel says ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(1024, 0x78);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    closeSync(fd);
  }
}

async function runHostnameAndKeys(r: TempRoot) {
  const seed = contextSeed({ SET_HOSTNAME: 'web-02', SSH_PUBLIC_KEY: ALICE_KEY, USERNAME: 'debian' });
  const result = await runPipeline({ host: hostOn(r), log: memoryLogger(), stages: ['local', 'network'], seed, modules: [hostname, sshAuthorizedKeys] });
  const mods = Object.assign({}, ...result.outcomes.map((o) => o.status.modules));
  return { result, mods };
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('guestctx-'));
}

describe('writing a configuration file on a failing filesystem', () => {
  it('ENOSPC: hostname fails naming /etc/hostname and ENOSPC; the old file is intact; keys still installed', async (t) => {
    if (!canMount) t.skip();
    root = rootWithTinyEtc();
    fill(root.file('etc'));
    const { result, mods } = await runHostnameAndKeys(root);
    expect(result.exitCode).toBe(1);
    expect(mods.hostname.result).toBe('failed');
    expect(mods.hostname.error).toMatch(/\/etc\/hostname: cannot write \(ENOSPC\); the previous file is unchanged/);
    expect(root.read('etc/hostname')).toBe('debian\n');
    expect(leftovers(root.file('etc'))).toEqual([]);
    expect(mods['ssh-authorized-keys'].result).toBe('ok');
    expect(root.read('home/debian/.ssh/authorized_keys')).toContain('alice@example.org');
  });

  it('read-only: hostname fails naming EROFS; /etc is byte for byte the same', async (t) => {
    if (!canMount) t.skip();
    root = rootWithTinyEtc();
    const before = readFileSync(root.file('etc/hosts'));
    execFileSync('mount', ['-o', 'remount,ro', root.file('etc')]);
    const { result, mods } = await runHostnameAndKeys(root);
    expect(result.exitCode).toBe(1);
    expect(mods.hostname.result).toBe('failed');
    expect(mods.hostname.error).toMatch(/\/etc\/hostname: cannot write \(EROFS\)/);
    expect(root.read('etc/hostname')).toBe('debian\n');
    expect(readFileSync(root.file('etc/hosts')).equals(before)).toBe(true);
    expect(mods['ssh-authorized-keys'].result).toBe('ok');
  });
});

// The core slice end to end, in-process: an OpenNebula context CD (a real ISO
// made with xorriso) -> hostname, authorized_keys, START_SCRIPT -> status.
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../src/log/logger';
import { runPipeline } from '../src/pipeline';
import { State } from '../src/state/state';
import { STAGES } from '../src/types';
import { addShell } from './helpers/chroot';
import { buildIso } from './helpers/iso-images';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from './helpers/temp-root';

const FIX = path.join(__dirname, 'fixtures/opennebula');
let root: TempRoot;
afterEach(() => root?.cleanup());

function contextIso(fixture: string, label = 'CONTEXT'): string {
  return buildIso(path.join(FIX, fixture), { label, tool: 'xorriso', joliet: true, rockRidge: true });
}

async function run(seed: string, opts: { dryRun?: boolean; stages?: typeof STAGES } = {}) {
  const host = hostOn(root, { dryRun: opts.dryRun ?? false });
  const log = memoryLogger();
  const result = await runPipeline({ host, log, seed, stages: opts.stages ?? STAGES });
  return { result, log, host };
}

describe('OpenNebula context CD -> hostname, keys, start script', () => {
  it('configures a temp root from a real ISO and skips the script without a shell', async () => {
    root = makeTempRoot();
    const { result, log } = await run(contextIso('basic'));
    expect(result.exitCode).toBe(0);
    expect(root.read('etc/hostname')).toBe('web-01\n');
    expect(root.read('etc/hosts')).toContain('127.0.1.1\tweb-01.example.org web-01');
    expect(root.read('etc/hosts')).toContain('::1\tlocalhost ip6-localhost ip6-loopback');
    const keys = root.read('home/debian/.ssh/authorized_keys').trim().split('\n');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^ssh-ed25519 \S+ alice@example.org$/);
    expect(root.mode('home/debian/.ssh')).toBe(0o700);
    expect(root.mode('home/debian/.ssh/authorized_keys')).toBe(0o600);
    const final = result.outcomes.find((o) => o.stage === 'final')?.status;
    expect(final?.modules['user-scripts']?.result).toBe('skipped');
    expect(final?.modules['user-scripts']?.reason).toMatch(/needs the running guest/);
    expect(log.lines.join('\n')).not.toContain('IyEvYmluL3No'); // START_SCRIPT_BASE64 is a secret
    const status = await new State(hostOn(root)).readStatus();
    expect(status.stages.local?.instanceId).toBe('4711');
    expect(root.mode('var/lib/guestctx')).toBe(0o700);
    expect(root.mode('var/lib/guestctx/status.json')).toBe(0o600);
  });

  it('runs the start script chrooted once per instance, and a second run does nothing new', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    const iso = contextIso('basic');
    const first = await run(iso);
    expect(first.result.exitCode).toBe(0);
    const marker = root.read('var/tmp/guestctx-start-script.marker');
    expect(marker).toMatch(/as instance 4711/);
    const scriptStatus = first.result.outcomes.find((o) => o.stage === 'final')?.status.modules['user-scripts'];
    expect(scriptStatus?.result).toBe('ok');
    expect(scriptStatus?.details).toEqual({ scripts: [{ name: 'start-script', origin: 'context START_SCRIPT_BASE64', exitCode: 0 }] });
    expect(root.mode('var/lib/guestctx/instance/scripts/start-script')).toBe(0o700);

    writeFileSync(root.file('var/tmp/guestctx-start-script.marker'), 'untouched');
    const before = hashTree(path.join(root.dir, 'etc')) + hashTree(path.join(root.dir, 'home'));
    const second = await run(iso);
    expect(second.result.exitCode).toBe(0);
    expect(root.read('var/tmp/guestctx-start-script.marker')).toBe('untouched');
    expect(second.result.outcomes.find((o) => o.stage === 'final')?.status.modules['user-scripts']?.reason).toBe('already ran (per-instance)');
    expect(hashTree(path.join(root.dir, 'etc')) + hashTree(path.join(root.dir, 'home'))).toBe(before);
    expect(second.host.changes().filter((c) => c.kind === 'write' && !c.path.startsWith('/var/lib/guestctx'))).toEqual([]);
  });

  it('re-runs per-instance work for a new instance id', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    await run(contextIso('basic'));
    writeFileSync(root.file('var/tmp/guestctx-start-script.marker'), 'old');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ctx-'));
    cpSync(path.join(FIX, 'basic'), dir, { recursive: true });
    writeFileSync(path.join(dir, 'context.sh'), readFileSync(path.join(dir, 'context.sh'), 'utf8').replace("VMID='4711'", "VMID='4712'"));
    await run(dir);
    expect(root.read('var/tmp/guestctx-start-script.marker')).toMatch(/as instance 4712/);
  });

  it('--dry-run changes nothing and records every write and command', async () => {
    root = makeTempRoot();
    const before = hashTree(root.dir);
    const { result, host } = await run(contextIso('basic'), { dryRun: true });
    expect(result.exitCode).toBe(0);
    expect(hashTree(root.dir)).toBe(before);
    const writes = host.changes().filter((c) => c.kind === 'write').map((c) => c.path);
    expect(writes).toEqual(expect.arrayContaining(['/etc/hostname', '/etc/hosts', '/home/debian/.ssh/authorized_keys']));
  });

  it('keeps keys already in authorized_keys and adds no duplicate', async () => {
    root = makeTempRoot();
    const alice = readFileSync(path.join(FIX, 'basic/context.sh'), 'utf8').match(/ssh-ed25519 \S+/)?.[0];
    mkdirSync(root.file('home/debian/.ssh'), { recursive: true });
    writeFileSync(root.file('home/debian/.ssh/authorized_keys'), `command="/bin/false" ${alice} old-comment\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExistingKeyExistingKeyExistingKeyExisting existing\n`);
    await run(contextIso('basic'));
    const lines = root.read('home/debian/.ssh/authorized_keys').trim().split('\n');
    expect(lines[0]).toContain('old-comment');
    expect(lines[1]).toContain('existing');
    expect(lines).toHaveLength(3); // alice already present (other options/comment), bob added
  });
});

describe('bad input', () => {
  it('a context.sh syntax error names file and line; the other modules still run', async () => {
    root = makeTempRoot();
    const { result, log } = await run(contextIso('syntax-error'));
    expect(result.exitCode).toBe(1);
    const local = result.outcomes.find((o) => o.stage === 'local')?.status;
    expect(local?.errors.join('\n')).toMatch(/context\.sh:2\b.*/);
    expect(log.lines.join('\n')).toMatch(/context\.sh:2/);
    // The parser resynchronises at the next line: the key and VMID after the bad line still apply.
    expect(root.read('root/.ssh/authorized_keys')).toMatch(/alice@example.org/);
    expect(local?.instanceId).toBe('12');
    expect(local?.modules.hostname?.reason).toBe('nothing to configure');
  });

  it('a malformed key and a failing START_SCRIPT fail their modules clearly; the rest applies', async () => {
    root = makeTempRoot();
    addShell(root.dir);
    const { result } = await run(contextIso('failing-script'));
    expect(result.exitCode).toBe(1);
    const mods = Object.assign({}, ...result.outcomes.map((o) => o.status.modules));
    expect(mods.hostname.result).toBe('ok');
    expect(mods['ssh-authorized-keys'].result).toBe('failed');
    expect(mods['ssh-authorized-keys'].error).toMatch(/context SSH_PUBLIC_KEY, key 1 .*not base64|does not encode/);
    expect(root.read('root/.ssh/authorized_keys')).toMatch(/alice@example.org/);
    expect(mods['user-scripts'].result).toBe('failed');
    expect(mods['user-scripts'].error).toMatch(/context START_SCRIPT: exited with status 3/);
    expect(mods['user-scripts'].details.scripts[0].error).toMatch(/status 3/);
    expect(root.read('etc/hostname')).toBe('fail-01\n');
  });

  it('an unreadable ISO is a usage-level error naming the file', async () => {
    root = makeTempRoot();
    const bad = path.join(mkdtempSync(path.join(os.tmpdir(), 'bad-')), 'garbage.iso');
    writeFileSync(bad, Buffer.alloc(64 * 1024, 0x5a));
    await expect(run(bad)).rejects.toThrow(/neither ISO9660 nor FAT/);
    expect(existsSync(root.file('var/lib/guestctx/status.json'))).toBe(false);
  });
});

// The built artefacts as processes: dist/guestctx.cjs (and the single
// executable when built) against a real ISO made with xorriso and a temp root.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIso } from '../helpers/iso-images';
import { hashTree, makeTempRoot, type TempRoot } from '../helpers/temp-root';

const top = path.resolve(__dirname, '../..');
const bundle = path.join(top, 'dist/guestctx.cjs');
const sea = path.join(top, 'dist/guestctx');
let iso: string;
let root: TempRoot;

beforeAll(() => {
  if (!existsSync(bundle)) execFileSync('node', ['packaging/build.mjs'], { cwd: top, env: { ...process.env, GUESTCTX_NO_SEA: '1' }, stdio: 'inherit' });
  iso = buildIso(path.join(top, 'test/fixtures/opennebula/basic'), { label: 'CONTEXT', tool: 'xorriso', joliet: true, rockRidge: true });
});
afterEach(() => root?.cleanup());

function guestctx(args: string[], exe = bundle) {
  const argv = exe.endsWith('.cjs') ? [process.execPath, exe, ...args] : [exe, ...args];
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('dist/guestctx.cjs', () => {
  it('prints its version and lists modules', () => {
    expect(guestctx(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const mods = guestctx(['modules']).stdout;
    expect(mods).toMatch(/^hostname\s+local\s+always/m);
    expect(mods).toMatch(/^user-scripts\s+final\s+per-instance/m);
  });

  it('run --seed ISO --root DIR configures the root and writes a 0600 log', () => {
    root = makeTempRoot();
    const r = guestctx(['run', '--seed', iso, '--root', root.dir]);
    expect(r.code).toBe(0);
    expect(root.read('etc/hostname')).toBe('web-01\n');
    expect(root.read('home/debian/.ssh/authorized_keys')).toMatch(/bob@example.org/);
    expect(root.mode('var/log/guestctx.log')).toBe(0o600);
    const log = root.read('var/log/guestctx.log');
    expect(log).toMatch(/"task":"hostname"/);
    expect(log).not.toMatch(/IyEvYmluL3No/);
    expect(r.stderr).toMatch(/stage final: ok/);
  });

  it('--dry-run prints a unified diff and changes nothing', () => {
    root = makeTempRoot();
    const before = hashTree(root.dir);
    const r = guestctx(['run', '--seed', iso, '--root', root.dir, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== /etc/hostname (replace, mode 0644, owner root)');
    expect(r.stdout).toContain('-debian\n+web-01\n');
    expect(r.stdout).toMatch(/=== \/home\/debian\/\.ssh\/authorized_keys \(create, mode 0600, owner debian\)/);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('--events json prints one JSON event per line with timestamp and task', () => {
    root = makeTempRoot();
    const r = guestctx(['run', '--seed', iso, '--root', root.dir, '--events', 'json']);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(5);
    for (const e of events) {
      expect(typeof e.timestamp).toBe('string');
      expect(typeof e.task).toBe('string');
    }
    expect(events.filter((e) => e.type === 'task-end' && e.task === 'hostname')).toHaveLength(1);
  });

  it('query redacts secrets unless --show-secrets', () => {
    root = makeTempRoot();
    const q = JSON.parse(guestctx(['query', '--seed', iso, '--root', root.dir]).stdout) as { raw: Record<string, string>; instanceId: string };
    expect(q.instanceId).toBe('4711');
    expect(q.raw.START_SCRIPT_BASE64).toMatch(/^\[REDACTED/);
    expect(q.raw.SET_HOSTNAME).toBe('"web-01.example.org"');
    expect(guestctx(['query', 'SET_HOSTNAME', '--seed', iso, '--root', root.dir]).stdout).toBe('"web-01.example.org"\n');
    expect(guestctx(['query', 'START_SCRIPT_BASE64', '--show-secrets', '--seed', iso, '--root', root.dir]).stdout).toMatch(/^IyEv/);
  });

  it('detect explains the evidence; status reports what ran', () => {
    root = makeTempRoot();
    const d = guestctx(['detect', '--seed', iso, '--root', root.dir]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/found\s+opennebula.*has context\.sh/);
    const none = guestctx(['detect', '--root', root.dir]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/no filesystem labelled CONTEXT/);
    guestctx(['run', '--seed', iso, '--root', root.dir]);
    const s = guestctx(['status', '--root', root.dir]);
    expect(s.stdout).toMatch(/^local: ok/m);
    expect(s.stdout).toMatch(/hostname\s+ok/);
    const j = JSON.parse(guestctx(['status', '--json', '--root', root.dir]).stdout) as { stages: Record<string, { result: string }> };
    expect(j.stages.final?.result).toBe('ok');
    const w = guestctx(['status', '--wait', '--timeout', '5', '--root', root.dir]);
    expect(w.code).toBe(0);
  });

  it('exit codes: 2 for usage and a missing seed, with one clear line and no stack', () => {
    const u = guestctx(['run', '--stage', 'bogus']);
    expect(u.code).toBe(2);
    const missing = guestctx(['run', '--seed', '/nonexistent/seed.iso', '--root', os.tmpdir()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\/nonexistent\/seed\.iso: --seed: no such file or directory/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('clean forgets the instance so the next run is a first boot', () => {
    root = makeTempRoot();
    guestctx(['run', '--seed', iso, '--root', root.dir]);
    expect(existsSync(root.file('var/lib/guestctx/instance-id'))).toBe(true);
    const c = guestctx(['clean', '--logs', '--root', root.dir]);
    expect(c.code).toBe(0);
    expect(existsSync(root.file('var/lib/guestctx/instance-id'))).toBe(false);
    expect(existsSync(root.file('var/log/guestctx.log'))).toBe(false);
  });
});

describe.runIf(existsSync(sea))('dist/guestctx single executable', () => {
  it('runs without node on PATH', () => {
    root = makeTempRoot();
    const r = spawnSync(sea, ['run', '--seed', iso, '--root', root.dir], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    expect(r.status).toBe(0);
    expect(root.read('etc/hostname')).toBe('web-01\n');
  });

  // The build trains a code cache on a sample guest (packaging/sea-main.cjs); V8 must take it.
  it('starts from its trained code cache', () => {
    const r = spawnSync(sea, ['--version'], { encoding: 'utf8', env: { GUESTCTX_CODE_CACHE: 'report' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^guestctx: code cache accepted \(\d{5,} bytes\)$/m);
  });

  it('GUESTCTX_TRACE_STARTUP=1 prints where start-up went, from the runtime to the first stage', () => {
    root = makeTempRoot();
    const r = spawnSync(sea, ['run', '--seed', iso, '--root', root.dir, '--stage', 'local'], { encoding: 'utf8', env: { GUESTCTX_TRACE_STARTUP: '1' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^guestctx: start-up: runtime-ready \d+ ms, bundle-compiled \+\d+, bundle-evaluated \+\d+, arguments-parsed \+\d+, log-open \+\d+, session-ready \+\d+, stage-local \+\d+, exit \+\d+$/m);
  });

  it('still runs, compiling as usual, when V8 rejects the cache (other flags)', () => {
    root = makeTempRoot();
    const r = spawnSync(sea, ['run', '--seed', iso, '--root', root.dir], { encoding: 'utf8', env: { GUESTCTX_CODE_CACHE: 'report', NODE_OPTIONS: '--jitless' } });
    expect(r.stderr).toMatch(/code cache rejected/);
    expect(r.status).toBe(0);
    expect(root.read('etc/hostname')).toBe('web-01\n');
  });
});


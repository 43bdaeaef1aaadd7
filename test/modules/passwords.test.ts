// passwords against temp roots: chpasswd users (hash / text / RANDOM) and the
// default user's `password` reach `chpasswd -e` as hashes on stdin only,
// expire runs passwd -e, RANDOM passwords go to a 0600 file and never to the
// log, ssh_pwauth writes a drop-in or edits sshd_config; then real chpasswd
// and passwd run chrooted.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateCloudConfigText, type CloudConfig } from '../../src/config/cloud-config';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { memoryLogger } from '../../src/log/logger';
import type { Executor } from '../../src/host/node-host';
import { sha512Matches } from '../../src/users/sha512-crypt';
import { PWAUTH_DROPIN, SSHD_CONFIG } from '../../src/users/sshd-pwauth';
import type { InstanceData, ModuleContext, ModuleOutcome } from '../../src/types';
import { passwords, randomPasswordsFile } from '../../modules/passwords';
import { addAccountTools, addShadowFiles, haveTools } from '../helpers/chroot-tools';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

const FIXTURES = path.resolve(__dirname, '../fixtures/modules/users');
const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };
const STATE = '/var/lib/guestctx';
const DEBIAN_SSHD = 'Include /etc/ssh/sshd_config.d/*.conf\n\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\n';

interface Call {
  readonly argv: readonly string[];
  readonly input?: string;
}

function recording(): { calls: Call[]; executor: Executor } {
  const calls: Call[] = [];
  return {
    calls,
    executor: async (argv, opts) => {
      const guest = argv[0] === 'chroot' ? argv.slice(5) : argv;
      calls.push({ argv: [path.basename(guest[0] ?? ''), ...guest.slice(1)], ...(opts.input !== undefined ? { input: opts.input.toString() } : {}) });
      return { code: 0, stdout: '', stderr: '' };
    },
  };
}

function fakeTools(r: TempRoot): void {
  for (const t of ['usr/sbin/chpasswd', 'usr/bin/passwd']) r.write(t, '#!/bin/sh\n', 0o755);
}

function ctxFor(opts: { executor?: Executor } = {}): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host: hostOn(root, opts), log: memoryLogger(), instance, stage: 'network', stateDir: STATE };
}

const cfgWith = (cloud: CloudConfig, context?: Record<string, string>): GuestConfig => ({
  ...emptyGuestConfig('i-1'),
  cloud,
  ...(context ? { context: new Map(Object.entries(context)) } : {}),
});

function fixture(): GuestConfig {
  const res = validateCloudConfigText(readFileSync(path.join(FIXTURES, 'passwords/user-data.yaml'), 'utf8'), 'user-data');
  expect(res.errors).toEqual([]);
  return cfgWith(res.config);
}

async function run(ctx: ModuleContext, cfg: GuestConfig): Promise<{ out?: ModuleOutcome | void; err?: Error & { source?: string } }> {
  const plan = passwords.parse(cfg);
  expect(plan).toBeDefined();
  try {
    return { out: await passwords.run(ctx, plan!) };
  } catch (err) {
    return { err: err as Error & { source?: string } };
  }
}

function expectHidden(secret: string, calls: readonly Call[], lines: readonly string[], extra: unknown[] = []): void {
  for (const c of calls) expect(`${c.argv.join(' ')}\n${c.input ?? ''}`).not.toContain(secret);
  for (const l of lines) expect(l).not.toContain(secret);
  for (const e of extra) expect(JSON.stringify(e) ?? '').not.toContain(secret);
}

describe('passwords parse', () => {
  it.each([
    ['nothing to do', {}, undefined],
    ['ssh_pwauth unchanged', { ssh_pwauth: 'unchanged' as const }, undefined],
    ['password for the implicit default user', { password: 'pw' }, [{ name: 'debian', source: 'password', kind: 'text', text: 'pw' }]],
    ['a hashed `password`', { password: '$6$ab$cd' }, [{ name: 'debian', source: 'password', kind: 'hash', hash: '$6$ab$cd' }]],
    ['`password` is ignored when chpasswd names users', { password: 'pw', chpasswd: { users: [{ name: 'root', type: 'RANDOM' as const }] } }, [{ name: 'root', source: 'chpasswd.users[0]', kind: 'random' }]],
  ])('%s', (_n, cloud, entries) => {
    const plan = passwords.parse(cfgWith(cloud));
    expect(plan?.entries).toEqual(entries);
  });

  it('`password` without a default user is an error naming the key', () => {
    expect(passwords.parse(cfgWith({ password: 'pw', users: [{ name: 'x' }] }))?.problems[0]?.source).toBe('password');
    // With an OpenNebula context there is no distribution default user either.
    expect(passwords.parse(cfgWith({ password: 'pw' }, { USERNAME: 'alice' }))?.problems[0]?.source).toBe('password');
  });
});

describe('passwords with recorded commands', () => {
  it('hashes on stdin, passwd -e, random passwords to a 0600 file, a missing user fails alone', async () => {
    root = makeTempRoot();
    fakeTools(root);
    root.write(SSHD_CONFIG, DEBIAN_SSHD);
    const rec = recording();
    const ctx = ctxFor({ executor: rec.executor });
    const { out, err } = await run(ctx, fixture());
    expect(err?.source).toBe('chpasswd.users[3].name');
    expect(err?.message).toMatch(/user nobody-here does not exist/);
    expect(rec.calls.map((c) => c.argv)).toEqual([
      ['chpasswd', '-e'], ['passwd', '-e', 'debian'],
      ['chpasswd', '-e'], ['passwd', '-e', 'root'],
      ['chpasswd', '-e'], ['passwd', '-e', 'daemon'],
    ]);
    expect(sha512Matches('plain Secret 1', (rec.calls[0]?.input ?? '').replace(/^debian:/, '').trim())).toBe(true);
    expect(rec.calls[4]?.input).toBe('daemon:$6$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ./0123456789abcdefghijk\n');
    // The random password: in the root-only file, hashed on stdin, nowhere else.
    const file = randomPasswordsFile(STATE).slice(1);
    const m = /^root:([a-zA-Z0-9]{20})\n$/.exec(root.read(file));
    expect(m).not.toBeNull();
    const random = m![1] as string;
    expect(root.mode(file)).toBe(0o600);
    expect(sha512Matches(random, (rec.calls[2]?.input ?? '').replace(/^root:/, '').trim())).toBe(true);
    expectHidden(random, rec.calls, ctx.log.lines, [out, ctx.log.events]);
    // ...and shown to the operator on the console only.
    expect(ctx.log.consoleLines.join('\n')).toContain(`root:${random}`);
    expectHidden('plain Secret 1', rec.calls, ctx.log.lines, [ctx.log.events, ctx.host.changes()]);
    expectHidden('x Secret 2', rec.calls, ctx.log.lines, [ctx.log.events, err?.message]);
    // ssh_pwauth: false with Debian's Include: a drop-in, sshd_config untouched, no reload offline.
    expect(root.read(PWAUTH_DROPIN.slice(1))).toBe('# Written by guestctx from cloud-config ssh_pwauth.\nPasswordAuthentication no\n');
    expect(root.mode(PWAUTH_DROPIN.slice(1))).toBe(0o644);
    expect(root.read(SSHD_CONFIG.slice(1))).toBe(DEBIAN_SSHD);
  });

  it('expire: false sets passwords without passwd -e', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const rec = recording();
    const { out } = await run(ctxFor({ executor: rec.executor }), cfgWith({ chpasswd: { expire: false, users: [{ name: 'debian', type: 'hash', password: '$6$s$h' }] } }));
    expect(rec.calls).toEqual([{ argv: ['chpasswd', '-e'], input: 'debian:$6$s$h\n' }]);
    expect(out && out.details).toEqual({ passwordsSet: ['debian'], expired: [], random: 0, sshd: 'unchanged' });
  });

  it.each([
    ['edits PasswordAuthentication in place without an Include', 'Port 22\nPasswordAuthentication no\nUsePAM yes\n', true, 'Port 22\nPasswordAuthentication yes\nUsePAM yes\n', false],
    ['adds the line when there is none', 'Port 22\n', false, 'Port 22\nPasswordAuthentication no\n', false],
    ['writes the drop-in when sshd_config includes sshd_config.d', DEBIAN_SSHD, true, DEBIAN_SSHD, true],
  ])('ssh_pwauth %s', async (_n, before, enable, after, dropIn) => {
    root = makeTempRoot();
    root.write(SSHD_CONFIG, before, 0o600);
    const { out } = await run(ctxFor({ executor: recording().executor }), cfgWith({ ssh_pwauth: enable }));
    expect(root.read(SSHD_CONFIG.slice(1))).toBe(after);
    expect(root.mode(SSHD_CONFIG.slice(1))).toBe(0o600);
    if (dropIn) expect(root.read(PWAUTH_DROPIN.slice(1))).toMatch(new RegExp(`^PasswordAuthentication ${enable ? 'yes' : 'no'}$`, 'm'));
    expect(out && out.details?.sshd).toBe('changed');
  });

  it('ssh_pwauth without sshd is a warning, not a failure', async () => {
    root = makeTempRoot();
    const ctx = ctxFor({ executor: recording().executor });
    const { out, err } = await run(ctx, cfgWith({ ssh_pwauth: true }));
    expect(err).toBeUndefined();
    expect(out && out.details?.sshd).toBe('unchanged');
    expect(ctx.log.lines.join('\n')).toMatch(/sshd_config does not exist/);
  });

  it('warns when an earlier drop-in also sets PasswordAuthentication', async () => {
    root = makeTempRoot();
    root.write(SSHD_CONFIG, DEBIAN_SSHD);
    root.write('etc/ssh/sshd_config.d/10-local.conf', 'PasswordAuthentication yes\n');
    const ctx = ctxFor({ executor: recording().executor });
    await run(ctx, cfgWith({ ssh_pwauth: false }));
    expect(ctx.log.lines.join('\n')).toMatch(/10-local\.conf also sets PasswordAuthentication/);
  });
});

describe.skipIf(!haveTools())('passwords with the real chpasswd and passwd, chrooted', () => {
  it('sets and expires the passwords; a second run changes nothing', async () => {
    root = makeTempRoot();
    addAccountTools(root.dir);
    addShadowFiles(root.dir);
    root.write(SSHD_CONFIG, DEBIAN_SSHD);
    const cfg = cfgWith({ ssh_pwauth: true, chpasswd: { users: [{ name: 'debian', type: 'text', password: 'real Secret 3' }, { name: 'daemon', type: 'hash', password: '$6$abc$def' }] } });
    const ctx = ctxFor();
    const { err } = await run(ctx, cfg);
    expect(err).toBeUndefined();
    const shadow = Object.fromEntries(root.read('etc/shadow').trim().split('\n').map((l) => [l.split(':')[0], l.split(':')]));
    expect(sha512Matches('real Secret 3', shadow['debian']?.[1] ?? '')).toBe(true);
    expect(shadow['daemon']?.[1]).toBe('$6$abc$def');
    // passwd -e: last change 0 = must change at next login.
    expect(shadow['debian']?.[2]).toBe('0');
    expect(shadow['daemon']?.[2]).toBe('0');
    expect(shadow['root']?.[1]).toBe('*');
    expect(root.read(PWAUTH_DROPIN.slice(1))).toMatch(/^PasswordAuthentication yes$/m);
    expectHidden('real Secret 3', [], ctx.log.lines, [ctx.host.changes()]);

    const before = hashTree(root.dir);
    const again = ctxFor();
    const second = await run(again, cfg);
    expect(second.err).toBeUndefined();
    expect(hashTree(root.dir)).toBe(before);
    expect(again.host.changes()).toEqual([]);
  });
});

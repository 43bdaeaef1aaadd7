// users-groups (and users-password-reset) against temp roots: the exact
// commands for cloud-config users/groups and for the OpenNebula USERNAME
// account (recorded), the sudoers drop-in, secrets kept out of argv, logs and
// status details, bad items failing alone; then the same with this machine's
// real useradd/groupadd/usermod/gpasswd/chpasswd/passwd/visudo run chrooted.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudConfig } from '../../src/config/cloud-config';
import { validateCloudConfigText } from '../../src/config/cloud-config';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import { memoryLogger } from '../../src/log/logger';
import type { Executor } from '../../src/host/node-host';
import { sha512Matches } from '../../src/users/sha512-crypt';
import { SUDOERS_FILE } from '../../src/users/sudoers';
import type { InstanceData, ModuleContext, ModuleOutcome } from '../../src/types';
import { usersGroups, usersPasswordReset, useraddArgs, planUsers } from '../../modules/users-groups';
import { addAccountTools, addShadowFiles, haveTools } from '../helpers/chroot-tools';
import { hashTree, hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

const FIXTURES = path.resolve(__dirname, '../fixtures/modules/users');
const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

interface Call {
  readonly argv: readonly string[];
  readonly input?: string;
}

/** Records each command without the "chroot ROOT /usr/bin/env -C /" prefix, with its standard input. */
function recording(): { calls: Call[]; executor: Executor } {
  const calls: Call[] = [];
  return {
    calls,
    executor: async (argv, opts) => {
      const guest = argv[0] === 'chroot' ? argv.slice(5) : argv;
      calls.push({ argv: guest, ...(opts.input !== undefined ? { input: opts.input.toString() } : {}) });
      return { code: 0, stdout: '', stderr: '' };
    },
  };
}

/** Stand-ins for the guest's tools, so host.which finds them; the recorder answers for them. */
function fakeTools(r: TempRoot): void {
  for (const t of ['usr/sbin/useradd', 'usr/sbin/groupadd', 'usr/sbin/usermod', 'usr/sbin/chpasswd', 'usr/bin/passwd', 'usr/bin/gpasswd']) r.write(t, '#!/bin/sh\n', 0o755);
}

function ctxFor(executor?: Executor): ModuleContext & { log: ReturnType<typeof memoryLogger> } {
  return { host: hostOn(root, executor ? { executor } : {}), log: memoryLogger(), instance, stage: 'network', stateDir: '/var/lib/guestctx' };
}

function cloudFrom(file: string): CloudConfig {
  const res = validateCloudConfigText(readFileSync(path.join(FIXTURES, file), 'utf8'), file);
  expect(res.errors).toEqual([]);
  return res.config;
}

function cfgWith(cloud: CloudConfig, context?: Record<string, string>): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud, ...(context ? { context: new Map(Object.entries(context)) } : {}) };
}

async function runCatching(ctx: ModuleContext, cfg: GuestConfig): Promise<{ out?: ModuleOutcome | void; err?: Error }> {
  const plan = usersGroups.parse(cfg);
  expect(plan).toBeDefined();
  try {
    return { out: await usersGroups.run(ctx, plan!) };
  } catch (err) {
    return { err: err as Error };
  }
}

/** The clear text appears nowhere a person or a file could see it. */
function expectHidden(secret: string, calls: readonly Call[], lines: readonly string[], extra: unknown[] = []): void {
  for (const c of calls) expect(c.argv.join(' ')).not.toContain(secret);
  for (const c of calls) expect(c.input ?? '').not.toContain(secret);
  for (const l of lines) expect(l).not.toContain(secret);
  for (const e of extra) expect(JSON.stringify(e) ?? '').not.toContain(secret);
}

const argvs = (calls: readonly Call[]): string[][] => calls.map((c) => [path.basename(c.argv[0] as string), ...c.argv.slice(1)]);

describe('users-groups planning', () => {
  it('cloud-config without users means [default]; an OpenNebula context means its USERNAME instead', () => {
    expect(planUsers(cfgWith({}))?.users.map((u) => u.name)).toEqual(['debian']);
    expect(planUsers(cfgWith({}, { USERNAME: 'alice' }))?.users.map((u) => u.name)).toEqual(['alice']);
    expect(planUsers(cfgWith({ users: ['default'] }, { USERNAME: 'alice' }))?.users.map((u) => u.name)).toEqual(['debian', 'alice']);
    expect(planUsers(cfgWith({ users: [] }))).toBeUndefined();
  });

  it('`user` adjusts the default user; a repeated name merges', () => {
    const plan = planUsers(cfgWith({ user: { name: 'ops', shell: '/bin/sh', sudo: false }, users: ['default', { name: 'ops', groups: ['extra'] }] }));
    expect(plan?.users).toHaveLength(1);
    expect(plan?.users[0]).toMatchObject({ name: 'ops', shell: '/bin/sh', sudo: [], groups: expect.arrayContaining(['adm', 'sudo', 'extra']) });
  });

  it('builds useradd arguments without any password', () => {
    const plan = planUsers(cfgFromFixture());
    const carol = plan?.users.find((u) => u.name === 'carol');
    expect(useraddArgs(carol!, ['users', 'admins'])).toEqual(['-c', 'Carol C. Cloud', '-G', 'users,admins', '-s', '/bin/sh', '-u', '2001', '-e', '2030-01-31', '-f', '7', '-m', 'carol']);
    const svc = plan?.users.find((u) => u.name === 'svc');
    expect(useraddArgs(svc!, [])).toEqual(['-d', '/srv/svc', '-g', 'daemon', '-r', '-M', '-N', 'svc']);
  });
});

function cfgFromFixture(): GuestConfig {
  return cfgWith(cloudFrom('cloud-users/user-data.yaml'));
}

describe('users-groups with recorded commands', () => {
  it('creates groups and users from cloud-config, reports the bad name, writes sudo rules', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const rec = recording();
    const ctx = ctxFor(rec.executor);
    const { err } = await runCatching(ctx, cfgFromFixture());
    // The bad entry fails alone, named by its key.
    expect(err?.message).toMatch(/is not a valid name/);
    expect((err as { source?: string }).source).toBe('users[3].name');
    const cmds = argvs(rec.calls);
    const expectedGroups = ['admins', 'cloud-users', 'adm', 'audio', 'cdrom', 'dialout', 'dip', 'floppy', 'netdev', 'plugdev', 'video', 'users', 'wheel'];
    expect(cmds.filter((c) => c[0] === 'groupadd').map((c) => c[1])).toEqual(expectedGroups);
    expect(cmds).toContainEqual(['usermod', '-aG', 'adm,audio,cdrom,dialout,dip,floppy,netdev,plugdev,video', 'debian']);
    expect(cmds).toContainEqual(['useradd', '-c', 'Carol C. Cloud', '-G', 'users,admins,wheel', '-s', '/bin/sh', '-u', '2001', '-e', '2030-01-31', '-f', '7', '-m', 'carol']);
    expect(cmds).toContainEqual(['useradd', '-d', '/srv/svc', '-g', 'daemon', '-r', '-M', '-N', 'svc']);
    expect(cmds).toContainEqual(['useradd', '-G', 'cloud-users', '-m', 'dave']);
    expect(cmds.some((c) => c.includes('never created'))).toBe(false);
    // Members are added after the users exist; root is added, carol was already put in by useradd -G in a real run.
    expect(cmds).toContainEqual(['gpasswd', '-a', 'root', 'admins']);
    // Passwords: only hashes, only on stdin.
    const chp = rec.calls.filter((c) => c.argv[0]?.endsWith('chpasswd'));
    expect(chp.map((c) => c.argv.slice(1))).toEqual([['-e'], ['-e']]);
    const carolLine = chp.map((c) => c.input ?? '').find((i) => i.startsWith('carol:'));
    expect(carolLine).toMatch(/^carol:\$6\$[^:\n]+\n$/);
    expect(sha512Matches('Tr0ub4dor & 3', carolLine!.slice(6).trim())).toBe(true);
    expect(chp.map((c) => c.input)).toContain('dave:$6$Qh1a2b3c4d5e6f7g$k7eZ8l0vH9oCt8cY7GQb0v3yq3c6o1w4Pq2L2bQe1eY7bWg5rCk8V8h0o5f5Jr1q2k1uK0k9kUoK8v1S7e2N1\n');
    // lock_passwd defaults to true: dave's new password is locked, carol (lock_passwd: false) is not.
    expect(cmds).toContainEqual(['passwd', '-l', 'dave']);
    expect(cmds).not.toContainEqual(['passwd', '-l', 'carol']);
    // Sudo: one file, 0440, one line per rule; svc has sudo: false.
    expect(root.read(SUDOERS_FILE)).toBe(
      '# Written by guestctx from the users configuration of this instance.\n# Rewritten on a new instance: put local rules in another file.\n' +
        'debian ALL=(ALL) NOPASSWD:ALL\ncarol ALL=(ALL) NOPASSWD:ALL\ndave ALL=(ALL) ALL\ndave ALL=(root) NOPASSWD: /usr/bin/true\n',
    );
    expect(root.mode(SUDOERS_FILE)).toBe(0o440);
    expectHidden('Tr0ub4dor & 3', rec.calls, ctx.log.lines, [ctx.log.events, ctx.host.changes()]);
  });

  it('the OpenNebula account: useradd with its shell, the hashed password on stdin, the sudo rule', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const rec = recording();
    const ctx = ctxFor(rec.executor);
    const { out, err } = await runCatching(ctx, cfgWith({}, { USERNAME: 'alice', USERNAME_SHELL: '/bin/sh', PASSWORD: 'open sesame 42' }));
    expect(err).toBeUndefined();
    expect(argvs(rec.calls)).toEqual([['useradd', '-s', '/bin/sh', '-m', 'alice'], ['chpasswd', '-e']]);
    const line = rec.calls[1]?.input ?? '';
    expect(sha512Matches('open sesame 42', line.replace(/^alice:/, '').trim())).toBe(true);
    expect(root.read(SUDOERS_FILE)).toMatch(/^alice ALL=\(ALL\) NOPASSWD:ALL$/m);
    expect(out && out.details).toEqual({ created: ['alice'], updated: [], groupsCreated: [], passwordsSet: ['alice'], locked: [], sudoers: 'written' });
    expectHidden('open sesame 42', rec.calls, ctx.log.lines, [out, ctx.log.events]);
  });

  it('USERNAME unset: root is not created, its password comes from CRYPTED_PASSWORD_BASE64; no sudo file', async () => {
    root = makeTempRoot();
    fakeTools(root);
    root.write(SUDOERS_FILE, 'stale ALL=(ALL) ALL\n', 0o440);
    const rec = recording();
    const hash = '$6$saltsalt$' + 'A'.repeat(86);
    const { err } = await runCatching(ctxFor(rec.executor), cfgWith({}, { CRYPTED_PASSWORD_BASE64: Buffer.from(hash).toString('base64'), PASSWORD: 'ignored' }));
    expect(err).toBeUndefined();
    expect(rec.calls).toEqual([{ argv: ['/usr/sbin/chpasswd', '-e'], input: `root:${hash}\n` }]);
    // The file is ours: a new instance without sudo rules removes the old ones.
    expect(() => root.read(SUDOERS_FILE)).toThrow();
  });

  it('USERNAME_SUDO=NO and the legacy GRANT_SUDO=NO give no rule', async () => {
    const cases: Record<string, string>[] = [{ USERNAME: 'bob', USERNAME_SUDO: 'NO' }, { USERNAME: 'bob', GRANT_SUDO: 'no' }];
    for (const vars of cases) {
      root = makeTempRoot();
      fakeTools(root);
      const rec = recording();
      await runCatching(ctxFor(rec.executor), cfgWith({}, vars));
      expect(argvs(rec.calls)).toEqual([['useradd', '-s', '/bin/bash', '-m', 'bob']]);
      expect(() => root.read(SUDOERS_FILE)).toThrow();
      root.cleanup();
    }
  });

  it('an existing user is updated, not recreated; groups it has are left alone', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const rec = recording();
    await runCatching(ctxFor(rec.executor), cfgWith({ users: [{ name: 'debian', groups: ['sudo', 'staff'], lock_passwd: false }] }));
    expect(argvs(rec.calls)).toEqual([['groupadd', 'staff'], ['usermod', '-aG', 'staff', 'debian']]);
  });

  it('create_groups: false skips a missing group for that user only', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const rec = recording();
    const { err } = await runCatching(ctxFor(rec.executor), cfgWith({ users: [{ name: 'erin', groups: ['nosuch', 'sudo'], create_groups: false, lock_passwd: false }] }));
    expect(err?.message).toMatch(/group nosuch does not exist and create_groups is false/);
    expect(argvs(rec.calls)).toEqual([['useradd', '-G', 'sudo', '-m', 'erin']]);
  });

  it('a sudo rule spanning lines is rejected for that user; the other rules are written', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const { err } = await runCatching(ctxFor(recording().executor), cfgWith({ users: [{ name: 'debian', sudo: ['ALL=(ALL) ALL\nevil ALL=(ALL) NOPASSWD:ALL'] }, { name: 'fred', sudo: ['ALL=(ALL) ALL'], lock_passwd: false }] }));
    expect((err as { source?: string }).source).toBe('users[0].sudo[0]');
    expect(root.read(SUDOERS_FILE)).not.toContain('evil');
    expect(root.read(SUDOERS_FILE)).toMatch(/^fred ALL=\(ALL\) ALL$/m);
  });

  it('--dry-run: commands are recorded as not run and no file changes', async () => {
    root = makeTempRoot();
    fakeTools(root);
    const before = hashTree(root.dir);
    const ctx: ModuleContext = { host: hostOn(root, { dryRun: true }), log: memoryLogger(), instance, stage: 'network', stateDir: '/var/lib/guestctx' };
    await usersGroups.run(ctx, usersGroups.parse(cfgWith({}, { USERNAME: 'alice', PASSWORD: 'dry secret 1' }))!);
    expect(hashTree(root.dir)).toBe(before);
    const changes = ctx.host.changes();
    expect(changes.filter((c) => c.kind === 'command').map((c) => c.kind === 'command' && [[path.basename(c.argv[0] ?? ''), ...c.argv.slice(1)].join(' '), c.ran])).toEqual([['useradd -s /bin/bash -m alice', false], ['chpasswd -e', false]]);
    expect(changes.some((c) => c.kind === 'write' && c.path === SUDOERS_FILE)).toBe(true);
    expect(JSON.stringify(changes)).not.toContain('dry secret 1');
  });

  it('a missing tool is a clear error', async () => {
    root = makeTempRoot();
    const { err } = await runCatching(ctxFor(recording().executor), cfgWith({}, { USERNAME: 'alice' }));
    expect(err?.message).toMatch(/useradd is not installed in the guest/);
  });

  it('users-password-reset: every boot, the context password or "*"', async () => {
    root = makeTempRoot();
    fakeTools(root);
    // users-groups leaves the password to the 'always' module when USERNAME_PASSWORD_RESET=YES.
    const vars = { USERNAME: 'alice', PASSWORD: 'every boot pw', USERNAME_PASSWORD_RESET: 'YES' };
    const plan = usersPasswordReset.parse(cfgWith({}, vars));
    expect(plan).toBeDefined();
    expect(planUsers(cfgWith({}, vars))?.users[0]?.password).toBeUndefined();
    root.write('etc/passwd', `${root.read('etc/passwd')}alice:x:1001:1001::/home/alice:/bin/bash\n`);
    const rec = recording();
    const ctx = ctxFor(rec.executor);
    await usersPasswordReset.run(ctx, plan!);
    expect(argvs(rec.calls)).toEqual([['chpasswd', '-e']]);
    expect(sha512Matches('every boot pw', (rec.calls[0]?.input ?? '').replace(/^alice:/, '').trim())).toBe(true);
    expectHidden('every boot pw', rec.calls, ctx.log.lines);
    // No password in the context: reset to "*".
    const rec2 = recording();
    await usersPasswordReset.run(ctxFor(rec2.executor), usersPasswordReset.parse(cfgWith({}, { USERNAME: 'alice', USERNAME_PASSWORD_RESET: 'yes' }))!);
    expect(rec2.calls).toEqual([{ argv: ['/usr/sbin/chpasswd', '-e'], input: 'alice:*\n' }]);
    expect(usersPasswordReset.parse(cfgWith({}, { USERNAME: 'alice' }))).toBeUndefined();
    expect(usersPasswordReset.parse(cfgWith({}))).toBeUndefined();
  });
});

describe.skipIf(!haveTools())('users-groups with the real tools, chrooted', () => {
  function realRoot(visudo: boolean): TempRoot {
    const r = makeTempRoot();
    addAccountTools(r.dir, { visudo });
    addShadowFiles(r.dir);
    return r;
  }
  const shadowOf = (name: string): string[] => (root.read('etc/shadow').split('\n').find((l) => l.startsWith(`${name}:`)) ?? '').split(':');

  it('creates accounts, groups, memberships and passwords; a second run changes nothing', async () => {
    root = realRoot(haveTools(true));
    const cfg = cfgWith(cloudFrom('cloud-users/user-data.yaml'), { USERNAME: 'alice', PASSWORD: 'open sesame 42' });
    const ctx = ctxFor();
    const { err } = await runCatching(ctx, cfg);
    expect((err as { source?: string }).source).toBe('users[3].name');
    const passwd = root.read('etc/passwd');
    expect(passwd).toMatch(/^carol:x:2001:\d+:Carol C\. Cloud:\/home\/carol:\/bin\/sh$/m);
    expect(passwd).toMatch(/^svc:x:\d+:1::\/srv\/svc:/m);
    expect(passwd).toMatch(/^alice:x:\d+:\d+::\/home\/alice:\/bin\/bash$/m);
    expect(passwd).toMatch(/^dave:x:/m);
    expect(passwd).not.toMatch(/Bad Name/);
    const group = root.read('etc/group');
    expect(group).toMatch(/^admins:x:\d+:(root,carol|carol,root)$/m);
    expect(group).toMatch(/^cloud-users:x:\d+:dave$/m);
    expect(group).toMatch(/^adm:x:\d+:debian$/m);
    expect(group).toMatch(/^wheel:x:\d+:carol$/m);
    // Passwords: verified against the hashes in the chroot's /etc/shadow.
    expect(sha512Matches('Tr0ub4dor & 3', shadowOf('carol')[1] ?? '')).toBe(true);
    expect(sha512Matches('open sesame 42', shadowOf('alice')[1] ?? '')).toBe(true);
    expect(shadowOf('dave')[1]).toMatch(/^!\$6\$Qh1a2b3c4d5e6f7g\$/);
    expect(root.mode('etc/shadow')).toBe(0o640);
    expect(root.read(SUDOERS_FILE)).toMatch(/^alice ALL=\(ALL\) NOPASSWD:ALL$/m);
    expect(root.mode(SUDOERS_FILE)).toBe(0o440);
    expectHidden('open sesame 42', [], ctx.log.lines, [ctx.host.changes()]);

    const before = hashTree(root.dir);
    const again = ctxFor();
    await runCatching(again, cfg);
    expect(hashTree(root.dir)).toBe(before);
    expect(again.host.changes().filter((c) => c.kind !== 'command' || !c.argv[0]?.endsWith('visudo'))).toEqual([]);
  });

  it.skipIf(!haveTools(true))('visudo rejects a bad rule: clear error naming it, the previous file stays', async () => {
    root = realRoot(true);
    const good = await runCatching(ctxFor(), cfgWith({ users: [{ name: 'debian', sudo: ['ALL=(ALL) NOPASSWD:ALL'] }] }));
    expect(good.err).toBeUndefined();
    const previous = root.read(SUDOERS_FILE);
    const bad = await runCatching(ctxFor(), cfgWith({ users: [{ name: 'debian', sudo: ['ALL=(ALL) NOPASSWD:ALL'] }, { name: 'gina', sudo: ['ALL=(ALL) NOPASSWD ALL garbage('] }] }));
    expect((bad.err as { source?: string }).source).toBe('users[1].sudo[0]');
    expect(bad.err?.message).toMatch(/rejected by visudo .*syntax error.*is unchanged/);
    expect(root.read(SUDOERS_FILE)).toBe(previous);
    // The account itself was still created, and the scratch copy is gone.
    expect(root.read('etc/passwd')).toMatch(/^gina:/m);
    expect(() => root.read('var/lib/guestctx/sudoers.check')).toThrow();
  });
});

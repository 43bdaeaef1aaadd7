// users-groups: create the groups and accounts of cloud-config `groups` /
// `users` (the distribution's default user included) and the OpenNebula
// USERNAME account, once per instance, with the guest's own useradd, groupadd,
// usermod, gpasswd, chpasswd and passwd. Existing accounts are updated (missing
// groups added, passwords set), never recreated. Sudo rules go to one checked
// drop-in file. Clear-text passwords are hashed here; only hashes reach
// chpasswd, on its standard input.
import { ConfigError, describeError } from '../../src/errors';
import type { Host } from '../../src/host/host';
import type { Logger } from '../../src/log/logger';
import type { PasswordInput } from '../../src/users/context-account';
import { type Accounts, groupsOf, readAccounts } from '../../src/users/etc-files';
import { hashPassword, sha512Matches } from '../../src/users/sha512-crypt';
import { installSudoers, type SudoRule, type SudoersResult } from '../../src/users/sudoers';
import { lockPassword, runTool, setPasswordHashes } from '../../src/users/tools';
import type { Module, ModuleContext, ModuleOutcome } from '../../src/types';
import { planUsers, type PlannedGroup, type PlannedUser, type UsersPlan } from './plan';
import { usersPasswordReset } from './password-reset';

export type { PlannedGroup, PlannedUser, UsersPlan } from './plan';
export { planUsers } from './plan';
export { usersPasswordReset };

/**
 * The hash to give chpasswd, or undefined when the account already has this
 * password. A "!" lock prefix only counts as the same password when the
 * account is to be locked anyway.
 */
export function passwordToSet(input: PasswordInput, current: string | undefined, lock: boolean): string | undefined {
  const field = lock ? current?.replace(/^!/, '') : current;
  if (input.kind === 'hash') return field === input.hash ? undefined : input.hash;
  if (field !== undefined && sha512Matches(input.text, field)) return undefined;
  return hashPassword(input.text);
}

/** The arguments of useradd for a new account (no password: that goes through chpasswd -e). */
export function useraddArgs(u: PlannedUser, groups: readonly string[]): string[] {
  const args: string[] = [];
  if (u.gecos !== undefined) args.push('-c', u.gecos);
  if (u.homedir !== undefined) args.push('-d', u.homedir);
  if (u.primaryGroup !== undefined) args.push('-g', u.primaryGroup);
  if (groups.length > 0) args.push('-G', groups.join(','));
  if (u.shell !== undefined) args.push('-s', u.shell);
  if (u.uid !== undefined) args.push('-u', String(u.uid));
  if (u.expiredate !== undefined) args.push('-e', u.expiredate);
  if (u.inactive !== undefined) args.push('-f', String(u.inactive));
  if (u.selinuxUser !== undefined) args.push('-Z', u.selinuxUser);
  if (u.system) args.push('-r');
  args.push(u.createHome ? '-m' : '-M');
  if (u.noUserGroup) args.push('-N');
  if (u.noLogInit) args.push('-l');
  args.push(u.name);
  return args;
}

interface Progress {
  readonly created: string[];
  readonly updated: string[];
  readonly groupsCreated: string[];
  readonly passwordsSet: string[];
  readonly locked: string[];
  readonly errors: ConfigError[];
  /** Accounts that exist now (created this run, even in --dry-run where the files do not change). */
  readonly present: Set<string>;
  readonly groupsPresent: Set<string>;
}

function asConfigError(err: unknown, source: string): ConfigError {
  return err instanceof ConfigError ? err : new ConfigError(source, describeError(err), { cause: err });
}

async function ensureGroup(host: Host, log: Logger, name: string, source: string, p: Progress): Promise<void> {
  if (p.groupsPresent.has(name)) return;
  await runTool(host, 'groupadd', [name], source);
  p.groupsPresent.add(name);
  p.groupsCreated.push(name);
  log.info(`group ${name} created (${source})`);
}

/** Groups the user should be added to, creating missing ones when allowed; a missing group otherwise is an error for that group only. */
async function usableGroups(host: Host, log: Logger, u: PlannedUser, p: Progress): Promise<string[]> {
  const out: string[] = [];
  for (const g of u.groups) {
    if (p.groupsPresent.has(g)) out.push(g);
    else if (u.createGroups) {
      await ensureGroup(host, log, g, `${u.source}.groups`, p);
      out.push(g);
    } else p.errors.push(new ConfigError(`${u.source}.groups`, `group ${g} does not exist and create_groups is false; ${u.name} is not added to it`));
  }
  return out;
}

async function applyUser(host: Host, log: Logger, u: PlannedUser, accounts: Accounts, p: Progress): Promise<void> {
  const groups = await usableGroups(host, log, u, p);
  if (!p.present.has(u.name)) {
    if (u.primaryGroup !== undefined && !p.groupsPresent.has(u.primaryGroup)) {
      if (!u.createGroups) throw new ConfigError(`${u.source}.primary_group`, `group ${u.primaryGroup} does not exist and create_groups is false`);
      await ensureGroup(host, log, u.primaryGroup, `${u.source}.primary_group`, p);
    }
    await runTool(host, 'useradd', useraddArgs(u, groups), u.source);
    p.present.add(u.name);
    p.created.push(u.name);
    log.info(`user ${u.name} created (${u.source})`);
    return;
  }
  const have = groupsOf(accounts, u.name);
  const missing = groups.filter((g) => !have.has(g));
  if (missing.length > 0) {
    await runTool(host, 'usermod', ['-aG', missing.join(','), u.name], u.source);
    p.updated.push(u.name);
    log.info(`user ${u.name} added to ${missing.join(', ')} (${u.source})`);
  }
}

async function addMembers(host: Host, log: Logger, g: PlannedGroup, accounts: Accounts, p: Progress): Promise<void> {
  const current = accounts.groups.get(g.name)?.members ?? [];
  for (const m of g.members) {
    if (current.includes(m)) continue;
    if (!p.present.has(m)) {
      p.errors.push(new ConfigError(`${g.source}`, `member ${m} of group ${g.name} does not exist; it is not added`));
      continue;
    }
    try {
      // gpasswd edits one group; usermod -aG is the fallback on images without it.
      if ((await host.which('gpasswd')) !== undefined) await runTool(host, 'gpasswd', ['-a', m, g.name], g.source);
      else await runTool(host, 'usermod', ['-aG', g.name, m], g.source);
      log.info(`${m} added to group ${g.name} (${g.source})`);
    } catch (err) {
      p.errors.push(asConfigError(err, g.source));
    }
  }
}

/** Set passwords and locks; `justCreated` accounts have useradd's locked "!" and no shadow entry in --dry-run. */
async function applyPassword(host: Host, log: Logger, u: PlannedUser, accounts: Accounts, justCreated: boolean, p: Progress): Promise<void> {
  const entry = accounts.shadow.get(u.name);
  let hash: string | undefined;
  let origin = '';
  if (u.password !== undefined) {
    hash = passwordToSet(u.password, entry?.password, u.lock);
    origin = u.password.origin;
  } else if (u.createHash !== undefined && justCreated) {
    hash = u.createHash;
    origin = `${u.source}.passwd`;
  }
  if (hash !== undefined) {
    await setPasswordHashes(host, [{ user: u.name, hash }], origin);
    p.passwordsSet.push(u.name);
    log.info(`password of ${u.name} set (from ${origin})`);
  }
  if (!u.lock) return;
  const unlocked = hash !== undefined || (entry !== undefined && !entry.password.startsWith('!') && entry.password !== '*');
  if (unlocked) {
    await lockPassword(host, u.name, `${u.source}.lock_passwd`);
    p.locked.push(u.name);
    log.info(`password login of ${u.name} locked`);
  }
}

export const usersGroups: Module<UsersPlan> = {
  name: 'users-groups',
  stage: 'network',
  frequency: 'per-instance',
  description: 'create groups and users (cloud-config users/groups, OpenNebula USERNAME), sudo rules, account passwords',
  parse: planUsers,
  async run(ctx: ModuleContext, plan: UsersPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    // Mask clear-text passwords in every later log line, whatever prints them.
    for (const u of plan.users) if (u.password?.kind === 'text') log.addSecret(u.password.text);
    const before = await readAccounts(host);
    const p: Progress = {
      created: [],
      updated: [],
      groupsCreated: [],
      passwordsSet: [],
      locked: [],
      errors: [...plan.problems],
      present: new Set(before.users.keys()),
      groupsPresent: new Set(before.groups.keys()),
    };
    // Groups first (users may name them), their members last (members may be new users).
    for (const g of plan.groups) {
      try {
        await ensureGroup(host, log, g.name, g.source, p);
      } catch (err) {
        p.errors.push(asConfigError(err, g.source));
      }
    }
    const ok: PlannedUser[] = [];
    for (const u of plan.users) {
      try {
        await applyUser(host, log, u, before, p);
        ok.push(u);
      } catch (err) {
        p.errors.push(asConfigError(err, u.source));
      }
    }
    const after = await readAccounts(host);
    for (const g of plan.groups) if (p.groupsPresent.has(g.name)) await addMembers(host, log, g, after, p);
    for (const u of ok) {
      try {
        await applyPassword(host, log, u, after, p.created.includes(u.name), p);
      } catch (err) {
        p.errors.push(asConfigError(err, u.source));
      }
    }
    let sudoers: SudoersResult | 'failed' = 'none';
    const rules: SudoRule[] = ok.flatMap((u) => u.sudo.map((r) => ({ user: u.name, rule: r.rule, source: r.source })));
    try {
      sudoers = await installSudoers(host, log, rules, `${ctx.stateDir}/sudoers.check`);
    } catch (err) {
      sudoers = 'failed';
      p.errors.push(asConfigError(err, 'sudo'));
    }
    if (p.errors.length === 1) throw p.errors[0] as ConfigError;
    if (p.errors.length > 1) {
      throw new ConfigError('users-groups', `${p.errors.length} problems: ${p.errors.map((e) => e.describe()).join('; ')}`);
    }
    return {
      details: {
        created: p.created,
        updated: p.updated,
        groupsCreated: p.groupsCreated,
        passwordsSet: p.passwordsSet,
        locked: p.locked,
        sudoers,
      },
    };
  },
};

// Turn cloud-config `groups` / `users` (with `default` and `user`) and the
// OpenNebula USERNAME_* variables into one closed plan of accounts. Every bad
// value becomes a ConfigError naming its key (users[2].name, groups[0], ...)
// and only that item (or that field) is dropped: the other accounts still apply.
import type { GuestConfig } from '../../src/config/guest-config';
import type { UserSpec } from '../../src/config/cloud-config';
import { ConfigError } from '../../src/errors';
import { CONTEXT_SUDO_RULE, contextAccount, type PasswordInput } from '../../src/users/context-account';
import { defaultUserSpec, effectiveUsers } from '../../src/users/default-user';
import { fieldProblem, nameProblem } from '../../src/users/names';
import { ruleProblem } from '../../src/users/sudoers';

export interface PlannedUser {
  readonly name: string;
  /** Where it came from, for messages: "users[2]", "users[0] (default user)", "context USERNAME". */
  readonly source: string;
  readonly gecos?: string;
  /** Supplementary groups. */
  readonly groups: readonly string[];
  readonly sudo: readonly { readonly rule: string; readonly source: string }[];
  readonly shell?: string;
  /** passwd -l after the password is set (cloud-config lock_passwd, default true). */
  readonly lock: boolean;
  /** cloud-config `passwd`: a hash applied only when the account is created here. */
  readonly createHash?: string;
  /** hashed_passwd / plain_text_passwd / the context password: applied to new and existing accounts. */
  readonly password?: PasswordInput;
  readonly system: boolean;
  readonly homedir?: string;
  readonly createHome: boolean;
  readonly noUserGroup: boolean;
  readonly noLogInit: boolean;
  readonly primaryGroup?: string;
  readonly uid?: number;
  readonly expiredate?: string;
  readonly inactive?: number;
  /** Create missing groups named in `groups` / `primary_group` (default true). */
  readonly createGroups: boolean;
  readonly selinuxUser?: string;
}

export interface PlannedGroup {
  readonly name: string;
  readonly members: readonly string[];
  readonly source: string;
}

export interface UsersPlan {
  readonly groups: readonly PlannedGroup[];
  readonly users: readonly PlannedUser[];
  /** Problems found while planning; reported after everything else was applied. */
  readonly problems: readonly ConfigError[];
}

function planGroups(cfg: GuestConfig, problems: ConfigError[]): PlannedGroup[] {
  const out: PlannedGroup[] = [];
  (cfg.cloud.groups ?? []).forEach((g, i) => {
    const source = `groups[${i}]`;
    const bad = nameProblem(g.name);
    if (bad !== undefined) {
      problems.push(new ConfigError(source, bad));
      return;
    }
    const members: string[] = [];
    g.members.forEach((m, j) => {
      const badMember = nameProblem(m);
      if (badMember !== undefined) problems.push(new ConfigError(`${source}.${g.name}[${j}]`, badMember));
      else members.push(m);
    });
    out.push({ name: g.name, members, source });
  });
  return out;
}

/** One cloud-config user entry; throws for a bad name, drops (and reports) bad fields. */
function planUser(spec: UserSpec, source: string, problems: ConfigError[]): PlannedUser {
  const bad = nameProblem(spec.name);
  if (bad !== undefined) throw new ConfigError(`${source}.name`, bad);
  const text = (key: keyof UserSpec, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const why = fieldProblem(value);
    if (why === undefined) return value;
    problems.push(new ConfigError(`${source}.${key}`, `${why}; it is ignored`));
    return undefined;
  };
  const groups: string[] = [];
  (spec.groups ?? []).forEach((g, j) => {
    const why = nameProblem(g);
    if (why !== undefined) problems.push(new ConfigError(`${source}.groups[${j}]`, why));
    else if (!groups.includes(g)) groups.push(g);
  });
  const sudo: { rule: string; source: string }[] = [];
  if (spec.sudo !== undefined && spec.sudo !== false) {
    spec.sudo.forEach((rule, j) => {
      const why = ruleProblem(rule);
      if (why !== undefined) problems.push(new ConfigError(`${source}.sudo[${j}]`, why));
      else sudo.push({ rule, source: `${source}.sudo[${j}]` });
    });
  }
  let primaryGroup = spec.primary_group;
  if (primaryGroup !== undefined) {
    const why = nameProblem(primaryGroup);
    if (why !== undefined) {
      problems.push(new ConfigError(`${source}.primary_group`, why));
      primaryGroup = undefined;
    }
  }
  // hashed_passwd wins over plain_text_passwd, as cloud-init applies it last.
  let password: PasswordInput | undefined;
  if (spec.plain_text_passwd !== undefined && spec.plain_text_passwd !== '') {
    password = { kind: 'text', text: spec.plain_text_passwd, origin: `${source}.plain_text_passwd` };
  }
  const hashed = text('hashed_passwd', spec.hashed_passwd);
  if (hashed !== undefined && hashed !== '') password = { kind: 'hash', hash: hashed, origin: `${source}.hashed_passwd` };
  const createHash = text('passwd', spec.passwd);
  const gecos = text('gecos', spec.gecos);
  const shell = text('shell', spec.shell);
  const homedir = text('homedir', spec.homedir);
  const expiredate = text('expiredate', spec.expiredate);
  const system = spec.system ?? false;
  return {
    name: spec.name,
    source,
    groups,
    sudo,
    lock: spec.lock_passwd ?? true,
    system,
    // cloud-init gives system accounts no home unless asked for one.
    createHome: !(spec.no_create_home ?? false) && !system,
    noUserGroup: spec.no_user_group ?? false,
    noLogInit: spec.no_log_init ?? false,
    createGroups: spec.create_groups ?? true,
    ...(gecos !== undefined ? { gecos } : {}),
    ...(shell !== undefined ? { shell } : {}),
    ...(homedir !== undefined ? { homedir } : {}),
    ...(expiredate !== undefined ? { expiredate } : {}),
    ...(primaryGroup !== undefined ? { primaryGroup } : {}),
    ...(createHash !== undefined && createHash !== '' ? { createHash } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    ...(spec.inactive !== undefined ? { inactive: spec.inactive } : {}),
    ...(spec.selinux_user !== undefined ? { selinuxUser: spec.selinux_user } : {}),
  };
}

/** Two entries for one account (the default user named again, the context user listed in users): later settings win, lists add up. */
function mergeUsers(a: PlannedUser, b: PlannedUser): PlannedUser {
  return {
    ...a,
    ...b,
    source: `${a.source}, ${b.source}`,
    groups: [...new Set([...a.groups, ...b.groups])],
    sudo: [...a.sudo, ...b.sudo.filter((r) => !a.sudo.some((x) => x.rule === r.rule))],
  };
}

export function planUsers(cfg: GuestConfig): UsersPlan | undefined {
  const problems: ConfigError[] = [];
  const groups = planGroups(cfg, problems);
  const users: PlannedUser[] = [];
  const add = (u: PlannedUser): void => {
    const at = users.findIndex((x) => x.name === u.name);
    if (at === -1) users.push(u);
    else users[at] = mergeUsers(users[at] as PlannedUser, u);
  };
  const explicit = cfg.cloud.users !== undefined;
  effectiveUsers(cfg).forEach((entry, i) => {
    const source = explicit ? `users[${i}]` : 'default user';
    try {
      if (entry === 'default') add(planUser(defaultUserSpec(cfg), source, problems));
      else add(planUser(entry, source, problems));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
    }
  });
  if (cfg.context !== undefined) {
    try {
      const acct = contextAccount(cfg.context);
      problems.push(...acct.problems);
      add({
        name: acct.user,
        source: 'context USERNAME',
        groups: [],
        sudo: acct.sudo ? [{ rule: CONTEXT_SUDO_RULE, source: 'context USERNAME_SUDO' }] : [],
        shell: acct.shell,
        lock: false,
        // With USERNAME_PASSWORD_RESET=YES the users-password-reset module sets it on every boot instead.
        ...(acct.password !== undefined && !acct.passwordReset ? { password: acct.password } : {}),
        system: false,
        createHome: true,
        noUserGroup: false,
        noLogInit: false,
        createGroups: true,
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
    }
  }
  if (groups.length === 0 && users.length === 0 && problems.length === 0) return undefined;
  return { groups, users, problems };
}

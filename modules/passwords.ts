// passwords: cloud-config chpasswd (users with hash / text / RANDOM passwords,
// expire), `password` for the default user, and ssh_pwauth, once per instance.
// Clear text is hashed here and only the hash reaches `chpasswd -e`, on its
// standard input. RANDOM passwords never reach the log: they are printed on
// the console only, and kept in a root-only file under the state directory.
import type { GuestConfig } from '../src/config/guest-config';
import { ConfigError, describeError } from '../src/errors';
import type { Host } from '../src/host/host';
import type { Logger } from '../src/log/logger';
import { defaultUserName } from '../src/users/default-user';
import { readAccounts } from '../src/users/etc-files';
import { nameProblem } from '../src/users/names';
import { hashPassword, looksLikeHash, randomPassword, sha512Matches } from '../src/users/sha512-crypt';
import { PWAUTH_DROPIN, SSHD_CONFIG, dropInText, editSshdConfig, includesDropIns, setsPasswordAuthentication } from '../src/users/sshd-pwauth';
import { expirePassword, setPasswordHashes } from '../src/users/tools';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export type PasswordEntry = { readonly name: string; readonly source: string } & (
  | { readonly kind: 'hash'; readonly hash: string }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'random' }
);

export interface PasswordsPlan {
  readonly entries: readonly PasswordEntry[];
  /** passwd -e for every account whose password was set (cloud-init's default: true). */
  readonly expire: boolean;
  /** ssh_pwauth; undefined leaves sshd alone ('unchanged' or not given). */
  readonly pwauth?: boolean;
  readonly problems: readonly ConfigError[];
}

/** Guest path of the file the console printer reads random passwords from (0600). */
export function randomPasswordsFile(stateDir: string): string {
  return `${stateDir}/instance/random-passwords`;
}

function planEntries(cfg: GuestConfig, problems: ConfigError[]): PasswordEntry[] {
  const out: PasswordEntry[] = [];
  const users = cfg.cloud.chpasswd?.users ?? [];
  users.forEach((u, i) => {
    const source = `chpasswd.users[${i}]`;
    const bad = nameProblem(u.name);
    if (bad !== undefined) {
      problems.push(new ConfigError(`${source}.name`, bad));
      return;
    }
    if (u.type === 'RANDOM') out.push({ name: u.name, source, kind: 'random' });
    else if (u.type === 'text') out.push({ name: u.name, source, kind: 'text', text: u.password });
    else if (/[:\n\r\0]/.test(u.password) || u.password === '') problems.push(new ConfigError(`${source}.password`, 'a hash must not be empty or contain ":" or a line break'));
    else out.push({ name: u.name, source, kind: 'hash', hash: u.password });
  });
  const password = cfg.cloud.password;
  // cloud-init uses `password` only when chpasswd names no user.
  if (users.length === 0 && password !== undefined && password !== '') {
    const name = defaultUserName(cfg);
    if (name === undefined) {
      problems.push(new ConfigError('password', 'there is no default user to set it for (`users` does not list "default")'));
    } else if (password === 'R' || password === 'RANDOM') {
      out.push({ name, source: 'password', kind: 'random' });
    } else if (looksLikeHash(password)) {
      out.push({ name, source: 'password', kind: 'hash', hash: password });
    } else {
      out.push({ name, source: 'password', kind: 'text', text: password });
    }
  }
  return out;
}

async function reloadSshd(host: Host, log: Logger): Promise<void> {
  const unit = (await host.exists('/lib/systemd/system/ssh.service')) || (await host.exists('/usr/lib/systemd/system/ssh.service')) ? 'ssh' : 'sshd';
  const systemctl = await host.which('systemctl');
  // try-reload-or-restart does nothing when sshd is not running yet: it reads the file when it starts.
  const [cmd, args] = systemctl !== undefined ? [systemctl, ['try-reload-or-restart', `${unit}.service`]] : [`/etc/init.d/${unit}`, ['reload']];
  if (systemctl === undefined && !(await host.exists(cmd))) {
    log.warn(`cannot reload sshd (no systemctl, no ${cmd}): the new setting applies when sshd restarts`);
    return;
  }
  const res = await host.run(cmd, args, { timeoutMs: 30_000 });
  if (res.code !== 0) log.warn(`reloading sshd failed (${cmd} exited ${res.code}): the new setting applies when sshd restarts`);
}

/** Apply ssh_pwauth; true when a file changed. */
async function applyPwauth(host: Host, log: Logger, enable: boolean): Promise<boolean> {
  const value = enable ? 'yes' : 'no';
  const main = await host.readTextIfExists(SSHD_CONFIG);
  if (main === undefined) {
    log.warn(`${SSHD_CONFIG} does not exist (is openssh-server installed?): ssh_pwauth is not applied`);
    return false;
  }
  const dropIn = includesDropIns(main);
  let changed = false;
  if (dropIn) {
    changed = (await host.writeFile(PWAUTH_DROPIN, dropInText(value), { mode: 0o644 })) || changed;
    // sshd keeps the first value: an earlier drop-in would win over ours.
    const dir = PWAUTH_DROPIN.slice(0, PWAUTH_DROPIN.lastIndexOf('/'));
    const ours = PWAUTH_DROPIN.slice(dir.length + 1);
    for (const f of await host.list(dir)) {
      if (!f.endsWith('.conf') || f >= ours) continue;
      const text = await host.readTextIfExists(`${dir}/${f}`);
      if (text !== undefined && setsPasswordAuthentication(text)) log.warn(`${dir}/${f} also sets PasswordAuthentication and is read first: it wins over ssh_pwauth`);
    }
  }
  const edited = editSshdConfig(main, value, dropIn);
  if (edited !== main) {
    const mode = (await host.stat(SSHD_CONFIG))?.mode ?? 0o644;
    changed = (await host.writeFile(SSHD_CONFIG, edited, { mode })) || changed;
  }
  if (changed) log.info(`sshd PasswordAuthentication ${value} (${dropIn ? PWAUTH_DROPIN : SSHD_CONFIG})`);
  return changed;
}

export const passwords: Module<PasswordsPlan> = {
  name: 'passwords',
  stage: 'network',
  frequency: 'per-instance',
  description: 'set passwords (chpasswd, password), expire them, and sshd password authentication (ssh_pwauth)',
  parse(cfg) {
    const problems: ConfigError[] = [];
    const entries = planEntries(cfg, problems);
    const pw = cfg.cloud.ssh_pwauth;
    const pwauth = pw === true || pw === false ? pw : undefined;
    if (entries.length === 0 && pwauth === undefined && problems.length === 0) return undefined;
    return { entries, expire: cfg.cloud.chpasswd?.expire ?? true, ...(pwauth !== undefined ? { pwauth } : {}), problems };
  },
  async run(ctx: ModuleContext, plan: PasswordsPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    for (const e of plan.entries) if (e.kind === 'text') log.addSecret(e.text);
    const errors: ConfigError[] = [...plan.problems];
    const accounts = await readAccounts(host);
    const set: string[] = [];
    const expired: string[] = [];
    const randoms: string[] = [];
    for (const e of plan.entries) {
      try {
        if (!accounts.users.has(e.name)) throw new ConfigError(`${e.source}.name`, `user ${e.name} does not exist`);
        const current = accounts.shadow.get(e.name)?.password;
        let hash: string | undefined;
        if (e.kind === 'hash') hash = current === e.hash ? undefined : e.hash;
        else if (e.kind === 'text') hash = current !== undefined && sha512Matches(e.text, current) ? undefined : hashPassword(e.text);
        else {
          const pw = randomPassword();
          log.addSecret(pw);
          hash = hashPassword(pw);
          randoms.push(`${e.name}:${pw}`);
        }
        if (hash === undefined) continue;
        await setPasswordHashes(host, [{ user: e.name, hash }], e.source);
        set.push(e.name);
        log.info(`password of ${e.name} set (from ${e.source}${e.kind === 'random' ? ', random' : ''})`);
        if (plan.expire) {
          await expirePassword(host, e.name, 'chpasswd.expire');
          expired.push(e.name);
        }
      } catch (err) {
        errors.push(err instanceof ConfigError ? err : new ConfigError(e.source, describeError(err), { cause: err }));
      }
    }
    if (randoms.length > 0) {
      // Never the log: the console only (as cloud-init prints them), and a root-only file.
      const file = randomPasswordsFile(ctx.stateDir);
      await host.mkdir(`${ctx.stateDir}/instance`, { mode: 0o700, owner: 'root' });
      await host.writeFile(file, `${randoms.join('\n')}\n`, { mode: 0o600, secret: true });
      log.consoleOnly(['Set the following random passwords:', ...randoms].join('\n'));
      log.info(`random password(s) for ${randoms.map((r) => r.slice(0, r.indexOf(':'))).join(', ')} shown on the console and kept in ${file} (root only)`);
    }
    let sshd: 'unchanged' | 'changed' | 'failed' = 'unchanged';
    if (plan.pwauth !== undefined) {
      try {
        if (await applyPwauth(host, log, plan.pwauth)) {
          sshd = 'changed';
          if (host.live) await reloadSshd(host, log);
        }
      } catch (err) {
        sshd = 'failed';
        errors.push(err instanceof ConfigError ? err : new ConfigError('ssh_pwauth', describeError(err), { cause: err }));
      }
    }
    if (errors.length === 1) throw errors[0] as ConfigError;
    if (errors.length > 1) throw new ConfigError('passwords', `${errors.length} problems: ${errors.map((e) => e.describe()).join('; ')}`);
    return { details: { passwordsSet: set, expired, random: randoms.length, sshd } };
  },
};

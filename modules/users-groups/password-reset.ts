// users-password-reset: OpenNebula's USERNAME_PASSWORD_RESET=YES. one-context
// applies the context password on every boot; guestctx's users-groups sets it
// once per instance, so a password the user changed later survives a reboot.
// With USERNAME_PASSWORD_RESET=YES this small 'always' module takes over the
// password of the context account instead: on every boot it is set again from
// the context, or reset to "*" (no password login) when the context has none.
import { ConfigError } from '../../src/errors';
import { contextAccount, type PasswordInput } from '../../src/users/context-account';
import { readAccounts } from '../../src/users/etc-files';
import { hashPassword, sha512Matches } from '../../src/users/sha512-crypt';
import { setPasswordHashes } from '../../src/users/tools';
import type { Module, ModuleContext, ModuleOutcome } from '../../src/types';

export interface PasswordResetPlan {
  readonly user: string;
  /** undefined: reset to "*" (no password login). */
  readonly password?: PasswordInput;
  readonly problems: readonly ConfigError[];
}

/** The field to write, or undefined when the account already has it. */
function fieldFor(password: PasswordInput | undefined, current: string | undefined): string | undefined {
  if (password === undefined) return current === '*' ? undefined : '*';
  if (password.kind === 'hash') return current === password.hash ? undefined : password.hash;
  return current !== undefined && sha512Matches(password.text, current) ? undefined : hashPassword(password.text);
}

export const usersPasswordReset: Module<PasswordResetPlan> = {
  name: 'users-password-reset',
  stage: 'network',
  frequency: 'always',
  description: 'OpenNebula USERNAME_PASSWORD_RESET=YES: set the context password (or none) on every boot',
  parse(cfg) {
    if (cfg.context === undefined) return undefined;
    let acct;
    try {
      acct = contextAccount(cfg.context);
    } catch (err) {
      // A bad USERNAME is reported by users-groups; there is no account to reset.
      if (err instanceof ConfigError) return undefined;
      throw err;
    }
    if (!acct.passwordReset) return undefined;
    const problems = acct.problems.filter((e) => /PASSWORD/.test(e.source));
    return { user: acct.user, ...(acct.password ? { password: acct.password } : {}), problems };
  },
  async run(ctx: ModuleContext, plan: PasswordResetPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (plan.password?.kind === 'text') log.addSecret(plan.password.text);
    // A context password that cannot be read must not silently become "no password".
    if (plan.problems.length > 0) throw plan.problems[0] as ConfigError;
    const accounts = await readAccounts(host);
    if (!accounts.users.has(plan.user)) throw new ConfigError('context USERNAME', `user ${plan.user} does not exist (users-groups creates it)`);
    const field = fieldFor(plan.password, accounts.shadow.get(plan.user)?.password);
    if (field === undefined) return { details: { user: plan.user, changed: false } };
    await setPasswordHashes(host, [{ user: plan.user, hash: field }], plan.password?.origin ?? 'context USERNAME_PASSWORD_RESET');
    log.info(plan.password ? `password of ${plan.user} set again from ${plan.password.origin}` : `password of ${plan.user} reset: no password login`);
    return { details: { user: plan.user, changed: true } };
  },
};

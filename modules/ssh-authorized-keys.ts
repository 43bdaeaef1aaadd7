// ssh-authorized-keys: add the public keys from the context, the datasource or
// cloud-config to each user's ~/.ssh/authorized_keys. Keys already there stay;
// the same key is never added twice; ~/.ssh is 0700 and the file 0600, owned by
// the user; no write follows a symlink planted inside the user's home.
import { ConfigError, describeError } from '../src/errors';
import { mergeAuthorizedKeys, parseKeyLine, type ParsedKey } from '../src/ssh/authorized-keys';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface UserKeys {
  readonly user: string;
  readonly keys: readonly ParsedKey[];
  readonly origin: string;
}

export interface KeysPlan {
  readonly users: readonly UserKeys[];
  /** Keys that failed validation: reported, the valid ones are still installed. */
  readonly invalid: readonly string[];
}

export const sshAuthorizedKeys: Module<KeysPlan> = {
  name: 'ssh-authorized-keys',
  stage: 'network',
  frequency: 'always',
  description: "add public keys to users' ~/.ssh/authorized_keys (keeps existing keys)",
  parse(cfg) {
    if (cfg.authorizedKeys.length === 0) return undefined;
    const byUser = new Map<string, { keys: ParsedKey[]; origins: Set<string> }>();
    const invalid: string[] = [];
    for (const set of cfg.authorizedKeys) {
      const entry = byUser.get(set.user) ?? { keys: [], origins: new Set<string>() };
      entry.origins.add(set.origin);
      set.keys.forEach((line, i) => {
        const parsed = parseKeyLine(line);
        if (typeof parsed === 'string') invalid.push(`${set.origin}, key ${i + 1} (${line.slice(0, 24)}...): ${parsed}`);
        else entry.keys.push(set.options !== undefined ? { ...parsed, line: `${set.options} ${parsed.line.slice(parsed.line.indexOf(parsed.type))}` } : parsed);
      });
      byUser.set(set.user, entry);
    }
    const users = [...byUser].map(([user, e]) => ({ user, keys: e.keys, origin: [...e.origins].join(', ') }));
    return { users, invalid };
  },
  async run(ctx: ModuleContext, plan: KeysPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    const failures = [...plan.invalid];
    const details: Record<string, number> = {};
    for (const u of plan.users) {
      if (u.keys.length === 0) continue;
      try {
        const user = await host.lookupUser(u.user);
        if (!user) throw new ConfigError(u.origin, `user ${u.user} does not exist in the guest`);
        const sshDir = `${user.home.replace(/\/$/, '')}/.ssh`;
        const file = `${sshDir}/authorized_keys`;
        const guard = { noSymlinkBelow: user.home };
        await host.mkdir(sshDir, { mode: 0o700, owner: u.user, ...guard });
        const existing = (await host.readTextIfExists(file)) ?? '';
        const { text, added } = mergeAuthorizedKeys(existing, u.keys);
        await host.writeFile(file, text, { mode: 0o600, owner: u.user, ...guard });
        details[u.user] = added;
        log.info(added > 0 ? `${file}: added ${added} key(s) from ${u.origin}` : `${file}: all ${u.keys.length} key(s) already present`);
      } catch (err) {
        failures.push(describeError(err));
      }
    }
    if (failures.length > 0) {
      for (const f of failures.slice(0, -1)) log.error(f);
      throw new ConfigError('ssh-authorized-keys', failures[failures.length - 1] as string);
    }
    return { details: { added: details } };
  },
};

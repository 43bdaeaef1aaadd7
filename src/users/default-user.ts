// cloud-init's "default user": the distribution's account (debian on Debian),
// adjusted by the cloud-config `user` key, and present when `users` lists
// "default" or, on datasources that are not OpenNebula-style, when there is
// no `users` key at all. With an OpenNebula context one-context's rules apply
// instead: its USERNAME account, and no distribution default user.
import type { GuestConfig } from '../config/guest-config';
import type { UserSpec } from '../config/cloud-config';

/** The default user as a cloud-config user entry, `user:` applied over the distribution's settings. */
export function defaultUserSpec(cfg: GuestConfig): UserSpec {
  const d = cfg.defaultUser;
  const base: UserSpec = { name: d.name, gecos: d.gecos, groups: d.groups, sudo: d.sudo.length > 0 ? d.sudo : false, shell: d.shell, lock_passwd: d.lockPasswd };
  return { ...base, ...(cfg.cloud.user ?? {}) };
}

/** The `users` list in effect: as written, else [default] unless an OpenNebula context applies. */
export function effectiveUsers(cfg: GuestConfig): readonly ('default' | UserSpec)[] {
  if (cfg.cloud.users !== undefined) return cfg.cloud.users;
  return cfg.context === undefined ? ['default'] : [];
}

/** The default user's name when the configuration has a default user, else undefined. */
export function defaultUserName(cfg: GuestConfig): string | undefined {
  return effectiveUsers(cfg).includes('default') ? defaultUserSpec(cfg).name : undefined;
}

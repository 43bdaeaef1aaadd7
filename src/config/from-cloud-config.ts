// Map the typed cloud-config onto the GuestConfig sections the core modules
// read (hostname, authorized keys, user scripts, network), the way cloud-init
// does: keys for the default user, root's keys behind disable_root's refusal,
// user-data scripts once per instance.
import type { UserDataPart } from '../userdata';
import type { ScriptSpec } from '../types';
import type { CloudConfig, UserEntry } from './cloud-config';
import { contextUser } from './from-context';
import type { GuestConfig, KeySet } from './guest-config';

/** Who the default user is and whether the `users` list keeps it (cloud-init's default is `users: [default]`). */
export function defaultUserName(cfg: GuestConfig): string | undefined {
  const users: readonly UserEntry[] = cfg.cloud.users ?? (cfg.context ? [] : ['default']);
  return users.includes('default') ? (cfg.cloud.user?.name ?? cfg.defaultUser.name) : undefined;
}

/** The refusal cloud-init puts in front of root's keys when disable_root is on. */
export function disableRootOptions(cloud: CloudConfig, defaultUser: string | undefined): string {
  const user = defaultUser ?? 'NONE';
  const template =
    cloud.disable_root_opts ??
    'no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo \'Please login as the user \\"$USER\\" rather than the user \\"$DISABLE_USER\\".\';echo;sleep 10;exit 142"';
  return template.replace(/\$USER/g, user).replace(/\$DISABLE_USER/g, 'root');
}

function hostnameSection(base: GuestConfig): GuestConfig['hostname'] {
  const c = base.cloud;
  if (c.hostname === undefined && c.fqdn === undefined && c.preserve_hostname === undefined && c.manage_etc_hosts === undefined && c.prefer_fqdn_over_hostname === undefined) return base.hostname;
  const prev = base.hostname;
  const hostname = c.hostname ?? prev?.hostname;
  const fqdn = c.fqdn ?? prev?.fqdn;
  return {
    ...(hostname !== undefined ? { hostname } : {}),
    ...(fqdn !== undefined ? { fqdn } : {}),
    preferFqdn: c.prefer_fqdn_over_hostname ?? prev?.preferFqdn ?? false,
    preserve: c.preserve_hostname ?? false,
    manageEtcHosts: c.manage_etc_hosts ?? prev?.manageEtcHosts ?? true,
    origin: c.hostname !== undefined || c.fqdn !== undefined ? 'cloud-config hostname' : (prev?.origin ?? 'cloud-config'),
  };
}

function keySections(base: GuestConfig): KeySet[] {
  const c = base.cloud;
  const sets: KeySet[] = [];
  const defUser = defaultUserName(base);
  const dsKeys = base.instance?.publicKeys ?? [];
  const dsOrigin = `${base.instance?.datasource ?? 'datasource'} public keys`;
  const cloudKeys = c.ssh_authorized_keys ?? [];
  if (base.context) {
    // one-context: every key goes to USERNAME (root by default), no refusal.
    const user = contextUser(base.context);
    sets.push(...base.authorizedKeys);
    if (dsKeys.length > 0) sets.push({ user, keys: dsKeys, origin: dsOrigin });
    if (cloudKeys.length > 0) sets.push({ user: defUser ?? user, keys: cloudKeys, origin: 'ssh_authorized_keys' });
  } else {
    // cloud-init: keys for the default user; root's copy carries disable_root's refusal.
    const forDefault = [...dsKeys, ...cloudKeys];
    if (forDefault.length > 0) {
      if (defUser !== undefined) sets.push({ user: defUser, keys: forDefault, origin: `${dsOrigin} and ssh_authorized_keys` });
      if (c.disable_root ?? true) sets.push({ user: 'root', keys: forDefault, origin: 'disable_root', options: disableRootOptions(c, defUser) });
      else sets.push({ user: 'root', keys: forDefault, origin: `${dsOrigin} (disable_root: false)` });
    }
  }
  const rootKeys = base.instance?.raw.rootPublicKeys;
  if (Array.isArray(rootKeys) && rootKeys.length > 0) sets.push({ user: 'root', keys: rootKeys.filter((k): k is string => typeof k === 'string'), origin: 'HEPiX PUBLIC_KEY / ROOT_PUBKEY' });
  for (const [i, u] of (c.users ?? []).entries()) {
    if (u === 'default') {
      const keys = c.user?.ssh_authorized_keys ?? [];
      if (keys.length > 0 && defUser !== undefined) sets.push({ user: defUser, keys, origin: 'user.ssh_authorized_keys' });
      continue;
    }
    if (u.ssh_authorized_keys && u.ssh_authorized_keys.length > 0) sets.push({ user: u.name, keys: u.ssh_authorized_keys, origin: `users[${i}].ssh_authorized_keys` });
  }
  return sets;
}

function scriptSections(parts: readonly UserDataPart[]): ScriptSpec[] {
  return parts
    .filter((p) => p.kind === 'script' && (p.frequency ?? 'per-instance') === 'per-instance')
    .map((p, i) => ({ name: `user-data-${String(i + 1).padStart(3, '0')}-${p.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`, content: p.content, origin: p.origin }));
}

/** Apply the decoded user-data (typed cloud-config and parts) to the configuration built from the datasource. */
export function applyCloudConfig(base: GuestConfig, cloud: CloudConfig, parts: readonly UserDataPart[]): GuestConfig {
  const withCloud: GuestConfig = { ...base, cloud, parts };
  const hostname = hostnameSection(withCloud);
  const network = cloud.network !== undefined && 'config' in cloud.network && cloud.network.config === 'disabled' ? undefined : withCloud.network;
  const cloudNet = cloud.network !== undefined && 'version' in cloud.network ? { input: { kind: 'cloudinit' as const, data: cloud.network, origin: 'cloud-config network' }, policy: 'new-instance' as const } : undefined;
  return {
    ...withCloud,
    ...(hostname ? { hostname } : {}),
    authorizedKeys: keySections(withCloud),
    userScripts: [...base.userScripts, ...scriptSections(parts)],
    ...(cloudNet ? { network: cloudNet } : network ? { network } : {}),
    ...(network === undefined && !cloudNet ? { network: undefined } : {}),
  };
}

// The typed cloud-config: the merged user-data object turned into a closed,
// readonly TypeScript type, so modules never read untyped dictionaries.
// Property names are cloud-init's own snake_case keys, so users recognise them.
// Where cloud-init is lenient (comma strings for lists, numbers in commands,
// octal permissions, YAML 1.1 booleans, legacy spellings) the value is
// normalised here, once. Unknown keys are warnings; a value of the wrong type
// is an error naming its path, and only that value is dropped.
import { YAMLException } from 'js-yaml';
import {
  BudgetExceeded,
  INVALID,
  type Parsed,
  type Path,
  type RawIssue,
  type Schema,
  UNKNOWN_KEY,
  UNSUPPORTED_KEY,
  ValidationContext,
  bool,
  custom,
  deprecated,
  describeType,
  falseValue,
  formatPath,
  int,
  isMapping,
  listOf,
  literal,
  map,
  mapOf,
  nameList,
  nonNegativeNumber,
  oneOf,
  pattern,
  record,
  refine,
  splitNames,
  strictBool,
  string,
  stringish,
  tuple,
  wrongType,
} from './schema-combinators';
import { lineOf, loadYamlWithPositions, nodeAt } from './yaml-positions';

// ---------------------------------------------------------------------------
// Types

/** A command: a shell string (run with sh -c) or an argv list (run directly). */
export type Command = string | readonly string[];

export interface UserSpec {
  readonly name: string;
  readonly gecos?: string;
  /** Supplementary groups; "a, b" is split. */
  readonly groups?: readonly string[];
  /** Sudo rules; `false` means explicitly none (null and absence mean the same to cloud-init). */
  readonly sudo?: readonly string[] | false;
  readonly doas?: readonly string[];
  readonly shell?: string;
  readonly lock_passwd?: boolean;
  /** Password hash applied only when the user is created. */
  readonly passwd?: string;
  readonly hashed_passwd?: string;
  readonly plain_text_passwd?: string;
  readonly ssh_authorized_keys?: readonly string[];
  readonly ssh_redirect_user?: boolean;
  readonly system?: boolean;
  readonly homedir?: string;
  readonly no_create_home?: boolean;
  readonly no_user_group?: boolean;
  readonly no_log_init?: boolean;
  readonly primary_group?: string;
  readonly uid?: number;
  /** YYYY-MM-DD. */
  readonly expiredate?: string;
  /** Days after password expiry until the account is disabled (useradd -f). */
  readonly inactive?: number;
  readonly create_groups?: boolean;
  readonly selinux_user?: string;
}

/** `'default'` stands for the distribution's default user. */
export type UserEntry = 'default' | UserSpec;

export interface GroupSpec {
  readonly name: string;
  readonly members: readonly string[];
}

export type SshKeyType = 'rsa' | 'ecdsa' | 'ed25519';
export type SshHostKeys = { readonly [K in `${SshKeyType}_${'private' | 'public' | 'certificate'}`]?: string };

export type ChpasswdEntry =
  | { readonly name: string; readonly type: 'hash' | 'text'; readonly password: string }
  | { readonly name: string; readonly type: 'RANDOM' };

export interface ChpasswdConfig {
  readonly expire?: boolean;
  /** `users`, preceded by the entries of the legacy `list` form. */
  readonly users?: readonly ChpasswdEntry[];
}

export type WriteFileEncoding = 'text/plain' | 'base64' | 'gzip' | 'gzip+base64';

export interface WriteFileSpec {
  readonly path: string;
  /** Text, or bytes from a YAML `!!binary` value. */
  readonly content?: string | Uint8Array;
  readonly source?: { readonly uri: string; readonly headers?: Readonly<Record<string, string>> };
  readonly encoding?: WriteFileEncoding;
  /** "user:group" or "user". */
  readonly owner?: string;
  /** File mode as a number (0o644). */
  readonly permissions?: number;
  readonly append?: boolean;
  readonly defer?: boolean;
}

/** One fstab entry: spec, file, vfstype, mntops, freq, passno; null takes the default. */
export type MountEntry = readonly (string | null)[];

export interface SwapConfig {
  readonly filename?: string;
  /** Bytes, or 'auto'. */
  readonly size?: number | 'auto';
  /** Bytes. */
  readonly maxsize?: number;
}

/** A partition: percent of the disk, or [percent, partition type]. */
export type PartitionLayout = number | readonly [number, number | string];

export interface DiskSetupSpec {
  readonly table_type?: 'mbr' | 'gpt';
  readonly layout?: boolean | 'remove' | readonly PartitionLayout[];
  readonly overwrite?: boolean;
}

export interface FsSetupSpec {
  readonly label?: string;
  readonly filesystem?: string;
  readonly device?: string;
  readonly partition?: number | 'auto' | 'any' | 'none';
  readonly overwrite?: boolean;
  readonly replace_fs?: string;
  readonly extra_opts?: string | readonly string[];
  readonly cmd?: string | readonly string[];
}

export interface GrowpartConfig {
  /** `false` in the input is normalised to 'off'. */
  readonly mode?: 'auto' | 'growpart' | 'gpart' | 'off';
  readonly devices?: readonly string[];
  readonly ignore_growroot_disabled?: boolean;
}

export type PhoneHomeKey = 'pub_key_rsa' | 'pub_key_ecdsa' | 'pub_key_ed25519' | 'instance_id' | 'hostname' | 'fqdn';

export interface PhoneHomeConfig {
  readonly url: string;
  readonly post?: 'all' | readonly PhoneHomeKey[];
  readonly tries?: number;
}

export interface PowerStateConfig {
  readonly mode: 'poweroff' | 'reboot' | 'halt';
  /** 'now' or minutes ("+5" is normalised to 5). */
  readonly delay?: 'now' | number;
  readonly message?: string;
  /** Seconds to wait for the agent to finish. */
  readonly timeout?: number;
  /** true/false, or a command whose exit status 0 means "go". */
  readonly condition?: boolean | Command;
}

export interface VendorDataConfig {
  readonly enabled?: boolean;
  readonly prefix?: Command;
}

export interface RandomSeedConfig {
  readonly file?: string;
  readonly data?: string | Uint8Array;
  readonly encoding?: 'raw' | 'base64' | 'gzip';
  readonly command?: readonly string[];
  readonly command_required?: boolean;
}

export interface SshPublishHostkeys {
  readonly enabled?: boolean;
  readonly blacklist?: readonly string[];
}

export interface MergeRule {
  readonly name: 'list' | 'dict' | 'str';
  readonly settings: readonly string[];
}
/** How cloud-config parts were merged: "list(append)+dict()" or the list form. */
export type MergeSpec = string | readonly MergeRule[];

/** Network configuration as written; the network converters type it. */
export type NetworkConfigInput = { readonly version: 1 | 2 } & { readonly [key: string]: unknown };
export type NetworkSetting = { readonly config: 'disabled' } | NetworkConfigInput;

export interface CloudConfig {
  readonly hostname?: string;
  readonly fqdn?: string;
  readonly prefer_fqdn_over_hostname?: boolean;
  readonly preserve_hostname?: boolean;
  /** 'template' (deprecated) is normalised to true. */
  readonly manage_etc_hosts?: boolean | 'localhost';
  readonly create_hostname_file?: boolean;

  readonly users?: readonly UserEntry[];
  /** Settings for the default user. */
  readonly user?: UserSpec;
  readonly groups?: readonly GroupSpec[];

  readonly ssh_authorized_keys?: readonly string[];
  readonly disable_root?: boolean;
  readonly disable_root_opts?: string;
  readonly ssh_deletekeys?: boolean;
  readonly ssh_genkeytypes?: readonly SshKeyType[];
  readonly ssh_keys?: SshHostKeys;
  readonly ssh_pwauth?: boolean | 'unchanged';
  readonly ssh_quiet_keygen?: boolean;
  readonly ssh_publish_hostkeys?: SshPublishHostkeys;
  readonly allow_public_ssh_keys?: boolean;
  readonly chpasswd?: ChpasswdConfig;
  /** The default user's password. */
  readonly password?: string;

  readonly write_files?: readonly WriteFileSpec[];
  readonly bootcmd?: readonly Command[];
  readonly runcmd?: readonly Command[];

  readonly mounts?: readonly MountEntry[];
  readonly mount_default_fields?: MountEntry;
  readonly swap?: SwapConfig;
  readonly device_aliases?: Readonly<Record<string, string>>;
  readonly disk_setup?: Readonly<Record<string, DiskSetupSpec>>;
  readonly fs_setup?: readonly FsSetupSpec[];
  readonly growpart?: GrowpartConfig;
  readonly resize_rootfs?: boolean | 'noblock';

  readonly timezone?: string;
  /** A locale name, or false to leave the locale alone. */
  readonly locale?: string | false;
  readonly locale_configfile?: string;
  readonly final_message?: string;
  readonly phone_home?: PhoneHomeConfig;
  readonly power_state?: PowerStateConfig;
  readonly vendor_data?: VendorDataConfig;
  readonly random_seed?: RandomSeedConfig;

  readonly merge_how?: MergeSpec;
  readonly merge_type?: MergeSpec;
  readonly network?: NetworkSetting;
}

export interface CloudConfigIssue {
  /** Where in the config: `users[2].ssh_authorized_keys[0]`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the YAML text, when validated from text. */
  readonly line?: number;
  /** The source given to the validator (file, URL, "user-data part 2"). */
  readonly source: string;
}

export interface CloudConfigResult {
  readonly config: CloudConfig;
  readonly errors: CloudConfigIssue[];
  readonly warnings: CloudConfigIssue[];
}

/**
 * Keys cloud-init accepts that guestctx does not implement yet. They produce
 * the warning "not supported by guestctx" rather than "unknown key".
 */
export const KNOWN_UNSUPPORTED_KEYS: readonly string[] = [
  'ansible', 'apk_repos', 'apt', 'apt_pipelining', 'apt_reboot_if_required', 'apt_update', 'apt_upgrade',
  'authkey_hash', 'autoinstall', 'byobu_by_default', 'ca-certs', 'ca_certs', 'chef', 'cloud_config_modules',
  'cloud_final_modules', 'cloud_init_modules', 'disable_ec2_metadata', 'disable_piwiz', 'drivers',
  'enable_rpi_connect', 'fan', 'grub-dpkg', 'grub_dpkg', 'keyboard', 'landscape', 'launch-index', 'lxd',
  'manage_resolv_conf', 'mcollective', 'migrate', 'no_ssh_fingerprints', 'ntp', 'output', 'package_reboot_if_required',
  'package_update', 'package_upgrade', 'packages', 'puppet', 'reporting', 'resolv_conf', 'rh_subscription',
  'rpi_interfaces', 'rpi_userconf', 'rsyslog', 'salt_minion', 'snap', 'spacewalk', 'ssh', 'ssh_fp_console_blacklist',
  'ssh_import_id', 'ssh_key_console_blacklist', 'system_info', 'ubuntu_advantage', 'ubuntu_pro', 'updates', 'version',
  'wireguard', 'yum_repo_dir', 'yum_repos', 'zypper',
];

// ---------------------------------------------------------------------------
// Schemas for the pieces

/** A command: a shell string, or argv whose numbers are stringified as cloud-init does. */
const command: Schema<Command> = oneOf(
  string(),
  listOf(stringish(), { expected: 'a list of strings', allOrNothing: true }),
);
const commandList = listOf(command, { expected: 'a list of commands', allOrNothing: true, skipNull: true });

/** cloud-init accepts one key as a string for a user, and a list. */
const keyList: Schema<readonly string[]> = oneOf(
  map(string(), (s) => [s]),
  listOf(string()),
);

/** cloud-init's user `groups`: "a, b", [a, b], or the deprecated {a: null} mapping. */
const userGroups: Schema<readonly string[]> = oneOf(
  nameList(),
  deprecated(
    map(mapOf(literal(null)), (m) => Object.keys(m)),
    'the mapping form of groups is deprecated, use a list',
  ),
);

// `sudo: no` must not become the sudoers rule "no": YAML 1.1 reads it as false.
const sudoRules: Schema<readonly string[] | false> = oneOf(
  deprecated(falseValue(), 'false is deprecated, use null'),
  map(string(), (s) => [s]),
  map(listOf(oneOf(string(), literal(null)), { expected: 'a list of strings' }), (l) => l.filter((s): s is string => s !== null)),
  map(literal(null), () => false as const),
);

/** A date from YAML is a Date (js-yaml) or a string; both become YYYY-MM-DD. */
const dateString: Schema<string> = custom(
  'a date (YYYY-MM-DD)',
  (v) => typeof v === 'string' || v instanceof Date,
  (v, ctx, path) => {
    if (typeof v === 'string') return v;
    if (v instanceof Date && !Number.isNaN(v.getTime())) return v.toISOString().slice(0, 10);
    return wrongType(ctx, path, 'a date (YYYY-MM-DD)', v);
  },
);

// Hyphenated spellings cloud-init still reads, with a deprecation warning.
const USER_ALIASES = {
  'lock-passwd': 'lock_passwd',
  'no-create-home': 'no_create_home',
  'no-log-init': 'no_log_init',
  'no-user-group': 'no_user_group',
  'hashed-passwd': 'hashed_passwd',
  'plain-text-passwd': 'plain_text_passwd',
  'create-groups': 'create_groups',
  'primary-group': 'primary_group',
  'selinux-user': 'selinux_user',
  'ssh-authorized-keys': 'ssh_authorized_keys',
  'ssh-redirect-user': 'ssh_redirect_user',
} as const;

const userFields = {
  name: string(),
  gecos: string(),
  groups: userGroups,
  sudo: sudoRules,
  doas: listOf(string()),
  shell: string(),
  lock_passwd: bool(),
  passwd: string(),
  hashed_passwd: string(),
  plain_text_passwd: string(),
  ssh_authorized_keys: keyList,
  ssh_redirect_user: bool(),
  system: bool(),
  homedir: string(),
  no_create_home: bool(),
  no_user_group: bool(),
  no_log_init: bool(),
  primary_group: string(),
  uid: int({ min: 0, numericString: true }),
  expiredate: dateString,
  inactive: int({ min: -1, numericString: true }),
  create_groups: bool(),
  selinux_user: string(),
};

const userRecord: Schema<UserSpec> = record(userFields, {
  required: ['name'],
  aliases: USER_ALIASES,
  unsupported: ['ssh_import_id', 'ssh-import-id', 'snapuser'],
});

/** A user mapping; one that only names a snap user is warned about and skipped, not an error. */
const userMapping: Schema<UserSpec> = custom('a user mapping', isMapping, (v, ctx, path) => {
  const m = v as Record<string, unknown>;
  if (m['name'] === undefined && m['snapuser'] !== undefined) {
    ctx.warn([...path, 'snapuser'], UNSUPPORTED_KEY);
    return INVALID;
  }
  return userRecord.parse(v, ctx, path);
});

function userFromName(name: string): UserEntry {
  return name === 'default' ? 'default' : { name };
}

/** `users`: "default, bob", a list of names / name lists / mappings, or {name: settings}. */
const usersSchema: Schema<readonly UserEntry[]> = custom(
  'a list of users',
  (v) => typeof v === 'string' || Array.isArray(v) || isMapping(v),
  (v, ctx, path) => {
    if (typeof v === 'string') return splitNames(v).map(userFromName);
    const out: UserEntry[] = [];
    if (Array.isArray(v)) {
      v.forEach((item: unknown, i) => {
        const p = [...path, i];
        if (typeof item === 'string') {
          // cloud-init splits each string item on commas too.
          out.push(...splitNames(item).map(userFromName));
        } else if (Array.isArray(item)) {
          const names = listOf(string()).parse(item, ctx, p);
          if (names !== INVALID) for (const n of names) out.push(...splitNames(n).map(userFromName));
        } else if (isMapping(item)) {
          const u = userMapping.parse(item, ctx, p);
          if (u !== INVALID) out.push(u);
        } else {
          wrongType(ctx, p, 'a user name or a user mapping', item);
        }
      });
      return out;
    }
    if (isMapping(v)) {
      // {name: {settings}} or {name: true}; false and null leave the user out.
      for (const [name, settings] of Object.entries(v)) {
        const p = [...path, name];
        if (settings === false || settings === null) continue;
        if (settings === true) {
          out.push(userFromName(name));
        } else if (isMapping(settings)) {
          const u = userMapping.parse({ name, ...settings }, ctx, p);
          if (u !== INVALID) out.push(u);
        } else {
          wrongType(ctx, p, 'a user mapping or a boolean', settings);
        }
      }
      return out;
    }
    return wrongType(ctx, path, 'a list of users', v);
  },
);

const groupMembers: Schema<readonly string[]> = oneOf(nameList(), map(literal(null), () => [] as string[]));

function groupsFromMapping(m: Readonly<Record<string, readonly string[]>>): GroupSpec[] {
  return Object.entries(m).map(([name, members]) => ({ name, members }));
}

/** Top-level `groups`: "a, b", [a, {b: [u1, u2]}], or {a: [u1], b: null}. */
const groupsSchema: Schema<readonly GroupSpec[]> = oneOf(
  map(string(), (s) => splitNames(s).map((name) => ({ name, members: [] }))),
  map(
    listOf(
      oneOf(
        map(string(), (name): GroupSpec[] => [{ name: name.trim(), members: [] }]),
        map(mapOf(groupMembers), groupsFromMapping),
      ),
      { expected: 'a list of group names or mappings' },
    ),
    (l) => l.flat(),
  ),
  map(mapOf(groupMembers), groupsFromMapping),
);

const sshKeyType = literal('rsa', 'ecdsa', 'ed25519');

const sshHostKeys: Schema<SshHostKeys> = mapOf(string(), {
  keyPattern: /^(rsa|ecdsa|ed25519)_(private|public|certificate)$/,
});

/** ssh_pwauth: a boolean, or 'unchanged'; the deprecated string forms map to booleans. */
const sshPwauth: Schema<boolean | 'unchanged'> = oneOf(
  bool(),
  literal('unchanged'),
  deprecated(map(literal('1', '0'), (s) => s === '1'), 'a string value is deprecated, use a boolean'),
);

// cloud-init's legacy chpasswd list recognises these crypt(3) hash prefixes.
const HASHED_PASSWORD = /^\$(1|2a|2y|5|6)(\$[^$]+){2}/;

function legacyEntry(line: string): ChpasswdEntry | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1) return undefined;
  const name = line.slice(0, colon);
  const password = line.slice(colon + 1);
  if (password === 'R' || password === 'RANDOM') return { name, type: 'RANDOM' };
  return { name, type: HASHED_PASSWORD.test(password) ? 'hash' : 'text', password };
}

const legacyChpasswdList: Schema<readonly ChpasswdEntry[]> = deprecated(
  custom(
    'a "user:password" string or a list of them',
    (v) => typeof v === 'string' || Array.isArray(v),
    (v, ctx, path) => {
      const out: ChpasswdEntry[] = [];
      if (typeof v === 'string') {
        const lines = v.split('\n').map((l) => l.trim());
        let bad = false;
        lines.forEach((l, i) => {
          if (l === '') return;
          const e = legacyEntry(l);
          if (e) out.push(e);
          else {
            // Never echo the line: it holds a password.
            ctx.error(path, `line ${i + 1}: expected "user:password"`);
            bad = true;
          }
        });
        return bad ? INVALID : out;
      }
      if (!Array.isArray(v)) return wrongType(ctx, path, 'a "user:password" string or a list of them', v);
      v.forEach((item: unknown, i) => {
        const e = typeof item === 'string' ? legacyEntry(item.trim()) : undefined;
        if (e) out.push(e);
        else if (typeof item !== 'string') wrongType(ctx, [...path, i], 'a "user:password" string', item);
        else ctx.error([...path, i], 'expected "user:password"');
      });
      return out;
    },
  ),
  'deprecated, use chpasswd.users',
);

const chpasswdUser: Schema<ChpasswdEntry> = refine(
  record(
    { name: string(), type: literal('hash', 'text', 'RANDOM'), password: string() },
    { required: ['name'] },
  ),
  (u, ctx, path): Parsed<ChpasswdEntry> => {
    const type = u.type ?? 'hash';
    if (type === 'RANDOM') return { name: u.name, type };
    if (u.password === undefined) return ctx.error(path, 'missing required key "password" (or type: RANDOM)');
    return { name: u.name, type, password: u.password };
  },
);

const chpasswdSchema: Schema<ChpasswdConfig> = map(
  record({ expire: bool(), users: listOf(chpasswdUser), list: legacyChpasswdList }),
  (c): ChpasswdConfig => {
    const users = [...(c.list ?? []), ...(c.users ?? [])];
    return {
      ...(c.expire !== undefined ? { expire: c.expire } : {}),
      ...(c.list !== undefined || c.users !== undefined ? { users } : {}),
    };
  },
);

/** The spellings cloud-init accepts for write_files encodings, to one name each. */
const ENCODINGS: Readonly<Record<string, WriteFileEncoding>> = {
  'text/plain': 'text/plain',
  b64: 'base64',
  base64: 'base64',
  gz: 'gzip',
  gzip: 'gzip',
  'gz+base64': 'gzip+base64',
  'gzip+base64': 'gzip+base64',
  'gz+b64': 'gzip+base64',
  'gzip+b64': 'gzip+base64',
};

const encodingSchema: Schema<WriteFileEncoding> = custom(
  `one of ${Object.keys(ENCODINGS).map((e) => JSON.stringify(e)).join(', ')}`,
  (v) => typeof v === 'string',
  (v, ctx, path) => {
    const e = typeof v === 'string' ? ENCODINGS[v.trim().toLowerCase()] : undefined;
    if (e) return e;
    const expected = `one of ${Object.keys(ENCODINGS).map((k) => JSON.stringify(k)).join(', ')}`;
    return typeof v === 'string' ? ctx.error(path, `expected ${expected}, got ${JSON.stringify(v)}`) : wrongType(ctx, path, expected, v);
  },
);

const MAX_MODE = 0o7777;
const LEGACY_OCTAL = /^[-+]?0[0-7]+$/;

/**
 * File permissions. A string is octal ('0644', '644', '0o644'). An integer is
 * the mode itself, as in cloud-init; but YAML 1.1 (cloud-init's parser) reads
 * an unquoted 0644 as octal while js-yaml reads it as 644, so when the YAML
 * text is known the written form decides.
 */
const permissions: Schema<number> = custom(
  'an octal mode such as "0644"',
  (v) => typeof v === 'string' || typeof v === 'number',
  (v, ctx, path) => {
    let mode: number | undefined;
    if (typeof v === 'string') {
      const m = /^\s*(?:0o)?([0-7]+)\s*$/i.exec(v);
      if (m?.[1] !== undefined) mode = parseInt(m[1], 8);
    } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
      const raw = ctx.rawScalar?.(path);
      if (raw !== undefined && LEGACY_OCTAL.test(raw)) {
        mode = parseInt(raw, 8);
      } else {
        mode = v;
        if (v > 0o777 && v <= MAX_MODE && /^[0-7]+$/.test(String(v))) {
          ctx.warn(path, `${v} is a decimal number (mode 0o${v.toString(8)}); write "0${v}" for mode 0${v}`);
        }
      }
    }
    if (mode === undefined) {
      const shown = typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : typeof v === 'number' ? String(v) : describeType(v);
      return ctx.error(path, `expected an octal mode such as "0644", got ${shown}`);
    }
    if (mode < 0 || mode > MAX_MODE) return ctx.error(path, `mode 0o${mode.toString(8)} is out of range (at most 0o7777)`);
    return mode;
  },
);

const content: Schema<string | Uint8Array> = custom(
  'a string or binary',
  (v) => typeof v === 'string' || v instanceof Uint8Array,
  (v, ctx, path) => (typeof v === 'string' || v instanceof Uint8Array ? v : wrongType(ctx, path, 'a string or binary', v)),
);

const writeFile: Schema<WriteFileSpec> = record(
  {
    path: string(),
    content,
    source: record({ uri: string(), headers: mapOf(stringish()) }, { required: ['uri'] }),
    encoding: encodingSchema,
    owner: string(),
    permissions,
    append: bool(),
    defer: bool(),
  },
  { required: ['path'] },
);

/** One fstab field; numbers (`0`, `2`) become strings as cloud-init does. */
const mountField = oneOf(stringish(), literal(null));
const mountEntry: Schema<MountEntry> = listOf(mountField, { min: 1, max: 6, expected: 'a list of up to 6 fstab fields' });

const UNIT_POWER: Readonly<Record<string, number>> = { B: 0, K: 1, M: 2, G: 3, T: 4 };

/** "512M", "1.5G", "2GB": binary units, as cloud-init reads them. */
function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([BKMGT])B?\s*$/i.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const power = UNIT_POWER[m[2].toUpperCase()] ?? 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}

const sizeString: Schema<number> = map(pattern(/^\s*(\d+(\.\d*)?|\.\d+)\s*[BKMGT]B?\s*$/i, 'a size such as "512M"'), (s) => parseSize(s) ?? 0);
const bytes = oneOf(int({ min: 0 }), sizeString);

const swapSchema: Schema<SwapConfig> = record({
  filename: string(),
  size: oneOf(literal('auto'), int({ min: 0 }), sizeString),
  maxsize: bytes,
});

const partitionType = oneOf(int({ min: 0 }), string());
const partitionLayout: Schema<PartitionLayout> = oneOf(
  int({ min: 0, max: 100 }),
  tuple(int({ min: 0, max: 100 }), partitionType, 'a [percent, partition type] pair'),
);

const diskSetupEntry: Schema<DiskSetupSpec> = record({
  table_type: literal('mbr', 'gpt'),
  layout: oneOf(bool(), literal('remove'), listOf(partitionLayout, { expected: 'a list of partition sizes' })),
  overwrite: bool(),
});

const fsSetupEntry: Schema<FsSetupSpec> = record({
  label: string(),
  filesystem: string(),
  device: string(),
  partition: oneOf(literal('auto', 'any', 'none'), int({ min: 0, numericString: true })),
  overwrite: bool(),
  replace_fs: string(),
  extra_opts: oneOf(string(), listOf(stringish(), { expected: 'a list of strings' })),
  cmd: oneOf(string(), listOf(stringish(), { expected: 'a list of strings' })),
});

const growpartSchema: Schema<GrowpartConfig> = record({
  mode: oneOf(
    literal('auto', 'growpart', 'gpart', 'off'),
    deprecated(map(literal(false), () => 'off' as const), 'false is deprecated, use "off"'),
  ),
  devices: listOf(string()),
  ignore_growroot_disabled: bool(),
});

const phoneHomeSchema: Schema<PhoneHomeConfig> = record(
  {
    url: string(),
    post: oneOf(
      literal('all'),
      listOf(literal('pub_key_rsa', 'pub_key_ecdsa', 'pub_key_ed25519', 'instance_id', 'hostname', 'fqdn'), {
        expected: 'a list of keys',
      }),
    ),
    tries: int({ min: 1, numericString: true }),
  },
  { required: ['url'] },
);

const powerStateSchema: Schema<PowerStateConfig> = record(
  {
    mode: literal('poweroff', 'reboot', 'halt'),
    delay: oneOf(
      literal('now'),
      int({ min: 0 }),
      map(pattern(/^\+?\d+$/, 'a number of minutes such as "+5"'), (s) => Number(s.replace('+', ''))),
    ),
    message: string(),
    timeout: nonNegativeNumber(),
    // A string condition is a shell command, so "yes" must not turn into a boolean here.
    condition: oneOf(strictBool(), command),
  },
  { required: ['mode'] },
);

const vendorDataSchema: Schema<VendorDataConfig> = record({
  enabled: bool(),
  prefix: oneOf(string(), listOf(stringish(), { expected: 'a list of strings' })),
});

const randomSeedSchema: Schema<RandomSeedConfig> = record({
  file: string(),
  data: content,
  encoding: map(literal('raw', 'base64', 'b64', 'gzip', 'gz'), (e) => (e === 'b64' ? 'base64' : e === 'gz' ? 'gzip' : e)),
  command: listOf(string()),
  command_required: bool(),
});

const mergeSchema: Schema<MergeSpec> = oneOf(
  string(),
  listOf(
    record(
      { name: literal('list', 'dict', 'str'), settings: listOf(string()) },
      { required: ['name', 'settings'] },
    ),
    { expected: 'a list of merge rules' },
  ),
);

/** `network`: {config: disabled}, or a v1/v2 network config kept as written for the network converters. */
const networkSchema: Schema<NetworkSetting> = custom('a network configuration mapping', isMapping, (v, ctx, path) => {
  const m = v as Record<string, unknown>;
  if (m['config'] === 'disabled') return { config: 'disabled' };
  const version = m['version'];
  if (version === 1 || version === 2) return m as NetworkConfigInput;
  if (version === undefined) return ctx.error(path, 'expected "config: disabled" or a "version" of 1 or 2');
  return ctx.error([...path, 'version'], `expected 1 or 2, got ${typeof version === 'number' ? version : describeType(version)}`);
});

const manageEtcHosts: Schema<boolean | 'localhost'> = oneOf(
  bool(),
  literal('localhost'),
  deprecated(map(literal('template'), () => true), '"template" is deprecated, use true'),
);

// ---------------------------------------------------------------------------
// The table: one line per top-level key.

const cloudConfigSchema: Schema<CloudConfig> = record(
  {
    hostname: string(),
    fqdn: string(),
    prefer_fqdn_over_hostname: bool(),
    preserve_hostname: bool(),
    manage_etc_hosts: manageEtcHosts,
    create_hostname_file: bool(),
    users: usersSchema,
    user: oneOf(map(string(), (name): UserSpec => ({ name })), userRecord),
    groups: groupsSchema,
    ssh_authorized_keys: listOf(string()),
    disable_root: bool(),
    disable_root_opts: string(),
    ssh_deletekeys: bool(),
    ssh_genkeytypes: listOf(sshKeyType, { expected: 'a list of key types' }),
    ssh_keys: sshHostKeys,
    ssh_pwauth: sshPwauth,
    ssh_quiet_keygen: bool(),
    ssh_publish_hostkeys: record({ enabled: bool(), blacklist: listOf(string()) }),
    allow_public_ssh_keys: bool(),
    chpasswd: chpasswdSchema,
    password: string(),
    write_files: listOf(writeFile, { expected: 'a list of files' }),
    bootcmd: commandList,
    runcmd: commandList,
    mounts: listOf(mountEntry, { expected: 'a list of mount entries' }),
    mount_default_fields: listOf(mountField, { min: 6, max: 6, expected: 'a list of 6 fstab fields' }),
    swap: swapSchema,
    device_aliases: mapOf(string()),
    disk_setup: mapOf(diskSetupEntry),
    fs_setup: listOf(fsSetupEntry, { expected: 'a list of filesystems' }),
    growpart: growpartSchema,
    resize_rootfs: oneOf(bool(), literal('noblock')),
    timezone: string(),
    locale: oneOf(falseValue(), string()),
    locale_configfile: string(),
    final_message: string(),
    phone_home: phoneHomeSchema,
    power_state: powerStateSchema,
    vendor_data: vendorDataSchema,
    random_seed: randomSeedSchema,
    merge_how: mergeSchema,
    merge_type: mergeSchema,
    network: networkSchema,
  },
  { unsupported: KNOWN_UNSUPPORTED_KEYS, expected: 'a mapping of cloud-config keys' },
);

// ---------------------------------------------------------------------------
// Entry points

function toIssues(raw: readonly RawIssue[], source: string, lineFor?: (p: Path) => number | undefined): CloudConfigIssue[] {
  return raw.map((r) => {
    const line = lineFor?.(r.path);
    return { path: formatPath(r.path), message: r.message, source, ...(line !== undefined ? { line } : {}) };
  });
}

interface RunOptions {
  readonly rawScalar?: (path: Path) => string | undefined;
  readonly lineFor?: (path: Path) => number | undefined;
}

function run(obj: unknown, source: string, opts: RunOptions): CloudConfigResult {
  // An empty document (only comments, or "#cloud-config") is an empty config.
  if (obj === null || obj === undefined) return { config: {}, errors: [], warnings: [] };
  const ctx = new ValidationContext(opts.rawScalar ? { rawScalar: opts.rawScalar } : {});
  let config: CloudConfig = {};
  try {
    const r = cloudConfigSchema.parse(obj, ctx, []);
    if (r !== INVALID) config = r;
  } catch (err) {
    if (!(err instanceof BudgetExceeded)) throw err;
    // Partial results are not trustworthy: drop everything, say why.
    config = {};
    ctx.errors.push({ path: [], message: `too large to validate (${err.message}); nothing was applied` });
  }
  return {
    config,
    errors: toIssues(ctx.errors, source, opts.lineFor),
    warnings: toIssues(ctx.warnings, source, opts.lineFor),
  };
}

/**
 * Validate an already-decoded (merged) cloud-config object. Invalid values are
 * dropped from `config` and reported in `errors`; valid siblings are kept.
 */
export function validateCloudConfig(obj: unknown, source: string): CloudConfigResult {
  return run(obj, source, {});
}

/**
 * Parse cloud-config YAML (js-yaml 4, default schema) and validate it. Every
 * issue carries the line of the key it concerns; a YAML syntax error is one
 * error with the line js-yaml reports.
 */
export function validateCloudConfigText(yamlText: string, source: string): CloudConfigResult {
  let loaded: ReturnType<typeof loadYamlWithPositions>;
  try {
    loaded = loadYamlWithPositions(yamlText, source);
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const line = err.mark ? err.mark.line + 1 : undefined;
    const issue: CloudConfigIssue = { path: '', message: `invalid YAML: ${err.reason}`, source, ...(line !== undefined ? { line } : {}) };
    return { config: {}, errors: [issue], warnings: [] };
  }
  const root = loaded.root;
  const result = run(loaded.value, source, {
    rawScalar: (p) => nodeAt(root, p)?.raw,
    lineFor: (p) => lineOf(root, p),
  });
  const dupWarnings: CloudConfigIssue[] = loaded.duplicates.map((d) => ({
    path: formatPath(d.path),
    message: 'duplicate key, the last value is used',
    source,
    line: d.line,
  }));
  return { ...result, warnings: [...dupWarnings, ...result.warnings] };
}

/** One line for logs: "user-data:12: users[1].shell: expected a string, got number". */
export function formatIssue(issue: CloudConfigIssue): string {
  const where = issue.line !== undefined ? `${issue.source}:${issue.line}` : issue.source;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

export { UNKNOWN_KEY, UNSUPPORTED_KEY };

// Table-driven tests for the cloud-config validator: one row per key with a
// valid input and its typed, normalised value; one row per key with an invalid
// input and the exact error path and message.
import { describe, expect, it } from 'vitest';
import {
  KNOWN_UNSUPPORTED_KEYS,
  formatIssue,
  validateCloudConfig,
  type CloudConfig,
} from '../../src/config/cloud-config';

type ValidRow = [key: string, input: unknown, expected: unknown];

const VALID: ValidRow[] = [
  ['hostname', 'web1', 'web1'],
  ['fqdn', 'web1.example.com', 'web1.example.com'],
  ['prefer_fqdn_over_hostname', true, true],
  ['preserve_hostname', 'no', false],
  ['manage_etc_hosts', 'localhost', 'localhost'],
  ['manage_etc_hosts', true, true],
  ['create_hostname_file', false, false],
  ['users', 'default, bob', ['default', { name: 'bob' }]],
  [
    'users',
    [
      'default',
      'alice, carol',
      {
        name: 'bob',
        gecos: 'Bob B.',
        groups: 'users, admin',
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        shell: '/bin/bash',
        lock_passwd: false,
        passwd: '$6$x$y',
        hashed_passwd: '$6$a$b',
        plain_text_passwd: 'pw',
        ssh_authorized_keys: ['ssh-ed25519 AAAA bob'],
        system: false,
        homedir: '/srv/bob',
        no_create_home: false,
        no_user_group: true,
        primary_group: 'staff',
        uid: '1001',
        expiredate: new Date('2032-09-01T00:00:00Z'),
        inactive: '5',
        create_groups: true,
        doas: ['permit nopass bob'],
        selinux_user: 'staff_u',
      },
    ],
    [
      'default',
      { name: 'alice' },
      { name: 'carol' },
      {
        name: 'bob',
        gecos: 'Bob B.',
        groups: ['users', 'admin'],
        sudo: ['ALL=(ALL) NOPASSWD:ALL'],
        shell: '/bin/bash',
        lock_passwd: false,
        passwd: '$6$x$y',
        hashed_passwd: '$6$a$b',
        plain_text_passwd: 'pw',
        ssh_authorized_keys: ['ssh-ed25519 AAAA bob'],
        system: false,
        homedir: '/srv/bob',
        no_create_home: false,
        no_user_group: true,
        primary_group: 'staff',
        uid: 1001,
        expiredate: '2032-09-01',
        inactive: 5,
        create_groups: true,
        doas: ['permit nopass bob'],
        selinux_user: 'staff_u',
      },
    ],
  ],
  ['users', [{ name: 'x', sudo: ['ALL=(ALL) ALL', null], ssh_authorized_keys: 'ssh-rsa AAA x' }], [{ name: 'x', sudo: ['ALL=(ALL) ALL'], ssh_authorized_keys: ['ssh-rsa AAA x'] }]],
  ['users', [{ name: 'x', sudo: null, groups: ['a', ' b '] }], [{ name: 'x', sudo: false, groups: ['a', 'b'] }]],
  ['users', [{ name: 'x', sudo: 'no' }], [{ name: 'x', sudo: false }]],
  ['users', { bob: { shell: '/bin/sh' }, carol: true, dave: false }, [{ name: 'bob', shell: '/bin/sh' }, { name: 'carol' }]],
  ['users', [['eve', 'frank, default']], [{ name: 'eve' }, { name: 'frank' }, 'default']],
  ['user', 'admin', { name: 'admin' }],
  ['user', { name: 'admin', lock_passwd: true }, { name: 'admin', lock_passwd: true }],
  ['groups', 'admins, devs', [{ name: 'admins', members: [] }, { name: 'devs', members: [] }]],
  ['groups', ['cloud-users', { ubuntu: ['root', 'sys'] }, { ops: 'bob, eve', empty: null }], [
    { name: 'cloud-users', members: [] },
    { name: 'ubuntu', members: ['root', 'sys'] },
    { name: 'ops', members: ['bob', 'eve'] },
    { name: 'empty', members: [] },
  ]],
  ['groups', { a: ['x'] }, [{ name: 'a', members: ['x'] }]],
  ['ssh_authorized_keys', ['ssh-rsa AAA a', 'ssh-ed25519 BBB b'], ['ssh-rsa AAA a', 'ssh-ed25519 BBB b']],
  ['disable_root', false, false],
  ['disable_root_opts', 'no-port-forwarding', 'no-port-forwarding'],
  ['ssh_deletekeys', 'yes', true],
  ['ssh_genkeytypes', ['ed25519', 'rsa'], ['ed25519', 'rsa']],
  ['ssh_keys', { rsa_private: 'PRIV', rsa_public: 'PUB', ed25519_certificate: 'CERT' }, { rsa_private: 'PRIV', rsa_public: 'PUB', ed25519_certificate: 'CERT' }],
  ['ssh_pwauth', true, true],
  ['ssh_pwauth', 'unchanged', 'unchanged'],
  ['ssh_pwauth', 'no', false],
  ['ssh_quiet_keygen', true, true],
  ['ssh_publish_hostkeys', { enabled: true, blacklist: ['rsa'] }, { enabled: true, blacklist: ['rsa'] }],
  ['allow_public_ssh_keys', false, false],
  ['chpasswd', { expire: false, users: [{ name: 'a', password: '$6$s$h' }, { name: 'b', password: 'pw', type: 'text' }, { name: 'c', type: 'RANDOM' }] }, {
    expire: false,
    users: [
      { name: 'a', type: 'hash', password: '$6$s$h' },
      { name: 'b', type: 'text', password: 'pw' },
      { name: 'c', type: 'RANDOM' },
    ],
  }],
  ['chpasswd', { list: 'root:pw1\n\nbob:$6$salt$abcdef\ncarol:R\n' }, {
    users: [
      { name: 'root', type: 'text', password: 'pw1' },
      { name: 'bob', type: 'hash', password: '$6$salt$abcdef' },
      { name: 'carol', type: 'RANDOM' },
    ],
  }],
  ['chpasswd', { list: ['root:a:b', 'x:RANDOM'] }, { users: [{ name: 'root', type: 'text', password: 'a:b' }, { name: 'x', type: 'RANDOM' }] }],
  ['password', 'passw0rd', 'passw0rd'],
  ['write_files', [
    { path: '/etc/a', content: 'hello\n', owner: 'root:root', permissions: '0640', encoding: 'text/plain', append: true, defer: false },
    { path: '/etc/b', content: 'aGk=', encoding: 'b64', permissions: 0o755 },
    { path: '/etc/c', encoding: 'GZ+B64', permissions: '600', source: { uri: 'http://x/y', headers: { Authorization: 'Bearer t', 'X-N': 1 } } },
  ], [
    { path: '/etc/a', content: 'hello\n', owner: 'root:root', permissions: 0o640, encoding: 'text/plain', append: true, defer: false },
    { path: '/etc/b', content: 'aGk=', encoding: 'base64', permissions: 0o755 },
    { path: '/etc/c', encoding: 'gzip+base64', permissions: 0o600, source: { uri: 'http://x/y', headers: { Authorization: 'Bearer t', 'X-N': '1' } } },
  ]],
  ['write_files', [{ path: '/bin/x', content: new Uint8Array([1, 2, 3]), permissions: '0o4755' }], [{ path: '/bin/x', content: new Uint8Array([1, 2, 3]), permissions: 0o4755 }]],
  ['bootcmd', ['echo a', ['cloud-init-per', 'once', 'x', 'true']], ['echo a', ['cloud-init-per', 'once', 'x', 'true']]],
  ['runcmd', [['chmod', 600, '/swapfile'], null, 'ls -l /'], [['chmod', '600', '/swapfile'], 'ls -l /']],
  ['mounts', [['/dev/vdb', '/mnt', 'auto', 'defaults,nofail', 0, 2], ['swap', 'none', 'swap', 'sw', '0', '0'], ['sdc', null]], [
    ['/dev/vdb', '/mnt', 'auto', 'defaults,nofail', '0', '2'],
    ['swap', 'none', 'swap', 'sw', '0', '0'],
    ['sdc', null],
  ]],
  ['mount_default_fields', [null, null, 'auto', 'defaults,nofail', '0', '2'], [null, null, 'auto', 'defaults,nofail', '0', '2']],
  ['swap', { filename: '/swap.img', size: 'auto', maxsize: 2147483648 }, { filename: '/swap.img', size: 'auto', maxsize: 2147483648 }],
  ['swap', { size: '512M', maxsize: '1.5G' }, { size: 512 * 1024 ** 2, maxsize: 1.5 * 1024 ** 3 }],
  ['swap', { size: 1048576 }, { size: 1048576 }],
  ['device_aliases', { data: '/dev/vdb' }, { data: '/dev/vdb' }],
  ['disk_setup', { '/dev/vdb': { table_type: 'gpt', layout: [25, [50, 82], [25, '8300']], overwrite: false }, data: { layout: true }, old: { layout: 'remove' } }, {
    '/dev/vdb': { table_type: 'gpt', layout: [25, [50, 82], [25, '8300']], overwrite: false },
    data: { layout: true },
    old: { layout: 'remove' },
  }],
  ['fs_setup', [
    { label: 'data', filesystem: 'ext4', device: '/dev/vdb', partition: 'auto', overwrite: false, replace_fs: 'ntfs', extra_opts: ['-E', 'lazy_itable_init=1'] },
    { filesystem: 'xfs', device: 'data.1', partition: '1', cmd: 'mkfs -t %(filesystem)s %(device)s' },
  ], [
    { label: 'data', filesystem: 'ext4', device: '/dev/vdb', partition: 'auto', overwrite: false, replace_fs: 'ntfs', extra_opts: ['-E', 'lazy_itable_init=1'] },
    { filesystem: 'xfs', device: 'data.1', partition: 1, cmd: 'mkfs -t %(filesystem)s %(device)s' },
  ]],
  ['growpart', { mode: 'auto', devices: ['/', '/dev/vdb1'], ignore_growroot_disabled: true }, { mode: 'auto', devices: ['/', '/dev/vdb1'], ignore_growroot_disabled: true }],
  ['growpart', { mode: 'off' }, { mode: 'off' }],
  ['resize_rootfs', 'noblock', 'noblock'],
  ['resize_rootfs', false, false],
  ['timezone', 'Europe/Madrid', 'Europe/Madrid'],
  ['locale', 'en_US.UTF-8', 'en_US.UTF-8'],
  ['locale', false, false],
  ['locale', 'off', false],
  ['locale_configfile', '/etc/default/locale', '/etc/default/locale'],
  ['final_message', 'up after $UPTIME s', 'up after $UPTIME s'],
  ['phone_home', { url: 'http://10.0.0.1/$INSTANCE_ID/', post: ['pub_key_ed25519', 'instance_id'], tries: '3' }, { url: 'http://10.0.0.1/$INSTANCE_ID/', post: ['pub_key_ed25519', 'instance_id'], tries: 3 }],
  ['phone_home', { url: 'http://h/', post: 'all' }, { url: 'http://h/', post: 'all' }],
  ['power_state', { mode: 'poweroff', delay: 'now', message: 'bye', timeout: 30, condition: ['test', '-f', '/run/x'] }, { mode: 'poweroff', delay: 'now', message: 'bye', timeout: 30, condition: ['test', '-f', '/run/x'] }],
  ['power_state', { mode: 'reboot', delay: '+5', condition: 'test -f /x' }, { mode: 'reboot', delay: 5, condition: 'test -f /x' }],
  ['power_state', { mode: 'halt', delay: 2, condition: false }, { mode: 'halt', delay: 2, condition: false }],
  ['vendor_data', { enabled: 'false', prefix: ['/usr/bin/ltrace', '-c'] }, { enabled: false, prefix: ['/usr/bin/ltrace', '-c'] }],
  ['random_seed', { file: '/dev/urandom', data: 'abc', encoding: 'b64', command: ['pollinate', '-q'], command_required: false }, { file: '/dev/urandom', data: 'abc', encoding: 'base64', command: ['pollinate', '-q'], command_required: false }],
  ['merge_how', 'list(append)+dict(no_replace,recurse_list)+str()', 'list(append)+dict(no_replace,recurse_list)+str()'],
  ['merge_type', [{ name: 'list', settings: ['append'] }, { name: 'dict', settings: ['no_replace', 'recurse_list'] }], [{ name: 'list', settings: ['append'] }, { name: 'dict', settings: ['no_replace', 'recurse_list'] }]],
  ['network', { config: 'disabled' }, { config: 'disabled' }],
  ['network', { version: 2, ethernets: { eth0: { dhcp4: true } } }, { version: 2, ethernets: { eth0: { dhcp4: true } } }],
];

type InvalidRow = [key: string, input: unknown, path: string, message: string];

const INVALID_ROWS: InvalidRow[] = [
  ['hostname', 42, 'hostname', 'expected a string, got number'],
  ['fqdn', ['a'], 'fqdn', 'expected a string, got list'],
  ['prefer_fqdn_over_hostname', 'maybe', 'prefer_fqdn_over_hostname', 'expected a boolean, got string'],
  ['preserve_hostname', 1, 'preserve_hostname', 'expected a boolean, got number'],
  ['manage_etc_hosts', 'sometimes', 'manage_etc_hosts', 'expected a boolean, "localhost" or "template", got "sometimes"'],
  ['create_hostname_file', null, 'create_hostname_file', 'expected a boolean, got null'],
  ['users', 5, 'users', 'expected a list of users, got number'],
  ['users', ['default', 7], 'users[1]', 'expected a user name or a user mapping, got number'],
  ['users', [{ gecos: 'nameless' }], 'users[0]', 'missing required key "name"'],
  ['users', [{ name: 'a' }, { name: 'b' }, { name: 'c', ssh_authorized_keys: [42] }], 'users[2].ssh_authorized_keys[0]', 'expected a string, got number'],
  ['users', [{ name: 'a', sudo: true }], 'users[0].sudo', 'expected false, a string, a list of strings or null, got true'],
  ['users', [{ name: 'a', uid: 'abc' }], 'users[0].uid', 'expected an integer of at least 0, got string'],
  ['users', [{ name: 'a', uid: -1 }], 'users[0].uid', 'expected an integer of at least 0, got -1'],
  ['users', [{ name: 'a', groups: 3 }], 'users[0].groups', 'expected a comma-separated string or a list of strings or a mapping, got number'],
  ['users', [{ name: 'a', lock_passwd: 'sure' }], 'users[0].lock_passwd', 'expected a boolean, got string'],
  ['users', [{ name: 'a', expiredate: 20320901 }], 'users[0].expiredate', 'expected a date (YYYY-MM-DD), got number'],
  ['users', { bob: 'yes please' }, 'users.bob', 'expected a user mapping or a boolean, got string'],
  ['user', 3, 'user', 'expected a string or a mapping, got number'],
  ['groups', 3, 'groups', 'expected a string, a list of group names or mappings or a mapping, got number'],
  ['groups', [{ ops: 5 }], 'groups[0].ops', 'expected a comma-separated string or a list of strings or null, got number'],
  ['ssh_authorized_keys', 'ssh-rsa AAA', 'ssh_authorized_keys', 'expected a list of strings, got string'],
  ['ssh_authorized_keys', ['ok', { key: 1 }], 'ssh_authorized_keys[1]', 'expected a string, got mapping'],
  ['disable_root', 'maybe', 'disable_root', 'expected a boolean, got string'],
  ['disable_root_opts', false, 'disable_root_opts', 'expected a string, got boolean'],
  ['ssh_deletekeys', [], 'ssh_deletekeys', 'expected a boolean, got list'],
  ['ssh_genkeytypes', ['dsa'], 'ssh_genkeytypes[0]', 'expected one of "rsa", "ecdsa", "ed25519", got "dsa"'],
  ['ssh_keys', { rsa_private: 5 }, 'ssh_keys.rsa_private', 'expected a string, got number'],
  ['ssh_pwauth', 'maybe', 'ssh_pwauth', 'expected a boolean, "unchanged" or "1" or "0", got "maybe"'],
  ['ssh_quiet_keygen', 'loud', 'ssh_quiet_keygen', 'expected a boolean, got string'],
  ['ssh_publish_hostkeys', { blacklist: 'rsa' }, 'ssh_publish_hostkeys.blacklist', 'expected a list of strings, got string'],
  ['allow_public_ssh_keys', 0, 'allow_public_ssh_keys', 'expected a boolean, got number'],
  ['chpasswd', { users: [{ name: 'a' }] }, 'chpasswd.users[0]', 'missing required key "password" (or type: RANDOM)'],
  ['chpasswd', { users: [{ name: 'a', password: 'x', type: 'md5' }] }, 'chpasswd.users[0].type', 'expected one of "hash", "text", "RANDOM", got "md5"'],
  ['chpasswd', { list: 'root:ok\nnocolon\n' }, 'chpasswd.list', 'line 2: expected "user:password"'],
  ['chpasswd', { expire: 'soon' }, 'chpasswd.expire', 'expected a boolean, got string'],
  ['password', 1234, 'password', 'expected a string, got number'],
  ['write_files', { path: '/x' }, 'write_files', 'expected a list of files, got mapping'],
  ['write_files', [{ content: 'x' }], 'write_files[0]', 'missing required key "path"'],
  ['write_files', [{ path: '/x', permissions: '0999' }], 'write_files[0].permissions', 'expected an octal mode such as "0644", got "0999"'],
  ['write_files', [{ path: '/x', permissions: 0o17777 }], 'write_files[0].permissions', 'mode 0o17777 is out of range (at most 0o7777)'],
  ['write_files', [{ path: '/x', encoding: 'zip' }], 'write_files[0].encoding', 'expected one of "text/plain", "b64", "base64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64", got "zip"'],
  ['write_files', [{ path: '/x', content: 5 }], 'write_files[0].content', 'expected a string or binary, got number'],
  ['write_files', [{ path: '/x', source: { headers: {} } }], 'write_files[0].source', 'missing required key "uri"'],
  ['write_files', [{ path: '/x', append: 'please' }], 'write_files[0].append', 'expected a boolean, got string'],
  ['bootcmd', 'echo hi', 'bootcmd', 'expected a list of commands, got string'],
  ['runcmd', ['ok', ['ls', { a: 1 }]], 'runcmd[1][1]', 'expected a string, got mapping'],
  ['runcmd', ['ok', 5], 'runcmd[1]', 'expected a string or a list of strings, got number'],
  ['mounts', [['/dev/vdb', '/mnt', 'auto', 'defaults', '0', '2', 'extra']], 'mounts[0]', 'expected at most 6 items, got 7'],
  ['mounts', [[]], 'mounts[0]', 'expected at least 1 item, got 0'],
  ['mounts', [['/dev/vdb', true]], 'mounts[0][1]', 'expected a string or null, got boolean'],
  ['mount_default_fields', [null, null, 'auto'], 'mount_default_fields', 'expected at least 6 items, got 3'],
  ['swap', { size: 'lots' }, 'swap.size', 'expected "auto", an integer of at least 0 or a size such as "512M", got "lots"'],
  ['swap', { maxsize: -1 }, 'swap.maxsize', 'expected an integer of at least 0, got -1'],
  ['swap', { filename: 7 }, 'swap.filename', 'expected a string, got number'],
  ['device_aliases', { data: 1 }, 'device_aliases.data', 'expected a string, got number'],
  ['disk_setup', { '/dev/vdb': { table_type: 'dos' } }, 'disk_setup["/dev/vdb"].table_type', 'expected "mbr" or "gpt", got "dos"'],
  ['disk_setup', { '/dev/vdb': { layout: [150] } }, 'disk_setup["/dev/vdb"].layout[0]', 'expected an integer from 0 to 100, got 150'],
  ['disk_setup', { '/dev/vdb': { layout: [[50]] } }, 'disk_setup["/dev/vdb"].layout[0]', 'expected a [percent, partition type] pair, got a list of 1 items'],
  ['fs_setup', [{ partition: 'first' }], 'fs_setup[0].partition', 'expected one of "auto", "any", "none" or an integer of at least 0, got "first"'],
  ['fs_setup', [{ overwrite: 'y' }], 'fs_setup[0].overwrite', 'expected a boolean, got string'],
  ['growpart', { mode: 'grow' }, 'growpart.mode', 'expected one of "auto", "growpart", "gpart", "off" or false, got "grow"'],
  ['growpart', { devices: '/' }, 'growpart.devices', 'expected a list of strings, got string'],
  ['resize_rootfs', 'block', 'resize_rootfs', 'expected a boolean or "noblock", got "block"'],
  ['timezone', 1, 'timezone', 'expected a string, got number'],
  ['locale', true, 'locale', 'expected false or a string, got true'],
  ['locale_configfile', [], 'locale_configfile', 'expected a string, got list'],
  ['final_message', {}, 'final_message', 'expected a string, got mapping'],
  ['phone_home', { post: 'all' }, 'phone_home', 'missing required key "url"'],
  ['phone_home', { url: 'http://h/', post: ['password'] }, 'phone_home.post[0]', 'expected one of "pub_key_rsa", "pub_key_ecdsa", "pub_key_ed25519", "instance_id", "hostname", "fqdn", got "password"'],
  ['phone_home', { url: 'http://h/', tries: 0 }, 'phone_home.tries', 'expected an integer of at least 1, got 0'],
  ['power_state', { mode: 'sleep' }, 'power_state.mode', 'expected one of "poweroff", "reboot", "halt", got "sleep"'],
  ['power_state', { delay: 'now' }, 'power_state', 'missing required key "mode"'],
  ['power_state', { mode: 'reboot', delay: 'later' }, 'power_state.delay', 'expected "now", an integer of at least 0 or a number of minutes such as "+5", got "later"'],
  ['power_state', { mode: 'reboot', timeout: -3 }, 'power_state.timeout', 'expected a number of at least 0, got number'],
  ['power_state', { mode: 'reboot', condition: 3 }, 'power_state.condition', 'expected a boolean, a string or a list of strings, got number'],
  ['vendor_data', { enabled: 'perhaps' }, 'vendor_data.enabled', 'expected a boolean, got string'],
  ['random_seed', { encoding: 'hex' }, 'random_seed.encoding', 'expected one of "raw", "base64", "b64", "gzip", "gz", got "hex"'],
  ['merge_how', [{ name: 'list' }], 'merge_how[0]', 'missing required key "settings"'],
  ['merge_type', 3, 'merge_type', 'expected a string or a list of merge rules, got number'],
  ['network', { version: 3 }, 'network.version', 'expected 1 or 2, got 3'],
  ['network', { ethernets: {} }, 'network', 'expected "config: disabled" or a "version" of 1 or 2'],
  ['network', 'dhcp', 'network', 'expected a network configuration mapping, got string'],
];

describe('validateCloudConfig: valid values', () => {
  it.each(VALID.map((r, i) => [i, ...r] as const))('row %i: %s', (_i, key, input, expected) => {
    const r = validateCloudConfig({ [key]: input }, 'test');
    expect(r.errors).toEqual([]);
    expect((r.config as Record<string, unknown>)[key]).toEqual(expected);
  });

  it('has a valid row for every typed key', () => {
    const keys = new Set(VALID.map((r) => r[0]));
    const invalidKeys = new Set(INVALID_ROWS.map((r) => r[0]));
    const typed: (keyof CloudConfig)[] = [
      'hostname', 'fqdn', 'prefer_fqdn_over_hostname', 'preserve_hostname', 'manage_etc_hosts', 'create_hostname_file',
      'users', 'user', 'groups', 'ssh_authorized_keys', 'disable_root', 'disable_root_opts', 'ssh_deletekeys',
      'ssh_genkeytypes', 'ssh_keys', 'ssh_pwauth', 'ssh_quiet_keygen', 'ssh_publish_hostkeys', 'allow_public_ssh_keys',
      'chpasswd', 'password', 'write_files', 'bootcmd', 'runcmd', 'mounts', 'mount_default_fields', 'swap',
      'device_aliases', 'disk_setup', 'fs_setup', 'growpart', 'resize_rootfs', 'timezone', 'locale', 'locale_configfile',
      'final_message', 'phone_home', 'power_state', 'vendor_data', 'random_seed', 'merge_how', 'merge_type', 'network',
    ];
    for (const k of typed) {
      expect(keys.has(k), `valid row for ${k}`).toBe(true);
      expect(invalidKeys.has(k), `invalid row for ${k}`).toBe(true);
    }
  });
});

describe('validateCloudConfig: invalid values', () => {
  it.each(INVALID_ROWS.map((r, i) => [i, ...r] as const))('row %i: %s -> %s', (_i, key, input, path, message) => {
    const doc: Record<string, unknown> = key === 'hostname' ? {} : { hostname: 'kept' };
    doc[key] = input;
    const r = validateCloudConfig(doc, 'user-data');
    expect(r.errors.map((e) => ({ path: e.path, message: e.message }))).toEqual([{ path, message }]);
    expect(r.errors[0]?.source).toBe('user-data');
    // The sibling survives the error.
    if (key !== 'hostname') expect(r.config.hostname).toBe('kept');
  });
});

describe('validateCloudConfig: dropping only what is invalid', () => {
  it('drops one bad list item and keeps the others', () => {
    const r = validateCloudConfig({ ssh_authorized_keys: ['a', 1, 'b'] }, 's');
    expect(r.config.ssh_authorized_keys).toEqual(['a', 'b']);
    expect(r.errors).toHaveLength(1);
  });

  it('drops a user that lacks a name but keeps the other users', () => {
    const r = validateCloudConfig({ users: [{ name: 'a' }, { shell: '/bin/sh' }, 'default'] }, 's');
    expect(r.config.users).toEqual([{ name: 'a' }, 'default']);
  });

  it('drops a whole command list when one command is invalid, so a script never runs with a step missing', () => {
    const r = validateCloudConfig({ runcmd: ['mkdir /x', 7, 'rm -rf /x/tmp'] }, 's');
    expect(r.config.runcmd).toBeUndefined();
    expect(r.errors.map((e) => e.path)).toEqual(['runcmd[1]']);
  });

  it('keeps a user whose one field is invalid, without that field', () => {
    const r = validateCloudConfig({ users: [{ name: 'a', shell: 5, gecos: 'A' }] }, 's');
    expect(r.config.users).toEqual([{ name: 'a', gecos: 'A' }]);
  });

  it('does not echo a password from a malformed legacy chpasswd line', () => {
    const r = validateCloudConfig({ chpasswd: { list: 'hunter2-no-colon' } }, 's');
    expect(r.errors).toHaveLength(1);
    expect(JSON.stringify(r.errors)).not.toContain('hunter2');
  });
});

describe('validateCloudConfig: warnings', () => {
  it('reports unknown keys at every level and drops them', () => {
    const r = validateCloudConfig(
      { hostnam: 'typo', users: [{ name: 'a', shel: '/bin/sh' }], write_files: [{ path: '/x', mode: '0644' }], swap: { file: '/s' } },
      'ud',
    );
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([
      ['hostnam', 'unknown key, ignored'],
      ['users[0].shel', 'unknown key, ignored'],
      ['write_files[0].mode', 'unknown key, ignored'],
      ['swap.file', 'unknown key, ignored'],
    ]);
    expect(r.config).toEqual({ users: [{ name: 'a' }], write_files: [{ path: '/x' }], swap: {} });
  });

  it('says "not supported by guestctx" for keys cloud-init knows', () => {
    const input = Object.fromEntries(['packages', 'package_update', 'package_upgrade', 'apt', 'yum_repos', 'snap', 'chef', 'puppet', 'ntp', 'ca_certs', 'ssh_import_id'].map((k) => [k, {}]));
    const r = validateCloudConfig(input, 'ud');
    expect(r.errors).toEqual([]);
    expect(r.config).toEqual({});
    expect(r.warnings).toHaveLength(Object.keys(input).length);
    for (const w of r.warnings) expect(w.message).toBe('not supported by guestctx, ignored');
  });

  it('lists the cloud-init keys it does not implement, none of them typed', () => {
    for (const k of ['packages', 'apt', 'snap', 'chef', 'puppet', 'ntp', 'ca_certs', 'yum_repos', 'package_update', 'package_upgrade']) {
      expect(KNOWN_UNSUPPORTED_KEYS).toContain(k);
    }
    const typed = validateCloudConfig(Object.fromEntries(KNOWN_UNSUPPORTED_KEYS.map((k) => [k, null])), 's');
    expect(Object.keys(typed.config)).toEqual([]);
  });

  it('warns about per-user features it does not implement', () => {
    const r = validateCloudConfig({ users: [{ name: 'a', ssh_import_id: ['gh:a'] }, { snapuser: 'joe@example.com' }] }, 's');
    expect(r.errors).toEqual([]);
    expect(r.config.users).toEqual([{ name: 'a' }]);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([
      ['users[0].ssh_import_id', 'not supported by guestctx, ignored'],
      ['users[1].snapuser', 'not supported by guestctx, ignored'],
    ]);
  });

  it('accepts deprecated hyphenated user keys with a warning, the canonical key winning', () => {
    const r = validateCloudConfig({ users: [{ name: 'a', 'lock-passwd': false, 'ssh-authorized-keys': ['k'], 'primary-group': 'g', primary_group: 'h' }] }, 's');
    expect(r.config.users).toEqual([{ name: 'a', lock_passwd: false, ssh_authorized_keys: ['k'], primary_group: 'h' }]);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([
      ['users[0].lock-passwd', 'deprecated spelling, use "lock_passwd"'],
      ['users[0].ssh-authorized-keys', 'deprecated spelling, use "ssh_authorized_keys"'],
      ['users[0].primary-group', 'ignored because "primary_group" is also set'],
    ]);
  });

  it('warns about deprecated forms it normalises', () => {
    const r = validateCloudConfig(
      { manage_etc_hosts: 'template', growpart: { mode: false }, users: [{ name: 'a', sudo: false }], chpasswd: { list: ['a:b'] } },
      's',
    );
    expect(r.config).toEqual({
      manage_etc_hosts: true,
      growpart: { mode: 'off' },
      users: [{ name: 'a', sudo: false }],
      chpasswd: { users: [{ name: 'a', type: 'text', password: 'b' }] },
    });
    expect(r.warnings.map((w) => w.path)).toEqual(['manage_etc_hosts', 'growpart.mode', 'users[0].sudo', 'chpasswd.list']);
  });

  it('warns that an integer mode like 644 is decimal, as cloud-init would use it', () => {
    const r = validateCloudConfig({ write_files: [{ path: '/x', permissions: 644 }] }, 's');
    expect(r.config.write_files?.[0]?.permissions).toBe(644);
    expect(r.warnings).toEqual([
      { path: 'write_files[0].permissions', message: '644 is a decimal number (mode 0o1204); write "0644" for mode 0644', source: 's' },
    ]);
  });
});

describe('validateCloudConfig: whole documents', () => {
  it('treats an empty document as an empty config', () => {
    expect(validateCloudConfig(null, 's')).toEqual({ config: {}, errors: [], warnings: [] });
    expect(validateCloudConfig({}, 's')).toEqual({ config: {}, errors: [], warnings: [] });
  });

  it('rejects a document that is not a mapping', () => {
    const r = validateCloudConfig(['hostname', 'x'], 'ud');
    expect(r.config).toEqual({});
    expect(r.errors).toEqual([{ path: '', message: 'expected a mapping of cloud-config keys, got list', source: 'ud' }]);
  });

  it('bounds the work on alias-amplified input instead of hanging', () => {
    // 3000 users sharing one 3000-key list: 9 million values if walked naively.
    const keys = Array.from({ length: 3000 }, (_, i) => `ssh-ed25519 K${i}`);
    const user = { name: 'u', ssh_authorized_keys: keys };
    const started = Date.now();
    const r = validateCloudConfig({ users: Array.from({ length: 3000 }, () => user) }, 'ud');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.config).toEqual({});
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.message).toMatch(/^too large to validate/);
  });

  it('does not let a "__proto__" key reach a prototype', () => {
    const input = JSON.parse('{"disk_setup": {"__proto__": {"layout": true}}, "__proto__": {"polluted": 1}}') as unknown;
    const r = validateCloudConfig(input, 's');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(r.config.disk_setup, '__proto__')).toBe(true);
    expect(r.warnings.map((w) => w.path)).toEqual(['__proto__']);
  });

  it('formats an issue as one log line', () => {
    expect(formatIssue({ path: 'users[1].shell', message: 'expected a string, got number', line: 12, source: 'user-data' })).toBe(
      'user-data:12: users[1].shell: expected a string, got number',
    );
    expect(formatIssue({ path: '', message: 'invalid YAML: bad', source: 'ud' })).toBe('ud: invalid YAML: bad');
  });
});

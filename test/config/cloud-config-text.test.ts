// Cloud-config validated from YAML text: every issue carries the line of the
// key it concerns, syntax errors carry js-yaml's line, and the YAML 1.1 habits
// of cloud-init users (unquoted 0644) are read as cloud-init reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { validateCloudConfig, validateCloudConfigText } from '../../src/config/cloud-config';

const FIXTURES = join(__dirname, '..', 'fixtures', 'config');

function issues(r: { errors: { path: string; message: string; line?: number }[] }) {
  return r.errors.map((e) => [e.line, e.path, e.message]);
}

describe('validateCloudConfigText: lines', () => {
  it('names the line of each bad key, list item and nested value', () => {
    const text = [
      '#cloud-config', //                                  1
      'hostname: 42', //                                    2
      'users:', //                                          3
      '  - default', //                                     4
      '  - name: alice', //                                 5
      '    shell: [bash]', //                               6
      '  - name: bob', //                                   7
      '    ssh_authorized_keys:', //                        8
      '      - ssh-ed25519 AAAA bob', //                    9
      '      - 12345', //                                   10
      '  - {gecos: "no name"}', //                          11
      'write_files:', //                                    12
      '  - path: /etc/a', //                                13
      '    permissions: "rwx"', //                          14
      'runcmd:', //                                         15
      '  - [ls, {a: 1}]', //                                16
      'power_state: {delay: now}', //                       17
      '',
    ].join('\n');
    const r = validateCloudConfigText(text, 'user-data');
    expect(issues(r)).toEqual([
      [2, 'hostname', 'expected a string, got number'],
      [6, 'users[1].shell', 'expected a string, got list'],
      [10, 'users[2].ssh_authorized_keys[1]', 'expected a string, got number'],
      [11, 'users[3]', 'missing required key "name"'],
      [14, 'write_files[0].permissions', 'expected an octal mode such as "0644", got "rwx"'],
      [16, 'runcmd[0][1]', 'expected a string, got mapping'],
      [17, 'power_state', 'missing required key "mode"'],
    ]);
    for (const e of r.errors) expect(e.source).toBe('user-data');
    // Valid siblings survive.
    expect(r.config.users).toEqual(['default', { name: 'alice' }, { name: 'bob', ssh_authorized_keys: ['ssh-ed25519 AAAA bob'] }]);
    expect(r.config.write_files).toEqual([{ path: '/etc/a' }]);
  });

  it('gives lines to warnings too: unknown, unsupported, deprecated', () => {
    const text = '#cloud-config\npackages:\n  - vim\nhostnme: x\nusers:\n  - name: a\n    lock-passwd: false\n';
    const r = validateCloudConfigText(text, 'ud');
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => [w.line, w.path, w.message])).toEqual([
      [2, 'packages', 'not supported by guestctx, ignored'],
      [4, 'hostnme', 'unknown key, ignored'],
      [7, 'users[0].lock-passwd', 'deprecated spelling, use "lock_passwd"'],
    ]);
  });

  it('finds lines in flow style, explicit keys, quoted keys and multi-line values', () => {
    const text = [
      '#cloud-config',
      'disk_setup: {"/dev/vdb": {table_type: dos}}', //      2
      '? timezone', //                                       3
      ': 5', //                                              4
      '"locale": 7', //                                      5
      'final_message: |', //                                 6
      '  hello', //                                          7
      'swap:', //                                            8
      '  # a comment between key and value', //             9
      '  size: lots', //                                     10
    ].join('\n');
    const r = validateCloudConfigText(text, 'ud');
    expect(issues(r)).toEqual([
      [2, 'disk_setup["/dev/vdb"].table_type', 'expected "mbr" or "gpt", got "dos"'],
      [3, 'timezone', 'expected a string, got number'],
      [5, 'locale', 'expected false or a string, got number'],
      [10, 'swap.size', 'expected "auto", an integer of at least 0 or a size such as "512M", got "lots"'],
    ]);
    expect(r.config.final_message).toBe('hello\n');
  });

  it('points into an alias at the alias itself', () => {
    const text = ['#cloud-config', 'x-keys: &keys', '  - 5', 'ssh_authorized_keys: *keys', ''].join('\n');
    const r = validateCloudConfigText(text, 'ud');
    // The bad value lives at line 3, but the path through ssh_authorized_keys ends at the alias on line 4.
    expect(issues(r)).toEqual([[4, 'ssh_authorized_keys[0]', 'expected a string, got number']]);
    expect(r.warnings.map((w) => [w.line, w.path])).toEqual([[2, 'x-keys']]);
  });

  it('reports a YAML syntax error with its line and an empty config', () => {
    const text = '#cloud-config\nhostname: a\nusers:\n  - name: a\n   bad: indent\n';
    const r = validateCloudConfigText(text, 'user-data');
    expect(r.config).toEqual({});
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: '', line: 5, source: 'user-data' });
    expect(r.errors[0]?.message).toMatch(/^invalid YAML: /);
  });

  it('reports an unclosed flow list at the line js-yaml names', () => {
    const r = validateCloudConfigText('#cloud-config\nruncmd: [a, b\nhostname: x\n', 'ud');
    expect(r.errors[0]?.path).toBe('');
    expect(r.errors[0]?.line).toBeGreaterThanOrEqual(2);
    expect(r.errors[0]?.message).toMatch(/^invalid YAML: /);
  });

  it('keeps the last of duplicate keys, as PyYAML does, and warns', () => {
    const r = validateCloudConfigText('#cloud-config\nhostname: a\ntimezone: UTC\nhostname: b\n', 'ud');
    expect(r.config).toEqual({ hostname: 'b', timezone: 'UTC' });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([{ path: 'hostname', message: 'duplicate key, the last value is used', source: 'ud', line: 4 }]);
  });

  it('treats a document of comments only as an empty config', () => {
    expect(validateCloudConfigText('#cloud-config\n# nothing here\n', 'ud')).toEqual({ config: {}, errors: [], warnings: [] });
    expect(validateCloudConfigText('', 'ud')).toEqual({ config: {}, errors: [], warnings: [] });
  });

  it('reports a document that is a list on line 2', () => {
    const r = validateCloudConfigText('#cloud-config\n- hostname\n', 'ud');
    expect(issues(r)).toEqual([[2, '', 'expected a mapping of cloud-config keys, got list']]);
  });
});

describe('validateCloudConfigText: YAML 1.1 compatibility', () => {
  it('reads an unquoted 0644 as octal, like cloud-init, and 644 as decimal with a warning', () => {
    const text = [
      '#cloud-config',
      'write_files:',
      '  - {path: /a, permissions: 0644}',
      '  - {path: /b, permissions: 0o755}',
      '  - {path: /c, permissions: "0600"}',
      '  - {path: /d, permissions: 644}',
      '',
    ].join('\n');
    const r = validateCloudConfigText(text, 'ud');
    expect(r.config.write_files?.map((f) => f.permissions)).toEqual([0o644, 0o755, 0o600, 644]);
    expect(r.warnings.map((w) => [w.line, w.path])).toEqual([[6, 'write_files[3].permissions']]);
  });

  it('reads yes/no/on/off as booleans and a bare date as YYYY-MM-DD', () => {
    const text = '#cloud-config\nssh_pwauth: yes\ndisable_root: off\nusers:\n  - name: a\n    lock_passwd: No\n    expiredate: 2030-01-31\n';
    const r = validateCloudConfigText(text, 'ud');
    expect(r.errors).toEqual([]);
    expect(r.config).toEqual({ ssh_pwauth: true, disable_root: false, users: [{ name: 'a', lock_passwd: false, expiredate: '2030-01-31' }] });
  });

  it('keeps !!binary content as bytes', () => {
    const text = '#cloud-config\nwrite_files:\n  - path: /bin/blob\n    encoding: gzip\n    content: !!binary |\n      H4sIAAAAAAACA8tIzcnJBwCGphA2BQAAAA==\n';
    const r = validateCloudConfigText(text, 'ud');
    expect(r.errors).toEqual([]);
    const c = r.config.write_files?.[0]?.content;
    expect(c).toBeInstanceOf(Uint8Array);
    expect(gunzipSync(c as Uint8Array).toString()).toBe('hello');
  });
});

describe('full fixture', () => {
  const dir = join(FIXTURES, 'full');
  const text = readFileSync(join(dir, 'cloud-config.yaml'), 'utf8');
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as unknown;

  it('validates a realistic cloud-config to the expected typed config and warnings', () => {
    const r = validateCloudConfigText(text, 'cloud-config.yaml');
    expect(r).toEqual(expected);
  });

  it('gives the same config from the decoded object, except what only the text can tell', () => {
    const fromText = validateCloudConfigText(text, 'cloud-config.yaml');
    const fromObject = validateCloudConfig(load(text), 'cloud-config.yaml');
    expect(fromObject.errors).toEqual([]);
    // js-yaml reads the unquoted 0644 as decimal 644; only the text shows it was octal.
    expect(fromObject.config.write_files?.[0]?.permissions).toBe(644);
    expect(fromObject.warnings.map((w) => w.path)).toContain('write_files[0].permissions');
    const patched = { ...fromObject.config, write_files: fromText.config.write_files };
    expect(patched).toEqual(fromText.config);
  });
});

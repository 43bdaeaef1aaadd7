// Property test for cloud-config typing: random configs that are valid and
// already in canonical form (the shapes CloudConfig itself uses) pass
// validation with no error and come out unchanged, whether given as an object
// or as YAML text. Complements test/config/cloud-config-property.test.ts,
// which feeds arbitrary junk and checks that nothing throws.
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { validateCloudConfig, validateCloudConfigText } from '../../src/config/cloud-config';

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
const name = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/);
const text = fc.stringMatching(/^[A-Za-z0-9 .,:/=_-]{1,40}$/).filter((s) => s.trim() === s);
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const hostname = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const absPath = fc.array(fc.stringMatching(/^[a-z0-9_.-]{1,10}$/).filter((s) => s !== '.' && s !== '..'), { minLength: 1, maxLength: 4 }).map((p) => `/${p.join('/')}`);
const command = fc.oneof(text, fc.array(word, { minLength: 1, maxLength: 4 }));
const key = fc.stringMatching(/^[A-Za-z0-9+/]{20,40}$/).map((b) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5${b} user@host`);

const user = fc.record(
  {
    name,
    gecos: text,
    groups: fc.array(name, { minLength: 1, maxLength: 3 }),
    sudo: fc.oneof(fc.constant(false as const), fc.constant(['ALL=(ALL) NOPASSWD:ALL'])),
    shell: absPath,
    lock_passwd: fc.boolean(),
    ssh_authorized_keys: fc.array(key, { maxLength: 2 }),
    system: fc.boolean(),
    homedir: absPath,
    uid: fc.integer({ min: 1000, max: 60000 }),
  },
  { requiredKeys: ['name'] },
);

const writeFile = fc.record(
  {
    path: absPath,
    content: text,
    owner: fc.constantFrom('root:root', 'root', 'nobody:nogroup'),
    permissions: fc.constantFrom(0o600, 0o644, 0o755, 0o400),
    append: fc.boolean(),
    defer: fc.boolean(),
  },
  { requiredKeys: ['path'] },
);

const config = fc.record(
  {
    hostname: label,
    fqdn: hostname,
    prefer_fqdn_over_hostname: fc.boolean(),
    preserve_hostname: fc.boolean(),
    manage_etc_hosts: fc.constantFrom(true, false, 'localhost' as const),
    users: fc.array(fc.oneof(fc.constant('default' as const), user), { maxLength: 3 }),
    ssh_authorized_keys: fc.array(key, { maxLength: 3 }),
    disable_root: fc.boolean(),
    ssh_pwauth: fc.boolean(),
    ssh_deletekeys: fc.boolean(),
    ssh_genkeytypes: fc.uniqueArray(fc.constantFrom('rsa' as const, 'ecdsa' as const, 'ed25519' as const), { maxLength: 3 }),
    write_files: fc.array(writeFile, { maxLength: 3 }),
    bootcmd: fc.array(command, { maxLength: 3 }),
    runcmd: fc.array(command, { maxLength: 3 }),
    timezone: fc.constantFrom('UTC', 'Europe/Madrid', 'America/New_York'),
    locale: fc.constantFrom('C.UTF-8', 'en_US.UTF-8'),
    final_message: text,
    password: text,
  },
  { requiredKeys: [] },
);

describe('valid cloud-config survives validation unchanged', () => {
  it('as an object: no errors, identical typed config', () => {
    fc.assert(
      fc.property(config, (cfg) => {
        const r = validateCloudConfig(cfg, 'user-data');
        expect(r.errors).toEqual([]);
        expect(r.config).toEqual(cfg);
      }),
      { numRuns: 300 },
    );
  });

  it('as YAML text: no errors, identical typed config', () => {
    fc.assert(
      fc.property(config, (cfg) => {
        const r = validateCloudConfigText(`#cloud-config\n${dump(cfg)}`, 'user-data');
        expect(r.errors).toEqual([]);
        expect(r.config).toEqual(cfg);
      }),
      { numRuns: 200 },
    );
  });
});

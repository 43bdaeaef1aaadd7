// Property tests: for arbitrary JSON-like input the validator never throws,
// every issue path points at something that exists in the input, and
// validating the same data as YAML text only adds line numbers.
import fc from 'fast-check';
import { dump, load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { KNOWN_UNSUPPORTED_KEYS, validateCloudConfig, validateCloudConfigText, type CloudConfigIssue } from '../../src/config/cloud-config';
import { parsePath } from '../../src/config/schema-combinators';

const TOP_KEYS = [
  'hostname', 'fqdn', 'prefer_fqdn_over_hostname', 'preserve_hostname', 'manage_etc_hosts', 'create_hostname_file',
  'users', 'user', 'groups', 'ssh_authorized_keys', 'disable_root', 'disable_root_opts', 'ssh_deletekeys',
  'ssh_genkeytypes', 'ssh_keys', 'ssh_pwauth', 'ssh_quiet_keygen', 'ssh_publish_hostkeys', 'allow_public_ssh_keys',
  'chpasswd', 'password', 'write_files', 'bootcmd', 'runcmd', 'mounts', 'mount_default_fields', 'swap',
  'device_aliases', 'disk_setup', 'fs_setup', 'growpart', 'resize_rootfs', 'timezone', 'locale', 'locale_configfile',
  'final_message', 'phone_home', 'power_state', 'vendor_data', 'random_seed', 'merge_how', 'merge_type', 'network',
  'packages', 'apt', 'not_a_key', '__proto__', 'users.x', '',
];

const USER_KEYS = [
  'name', 'gecos', 'groups', 'sudo', 'shell', 'lock_passwd', 'lock-passwd', 'passwd', 'ssh_authorized_keys',
  'ssh_import_id', 'snapuser', 'uid', 'expiredate', 'inactive', 'system', 'doas', 'bogus',
];

const scalars = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('default', 'auto', 'off', 'now', '+5', '0644', '512M', 'yes', 'RANDOM', 'a,b', 'root:pw', 'disabled'),
  fc.integer({ min: -5, max: 70000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

// Values shaped like the schema: lists and mappings of scalars, mappings with known sub-keys.
const shaped: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalars,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...USER_KEYS, 'path', 'mode', 'version', 'config', 'url', 'layout', 'uri', 'headers'), tie('value'), { maxKeys: 5 }),
  ),
})).value;

const cloudConfigLike = fc.dictionary(fc.constantFrom(...TOP_KEYS), fc.oneof(shaped, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 8 });

/** Whether a formatted issue path names a value present in the input. */
function pathExists(input: unknown, path: string): boolean {
  const segs = parsePath(path);
  if (segs === undefined) return false;
  let cur: unknown = input;
  for (const seg of segs) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return false;
      cur = cur[seg];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, seg)) return false;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return true;
}

function checkPaths(input: unknown, issues: readonly CloudConfigIssue[]): void {
  for (const issue of issues) {
    expect(pathExists(input, issue.path), `${issue.path}: ${issue.message}`).toBe(true);
  }
}

function strip(issues: readonly CloudConfigIssue[]) {
  return issues.map((i) => ({ path: i.path, message: i.message }));
}

describe('validateCloudConfig properties', () => {
  it('never throws on arbitrary JSON, and every issue path exists in the input', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (input) => {
        const r = validateCloudConfig(input, 'prop');
        checkPaths(input, r.errors);
        checkPaths(input, r.warnings);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on schema-shaped input, and every issue path exists in the input', () => {
    fc.assert(
      fc.property(cloudConfigLike, (input) => {
        // Round-trip through JSON so "__proto__" is an own key, as JSON.parse and js-yaml make it.
        const doc = JSON.parse(JSON.stringify(input)) as unknown;
        const r = validateCloudConfig(doc, 'prop');
        checkPaths(doc, r.errors);
        checkPaths(doc, r.warnings);
        // The config is plain data: it survives JSON without loss of keys.
        expect(Object.keys(r.config).every((k) => TOP_KEYS.includes(k))).toBe(true);
        // An input key is either in the config, or named by an issue.
        const named = new Set([...r.errors, ...r.warnings].map((i) => parsePath(i.path)?.[0]));
        for (const k of Object.keys(doc as object)) {
          const kept = Object.prototype.hasOwnProperty.call(r.config, k);
          const emptyDoc = (doc as Record<string, unknown>)[k] === undefined;
          expect(kept || named.has(k) || named.has(undefined) || emptyDoc || KNOWN_UNSUPPORTED_KEYS.includes(k), k).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('validating the YAML text of a document finds the same issues, each with a line in the text', () => {
    fc.assert(
      fc.property(cloudConfigLike, (input) => {
        const text = `#cloud-config\n${dump(input, { noRefs: true })}`;
        const lines = text.split('\n').length;
        const fromText = validateCloudConfigText(text, 'prop');
        const fromObject = validateCloudConfig(load(text), 'prop');
        expect(fromText.config).toEqual(fromObject.config);
        expect(strip(fromText.errors)).toEqual(strip(fromObject.errors));
        expect(strip(fromText.warnings)).toEqual(strip(fromObject.warnings));
        for (const issue of [...fromText.errors, ...fromText.warnings]) {
          expect(issue.line).toBeGreaterThanOrEqual(1);
          expect(issue.line).toBeLessThanOrEqual(lines);
        }
      }),
      { numRuns: 200 },
    );
  });
});

// Fuzz target: cloud-config YAML text -> typed CloudConfig. Validation never
// throws (problems are issues, each with a line inside the text) and is
// deterministic. The same text also goes through the user-data path (YAML 1.1
// loader, then validation of the loaded object). The typed CloudConfig is a
// normalised shape (groups become {name, members}), not cloud-config input, so
// it is deliberately not fed back to the validator.
import { isDeepStrictEqual } from 'node:util';
import { validateCloudConfig, validateCloudConfigText } from '../../../src/config/cloud-config';
import { GuestctxError } from '../../../src/errors';
import { loadYaml11 } from '../../../src/userdata/yaml11';
import { fixtureFiles, invariant, readAll } from '../support';

export const tokens = [
  '#cloud-config\n', ': ', '- ', '  ', '&a ', '*a', '<<: *a\n', '!!binary ', '!!python/object ', '!!js/function ', '? ', '|\n', '>-\n', '{', '}', '[', ']',
  'users:\n', '  - name: ', 'write_files:\n', '  - path: ', '    content: ', '    encoding: gzip+base64\n', '    permissions: ', '0644', '0o644', '0x1ff', '0999',
  'runcmd:\n', 'bootcmd:\n', 'chpasswd:\n', 'merge_how: ', 'network:\n', 'version: 2\n', 'ethernets:\n', 'mounts:\n', 'ssh_keys:\n', 'yes', 'off', '~', 'null', '.inf', '1_000',
  '2001-12-14t21:59:43.10-05:00', '__proto__: ', 'constructor: ', 'hasOwnProperty: ',
];
export const maxLen = 128 * 1024;

/** Alias fan-out: small text, huge logical size (must be bounded in time). */
function aliasBomb(key: string, depth: number): string {
  let y = 'x_a0: &a0 ["echo lol","echo lol","echo lol","echo lol","echo lol","echo lol","echo lol","echo lol","echo lol","echo lol"]\n';
  for (let i = 1; i <= depth; i++) y += `x_a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]\n`;
  return `#cloud-config\n${y}${key}: *a${depth}\n`;
}

export function seeds(): Buffer[] {
  return [
    ...readAll(fixtureFiles('test/fixtures/config', (n) => n.endsWith('.yaml'))),
    ...readAll(fixtureFiles('test/fixtures/userdata', (n) => n.endsWith('.yaml'))),
    Buffer.from(aliasBomb('runcmd', 6)),
    Buffer.from(aliasBomb('bootcmd', 7)),
    Buffer.from('#cloud-config\nusers: [default, {name: a, groups: [x, y], sudo: "ALL=(ALL) NOPASSWD:ALL"}]\nwrite_files: [{path: /etc/x, content: aGk=, encoding: b64, permissions: "0600"}]\n'),
  ];
}

export function fuzz(data: Buffer): string {
  const text = data.toString('utf8');
  const typed = validateCloudConfigText(text, 'user-data');
  // YAML counts CR, LF and CRLF as line breaks.
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const issue of [...typed.errors, ...typed.warnings]) {
    invariant(issue.line === undefined || (issue.line >= 1 && issue.line <= lines + 1), `issue line ${issue.line} outside the ${lines}-line text`);
  }
  invariant(isDeepStrictEqual(validateCloudConfigText(text, 'user-data'), typed), 'validating the same text twice gave different results');
  const sig = [...typed.errors, ...typed.warnings].map((i) => i.path.replace(/\[\d+\]/g, '[]')).sort().join(',');
  let doc: unknown;
  try {
    doc = loadYaml11(text, 'user-data');
  } catch (err) {
    if (err instanceof GuestctxError) return `yaml11-error|${sig}`;
    throw err;
  }
  const loose = validateCloudConfig(doc, 'user-data (YAML 1.1)');
  return `${sig}|${loose.errors.length > 0}`;
}

// Security properties of a whole run through the CLI: no secret (PASSWORD,
// CRYPTED_PASSWORD, a chpasswd entry, user-data content, an IMDS session token)
// appears in the log file, on the console, in the JSON events, in status.json
// or in `query` output without --show-secrets; the log and state files are
// 0600 and the state directories 0700.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliIO } from '../../src/cli';
import { loadSpec, startMetadataServer, type MetadataServer } from '../helpers/metadata-server';
import { makeTempRoot, type TempRoot } from '../helpers/temp-root';
import { contextSeed } from './seed';

const PASSWORD = 'Plain-Pass-4f9c2e';
const CRYPTED = '$6$saltsalt$Crypted.Hash.7d1e0b9a55c3';
const CHPASSWD = 'Chpasswd-Secret-81aa';
const UD_MARKER = 'UserData-Marker-0c77e1';
const USER_DATA = `#cloud-config
# ${UD_MARKER}
chpasswd:
  expire: false
  users:
    - {name: root, password: ${CHPASSWD}, type: text}
runcmd:
  - echo ${UD_MARKER}
`;
const SECRETS = [PASSWORD, CRYPTED, CHPASSWD, UD_MARKER];

let root: TempRoot | undefined;
let server: MetadataServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  root?.cleanup();
  root = undefined;
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => (out += t), stderr: (t) => (err += t) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** Every file under a directory, with its mode, for permission and content checks. */
function walk(dir: string): { file: string; mode: number; dir: boolean }[] {
  const out: { file: string; mode: number; dir: boolean }[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = lstatSync(p);
    out.push({ file: p, mode: s.mode & 0o7777, dir: s.isDirectory() });
    if (s.isDirectory()) out.push(...walk(p));
  }
  return out;
}

function expectNoSecrets(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) expect(text.includes(s), `${where} contains the secret ${s}`).toBe(false);
}

describe('secrets never leave the 0600 files', () => {
  it('OpenNebula passwords, chpasswd and user-data: not in log, console, events, status or query', async () => {
    root = makeTempRoot();
    const seed = contextSeed({ SET_HOSTNAME: 'sec-01', PASSWORD, CRYPTED_PASSWORD: CRYPTED, USER_DATA });
    const run = await cli(['run', '--root', root.dir, '--seed', seed, '--events', 'json', '-v']);
    expect(run.err).toMatch(/stage final/);
    const log = root.read('var/log/guestctx.log');
    expect(log.length).toBeGreaterThan(0);
    expectNoSecrets('the log file', log, SECRETS);
    expectNoSecrets('stdout (events)', run.out, SECRETS);
    expectNoSecrets('stderr (console)', run.err, SECRETS);
    expectNoSecrets('status.json', root.read('var/lib/guestctx/status.json'), SECRETS);

    const status = await cli(['status', '--root', root.dir, '--json']);
    expectNoSecrets('status --json', status.out, SECRETS);

    const query = await cli(['query', '--root', root.dir, '--seed', seed]);
    expect(query.code).toBe(0);
    expectNoSecrets('query', query.out + query.err, SECRETS);
    expect(query.out).toMatch(/REDACTED/);
    for (const key of ['PASSWORD', 'CRYPTED_PASSWORD', 'USER_DATA']) {
      const one = await cli(['query', key, '--root', root.dir, '--seed', seed]);
      expectNoSecrets(`query ${key}`, one.out + one.err, SECRETS);
    }
    // The check is sensitive: --show-secrets does print them.
    const shown = await cli(['query', '--root', root.dir, '--seed', seed, '--show-secrets']);
    expect(shown.out).toContain(PASSWORD);
    expect(shown.out).toContain(UD_MARKER);
  });

  it('log and state files are 0600, state directories 0700', async () => {
    root = makeTempRoot();
    const seed = contextSeed({ SET_HOSTNAME: 'sec-02', PASSWORD, USER_DATA, START_SCRIPT: '#!/bin/sh\necho hi\n' });
    await cli(['run', '--root', root.dir, '--seed', seed]);
    expect(root.mode('var/log/guestctx.log')).toBe(0o600);
    // The top directory is 0700, so nothing below it is reachable by other users.
    expect(root.mode('var/lib/guestctx')).toBe(0o700);
    const entries = walk(root.file('var/lib/guestctx'));
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) {
      // Sub-directories: see found-bugs.test.ts (instance/ is created 0755 as a side effect).
      if (e.dir) continue;
      // boot-finished is a public marker (world-readable, like cloud-init's); it holds no secret.
      if (path.basename(e.file) === 'boot-finished') continue;
      // Stored scripts are executable (0700); nothing is readable by group or others.
      expect(e.mode & 0o077, `${e.file} is 0${e.mode.toString(8)}`).toBe(0);
    }
    for (const d of ['var/lib/guestctx/sem', 'var/lib/guestctx/instance/scripts']) expect(root.mode(d), d).toBe(0o700);
    // The one file that may hold secrets is among them.
    expect(root.read('var/lib/guestctx/instance-data.json')).toContain(PASSWORD);
    expect(root.mode('var/lib/guestctx/instance-data.json')).toBe(0o600);
  });

  it('IMDS session tokens: not in the log file, console, status, instance data or query', async () => {
    root = makeTempRoot();
    const spec = loadSpec(path.join(__dirname, '../fixtures/datasources/ec2/one-nic/metadata.json'));
    server = await startMetadataServer({ ...spec, mode: 'v2-required' });
    server.setFault('/latest/meta-data/instance-id', { kind: 'expire-tokens', times: 1 });
    const run = await cli(['run', '--root', root.dir, '--datasource', 'ec2', '--metadata-url', server.url, '--events', 'json', '-v']);
    expect(run.err).toMatch(/stage network/);
    expect(server.tokens.length).toBe(2);
    const files = walk(root.dir).filter((e) => !e.dir && (e.file.includes('/var/lib/guestctx') || e.file.endsWith('guestctx.log')));
    const query = await cli(['query', '--root', root.dir, '--datasource', 'ec2', '--metadata-url', server.url, '--show-secrets']);
    expect(query.code).toBe(0);
    for (const t of server.tokens) {
      expect(run.out + run.err, 'console and events').not.toContain(t);
      expect(query.out, 'query, even with --show-secrets').not.toContain(t);
      for (const f of files) expect(readFileSync(f.file, 'utf8'), f.file).not.toContain(t);
    }
  });
});

// The ssh-host-keys module: real ssh-keygen copied into temp roots and run
// chrooted (keys generated, modes, fingerprint block), supplied ssh_keys with
// a real CA-signed certificate, the recorded command shapes, dry run, and the
// failures (no ssh-keygen, bad supplied keys) that must not lose the image's keys.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emptyGuestConfig, type GuestConfig } from '../../src/config/guest-config';
import type { CloudConfig } from '../../src/config/cloud-config';
import { memoryLogger } from '../../src/log/logger';
import type { Host } from '../../src/host/host';
import type { InstanceData, ModuleContext } from '../../src/types';
import { FINGERPRINTS_BEGIN, FINGERPRINTS_END, KEYS_BEGIN, KEYS_END, fingerprintLine, sshHostKeys } from '../../modules/ssh-host-keys';
import { addShell } from '../helpers/chroot';
import { addDevNull, addTools } from '../helpers/add-tools';
import { hashTree, hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';

const FIX = path.join(__dirname, '../fixtures/modules/hostkeys');
let root: TempRoot;
afterEach(() => root?.cleanup());

// Keys made once on this machine for the supplied-key and fingerprint cases.
let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'guestctx-hostkeys-'));
  for (const t of ['rsa', 'ecdsa', 'ed25519']) execFileSync('ssh-keygen', ['-q', '-t', t, '-N', '', '-C', `test-${t}`, '-f', path.join(work, t)]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ca', '-f', path.join(work, 'ca')]);
  // A host certificate for the ed25519 key, signed by the CA: ed25519-cert.pub.
  execFileSync('ssh-keygen', ['-q', '-s', path.join(work, 'ca'), '-I', 'web-01', '-h', '-n', 'web-01.example.org', path.join(work, 'ed25519.pub')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const read = (name: string): string => readFileSync(path.join(work, name), 'utf8');

const instance: InstanceData = { datasource: 'test', source: 'test', instanceId: 'i-1', instanceIdRule: 'test', publicKeys: [], raw: {}, secretKeys: [], problems: [] };

function ctxFor(host: Host) {
  const log = memoryLogger();
  const ctx: ModuleContext = { host, log, instance, stage: 'network', stateDir: '/var/lib/guestctx' };
  return { ctx, log };
}

function cfg(cloud: CloudConfig = {}): GuestConfig {
  return { ...emptyGuestConfig('i-1'), cloud };
}

/** A guest with sshd_config, the image's (shared) host keys, and optionally the real ssh-keygen. */
function guest(opts: { keygen?: boolean; config?: 'plain' | 'drop-in' } = {}): TempRoot {
  const r = makeTempRoot();
  r.write('etc/ssh/sshd_config', readFileSync(path.join(FIX, opts.config ?? 'drop-in', 'sshd_config'), 'utf8'));
  mkdirSync(r.file('etc/ssh/sshd_config.d'), { recursive: true });
  r.write('etc/ssh/moduli', '# moduli\n');
  for (const t of ['rsa', 'ecdsa', 'ed25519']) {
    r.write(`etc/ssh/ssh_host_${t}_key`, `IMAGE ${t} PRIVATE\n`, 0o600);
    r.write(`etc/ssh/ssh_host_${t}_key.pub`, `IMAGE ${t} PUBLIC\n`);
  }
  if (opts.keygen !== false) {
    addShell(r.dir);
    expect(addTools(r.dir, ['/usr/bin/ssh-keygen'])).toEqual([]);
    addDevNull(r.dir);
  }
  return r;
}

const FP_LINE = /^(\d+) SHA256:([A-Za-z0-9+/]{43}) .* \((RSA|ECDSA|ED25519)\)$/;

/** The two marked blocks from the console lines (the logger prefixes each line with its task). */
function consoleBlocks(lines: readonly string[]): { fingerprints: string[]; keys: string[] } {
  const msgs = lines.map((l) => l.replace(/^[^:]+: /, ''));
  const between = (a: string, b: string): string[] => {
    const i = msgs.indexOf(a);
    const j = msgs.indexOf(b);
    expect(i, `marker ${a}`).toBeGreaterThanOrEqual(0);
    expect(j, `marker ${b}`).toBeGreaterThan(i);
    return msgs.slice(i + 1, j);
  };
  return { fingerprints: between(FINGERPRINTS_BEGIN, FINGERPRINTS_END), keys: between(KEYS_BEGIN, KEYS_END) };
}

describe('ssh-host-keys: real ssh-keygen, chrooted', () => {
  it('replaces the image keys with new rsa, ecdsa and ed25519 keys and prints the fingerprint block', async () => {
    root = guest();
    root.write('etc/ssh/ssh_host_dsa_key', 'IMAGE dsa PRIVATE\n', 0o600);
    root.write('etc/ssh/ssh_host_dsa_key.pub', 'IMAGE dsa PUBLIC\n');
    const { ctx, log } = ctxFor(hostOn(root));
    const started = performance.now();
    const out = await sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!);
    const elapsed = performance.now() - started;
    for (const t of ['rsa', 'ecdsa', 'ed25519']) {
      const priv = `etc/ssh/ssh_host_${t}_key`;
      expect(root.read(priv)).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
      expect(root.mode(priv)).toBe(0o600);
      expect(root.mode(`${priv}.pub`)).toBe(0o644);
      expect(statSync(root.file(priv)).uid).toBe(0);
      // Offline, the comment must not name the machine guestctx runs on.
      expect(root.read(`${priv}.pub`).trim().split(/\s+/)).toHaveLength(2);
    }
    expect(root.read('etc/ssh/ssh_host_rsa_key.pub')).toMatch(/^ssh-rsa /);
    expect(root.read('etc/ssh/ssh_host_ecdsa_key.pub')).toMatch(/^ecdsa-sha2-nistp256 /);
    expect(root.read('etc/ssh/moduli')).toBe('# moduli\n');
    const { fingerprints, keys } = consoleBlocks(log.lines);
    expect(fingerprints).toHaveLength(3);
    expect(keys).toHaveLength(3);
    const types = fingerprints.map((f) => FP_LINE.exec(f)?.[3]);
    expect(types).toEqual(['RSA', 'ECDSA', 'ED25519']);
    expect(FP_LINE.exec(fingerprints[0]!)?.[1]).toBe('3072');
    // ssh-keygen's fingerprint is the SHA-256 of the key blob: recompute it from the printed key.
    keys.forEach((k, i) => expect(fingerprints[i]).toContain(FP_LINE.exec(fingerprintLine(k)!)![2]));
    const details = out && 'details' in out ? (out.details as { generatedMs: Record<string, number>; deleted: string[] }) : undefined;
    expect(Object.keys(details!.generatedMs)).toEqual(['rsa', 'ecdsa', 'ed25519']);
    // rsa, ecdsa, ed25519 were replaced in place (new key moved over the old one); the dsa key is deleted.
    expect(details!.deleted).toEqual(['ssh_host_dsa_key', 'ssh_host_dsa_key.pub']);
    expect(root.read('etc/ssh/ssh_host_rsa_key.pub')).not.toContain('IMAGE');
    // Measured here (2 cores): rsa 3072 takes 0.5-1.2 s, ecdsa and ed25519 a few ms.
    console.info(`host key generation: ${JSON.stringify(details!.generatedMs)} ms, module ${Math.round(elapsed)} ms`);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('keeps an existing key when ssh_deletekeys is false, and prints its fingerprint', async () => {
    root = guest();
    copyFileSync(path.join(work, 'ed25519'), root.file('etc/ssh/ssh_host_ed25519_key'));
    copyFileSync(path.join(work, 'ed25519.pub'), root.file('etc/ssh/ssh_host_ed25519_key.pub'));
    for (const t of ['rsa', 'ecdsa']) for (const s of ['', '.pub']) rmSync(root.file(`etc/ssh/ssh_host_${t}_key${s}`));
    const { ctx, log } = ctxFor(hostOn(root));
    const out = await sshHostKeys.run(ctx, sshHostKeys.parse(cfg({ ssh_deletekeys: false, ssh_genkeytypes: ['ed25519', 'ecdsa'] }))!);
    expect(root.read('etc/ssh/ssh_host_ed25519_key.pub')).toBe(read('ed25519.pub'));
    expect(existsSync(root.file('etc/ssh/ssh_host_ecdsa_key'))).toBe(true);
    expect(existsSync(root.file('etc/ssh/ssh_host_rsa_key'))).toBe(false);
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ kept: ['ed25519'], deleted: [] });
    const real = execFileSync('ssh-keygen', ['-l', '-f', path.join(work, 'ed25519.pub')]).toString().trim().split(' ').slice(0, 2).join(' ');
    expect(consoleBlocks(log.lines).fingerprints).toContainEqual(expect.stringContaining(real));
  });

  it('installs supplied keys and a certificate (sshd_config without drop-ins: before the Match block)', async () => {
    root = guest({ config: 'plain' });
    const { ctx, log } = ctxFor(hostOn(root));
    const keys = { ed25519_private: read('ed25519'), ed25519_public: read('ed25519.pub'), ed25519_certificate: read('ed25519-cert.pub'), rsa_private: read('rsa') };
    const out = await sshHostKeys.run(ctx, sshHostKeys.parse(cfg({ ssh_keys: keys }))!);
    expect(root.read('etc/ssh/ssh_host_ed25519_key')).toBe(read('ed25519'));
    expect(root.mode('etc/ssh/ssh_host_ed25519_key')).toBe(0o600);
    expect(root.mode('etc/ssh/ssh_host_ed25519_key.pub')).toBe(0o644);
    expect(root.mode('etc/ssh/ssh_host_ed25519_key-cert.pub')).toBe(0o644);
    // rsa_public was not given: derived from the private key with the guest's ssh-keygen -y.
    expect(root.read('etc/ssh/ssh_host_rsa_key.pub').split(' ').slice(0, 2)).toEqual(read('rsa.pub').split(' ').slice(0, 2));
    // Nothing generated when keys are supplied (cloud-init's rule), and the image's ecdsa key is gone.
    expect(existsSync(root.file('etc/ssh/ssh_host_ecdsa_key'))).toBe(false);
    const config = root.read('etc/ssh/sshd_config').split('\n');
    const cert = config.indexOf('HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub');
    expect(cert).toBeGreaterThan(0);
    expect(cert).toBeLessThan(config.findIndex((l) => l.startsWith('Match ')));
    // The private keys never reach the console.
    expect(log.lines.join('\n')).not.toContain('OPENSSH PRIVATE KEY');
    expect(out && 'details' in out ? out.details : undefined).toMatchObject({ supplied: ['ed25519_private', 'ed25519_public', 'ed25519_certificate', 'rsa_private'] });
    expect(consoleBlocks(log.lines).fingerprints.map((f) => FP_LINE.exec(f)?.[3])).toEqual(['RSA', 'ED25519']);
  });

  it('puts HostCertificate in a drop-in when sshd_config includes sshd_config.d', async () => {
    root = guest({ config: 'drop-in' });
    const before = root.read('etc/ssh/sshd_config');
    const { ctx } = ctxFor(hostOn(root));
    await sshHostKeys.run(ctx, sshHostKeys.parse(cfg({ ssh_keys: { ed25519_private: read('ed25519'), ed25519_certificate: read('ed25519-cert.pub') } }))!);
    expect(root.read('etc/ssh/sshd_config')).toBe(before);
    expect(root.read('etc/ssh/sshd_config.d/50-guestctx-host-certificates.conf')).toMatch(/^HostCertificate \/etc\/ssh\/ssh_host_ed25519_key-cert\.pub$/m);
  });

  it('uses 0640 root:ssh_keys for private keys where the ssh_keys group exists', async () => {
    root = guest();
    root.write('etc/group', `${root.read('etc/group')}ssh_keys:x:998:\n`);
    const { ctx } = ctxFor(hostOn(root));
    await sshHostKeys.run(ctx, sshHostKeys.parse(cfg({ ssh_genkeytypes: ['ed25519'] }))!);
    expect(root.mode('etc/ssh/ssh_host_ed25519_key')).toBe(0o640);
    expect(statSync(root.file('etc/ssh/ssh_host_ed25519_key')).gid).toBe(998);
  });
});

describe('ssh-host-keys: command shapes, dry run, failures', () => {
  it('runs ssh-keygen -q -t T -N "" -f /etc/ssh/ssh_host_T_key chrooted, for each type', async () => {
    root = guest({ keygen: false });
    root.write('usr/bin/ssh-keygen', '#!/bin/sh\n', 0o755);
    addDevNull(root.dir);
    // The recorder plays ssh-keygen: it writes the pair where -f said, so the move into place is exercised too.
    const rec = recorder((argv) => {
      const f = argv[argv.indexOf('-f') + 1];
      if (argv.includes('-t') && f !== undefined) {
        root.write(f.slice(1), `NEW ${argv[argv.indexOf('-t') + 1]} PRIVATE\n`, 0o600);
        root.write(`${f.slice(1)}.pub`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBW+vBjnHLtIH4P/h/VTyjLy59HA+CLDJkRhsNOr3K+a\n');
      }
      return undefined;
    });
    const { ctx } = ctxFor(hostOn(root, { executor: rec.executor }));
    await sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!);
    const keygen = rec.calls.filter((c) => c.includes('-t'));
    expect(keygen).toEqual(
      ['rsa', 'ecdsa', 'ed25519'].map((t) => ['chroot', root.dir, '/usr/bin/env', '-C', '/', '/usr/bin/ssh-keygen', '-q', '-t', t, '-N', '', '-C', '', '-f', `/etc/ssh/ssh_host_${t}_key.guestctx-new`]),
    );
    for (const t of ['rsa', 'ecdsa', 'ed25519']) {
      expect(root.read(`etc/ssh/ssh_host_${t}_key`)).toBe(`NEW ${t} PRIVATE\n`);
      expect(existsSync(root.file(`etc/ssh/ssh_host_${t}_key.guestctx-new`))).toBe(false);
    }
    // Fingerprints of known key types are computed, not asked of one more ssh-keygen process per key.
    expect(rec.calls.filter((c) => c.includes('-l'))).toEqual([]);
    expect((ctx.log as ReturnType<typeof memoryLogger>).lines.filter((l) => / SHA256:\S+ .*\(ED25519\)$/.test(l))).toHaveLength(3);
  });

  it('a dry run deletes nothing and records the commands', async () => {
    root = guest();
    const before = hashTree(root.dir);
    const host = hostOn(root, { dryRun: true });
    const { ctx, log } = ctxFor(host);
    await sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!);
    expect(hashTree(root.dir)).toBe(before);
    // The image's old keys are not passed off as the new ones.
    expect(log.lines.join('\n')).not.toContain('IMAGE');
    expect(log.lines.join('\n')).toMatch(/dry run: no host keys exist yet/);
    const changes = host.changes();
    expect(changes.filter((c) => c.kind === 'command' && !c.ran).map((c) => (c.kind === 'command' ? c.argv[3] : ''))).toEqual(['rsa', 'ecdsa', 'ed25519']);
  });

  it('without ssh-keygen in the guest: a clear error naming the tool, and the image keys stay', async () => {
    root = guest({ keygen: false });
    const before = hashTree(root.dir);
    const { ctx } = ctxFor(hostOn(root));
    await expect(sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!)).rejects.toThrow(/tool ssh-keygen is not installed in the guest/);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('a failing ssh-keygen keeps the old key of that type; the others are replaced', async () => {
    root = guest({ keygen: false });
    root.write('usr/bin/ssh-keygen', '#!/bin/sh\n', 0o755);
    addDevNull(root.dir);
    const rec = recorder((argv) => {
      const f = argv[argv.indexOf('-f') + 1] as string;
      if (!argv.includes('-t')) return undefined;
      if (argv.includes('rsa')) return { code: 1, stdout: '', stderr: 'Saving key failed: disk full' };
      root.write(f.slice(1), 'NEW PRIVATE\n', 0o600);
      root.write(`${f.slice(1)}.pub`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBW+vBjnHLtIH4P/h/VTyjLy59HA+CLDJkRhsNOr3K+a\n');
      return undefined;
    });
    const { ctx } = ctxFor(hostOn(root, { executor: rec.executor }));
    await expect(sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!)).rejects.toThrow(/ssh-keygen -t rsa exited with status 1: Saving key failed: disk full; the old rsa key is kept/);
    expect(root.read('etc/ssh/ssh_host_rsa_key')).toBe('IMAGE rsa PRIVATE\n');
    expect(root.read('etc/ssh/ssh_host_ed25519_key')).toBe('NEW PRIVATE\n');
  });

  it('offline without /dev/null in the root: a clear error before anything is deleted', async () => {
    root = guest();
    rmSync(root.file('dev/null'));
    const before = hashTree(root.dir);
    const { ctx } = ctxFor(hostOn(root));
    await expect(sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!)).rejects.toThrow(/has no \/dev\/null, so ssh-keygen cannot run chrooted/);
    expect(hashTree(root.dir)).toBe(before);
  });

  it('skips a guest without the OpenSSH server', async () => {
    root = makeTempRoot();
    const { ctx } = ctxFor(hostOn(root));
    const out = await sshHostKeys.run(ctx, sshHostKeys.parse(cfg())!);
    expect(out && 'skipped' in out ? out.skipped : undefined).toMatch(/OpenSSH server is not installed/);
  });

  it('a bad supplied key is an error naming it; the good ones are installed', async () => {
    root = guest();
    const { ctx } = ctxFor(hostOn(root));
    const plan = sshHostKeys.parse(cfg({ ssh_keys: { ed25519_private: read('ed25519'), ed25519_public: read('ed25519.pub'), rsa_public: read('ed25519.pub'), ecdsa_private: 'not a key' } }))!;
    expect(plan.invalid).toHaveLength(2);
    await expect(sshHostKeys.run(ctx, plan)).rejects.toThrow(/ssh_keys\.rsa_public: holds a ssh-ed25519 key, not a rsa public key.*ssh_keys\.ecdsa_private: not a PEM/);
    expect(root.read('etc/ssh/ssh_host_ed25519_key')).toBe(read('ed25519'));
    expect(existsSync(root.file('etc/ssh/ssh_host_rsa_key.pub'))).toBe(false);
  });

  it('supplied keys without any private key generate keys instead of leaving sshd without any', async () => {
    root = guest();
    const { ctx, log } = ctxFor(hostOn(root));
    await sshHostKeys.run(ctx, sshHostKeys.parse(cfg({ ssh_genkeytypes: ['ed25519'], ssh_keys: { rsa_public: read('rsa.pub') } }))!);
    expect(root.read('etc/ssh/ssh_host_ed25519_key')).toMatch(/OPENSSH PRIVATE KEY/);
    expect(log.lines.join('\n')).toMatch(/no usable private key/);
  });
});

describe('fingerprintLine', () => {
  it.each(['rsa', 'ecdsa', 'ed25519'])('agrees with ssh-keygen -l for %s', (t) => {
    const pub = path.join(work, `${t}.pub`);
    const real = execFileSync('ssh-keygen', ['-l', '-f', pub]).toString().trim();
    expect(fingerprintLine(readFileSync(pub, 'utf8'))).toBe(real);
  });

  it('refuses what is not a public key', () => {
    writeFileSync(path.join(work, 'junk'), 'x');
    expect(fingerprintLine('ssh-rsa notbase64!')).toBeUndefined();
  });
});

// ssh-host-keys: give every instance its own SSH host keys. The keys baked
// into an image are shared by every clone of it, so they are deleted
// (ssh_deletekeys, default true) and new ones generated with the guest's own
// ssh-keygen (ssh_genkeytypes, default rsa, ecdsa, ed25519), or the keys
// supplied in ssh_keys are installed instead. The fingerprints and public keys
// are then printed between the markers cloud-init uses, so a person or a
// script reading the serial console can verify the first connection.
import { crypto } from '../src/host/builtins';
import { ConfigError, ModuleError, describeError } from '../src/errors';
import type { SshHostKeys, SshKeyType } from '../src/config/cloud-config';
import type { Host } from '../src/host/host';
import { parseKeyLine } from '../src/ssh/authorized-keys';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export const DEFAULT_KEY_TYPES: readonly SshKeyType[] = ['rsa', 'ecdsa', 'ed25519'];
const SSH_DIR = '/etc/ssh';
const KEYGEN_TIMEOUT_MS = 120_000;
const SSHD_CONFIG = '/etc/ssh/sshd_config';
const CERT_DROP_IN = '/etc/ssh/sshd_config.d/50-guestctx-host-certificates.conf';

export const FINGERPRINTS_BEGIN = '-----BEGIN SSH HOST KEY FINGERPRINTS-----';
export const FINGERPRINTS_END = '-----END SSH HOST KEY FINGERPRINTS-----';
export const KEYS_BEGIN = '-----BEGIN SSH HOST KEY KEYS-----';
export const KEYS_END = '-----END SSH HOST KEY KEYS-----';

export interface HostKeysPlan {
  readonly deleteKeys: boolean;
  readonly genTypes: readonly SshKeyType[];
  /** Keys from ssh_keys; when present nothing is generated, as in cloud-init. */
  readonly supplied?: SshHostKeys;
  /** ssh_keys entries refused while planning: reported, the valid ones are installed. */
  readonly invalid: readonly string[];
}

export function keyPath(type: string): string {
  return `${SSH_DIR}/ssh_host_${type}_key`;
}

/** The public key algorithms a host key file of each type may hold. */
function algorithmMatches(type: SshKeyType, algorithm: string): boolean {
  const base = algorithm.replace(/-cert-v01@openssh\.com$/, '');
  if (type === 'rsa') return base === 'ssh-rsa';
  if (type === 'ed25519') return base === 'ssh-ed25519';
  return base.startsWith('ecdsa-sha2-');
}

function validateSupplied(keys: SshHostKeys): { valid: SshHostKeys; invalid: string[] } {
  const valid: Record<string, string> = {};
  const invalid: string[] = [];
  for (const [name, value] of Object.entries(keys) as [string, string | undefined][]) {
    if (value === undefined) continue;
    const [type, kind] = name.split('_') as [SshKeyType, 'private' | 'public' | 'certificate'];
    const where = `ssh_keys.${name}`;
    if (kind === 'private') {
      // Never quote a private key back in a message.
      if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(value) || !/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(value)) {
        invalid.push(`${where}: not a PEM or OpenSSH private key (no BEGIN/END PRIVATE KEY lines); not installed`);
        continue;
      }
    } else {
      const parsed = parseKeyLine(value);
      if (typeof parsed === 'string') {
        invalid.push(`${where}: ${parsed}; not installed`);
        continue;
      }
      const isCert = parsed.type.endsWith('-cert-v01@openssh.com');
      if (!algorithmMatches(type, parsed.type) || isCert !== (kind === 'certificate')) {
        invalid.push(`${where}: holds a ${parsed.type} ${isCert ? 'certificate' : 'key'}, not a ${type} ${kind === 'certificate' ? 'certificate' : 'public key'}; not installed`);
        continue;
      }
    }
    valid[name] = value;
  }
  return { valid: valid as SshHostKeys, invalid };
}

// ---------------------------------------------------------------------------
// Fingerprints computed here, used when ssh-keygen cannot be asked (dry run of
// a key that does not exist yet, or a guest without ssh-keygen).

function readSshString(buf: Buffer, at: number): { value: Buffer; next: number } | undefined {
  if (at + 4 > buf.length) return undefined;
  const len = buf.readUInt32BE(at);
  if (at + 4 + len > buf.length) return undefined;
  return { value: buf.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

function keyBits(algorithm: string, blob: Buffer): number | undefined {
  if (algorithm === 'ssh-ed25519') return 256;
  const curve = /^ecdsa-sha2-nistp(\d+)$/.exec(algorithm);
  if (curve?.[1] !== undefined) return Number(curve[1]);
  if (algorithm === 'ssh-rsa') {
    // string "ssh-rsa", mpint e, mpint n: the size is n's bit length.
    const name = readSshString(blob, 0);
    const e = name && readSshString(blob, name.next);
    const n = e && readSshString(blob, e.next);
    if (!n) return undefined;
    let bytes = n.value;
    while (bytes.length > 0 && bytes[0] === 0) bytes = bytes.subarray(1);
    if (bytes.length === 0) return 0;
    return (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0] as number));
  }
  return undefined;
}

const ALGORITHM_LABELS: Readonly<Record<string, string>> = { 'ssh-rsa': 'RSA', 'ssh-ed25519': 'ED25519', 'ssh-dss': 'DSA' };

/** One line in ssh-keygen -l's format: "256 SHA256:... comment (ED25519)". */
export function fingerprintLine(publicKeyLine: string): string | undefined {
  const parsed = parseKeyLine(publicKeyLine);
  if (typeof parsed === 'string') return undefined;
  const blob = Buffer.from(parsed.blob, 'base64');
  const digest = crypto().createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  const tokens = parsed.line.split(/\s+/);
  const comment = tokens.slice(tokens.indexOf(parsed.type) + 2).join(' ') || 'no comment';
  const label = ALGORITHM_LABELS[parsed.type] ?? (parsed.type.startsWith('ecdsa-') ? 'ECDSA' : parsed.type.toUpperCase());
  return `${keyBits(parsed.type, blob) ?? '?'} SHA256:${digest} ${comment} (${label})`;
}

// ---------------------------------------------------------------------------

async function hasGroup(host: Host, group: string): Promise<boolean> {
  const text = (await host.readTextIfExists('/etc/group')) ?? '';
  return text.split('\n').some((l) => l.split(':')[0] === group);
}

/** Modes sshd and the distributions expect: private 0600 (0640 root:ssh_keys where that group exists, as Fedora does), public 0644. */
async function normaliseModes(host: Host, type: string, sshKeysGroup: boolean): Promise<void> {
  const priv = keyPath(type);
  if ((await host.stat(priv))?.type === 'file') {
    await host.writeFile(priv, await host.readFile(priv), sshKeysGroup ? { mode: 0o640, owner: 'root:ssh_keys', secret: true } : { mode: 0o600, owner: 'root:root', secret: true });
  }
  for (const pub of [`${priv}.pub`, `${priv}-cert.pub`]) {
    if ((await host.stat(pub))?.type === 'file') await host.writeFile(pub, await host.readFile(pub), { mode: 0o644, owner: 'root:root' });
  }
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Tell sshd to present the certificates: a drop-in when sshd_config includes sshd_config.d, else lines before any Match block. */
async function configureHostCertificates(host: Host, certs: readonly string[]): Promise<string> {
  const lines = certs.map((c) => `HostCertificate ${c}`);
  const config = (await host.readTextIfExists(SSHD_CONFIG)) ?? '';
  if (/^\s*Include\s+\/etc\/ssh\/sshd_config\.d\/\*\.conf\s*$/im.test(config)) {
    await host.writeFile(CERT_DROP_IN, `# Written by guestctx from cloud-config ssh_keys.\n${lines.join('\n')}\n`, { mode: 0o644 });
    return CERT_DROP_IN;
  }
  const present = new Set(config.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')));
  const missing = lines.filter((l) => !present.has(l));
  if (missing.length === 0) return SSHD_CONFIG;
  // Settings after a Match line would only apply to that Match block.
  const body = config === '' ? [] : config.replace(/\n$/, '').split('\n');
  const matchAt = body.findIndex((l) => /^\s*Match\s/i.test(l));
  const at = matchAt < 0 ? body.length : matchAt;
  body.splice(at, 0, ...missing);
  await host.writeFile(SSHD_CONFIG, `${body.join('\n')}\n`, { mode: (await host.stat(SSHD_CONFIG))?.mode ?? 0o644 });
  return SSHD_CONFIG;
}

const TYPE_ORDER = ['rsa', 'dsa', 'ecdsa', 'ed25519'];

/** The host public keys in /etc/ssh, in a stable order. */
async function hostPublicKeys(host: Host): Promise<{ type: string; path: string }[]> {
  const found: { type: string; path: string }[] = [];
  for (const name of await host.list(SSH_DIR)) {
    const m = /^ssh_host_(.+)_key\.pub$/.exec(name);
    if (m?.[1] !== undefined) found.push({ type: m[1], path: `${SSH_DIR}/${name}` });
  }
  const rank = (t: string): number => (TYPE_ORDER.includes(t) ? TYPE_ORDER.indexOf(t) : TYPE_ORDER.length);
  return found.sort((a, b) => rank(a.type) - rank(b.type) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

async function printFingerprints(ctx: ModuleContext, keygen: string | undefined, touched: ReadonlySet<string>, pending: ReadonlySet<string>): Promise<string[]> {
  const { host, log } = ctx;
  const fingerprints: string[] = [];
  const keys: string[] = [];
  for (const { path } of await hostPublicKeys(host)) {
    // A dry run only pretends to generate: the file there is still the image's old key, not worth printing.
    if (pending.has(path)) continue;
    const line = ((await host.readTextIfExists(path)) ?? '').trim();
    if (line === '') continue;
    keys.push(line);
    // Computed here (the same line as ssh-keygen -l, checked against it in the
    // tests): a process start per key costs seconds on an emulated guest. The
    // guest's ssh-keygen is asked only for a key type this code does not know.
    // In a dry run a key written now exists only in memory, where ssh-keygen cannot see it.
    let fp = fingerprintLine(line);
    if (fp === undefined && keygen !== undefined && !(host.dryRun && touched.has(path))) {
      const res = await host.run(keygen, ['-l', '-f', path], { readOnly: true, timeoutMs: 30_000 });
      if (res.code === 0 && res.stdout.trim() !== '') fp = res.stdout.trim().split('\n')[0];
      else log.warn(`${keygen} -l -f ${path} exited with status ${res.code}: ${res.stderr.trim()}`);
    }
    if (fp !== undefined) fingerprints.push(fp);
  }
  if (keys.length === 0) {
    log.info(host.dryRun ? 'dry run: no host keys exist yet, so there are no fingerprints to print' : `no host public keys in ${SSH_DIR}`);
    return fingerprints;
  }
  for (const l of [FINGERPRINTS_BEGIN, ...fingerprints, FINGERPRINTS_END, KEYS_BEGIN, ...keys, KEYS_END]) log.info(l);
  return fingerprints;
}

async function installSupplied(ctx: ModuleContext, keys: SshHostKeys, keygen: string | undefined, touched: Set<string>, failures: string[]): Promise<string[]> {
  const { host, log } = ctx;
  const installed: string[] = [];
  const certs: string[] = [];
  for (const [name, value] of Object.entries(keys) as [string, string | undefined][]) {
    if (value === undefined) continue;
    const [type, kind] = name.split('_') as [SshKeyType, string];
    const path = kind === 'private' ? keyPath(type) : kind === 'public' ? `${keyPath(type)}.pub` : `${keyPath(type)}-cert.pub`;
    try {
      if (kind === 'private') log.addSecret(value.trim());
      await host.writeFile(path, withNewline(value), kind === 'private' ? { mode: 0o600, owner: 'root:root', secret: true } : { mode: 0o644, owner: 'root:root' });
      touched.add(path);
      installed.push(name);
      if (kind === 'certificate') certs.push(path);
    } catch (err) {
      failures.push(`ssh_keys.${name}: ${describeError(err)}`);
    }
  }
  // A private key without its public half: derive it, so fingerprints and ssh-keyscan agree with the key sshd serves.
  for (const type of DEFAULT_KEY_TYPES) {
    if (keys[`${type}_private`] === undefined || keys[`${type}_public`] !== undefined || !installed.includes(`${type}_private`)) continue;
    const pub = `${keyPath(type)}.pub`;
    if (keygen === undefined) {
      failures.push(`ssh_keys.${type}_private: cannot derive ${pub}: tool ssh-keygen is not installed in the guest`);
      continue;
    }
    if (host.dryRun) {
      log.info(`dry run: ${pub} would be derived from the supplied private key`);
      continue;
    }
    const res = await host.run(keygen, ['-y', '-f', keyPath(type)], { timeoutMs: 30_000 });
    if (res.code !== 0) {
      failures.push(`ssh_keys.${type}_private: ssh-keygen -y exited with status ${res.code} (${res.stderr.trim() || 'no message'}); ${pub} not written`);
      continue;
    }
    await host.writeFile(pub, withNewline(res.stdout.trim()), { mode: 0o644, owner: 'root:root' });
    touched.add(pub);
  }
  if (certs.length > 0) {
    try {
      const where = await configureHostCertificates(host, certs);
      log.info(`${where}: sshd presents ${certs.join(', ')}`);
    } catch (err) {
      failures.push(`ssh_keys certificates: cannot configure sshd (${describeError(err)})`);
    }
  }
  return installed;
}

/**
 * Generate one key under a temporary name, then move it over the real one, so
 * a failed or interrupted ssh-keygen never leaves the type without a key.
 * The temporary name matches ssh_host_*key*, so a leftover is deleted next time.
 */
async function generateKey(ctx: ModuleContext, keygen: string, type: SshKeyType): Promise<{ ok: true; ms: number } | { ok: false; error?: string }> {
  const { host, log } = ctx;
  const priv = keyPath(type);
  const tmp = `${priv}.guestctx-new`;
  await host.remove(tmp);
  await host.remove(`${tmp}.pub`);
  // Offline, ssh-keygen's default comment would be the name of the machine running guestctx.
  const comment = host.live ? [] : ['-C', ''];
  const started = host.monotonicMs();
  const res = await host.run(keygen, ['-q', '-t', type, '-N', '', ...comment, '-f', tmp], { timeoutMs: KEYGEN_TIMEOUT_MS });
  const ms = Math.round(host.monotonicMs() - started);
  const fail = async (error?: string): Promise<{ ok: false; error?: string }> => {
    await host.remove(tmp);
    await host.remove(`${tmp}.pub`);
    return error === undefined ? { ok: false } : { ok: false, error };
  };
  if (res.signal !== undefined) return fail(`ssh-keygen -t ${type} was killed by ${res.signal} (time limit ${KEYGEN_TIMEOUT_MS / 1000} s); the old ${type} key is kept`);
  if (res.code !== 0 && /unknown key type/i.test(res.stderr)) {
    log.warn(`the guest's ssh-keygen does not know key type ${type}; skipped`);
    return fail();
  }
  if (res.code !== 0) return fail(`ssh-keygen -t ${type} exited with status ${res.code}: ${res.stderr.trim() || 'no message'}; the old ${type} key is kept`);
  if (host.dryRun) {
    log.info(`dry run: ${priv} would be generated`);
    return { ok: true, ms };
  }
  try {
    await host.writeFile(priv, await host.readFile(tmp), { mode: 0o600, owner: 'root:root', secret: true });
    await host.writeFile(`${priv}.pub`, await host.readFile(`${tmp}.pub`), { mode: 0o644, owner: 'root:root' });
  } catch (err) {
    return fail(`ssh-keygen -t ${type} succeeded but its key cannot be installed (${describeError(err)})`);
  }
  await host.remove(tmp);
  await host.remove(`${tmp}.pub`);
  log.info(`generated ${priv} (${type}) in ${ms} ms`);
  return { ok: true, ms };
}

export const sshHostKeys: Module<HostKeysPlan> = {
  name: 'ssh-host-keys',
  stage: 'network',
  frequency: 'per-instance',
  description: "replace the image's SSH host keys with new ones (or ssh_keys) and print their fingerprints",
  parse(cfg) {
    const c = cfg.cloud;
    const checked = c.ssh_keys !== undefined ? validateSupplied(c.ssh_keys) : undefined;
    return {
      deleteKeys: c.ssh_deletekeys ?? true,
      genTypes: c.ssh_genkeytypes ?? DEFAULT_KEY_TYPES,
      ...(checked !== undefined ? { supplied: checked.valid } : {}),
      invalid: checked?.invalid ?? [],
    };
  },
  async run(ctx: ModuleContext, plan: HostKeysPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (!(await host.exists(SSHD_CONFIG)) && (await host.which('sshd')) === undefined) {
      return { skipped: `the OpenSSH server is not installed in the guest (no ${SSHD_CONFIG}, no sshd)` };
    }
    const keygen = await host.which('ssh-keygen');
    // Supplied keys without one usable private key would leave sshd with nothing to serve: generate instead.
    const usable = plan.supplied !== undefined && Object.keys(plan.supplied).some((k) => k.endsWith('_private')) ? plan.supplied : undefined;
    if (plan.supplied !== undefined && usable === undefined) log.warn('ssh_keys has no usable private key; generating host keys instead');
    const generating = usable === undefined && plan.genTypes.length > 0;
    // Checked before anything is deleted: a guest left without host keys cannot be reached at all.
    if (generating && keygen === undefined) {
      throw new ConfigError('ssh-host-keys', "tool ssh-keygen is not installed in the guest (package openssh-client); the image's host keys were left in place");
    }
    // A chrooted ssh-keygen needs /dev/null; an image mounted offline often has an empty /dev.
    if (generating && !host.live && !host.dryRun && !(await host.exists('/dev/null'))) {
      throw new ConfigError('ssh-host-keys', `${host.root} has no /dev/null, so ssh-keygen cannot run chrooted (bind-mount /dev into the root); the image's host keys were left in place`);
    }
    const failures = [...plan.invalid];
    const touched = new Set<string>();
    const pending = new Set<string>();
    const generated: Record<string, number> = {};
    const kept: string[] = [];
    let supplied: string[] = [];
    /** Key files that must survive the deletion: new keys, and the old key of a type whose new key failed. */
    const keep = new Set<string>();
    if (usable === undefined && keygen !== undefined) {
      await host.mkdir(SSH_DIR, { mode: 0o755 });
      for (const type of plan.genTypes) {
        const priv = keyPath(type);
        if (!plan.deleteKeys && (await host.exists(priv))) {
          kept.push(type);
          keep.add(`ssh_host_${type}_key`).add(`ssh_host_${type}_key.pub`).add(`ssh_host_${type}_key-cert.pub`);
          continue;
        }
        const res = await generateKey(ctx, keygen, type);
        if (res.ok) {
          generated[type] = res.ms;
          if (host.dryRun) pending.add(`${priv}.pub`);
          keep.add(`ssh_host_${type}_key`).add(`ssh_host_${type}_key.pub`);
          touched.add(priv).add(`${priv}.pub`);
        } else {
          if (res.error !== undefined) failures.push(res.error);
          // Without a new key the old one stays: a guest sshd cannot serve is unreachable.
          for (const n of [`ssh_host_${type}_key`, `ssh_host_${type}_key.pub`, `ssh_host_${type}_key-cert.pub`]) keep.add(n);
        }
      }
    }
    const deleted: string[] = [];
    if (plan.deleteKeys) {
      for (const name of await host.list(SSH_DIR)) {
        if (!/^ssh_host_.*key/.test(name) || keep.has(name)) continue;
        await host.remove(`${SSH_DIR}/${name}`);
        deleted.push(name);
      }
      if (deleted.length > 0) log.info(`deleted the image's host keys: ${deleted.join(', ')}`);
    }
    if (usable !== undefined) supplied = await installSupplied(ctx, usable, keygen, touched, failures);
    if (!host.dryRun) {
      const sshKeysGroup = await hasGroup(host, 'ssh_keys');
      const types = new Set([...Object.keys(generated), ...supplied.map((s) => s.split('_')[0] as string)]);
      for (const type of types) {
        try {
          await normaliseModes(host, type, sshKeysGroup);
        } catch (err) {
          failures.push(`${keyPath(type)}: cannot set its mode (${describeError(err)})`);
        }
      }
    }
    const fingerprints = await printFingerprints(ctx, keygen, touched, pending);
    const details = { deleted, generatedMs: generated, kept, supplied, fingerprints, ...(failures.length > 0 ? { failed: failures } : {}) };
    if (failures.length > 0) {
      for (const f of failures) log.error(f);
      throw new ModuleError('ssh-host-keys', failures.join('; '), { details });
    }
    return { details };
  },
};

// phone-home: once per instance, POST the instance's identity (SSH host
// public keys, instance id, hostname, fqdn) as an HTML form to a URL from
// cloud-config phone_home, so a provisioning service learns the host keys to
// trust. "$INSTANCE_ID" in the URL is replaced. Retried within a bounded
// budget; skipped offline, where the instance is not running (a skip leaves
// no marker, so the booted guest still phones home).
import { ConfigError, ModuleError, describeError } from '../src/errors';
import type { PhoneHomeKey } from '../src/config/cloud-config';
import type { HostnameSettings } from '../src/config/guest-config';
import type { Host, HttpResponse } from '../src/host/host';
import { startBudget } from '../src/http/budget';
import { fetchWithRetry, type RetryPolicy } from '../src/http/retry';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export const ALL_PHONE_HOME_KEYS: readonly PhoneHomeKey[] = ['pub_key_rsa', 'pub_key_ecdsa', 'pub_key_ed25519', 'instance_id', 'hostname', 'fqdn'];
/** cloud-init's default number of tries. */
export const DEFAULT_TRIES = 10;
/** What cloud-init posts for a value it could not find. */
export const MISSING = 'N/A';

export interface PhoneHomePlan {
  /** The URL as configured, "$INSTANCE_ID" / "${INSTANCE_ID}" still in it. */
  readonly url: string;
  readonly post: readonly PhoneHomeKey[];
  readonly tries: number;
  /** Hard limit for the whole exchange, retries included. */
  readonly budgetMs: number;
  readonly policy: RetryPolicy;
  /** Names from the configuration, used when the guest's own files do not say. */
  readonly hostname?: string;
  readonly fqdn?: string;
}

const INSTANCE_ID = /\$\{INSTANCE_ID\}|\$INSTANCE_ID\b/g;

/** The URL for this instance; the id is percent-encoded so it cannot change the URL's shape. */
export function phoneHomeUrl(template: string, instanceId: string): string {
  return template.replace(INSTANCE_ID, () => encodeURIComponent(instanceId));
}

/** The URL without user:password, for messages and status.json. */
export function displayUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const u = new URL(url);
  if (u.username === '' && u.password === '') return url;
  u.username = '';
  u.password = '';
  return u.toString();
}

/** Up to `tries` attempts, 1 s doubling to 10 s between them, all within a budget that grows with tries (at most 5 minutes). */
export function phoneHomePolicy(tries: number): { policy: RetryPolicy; budgetMs: number } {
  return {
    policy: { attempts: tries, baseDelayMs: 1000, maxDelayMs: 10_000, requestTimeoutMs: 10_000, minAttemptMs: 100 },
    budgetMs: Math.min(300_000, tries * 15_000),
  };
}

export function planPhoneHome(cfg: { readonly url: string; readonly post?: 'all' | readonly PhoneHomeKey[]; readonly tries?: number }, names?: HostnameSettings): PhoneHomePlan {
  const probe = phoneHomeUrl(cfg.url.trim(), 'i-0');
  if (!URL.canParse(probe) || !/^https?:$/.test(new URL(probe).protocol)) throw new ConfigError('phone_home.url', `"${displayUrl(cfg.url)}" is not an http:// or https:// URL`);
  const post = cfg.post === undefined || cfg.post === 'all' ? ALL_PHONE_HOME_KEYS : [...new Set(cfg.post)];
  if (post.length === 0) throw new ConfigError('phone_home.post', 'lists no keys to post');
  const tries = cfg.tries ?? DEFAULT_TRIES;
  if (!Number.isInteger(tries) || tries < 1 || tries > 100) throw new ConfigError('phone_home.tries', `${tries} is not a number of tries between 1 and 100`);
  const fqdn = names?.fqdn ?? (names?.hostname?.includes('.') ? names.hostname : undefined);
  return {
    url: cfg.url.trim(),
    post,
    tries,
    ...phoneHomePolicy(tries),
    ...(names?.hostname !== undefined ? { hostname: names.hostname.split('.')[0] as string } : {}),
    ...(fqdn !== undefined ? { fqdn } : {}),
  };
}

/** A public host key file's content, trimmed; undefined when absent or empty. */
async function hostKey(host: Host, type: string): Promise<string | undefined> {
  const text = await host.readTextIfExists(`/etc/ssh/ssh_host_${type}_key.pub`, 64 * 1024);
  const key = text?.trim();
  return key === undefined || key === '' ? undefined : key;
}

/** The running name (kernel, then /etc/hostname), then the configured one. */
async function currentName(host: Host, plan: PhoneHomePlan): Promise<string | undefined> {
  let placeholder: string | undefined;
  for (const file of ['/proc/sys/kernel/hostname', '/etc/hostname']) {
    const name = (await host.readTextIfExists(file, 4096))?.trim();
    if (name === undefined || name === '' || name === '(none)') continue;
    // "localhost" says nothing about the instance: a configured name is better.
    if (name === 'localhost') placeholder = name;
    else return name;
  }
  return plan.fqdn ?? plan.hostname ?? placeholder;
}

/** A dotted name for `short` from /etc/hosts ("127.0.1.1 web1.example.com web1"). */
export function fqdnFromHosts(hosts: string, short: string): string | undefined {
  for (const raw of hosts.split('\n')) {
    const names = raw.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    if (!names.includes(short) && !names.some((n) => n.split('.')[0] === short)) continue;
    const dotted = names.find((n) => n.startsWith(`${short}.`));
    if (dotted !== undefined) return dotted;
  }
  return undefined;
}

/** Every value phone_home can post, MISSING where the guest has none. */
async function collect(ctx: ModuleContext, plan: PhoneHomePlan): Promise<Record<PhoneHomeKey, string>> {
  const { host } = ctx;
  const name = await currentName(host, plan);
  const short = name?.split('.')[0];
  let fqdn = name?.includes('.') ? name : plan.fqdn;
  if (fqdn === undefined && short !== undefined) fqdn = fqdnFromHosts((await host.readTextIfExists('/etc/hosts', 1024 * 1024)) ?? '', short) ?? short;
  return {
    pub_key_rsa: (await hostKey(host, 'rsa')) ?? MISSING,
    pub_key_ecdsa: (await hostKey(host, 'ecdsa')) ?? MISSING,
    pub_key_ed25519: (await hostKey(host, 'ed25519')) ?? MISSING,
    instance_id: ctx.instance.instanceId,
    hostname: short ?? MISSING,
    fqdn: fqdn ?? MISSING,
  };
}

export const phoneHome: Module<PhoneHomePlan> = {
  name: 'phone-home',
  stage: 'final',
  frequency: 'per-instance',
  description: 'POST host keys, instance id and names to the phone_home URL',
  parse(cfg) {
    const p = cfg.cloud.phone_home;
    return p === undefined ? undefined : planPhoneHome(p, cfg.hostname);
  },
  async run(ctx: ModuleContext, plan: PhoneHomePlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (!host.live) return { skipped: 'needs the running guest (the instance phones home when it boots)' };
    const values = await collect(ctx, plan);
    const missing = plan.post.filter((k) => values[k] === MISSING);
    if (missing.length > 0) log.warn(`no value for ${missing.join(', ')}; posting "${MISSING}"`);
    const form = new URLSearchParams();
    for (const k of plan.post) form.append(k, values[k]);
    const url = phoneHomeUrl(plan.url, ctx.instance.instanceId);
    const shown = displayUrl(url);
    let res: HttpResponse;
    try {
      res = await fetchWithRetry(
        host,
        url,
        { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString(), maxBytes: 1024 * 1024 },
        { budget: startBudget(host, plan.budgetMs), policy: plan.policy, log },
      );
    } catch (err) {
      throw new ModuleError(shown, `phoning home failed after up to ${plan.tries} tries: ${describeError(err).split(url).join(shown)}`, { cause: err });
    }
    if (res.status < 200 || res.status >= 300) throw new ModuleError(shown, `answered HTTP ${res.status}; the phone-home data was not accepted`);
    log.info(`posted ${plan.post.join(', ')} to ${shown} (HTTP ${res.status})`);
    return { details: { url: shown, posted: plan.post, status: res.status, ...(missing.length > 0 ? { missing } : {}) } };
  },
};

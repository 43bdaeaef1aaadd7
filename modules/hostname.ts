// hostname: set the guest's name from SET_HOSTNAME / HOSTNAME, cloud-config
// hostname/fqdn or datasource metadata. Writes /etc/hostname and the
// 127.0.1.1 line of /etc/hosts; on a live system also sets the kernel's name.
import { ConfigError } from '../src/errors';
import type { HostnameSettings } from '../src/config/guest-config';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface HostnamePlan {
  readonly short: string;
  readonly fqdn?: string;
  /** What goes into /etc/hostname and the kernel. */
  readonly name: string;
  readonly manageEtcHosts: boolean | 'localhost';
  readonly origin: string;
}

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** OpenNebula templates sometimes carry literal quotes: SET_HOSTNAME='"name"'. */
export function cleanHostname(raw: string): string {
  let v = raw.trim();
  while (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1).trim();
  return v.replace(/\.$/, '');
}

function validate(name: string, origin: string): void {
  if (name.length === 0) throw new ConfigError(origin, 'hostname is empty');
  if (name.length > 253) throw new ConfigError(origin, `hostname is ${name.length} characters, more than 253`);
  for (const label of name.split('.')) {
    if (!LABEL.test(label)) throw new ConfigError(origin, `"${name}" is not a valid hostname: label "${label}" must be 1-63 letters, digits or inner hyphens`);
  }
}

export function planHostname(s: HostnameSettings): HostnamePlan | undefined {
  if (s.preserve) return undefined;
  const given = s.fqdn !== undefined ? cleanHostname(s.fqdn) : s.hostname !== undefined ? cleanHostname(s.hostname) : undefined;
  if (given === undefined) return undefined;
  validate(given, s.origin);
  const short = (s.hostname !== undefined ? cleanHostname(s.hostname) : given).split('.')[0] as string;
  validate(short, s.origin);
  const fqdn = given.includes('.') ? given : undefined;
  const name = s.preferFqdn && fqdn !== undefined ? fqdn : short;
  return { short, ...(fqdn !== undefined ? { fqdn } : {}), name, manageEtcHosts: s.manageEtcHosts, origin: s.origin };
}

/** Replace (or add) the 127.0.1.1 line, keeping every other line as it was. */
export function updateEtcHosts(current: string, plan: HostnamePlan): string {
  const names = plan.fqdn !== undefined && plan.fqdn !== plan.short ? `${plan.fqdn} ${plan.short}` : plan.short;
  const wanted = `127.0.1.1\t${names}`;
  const lines = current === '' ? [] : current.replace(/\n$/, '').split('\n');
  let found = false;
  const out = lines.map((line) => {
    if (/^\s*127\.0\.1\.1\s/.test(line)) {
      found = true;
      return wanted;
    }
    return line;
  });
  if (!lines.some((l) => /^\s*127\.0\.0\.1\s.*\blocalhost\b/.test(l))) out.unshift('127.0.0.1\tlocalhost');
  if (!found) {
    // Keep the IPv4 lines together: insert after the localhost line.
    const at = out.findIndex((l) => /^\s*127\.0\.0\.1\s/.test(l));
    out.splice(at + 1, 0, wanted);
  }
  return `${out.join('\n')}\n`;
}

/** Resolve a DNS_HOSTNAME / EC2_HOSTNAME lookup into a name, or throw ConfigError naming the source. */
export async function lookupHostname(ctx: ModuleContext, s: HostnameSettings): Promise<string> {
  const { host } = ctx;
  const lookup = s.lookup;
  if (lookup === undefined) throw new ConfigError(s.origin, 'no hostname given');
  if (lookup.kind === 'dns') {
    // The guest's own resolver (nsswitch, /etc/hosts, DNS), through its getent.
    if ((await host.which('getent')) === undefined) throw new ConfigError(s.origin, 'getent is not installed in the guest; cannot look the name up');
    const res = await host.run('getent', ['hosts', lookup.address], { readOnly: true, timeoutMs: 10_000 });
    const name = res.stdout.trim().split(/\s+/)[1];
    if (res.code !== 0 || name === undefined) throw new ConfigError(s.origin, `no reverse DNS name for ${lookup.address}`);
    return name;
  }
  const url = `${lookup.baseUrl.replace(/\/$/, '')}/latest/meta-data/local-hostname`;
  const res = await host.fetch(url, { timeoutMs: 3000, maxBytes: 1024, maxRedirects: 0 });
  if (res.status !== 200) throw new ConfigError(s.origin, `${url} answered HTTP ${res.status}`);
  return res.body.toString('utf8').trim();
}

/** What parse() hands to run(): a ready plan, or settings whose name is looked up at run time. */
export type HostnameWork = { readonly plan: HostnamePlan } | { readonly deferred: HostnameSettings };

export const hostname: Module<HostnameWork> = {
  name: 'hostname',
  stage: 'local',
  frequency: 'always',
  description: 'set /etc/hostname, the /etc/hosts entry and the running hostname',
  parse(cfg) {
    const s = cfg.hostname;
    if (s === undefined || s.preserve) return undefined;
    if (s.hostname === undefined && s.fqdn === undefined) return s.lookup ? { deferred: s } : undefined;
    const plan = planHostname(s);
    return plan ? { plan } : undefined;
  },
  async run(ctx: ModuleContext, work: HostnameWork): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    let plan: HostnamePlan | undefined;
    if ('plan' in work) plan = work.plan;
    else {
      const name = await lookupHostname(ctx, work.deferred);
      log.info(`${work.deferred.origin}: ${name}`);
      plan = planHostname({ ...work.deferred, hostname: name });
    }
    if (plan === undefined) return { skipped: 'no hostname to set' };
    if (await host.writeFile('/etc/hostname', `${plan.name}\n`, { mode: 0o644 })) log.info(`/etc/hostname set to ${plan.name} (from ${plan.origin})`);
    if (plan.manageEtcHosts === true) {
      const current = (await host.readTextIfExists('/etc/hosts')) ?? '';
      if (await host.writeFile('/etc/hosts', updateEtcHosts(current, plan), { mode: 0o644 })) log.info(`/etc/hosts maps 127.0.1.1 to ${plan.fqdn ?? plan.short}`);
    }
    if (host.live) {
      const running = (await host.readTextIfExists('/proc/sys/kernel/hostname'))?.trim();
      if (running !== plan.name) {
        const tool = (await host.which('hostname')) ?? (await host.which('hostnamectl'));
        if (tool === undefined) throw new ConfigError('hostname', 'neither hostname nor hostnamectl is installed; /etc/hostname is written but the running name is unchanged');
        const args = tool.endsWith('hostnamectl') ? ['set-hostname', plan.name] : [plan.name];
        const res = await host.run(tool, args, { timeoutMs: 10_000 });
        if (res.code !== 0) throw new ConfigError('hostname', `${tool} exited ${res.code}: ${res.stderr.trim()}`);
        log.info(`running hostname changed from ${running ?? '(unknown)'} to ${plan.name}`);
      }
    }
    return { details: { hostname: plan.name } };
  },
};

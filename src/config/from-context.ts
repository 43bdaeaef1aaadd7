// Map OpenNebula CONTEXT variables onto GuestConfig, as one-context reads them:
// SET_HOSTNAME / HOSTNAME, SSH_PUBLIC_KEY / SSH_KEY / EC2_PUBLIC_KEY for
// USERNAME (default root), START_SCRIPT_BASE64 over START_SCRIPT.
import type { ScriptSpec } from '../types';
import type { GuestConfig, HostnameSettings, KeySet } from './guest-config';

/** Where EC2_HOSTNAME looks, unless the configuration names another metadata URL. */
export const EC2_METADATA_URL = 'http://169.254.169.254';

/** Empty values mean "unset" in OpenNebula templates. */
function get(vars: ReadonlyMap<string, string>, key: string): string | undefined {
  const v = vars.get(key);
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** The user the context configures: USERNAME, root when unset. */
export function contextUser(vars: ReadonlyMap<string, string>): string {
  return get(vars, 'USERNAME')?.trim() ?? 'root';
}

/** The first NIC address of the context (ETH0_IP, else the lowest-numbered ETH<n>_IP). */
function firstAddress(vars: ReadonlyMap<string, string>): string | undefined {
  const nics = [...vars.keys()]
    .map((k) => /^ETH(\d+)_IP$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  for (const m of nics) {
    const v = get(vars, m[0]);
    if (v !== undefined) return v.trim();
  }
  return undefined;
}

function yes(v: string | undefined): boolean {
  return v !== undefined && /^(yes|true|1)$/i.test(v.trim());
}

/** one-context's order: SET_HOSTNAME (or HOSTNAME), else DNS_HOSTNAME, else EC2_HOSTNAME. */
function hostnameFromContext(vars: ReadonlyMap<string, string>): HostnameSettings | undefined {
  for (const key of ['SET_HOSTNAME', 'HOSTNAME']) {
    const v = get(vars, key);
    if (v !== undefined) {
      return { hostname: v, preferFqdn: false, preserve: false, manageEtcHosts: true, origin: `context ${key}` };
    }
  }
  if (yes(get(vars, 'DNS_HOSTNAME'))) {
    const address = firstAddress(vars);
    if (address !== undefined) return { preferFqdn: false, preserve: false, manageEtcHosts: true, origin: `context DNS_HOSTNAME (reverse DNS of ${address})`, lookup: { kind: 'dns', address } };
  }
  if (yes(get(vars, 'EC2_HOSTNAME'))) return { preferFqdn: false, preserve: false, manageEtcHosts: true, origin: 'context EC2_HOSTNAME (EC2 metadata local-hostname)', lookup: { kind: 'ec2', baseUrl: EC2_METADATA_URL } };
  return undefined;
}

function keysFromContext(vars: ReadonlyMap<string, string>): KeySet[] {
  const keys: string[] = [];
  const origins: string[] = [];
  for (const key of ['SSH_PUBLIC_KEY', 'SSH_KEY', 'EC2_PUBLIC_KEY']) {
    const v = get(vars, key);
    if (v === undefined) continue;
    origins.push(key);
    for (const line of v.split('\n')) if (line.trim() !== '') keys.push(line.trim());
  }
  return keys.length === 0 ? [] : [{ user: contextUser(vars), keys, origin: `context ${origins.join(', ')}` }];
}

function scriptsFromContext(vars: ReadonlyMap<string, string>): ScriptSpec[] {
  const b64 = get(vars, 'START_SCRIPT_BASE64');
  if (b64 !== undefined) {
    return [{ name: 'start-script', content: Buffer.from(b64.replace(/\s+/g, ''), 'base64'), origin: 'context START_SCRIPT_BASE64' }];
  }
  const plain = get(vars, 'START_SCRIPT');
  if (plain !== undefined) return [{ name: 'start-script', content: Buffer.from(plain, 'utf8'), origin: 'context START_SCRIPT' }];
  return [];
}

/** The context describes NICs (ETH<n>_*): one-context then owns the network configuration. */
function contextHasNetwork(vars: ReadonlyMap<string, string>): boolean {
  for (const k of vars.keys()) if (/^ETH\d+_/.test(k)) return true;
  return false;
}

export function applyContext(base: GuestConfig, vars: ReadonlyMap<string, string>): GuestConfig {
  const hostname = hostnameFromContext(vars) ?? base.hostname;
  return {
    ...base,
    ...(contextHasNetwork(vars) ? { network: { input: { kind: 'opennebula' as const, vars, origin: 'context.sh' }, policy: 'new-instance' as const } } : {}),
    ...(hostname ? { hostname } : {}),
    authorizedKeys: [...base.authorizedKeys, ...keysFromContext(vars)],
    userScripts: [...base.userScripts, ...scriptsFromContext(vars)],
    scriptEnv: new Map([...base.scriptEnv, ...vars]),
  };
}

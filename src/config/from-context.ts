// Map OpenNebula CONTEXT variables onto GuestConfig, as one-context reads them:
// SET_HOSTNAME / HOSTNAME, SSH_PUBLIC_KEY / SSH_KEY / EC2_PUBLIC_KEY for
// USERNAME (default root), START_SCRIPT_BASE64 over START_SCRIPT.
import type { ScriptSpec } from '../types';
import type { GuestConfig, HostnameSettings, KeySet } from './guest-config';

/** Empty values mean "unset" in OpenNebula templates. */
function get(vars: ReadonlyMap<string, string>, key: string): string | undefined {
  const v = vars.get(key);
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** The user the context configures: USERNAME, root when unset. */
export function contextUser(vars: ReadonlyMap<string, string>): string {
  return get(vars, 'USERNAME')?.trim() ?? 'root';
}

function hostnameFromContext(vars: ReadonlyMap<string, string>): HostnameSettings | undefined {
  for (const key of ['SET_HOSTNAME', 'HOSTNAME']) {
    const v = get(vars, key);
    if (v !== undefined) {
      return { hostname: v, preferFqdn: false, preserve: false, manageEtcHosts: true, origin: `context ${key}` };
    }
  }
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

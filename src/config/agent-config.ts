// guestctx's own configuration: /etc/guestctx/guestctx.yaml, then every
// /etc/guestctx/guestctx.yaml.d/*.yaml in name order (later files override
// earlier keys). A missing file means the built-in defaults. A bad file is one
// clear error naming the file and key; the defaults are used for that key.
import type { Host } from '../host/host';
import { ConfigError } from '../errors';
import { DEBIAN_DEFAULT_USER, type DefaultUserSettings, type NetworkRendererName } from './guest-config';

export const AGENT_CONFIG = '/etc/guestctx/guestctx.yaml';
const RENDERERS: readonly NetworkRendererName[] = ['netplan', 'networkd', 'ifupdown', 'nm', 'ifcfg'];

export interface AgentConfig {
  /** Datasources to consider, in order; undefined = the registry order. */
  readonly datasources?: readonly string[];
  /** Hard budget for any metadata-service wait, milliseconds. */
  readonly networkBudgetMs: number;
  readonly metadataUrl?: string;
  readonly defaultUser: DefaultUserSettings;
  readonly networkRenderer?: NetworkRendererName;
  readonly networkPolicy: 'new-instance' | 'always';
  /** Modules switched off by the image builder. */
  readonly disabledModules: readonly string[];
}

export const DEFAULT_AGENT_CONFIG: AgentConfig = {
  networkBudgetMs: 5000,
  defaultUser: DEBIAN_DEFAULT_USER,
  networkPolicy: 'new-instance',
  disabledModules: [],
};

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strList(v: unknown, key: string, file: string): string[] {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ConfigError(`${file}: ${key}`, 'expected a list of names');
}

/** Apply one parsed file on top of `base`; each bad key is reported and skipped. */
function applyFile(base: AgentConfig, doc: unknown, file: string, errors: ConfigError[]): AgentConfig {
  if (doc === null || doc === undefined) return base;
  if (!isDict(doc)) {
    errors.push(new ConfigError(file, 'expected a mapping of settings'));
    return base;
  }
  let cfg = { ...base };
  const known = new Set(['datasources', 'network_timeout', 'metadata_url', 'default_user', 'network', 'modules']);
  for (const [key, v] of Object.entries(doc)) {
    try {
      if (!known.has(key)) throw new ConfigError(`${file}: ${key}`, `unknown setting (known: ${[...known].join(', ')})`);
      if (key === 'datasources') cfg = { ...cfg, datasources: strList(v, key, file).map((s) => s.toLowerCase()) };
      if (key === 'network_timeout') {
        if (typeof v !== 'number' || !(v > 0 && v <= 300)) throw new ConfigError(`${file}: ${key}`, 'expected seconds between 0 and 300');
        cfg = { ...cfg, networkBudgetMs: Math.round(v * 1000) };
      }
      if (key === 'metadata_url') {
        if (typeof v !== 'string' || !/^https?:\/\//.test(v)) throw new ConfigError(`${file}: ${key}`, 'expected an http:// or https:// URL');
        cfg = { ...cfg, metadataUrl: v };
      }
      if (key === 'default_user') {
        if (!isDict(v) || typeof v.name !== 'string') throw new ConfigError(`${file}: ${key}`, 'expected a mapping with at least name');
        const u = cfg.defaultUser;
        cfg = {
          ...cfg,
          defaultUser: {
            name: v.name,
            gecos: typeof v.gecos === 'string' ? v.gecos : u.gecos,
            groups: v.groups !== undefined ? strList(v.groups, `${key}.groups`, file) : u.groups,
            sudo: v.sudo === false ? [] : v.sudo !== undefined ? strList(v.sudo, `${key}.sudo`, file) : u.sudo,
            shell: typeof v.shell === 'string' ? v.shell : u.shell,
            lockPasswd: typeof v.lock_passwd === 'boolean' ? v.lock_passwd : u.lockPasswd,
          },
        };
      }
      if (key === 'network') {
        if (!isDict(v)) throw new ConfigError(`${file}: ${key}`, 'expected a mapping (renderer, policy)');
        if (v.renderer !== undefined && v.renderer !== 'auto') {
          if (!RENDERERS.includes(v.renderer as NetworkRendererName)) throw new ConfigError(`${file}: network.renderer`, `expected auto or one of ${RENDERERS.join(', ')}`);
          cfg = { ...cfg, networkRenderer: v.renderer as NetworkRendererName };
        }
        if (v.policy !== undefined) {
          if (v.policy !== 'new-instance' && v.policy !== 'always') throw new ConfigError(`${file}: network.policy`, 'expected new-instance or always');
          cfg = { ...cfg, networkPolicy: v.policy };
        }
      }
      if (key === 'modules') {
        if (!isDict(v)) throw new ConfigError(`${file}: ${key}`, 'expected a mapping (disabled)');
        if (v.disabled !== undefined) cfg = { ...cfg, disabledModules: strList(v.disabled, 'modules.disabled', file) };
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err);
    }
  }
  return cfg;
}

export async function loadAgentConfig(host: Host): Promise<{ config: AgentConfig; errors: ConfigError[]; files: string[] }> {
  const files: string[] = [];
  if (await host.exists(AGENT_CONFIG)) files.push(AGENT_CONFIG);
  const dropDir = `${AGENT_CONFIG}.d`;
  for (const name of await host.list(dropDir)) if (name.endsWith('.yaml') || name.endsWith('.yml')) files.push(`${dropDir}/${name}`);
  if (files.length === 0) return { config: DEFAULT_AGENT_CONFIG, errors: [], files };
  // js-yaml is only loaded when there is a file to read.
  const { load } = await import('js-yaml');
  const errors: ConfigError[] = [];
  let config = DEFAULT_AGENT_CONFIG;
  for (const file of files) {
    let doc: unknown;
    try {
      doc = load(await host.readText(file, 1024 * 1024));
    } catch (err) {
      const line = (err as { mark?: { line?: number } }).mark?.line;
      errors.push(new ConfigError(line !== undefined ? `${file}:${line + 1}` : file, 'is not valid YAML', { cause: err }));
      continue;
    }
    config = applyFile(config, doc, file, errors);
  }
  return { config, errors, files };
}

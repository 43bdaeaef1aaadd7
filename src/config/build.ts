// Assemble GuestConfig from what the datasource read. Order of precedence,
// lowest first: datasource metadata, OpenNebula CONTEXT variables.
import type { InstanceData } from '../types';
import { applyContext } from './from-context';
import { emptyGuestConfig, type GuestConfig, type NetworkRendererName } from './guest-config';

export interface BuildOptions {
  /** User that receives datasource public keys when nothing else says so. */
  readonly defaultUser: string;
  readonly networkRenderer?: NetworkRendererName;
}

export function buildGuestConfig(instance: InstanceData, opts: BuildOptions): GuestConfig {
  let cfg: GuestConfig = { ...emptyGuestConfig(instance.instanceId), instance, ...(instance.context ? { context: instance.context } : {}) };
  if (instance.hostname !== undefined) {
    cfg = { ...cfg, hostname: { hostname: instance.hostname, preferFqdn: false, preserve: false, manageEtcHosts: true, origin: `${instance.datasource} metadata` } };
  }
  if (instance.publicKeys.length > 0) {
    cfg = { ...cfg, authorizedKeys: [{ user: opts.defaultUser, keys: instance.publicKeys, origin: `${instance.datasource} public keys` }] };
  }
  if (instance.network) cfg = { ...cfg, network: { input: instance.network, policy: 'new-instance' } };
  if (instance.context) cfg = applyContext(cfg, instance.context);
  if (opts.networkRenderer !== undefined && cfg.network) cfg = { ...cfg, network: { ...cfg.network, renderer: opts.networkRenderer } };
  return cfg;
}

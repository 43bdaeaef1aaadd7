// Assemble GuestConfig from what the datasource read. Order of precedence,
// lowest first: datasource metadata, OpenNebula CONTEXT variables, then
// vendor-data and user-data (typed cloud-config).
import type { InstanceData } from '../types';
import { EMPTY_USERDATA, type LoadedUserData } from '../userdata/load';
import { applyCloudConfig } from './from-cloud-config';
import { applyContext } from './from-context';
import { emptyGuestConfig, type DefaultUserSettings, type GuestConfig, type NetworkRendererName } from './guest-config';

export interface BuildOptions {
  /** The distribution's default user (configuration file); Debian's when absent. */
  readonly defaultUser?: DefaultUserSettings;
  readonly networkRenderer?: NetworkRendererName;
  readonly networkPolicy?: 'new-instance' | 'always';
  /** Base URL of the EC2-style metadata service (configuration or --metadata-url). */
  readonly metadataUrl?: string;
}

export function buildGuestConfig(instance: InstanceData, opts: BuildOptions, userData: LoadedUserData = EMPTY_USERDATA): GuestConfig {
  let cfg: GuestConfig = { ...emptyGuestConfig(instance.instanceId), instance, ...(instance.context ? { context: instance.context } : {}), ...(opts.defaultUser ? { defaultUser: opts.defaultUser } : {}) };
  if (instance.hostname !== undefined) {
    cfg = { ...cfg, hostname: { hostname: instance.hostname, preferFqdn: false, preserve: false, manageEtcHosts: true, origin: `${instance.datasource} metadata` } };
  }
  if (instance.network) cfg = { ...cfg, network: { input: instance.network, policy: 'new-instance' } };
  if (instance.context) cfg = applyContext(cfg, instance.context);
  cfg = applyCloudConfig(cfg, userData.cloud, userData.parts);
  const lookup = cfg.hostname?.lookup;
  if (lookup?.kind === 'ec2' && opts.metadataUrl !== undefined && cfg.hostname) cfg = { ...cfg, hostname: { ...cfg.hostname, lookup: { kind: 'ec2', baseUrl: opts.metadataUrl } } };
  if (cfg.network) {
    cfg = { ...cfg, network: { ...cfg.network, ...(opts.networkRenderer !== undefined ? { renderer: opts.networkRenderer } : {}), ...(opts.networkPolicy ? { policy: opts.networkPolicy } : {}) } };
  }
  return cfg;
}

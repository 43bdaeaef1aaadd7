// GuestConfig: the one closed configuration every module reads. It is built
// from the datasource (InstanceData), OpenNebula CONTEXT variables and decoded
// cloud-config, so a module never cares where a setting came from.
import type { NetworkSource, ScriptSpec } from '../types';

/** Where the network configuration comes from: a datasource format, the OpenNebula context, or nothing (fallback DHCP). */
export type NetworkInput =
  | NetworkSource
  | { readonly kind: 'opennebula'; readonly vars: ReadonlyMap<string, string>; readonly origin: string }
  | { readonly kind: 'fallback'; readonly origin: string };

export type NetworkRendererName = 'netplan' | 'networkd' | 'ifupdown' | 'nm' | 'ifcfg';

export interface NetworkSettings {
  readonly input: NetworkInput;
  /** Forced by --network-renderer or the configuration file. */
  readonly renderer?: NetworkRendererName;
  /** 'new-instance': rewrite on later boots only when the input changed; 'always': every boot. */
  readonly policy: 'new-instance' | 'always';
}

export interface HostnameSettings {
  /** The short or full name as given; validated by the hostname module. */
  readonly hostname?: string;
  readonly fqdn?: string;
  readonly preferFqdn: boolean;
  /** Leave /etc/hostname alone (cloud-config preserve_hostname). */
  readonly preserve: boolean;
  /** Maintain an /etc/hosts entry for the name: true, only 127.0.0.1 localhost, or not at all. */
  readonly manageEtcHosts: boolean | 'localhost';
  /** Which input set the name, for messages: "context.sh SET_HOSTNAME". */
  readonly origin: string;
}

/** Public keys to add to one user's authorized_keys. */
export interface KeySet {
  readonly user: string;
  readonly keys: readonly string[];
  readonly origin: string;
}

export interface GuestConfig {
  readonly instanceId: string;
  readonly hostname?: HostnameSettings;
  readonly authorizedKeys: readonly KeySet[];
  /** Scripts run once per instance in the final stage (START_SCRIPT, user-data scripts). */
  readonly userScripts: readonly ScriptSpec[];
  /** Variables exported to scripts (the context, for one-context compatibility). */
  readonly scriptEnv: ReadonlyMap<string, string>;
  /** undefined = leave the guest's network configuration alone. */
  readonly network?: NetworkSettings;
}

export function emptyGuestConfig(instanceId: string): GuestConfig {
  return { instanceId, authorizedKeys: [], userScripts: [], scriptEnv: new Map(), network: { input: { kind: 'fallback', origin: 'no network configuration from the datasource' }, policy: 'new-instance' } };
}

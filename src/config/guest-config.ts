// GuestConfig: the one closed configuration every module reads. It is built
// from the datasource (InstanceData), OpenNebula CONTEXT variables and decoded
// cloud-config, so a module never cares where a setting came from.
import type { InstanceData, NetworkSource, ScriptSpec } from '../types';
import type { UserDataPart } from '../userdata';
import type { CloudConfig } from './cloud-config';

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
  /**
   * Find the name at run time when none is given: the reverse DNS name of an
   * address (OpenNebula DNS_HOSTNAME) or the EC2 metadata local-hostname
   * (OpenNebula EC2_HOSTNAME).
   */
  readonly lookup?: { readonly kind: 'dns'; readonly address: string } | { readonly kind: 'ec2'; readonly baseUrl: string };
}

/** Public keys to add to one user's authorized_keys. */
export interface KeySet {
  readonly user: string;
  readonly keys: readonly string[];
  readonly origin: string;
  /** authorized_keys options put in front of each key (disable_root's refusal command). */
  readonly options?: string;
}

/** The distribution's default user (cloud-init's `default` entry of `users`). */
export interface DefaultUserSettings {
  readonly name: string;
  readonly gecos: string;
  readonly groups: readonly string[];
  readonly sudo: readonly string[];
  readonly shell: string;
  readonly lockPasswd: boolean;
}

export interface GuestConfig {
  readonly instanceId: string;
  /** What the datasource read (block device mapping, injected files, public keys, the medium). */
  readonly instance?: InstanceData;
  /** Merged, typed cloud-config: vendor-data, then user-data (later wins). Empty when there is none. */
  readonly cloud: CloudConfig;
  /** Decoded user-data and vendor-data parts (scripts, boothooks, ...), in order. */
  readonly parts: readonly UserDataPart[];
  /**
   * OpenNebula CONTEXT variables when the datasource has them. Each module's
   * parse() maps the variables it owns (USERNAME_*, TIMEZONE, GROW_FS, ...) to
   * its own closed type, next to the cloud-config keys it owns.
   */
  readonly context?: ReadonlyMap<string, string>;
  readonly defaultUser: DefaultUserSettings;
  readonly hostname?: HostnameSettings;
  readonly authorizedKeys: readonly KeySet[];
  /** Scripts run once per instance in the final stage (START_SCRIPT, user-data scripts). */
  readonly userScripts: readonly ScriptSpec[];
  /** Variables exported to scripts (the context, for one-context compatibility). */
  readonly scriptEnv: ReadonlyMap<string, string>;
  /** undefined = leave the guest's network configuration alone. */
  readonly network?: NetworkSettings;
}

export const DEBIAN_DEFAULT_USER: DefaultUserSettings = {
  name: 'debian',
  gecos: 'Debian',
  groups: ['adm', 'audio', 'cdrom', 'dialout', 'dip', 'floppy', 'netdev', 'plugdev', 'sudo', 'video'],
  sudo: ['ALL=(ALL) NOPASSWD:ALL'],
  shell: '/bin/bash',
  lockPasswd: true,
};

export function emptyGuestConfig(instanceId: string): GuestConfig {
  return {
    instanceId,
    cloud: {},
    parts: [],
    defaultUser: DEBIAN_DEFAULT_USER,
    authorizedKeys: [],
    userScripts: [],
    scriptEnv: new Map(),
    network: { input: { kind: 'fallback', origin: 'no network configuration from the datasource' }, policy: 'new-instance' },
  };
}

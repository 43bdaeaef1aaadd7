// Core shapes shared by the pipeline, the datasources and the modules.
// Everything a module sees is a closed type: datasources produce InstanceData,
// src/config turns it (and user-data) into GuestConfig, modules parse their slice.
import type { Host } from './host/host';
import type { Logger } from './log/logger';
import type { LabelIndex } from './detect/labels';
import type { GuestctxError } from './errors';
import type { Volume } from './media/volume';
import type { Ec2NetworkInput } from './network/from-ec2';

export type Stage = 'local' | 'network' | 'final';
export type Frequency = 'always' | 'per-instance' | 'once';

export const STAGES: readonly Stage[] = ['local', 'network', 'final'];

export function stageIndex(stage: Stage): number {
  return STAGES.indexOf(stage);
}

/** A script handed to the guest by the context or user-data. */
export interface ScriptSpec {
  /** Short name used for the file under the scripts directory and in status.json. */
  readonly name: string;
  readonly content: Buffer;
  /** Where it came from, for messages: "context.sh START_SCRIPT_BASE64". */
  readonly origin: string;
}

/** The guest's network as the datasource described it, still in its own format (src/network converts it). */
export type NetworkSource =
  /** OpenStack network_data.json (config drive or metadata service), parsed JSON. */
  | { readonly kind: 'openstack'; readonly data: unknown; readonly origin: string }
  /** cloud-init network configuration version 1 or 2 (NoCloud network-config, vendor data), parsed YAML. */
  | { readonly kind: 'cloudinit'; readonly data: unknown; readonly origin: string }
  /** EC2 interfaces from network/interfaces/macs/*. */
  | { readonly kind: 'ec2'; readonly data: Ec2Network; readonly origin: string }
  /** Debian /etc/network/interfaces text (old config drive v1, NoCloud meta-data network-interfaces). */
  | { readonly kind: 'eni'; readonly text: string; readonly origin: string };

/** EC2 interfaces by MAC: the shape the network converter takes. */
export type Ec2Network = Ec2NetworkInput;

/** A file the datasource hands to the guest (config drive "files", OpenNebula FILES). */
export interface InjectedFile {
  readonly path: string;
  readonly content: Buffer;
  readonly origin: string;
}

/** What a datasource read: one closed type, whatever the cloud. */
export interface InstanceData {
  /** Datasource name (also the value of ds=NAME). */
  readonly datasource: string;
  /** Device, image, folder or URL it was read from. */
  readonly source: string;
  readonly instanceId: string;
  /** How the instance id was obtained (documented rule, shown by `query`). */
  readonly instanceIdRule: string;
  readonly hostname?: string;
  /** Public SSH keys offered by the datasource, for the default user. */
  readonly publicKeys: readonly string[];
  readonly userData?: Buffer;
  readonly vendorData?: Buffer;
  readonly network?: NetworkSource;
  /** EC2-style block device mapping: name (ephemeral0, swap, root) -> device (sdb, /dev/xvdb). */
  readonly blockDeviceMapping?: Readonly<Record<string, string>>;
  readonly files?: readonly InjectedFile[];
  /** OpenNebula-style context variables, when the datasource carries them. */
  readonly context?: ReadonlyMap<string, string>;
  /** The medium the data came from, so modules can copy files from it (FILES, INIT_SCRIPTS). */
  readonly medium?: Volume;
  /** Raw key/values for `guestctx query`, secrets included (redacted on output). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Keys of `raw` (and context variables) whose values are secret. */
  readonly secretKeys: readonly string[];
  /** Problems found while reading that did not stop the read (e.g. a bad line in context.sh). */
  readonly problems: readonly GuestctxError[];
}

/** Why a datasource is or is not a candidate, for `guestctx detect`. */
export interface Detection {
  readonly found: boolean;
  readonly evidence: string;
  /** Device or folder to read from when found. */
  readonly location?: string;
}

export interface DatasourceContext {
  readonly host: Host;
  readonly log: Logger;
  /** Set when the user pointed at a seed (--seed): a folder or an image file on the local machine, already opened. */
  readonly seed?: { readonly path: string; readonly volume: Volume };
  /** Filesystem labels of the guest's block devices (listed once, on first use). */
  labels(): Promise<LabelIndex>;
  /** The kernel command line ('' when absent, e.g. an offline --root). */
  readonly cmdline: string;
  /** Register a cleanup (close a medium) run when the pipeline finishes. */
  onCleanup(fn: () => Promise<void>): void;
  /** Base URL override for metadata services (--metadata-url). */
  readonly metadataUrl?: string;
  /** Hard budget for any network wait, in milliseconds. */
  readonly networkBudgetMs: number;
}

export interface Datasource {
  readonly name: string;
  readonly stage: Stage;
  /** Cheap check from local evidence; never throws, never mounts. */
  detect(ctx: DatasourceContext): Promise<Detection>;
  /** Read the instance data; throws DatasourceError with a cause. */
  read(ctx: DatasourceContext, where: Detection): Promise<InstanceData>;
}

export interface ModuleContext {
  readonly host: Host;
  readonly log: Logger;
  readonly instance: InstanceData;
  readonly stage: Stage;
  /** Directory of guestctx state inside the guest (guest path). */
  readonly stateDir: string;
  /**
   * Apply changes to running services now (reload the network, sshd): true on a
   * live system after the local stage or with --reconfigure; false at early
   * boot, where the services have not started yet and will read the files.
   */
  readonly applyLive?: boolean;
}

export interface Module<C> {
  readonly name: string;
  readonly stage: Stage;
  readonly frequency: Frequency;
  /** One line for `guestctx modules`. */
  readonly description: string;
  /** Also runs when no datasource is found (the network fallback). */
  readonly withoutDatasource?: boolean;
  /** Pick and validate this module's configuration; undefined = nothing to do. Throws ConfigError. */
  parse(config: import('./config/guest-config').GuestConfig): C | undefined;
  run(ctx: ModuleContext, config: C): Promise<ModuleOutcome | void>;
}

/** What a module may report beyond success: a skip with its reason, or details for status.json. */
export interface ModuleOutcome {
  readonly skipped?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

// Registries hold modules of different configuration types; the pipeline only
// passes each module the value its own parse() returned.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any>;

// Persistent state in the guest, under /var/lib/guestctx (0700):
//   instance-id               the instance seen last
//   sem/<instance-id>/<mod>   per-instance markers, written only after success
//   sem/once/<mod>            once-ever markers
//   status.json               what each stage and module did in the last boot (0600)
//   instance-data.json        the last instance data, secrets included (0600)
import { HostError } from '../errors';
import type { Host } from '../host/host';
import type { Frequency, Stage } from '../types';

export const STATE_DIR = '/var/lib/guestctx';
/** Where this boot's status goes when the state directory cannot be written (read-only /var). */
export const RUN_STATUS = '/run/guestctx/status.json';

export type ModuleResult = 'ok' | 'failed' | 'skipped';

export interface ModuleStatus {
  readonly result: ModuleResult;
  readonly reason?: string;
  readonly error?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  /** Guest paths changed and commands run (never file contents). */
  readonly changes: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;
}

export type StageResult = 'running' | 'ok' | 'failed' | 'no-datasource' | 'disabled';

export interface StageStatus {
  readonly bootId: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  /** When the stage began, in ms since its process started: the runtime's own start-up cost, for the first stage of a unit. */
  readonly sinceProcessStartMs?: number;
  readonly result: StageResult;
  readonly datasource?: { readonly name: string; readonly source: string };
  readonly instanceId?: string;
  readonly errors: readonly string[];
  readonly modules: Readonly<Record<string, ModuleStatus>>;
}

export interface StatusFile {
  readonly version: 1;
  readonly stages: Partial<Record<Stage, StageStatus>>;
}

/** Marker ids are file names: keep them to a safe alphabet whatever the cloud sends. */
export function safeId(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? `_${cleaned}` : cleaned;
}

export class State {
  constructor(
    private readonly host: Host,
    readonly dir: string = STATE_DIR,
  ) {}

  async ensureDir(): Promise<void> {
    await this.host.mkdir(this.dir, { mode: 0o700, owner: 'root' });
  }

  async previousInstanceId(): Promise<string | undefined> {
    return (await this.host.readTextIfExists(`${this.dir}/instance-id`))?.trim() || undefined;
  }

  async setInstanceId(id: string): Promise<void> {
    await this.ensureDir();
    await this.host.writeFile(`${this.dir}/instance-id`, `${id}\n`, { mode: 0o600 });
  }

  private markerPath(module: string, frequency: Frequency, instanceId: string): string | undefined {
    if (frequency === 'always') return undefined;
    return frequency === 'once' ? `${this.dir}/sem/once/${safeId(module)}` : `${this.dir}/sem/${safeId(instanceId)}/${safeId(module)}`;
  }

  async hasRun(module: string, frequency: Frequency, instanceId: string): Promise<boolean> {
    const p = this.markerPath(module, frequency, instanceId);
    return p !== undefined && (await this.host.exists(p));
  }

  async markRun(module: string, frequency: Frequency, instanceId: string): Promise<void> {
    const p = this.markerPath(module, frequency, instanceId);
    if (p === undefined) return;
    await this.ensureDir();
    const dir = p.slice(0, p.lastIndexOf('/'));
    await this.host.mkdir(`${this.dir}/sem`, { mode: 0o700, owner: 'root' });
    await this.host.mkdir(dir, { mode: 0o700, owner: 'root' });
    await this.host.writeFile(p, `${new Date().toISOString()}\n`, { mode: 0o600 });
  }

  get statusFile(): string {
    return `${this.dir}/status.json`;
  }

  private async readStatusFile(file: string): Promise<StatusFile | undefined> {
    const text = await this.host.readTextIfExists(file);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text) as StatusFile;
    return parsed.version === 1 && typeof parsed.stages === 'object' ? parsed : undefined;
  }

  /** status.json, with this boot's fallback copy in /run (used when /var was read-only) laid over it. */
  async readStatus(): Promise<StatusFile> {
    const main = await this.readStatusFile(this.statusFile);
    // The /run copy is optional: an unreadable or corrupt one is ignored, the main file still answers.
    const fallback = await this.readStatusFile(RUN_STATUS).catch(() => undefined);
    return { version: 1, stages: { ...(main?.stages ?? {}), ...(fallback?.stages ?? {}) } };
  }

  /** Record a stage; returns the file written (the /run fallback when the state directory is not writable). */
  async writeStageStatus(stage: Stage, status: StageStatus): Promise<string> {
    const current = await this.readStatus().catch((): StatusFile => ({ version: 1, stages: {} }));
    const text = `${JSON.stringify({ version: 1, stages: { ...current.stages, [stage]: status } } satisfies StatusFile, null, 2)}\n`;
    try {
      await this.ensureDir();
      await this.host.writeFile(this.statusFile, text, { mode: 0o600 });
      return this.statusFile;
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      // /run is a tmpfs: always writable at boot, gone at the next one, which is right for this boot's status.
      await this.host.mkdir('/run/guestctx', { mode: 0o700, owner: 'root' });
      await this.host.writeFile(RUN_STATUS, text, { mode: 0o600 });
      return RUN_STATUS;
    }
  }

  async writeInstanceData(data: unknown): Promise<void> {
    await this.ensureDir();
    await this.host.writeFile(`${this.dir}/instance-data.json`, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, secret: true });
  }

  async readInstanceData(): Promise<unknown> {
    const text = await this.host.readTextIfExists(`${this.dir}/instance-data.json`);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }

  /** Forget the instance: the next run is a first boot. */
  async clean(opts: { logs: boolean }): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await this.host.list(this.dir)) {
      // The seed and the administrator's per-boot/per-instance/per-once scripts are not instance state.
      if (name === 'seed' || name === 'scripts') continue;
      await this.host.remove(`${this.dir}/${name}`);
      removed.push(`${this.dir}/${name}`);
    }
    if (opts.logs && (await this.host.exists('/var/log/guestctx.log'))) {
      await this.host.remove('/var/log/guestctx.log');
      removed.push('/var/log/guestctx.log');
    }
    return removed;
  }
}

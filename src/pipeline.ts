// The pipeline: detect -> read -> decode -> plan -> apply -> record.
// One stage (local, network, final) or all of them. Each module runs on its
// own: a failure is recorded and the others go on. Markers for per-instance and
// once modules are written only after success, so a killed run is completed by
// the next one without repeating what already succeeded.
import { DATASOURCES, canonicalDatasourceName } from '../datasources';
import { MODULES } from '../modules';
import { buildGuestConfig } from './config/build';
import type { GuestConfig } from './config/guest-config';
import { listLabels, type LabelIndex } from './detect/labels';
import { ConfigError, DatasourceError, GuestctxError, ModuleError, UsageError, describeError } from './errors';
import type { Change, Host } from './host/host';
import type { Logger } from './log/logger';
import { openMedium } from './media/open-medium';
import { loadUserData, type LoadedUserData } from './userdata/load';
import type { DefaultUserSettings, NetworkRendererName } from './config/guest-config';
import { STATE_DIR, State, type ModuleStatus, type StageResult, type StageStatus, type StatusFile } from './state/state';
import { STAGES, stageIndex, type AnyModule, type Datasource, type DatasourceContext, type Detection, type InstanceData, type Stage } from './types';

export interface PipelineOptions {
  readonly host: Host;
  readonly log: Logger;
  readonly stages: readonly Stage[];
  readonly datasource?: string;
  readonly seed?: string;
  readonly metadataUrl?: string;
  readonly networkBudgetMs?: number;
  readonly only?: readonly string[];
  readonly skip?: readonly string[];
  readonly defaultUser?: DefaultUserSettings;
  readonly networkRenderer?: NetworkRendererName;
  readonly datasources?: readonly Datasource[];
  readonly modules?: readonly AnyModule[];
}

export interface DetectionReport {
  readonly datasource: string;
  readonly stage: Stage;
  readonly detection: Detection;
}

export interface StageOutcome {
  readonly stage: Stage;
  readonly status: StageStatus;
}

export interface PipelineResult {
  readonly exitCode: 0 | 1 | 2;
  readonly outcomes: readonly StageOutcome[];
  readonly instance?: InstanceData;
}

/** Kernel command line switches: guestctx=off|disabled, ds=NAME[;...]. */
export function parseCmdline(cmdline: string): { disabled: boolean; ds?: string } {
  const words = cmdline.trim().split(/\s+/);
  const disabled = words.some((w) => w === 'guestctx=off' || w === 'guestctx=disabled');
  const dsWord = words.find((w) => w.startsWith('ds='));
  const ds = dsWord?.slice(3).split(';')[0]?.toLowerCase();
  return { disabled, ...(ds ? { ds } : {}) };
}

/** Everything a run needs besides the modules: the datasource context and cleanups. */
export class Session {
  private labelIndex: Promise<LabelIndex> | undefined;
  private readonly cleanups: (() => Promise<void>)[] = [];
  cmdline = '';
  seed: { path: string; volume: import('./media/volume').Volume } | undefined;

  constructor(readonly opts: PipelineOptions) {}

  async init(): Promise<void> {
    this.cmdline = (await this.opts.host.readTextIfExists('/proc/cmdline'))?.trim() ?? '';
    if (this.opts.seed !== undefined) {
      const seedPath = this.opts.seed;
      if (!(await this.opts.host.localExists(seedPath))) throw new UsageError(seedPath, '--seed: no such file or directory');
      const medium = await openMedium(this.opts.host, { path: seedPath, local: true }, this.opts.log);
      this.cleanups.push(() => medium.close());
      this.seed = { path: seedPath, volume: medium.volume };
    }
  }

  dsContext(): DatasourceContext {
    const { host, log } = this.opts;
    return {
      host,
      log,
      ...(this.seed ? { seed: this.seed } : {}),
      ...(this.opts.metadataUrl !== undefined ? { metadataUrl: this.opts.metadataUrl } : {}),
      networkBudgetMs: this.opts.networkBudgetMs ?? 5000,
      cmdline: this.cmdline,
      labels: () => (this.labelIndex ??= listLabels(host)),
      onCleanup: (fn) => this.cleanups.push(fn),
    };
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        this.opts.log.warn(`cleanup failed: ${describeError(err)}`);
      }
    }
  }

  /** The datasources to consider in a stage, with the reason for the choice. */
  candidates(stage: Stage): { list: readonly Datasource[]; forced?: string } {
    const all = this.opts.datasources ?? DATASOURCES;
    const forced = this.opts.datasource ?? parseCmdline(this.cmdline).ds;
    if (forced !== undefined) {
      const ds = all.find((d) => d.name === canonicalDatasourceName(forced));
      if (!ds) throw new UsageError(forced, `unknown datasource; known: ${all.map((d) => d.name).join(', ')}`);
      return { list: [ds], forced: ds.name };
    }
    if (this.seed) return { list: all };
    return { list: all.filter((d) => stageIndex(d.stage) <= stageIndex(stage)) };
  }

  async detect(stage: Stage): Promise<DetectionReport[]> {
    const ctx = this.dsContext();
    const out: DetectionReport[] = [];
    for (const ds of this.candidates(stage).list) out.push({ datasource: ds.name, stage: ds.stage, detection: await ds.detect(ctx) });
    return out;
  }

  /** Detect and read: the first candidate that is found and reads cleanly wins. */
  async findInstance(stage: Stage): Promise<{ instance?: InstanceData; errors: GuestctxError[]; required: boolean }> {
    const ctx = this.dsContext();
    const { list, forced } = this.candidates(stage);
    const errors: GuestctxError[] = [];
    for (const ds of list) {
      let detection = await ds.detect(ctx);
      this.opts.log.debug(`${ds.name}: ${detection.found ? 'found' : 'not found'}: ${detection.evidence}`);
      // A datasource named by --datasource or ds= is read even without local evidence.
      if (!detection.found && forced !== undefined) detection = { found: true, evidence: `forced (${detection.evidence})` };
      if (!detection.found) continue;
      try {
        const instance = await ds.read(ctx, detection);
        return { instance, errors, required: forced !== undefined || this.seed !== undefined };
      } catch (err) {
        const e = err instanceof GuestctxError ? err : new DatasourceError(ds.name, 'read failed', { cause: err });
        this.opts.log.error(`${ds.name}: ${describeError(e)}`);
        errors.push(e);
      }
    }
    return { errors, required: forced !== undefined || this.seed !== undefined };
  }
}

function changeLine(c: Change): string {
  switch (c.kind) {
    case 'write':
      return `wrote ${c.path}`;
    case 'mkdir':
      return `mkdir ${c.path}`;
    case 'remove':
      return `removed ${c.path}`;
    case 'command':
      return `${c.ran ? 'ran' : 'would run'} ${c.argv[0]}`;
  }
}

async function bootId(host: Host): Promise<string> {
  return ((await host.localReadText('/proc/sys/kernel/random/boot_id')) ?? 'unknown').trim();
}

/** Modules that run in this stage: its own, plus earlier ones that did not run this boot. */
function modulesForStage(all: readonly AnyModule[], stage: Stage, ranThisBoot: Set<string>): AnyModule[] {
  return all.filter((m) => m.stage === stage || (stageIndex(m.stage) < stageIndex(stage) && !ranThisBoot.has(m.name)));
}

async function runModule(mod: AnyModule, cfg: GuestConfig, opts: PipelineOptions, state: State, instance: InstanceData, stage: Stage): Promise<ModuleStatus> {
  const { host } = opts;
  const log = opts.log.child(mod.name);
  const startedAt = new Date().toISOString();
  const t0 = host.monotonicMs();
  const skip = (reason: string): ModuleStatus => ({ result: 'skipped', reason, startedAt, durationMs: 0, changes: [] });
  if (opts.only && !opts.only.includes(mod.name)) return skip('not in --only');
  if (opts.skip?.includes(mod.name)) return skip('excluded by --skip');
  if (await state.hasRun(mod.name, mod.frequency, instance.instanceId)) return skip(`already ran (${mod.frequency})`);
  const before = host.changes().length;
  const changes = (): string[] => host.changes().slice(before).map(changeLine);
  log.event('task-start', `${mod.name} starting`);
  try {
    const config: unknown = mod.parse(cfg);
    if (config === undefined) {
      log.event('task-end', `${mod.name}: nothing to configure`, { result: 'skipped' });
      return skip('nothing to configure');
    }
    const outcome = await mod.run({ host, log, instance, stage, stateDir: state.dir }, config);
    const durationMs = Math.round(host.monotonicMs() - t0);
    if (outcome?.skipped !== undefined) {
      log.event('task-end', `${mod.name} skipped: ${outcome.skipped}`, { result: 'skipped', durationMs });
      return { result: 'skipped', reason: outcome.skipped, startedAt, durationMs, changes: changes(), ...(outcome.details ? { details: outcome.details } : {}) };
    }
    if (!host.dryRun) await state.markRun(mod.name, mod.frequency, instance.instanceId);
    log.event('task-end', `${mod.name} done`, { result: 'ok', durationMs });
    return { result: 'ok', startedAt, durationMs, changes: changes(), ...(outcome?.details ? { details: outcome.details } : {}) };
  } catch (err) {
    const durationMs = Math.round(host.monotonicMs() - t0);
    const message = describeError(err);
    log.error(message);
    log.event('task-end', `${mod.name} failed`, { result: 'failed', durationMs });
    const details = err instanceof ModuleError ? err.details : undefined;
    return { result: 'failed', error: message, startedAt, durationMs, changes: changes(), ...(details ? { details } : {}) };
  }
}

function instanceRecord(instance: InstanceData): Record<string, unknown> {
  return {
    datasource: instance.datasource,
    source: instance.source,
    instanceId: instance.instanceId,
    instanceIdRule: instance.instanceIdRule,
    hostname: instance.hostname,
    publicKeys: instance.publicKeys,
    raw: instance.raw,
    secretKeys: instance.secretKeys,
    userData: instance.userData?.toString('base64'),
    vendorData: instance.vendorData?.toString('base64'),
  };
}

/** Run the requested stages. Throws UsageError for exit code 2 situations. */
export async function runPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const { host, log } = opts;
  const session = new Session(opts);
  const state = new State(host, STATE_DIR);
  const record = async (stage: Stage, s: StageStatus): Promise<void> => {
    if (!host.dryRun) await state.writeStageStatus(stage, s);
  };
  const outcomes: StageOutcome[] = [];
  let failed = false;
  let instance: InstanceData | undefined;
  let userData: LoadedUserData | undefined;
  try {
    await session.init();
    const boot = await bootId(host);
    const disabledFile = await host.exists('/etc/guestctx/disabled');
    if (parseCmdline(session.cmdline).disabled || disabledFile) {
      const why = disabledFile ? '/etc/guestctx/disabled exists' : 'guestctx=off on the kernel command line';
      log.info(`disabled: ${why}`);
      for (const stage of opts.stages) {
        const s: StageStatus = { bootId: boot, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), result: 'disabled', errors: [why], modules: {} };
        await record(stage, s);
        outcomes.push({ stage, status: s });
      }
      return { exitCode: 0, outcomes };
    }
    const previous: StatusFile = await state.readStatus().catch((): StatusFile => ({ version: 1, stages: {} }));
    const ranThisBoot = new Set<string>();
    for (const st of STAGES) {
      const s = previous.stages[st];
      if (s && s.bootId === boot) for (const [name, m] of Object.entries(s.modules)) if (m.result !== 'skipped' || m.reason?.startsWith('already ran')) ranThisBoot.add(name);
    }
    for (const stage of [...opts.stages].sort((a, b) => stageIndex(a) - stageIndex(b))) {
      const stageLog = log.child(stage);
      const startedAt = new Date().toISOString();
      const t0 = host.monotonicMs();
      stageLog.event('task-start', `stage ${stage} starting`);
      const errors: string[] = [];
      if (instance === undefined) {
        const found = await session.findInstance(stage);
        errors.push(...found.errors.map(describeError));
        instance = found.instance;
        if (!instance) {
          if (found.required) throw new UsageError(opts.seed ?? opts.datasource ?? 'datasource', found.errors.length > 0 ? `no usable datasource: ${errors.join('; ')}` : 'the requested datasource was not found');
          const s: StageStatus = { bootId: boot, startedAt, finishedAt: new Date().toISOString(), durationMs: Math.round(host.monotonicMs() - t0), result: errors.length > 0 ? 'failed' : 'no-datasource', errors, modules: {} };
          stageLog.event('task-end', errors.length > 0 ? `stage ${stage}: datasource failed` : `stage ${stage}: no datasource found`, { result: s.result });
          if (errors.length > 0) failed = true;
          await record(stage, s);
          outcomes.push({ stage, status: s });
          continue;
        }
        for (const key of instance.secretKeys) {
          const v = instance.raw[key];
          if (typeof v === 'string') log.addSecret(v);
        }
        if (instance.userData) log.addSecret(instance.userData.toString('utf8').trim());
        stageLog.info(`datasource ${instance.datasource} (${instance.source}), instance ${instance.instanceId}`);
        for (const p of instance.problems) {
          errors.push(describeError(p));
          stageLog.error(describeError(p));
        }
        const prevId = await state.previousInstanceId();
        if (!host.dryRun) {
          if (prevId !== instance.instanceId) {
            stageLog.info(prevId === undefined ? 'first boot of this instance' : `new instance (was ${prevId})`);
            await state.setInstanceId(instance.instanceId);
          }
          await state.writeInstanceData(instanceRecord(instance));
        }
      } else {
        for (const p of instance.problems) errors.push(describeError(p));
      }
      if (userData === undefined) {
        userData = await loadUserData(host, instance, state.dir);
        for (const w of userData.warnings) stageLog.warn(w);
        for (const e of userData.errors) stageLog.error(e);
        if (userData.parts.length > 0) stageLog.info(`user-data: ${userData.parts.length} part(s): ${userData.parts.map((p) => p.kind).join(', ')}`);
        errors.push(...userData.errors);
      }
      let cfg: GuestConfig;
      try {
        cfg = buildGuestConfig(instance, { ...(opts.defaultUser ? { defaultUser: opts.defaultUser } : {}), ...(opts.networkRenderer ? { networkRenderer: opts.networkRenderer } : {}) }, userData);
      } catch (err) {
        throw err instanceof ConfigError ? err : new ConfigError('configuration', 'cannot build the configuration', { cause: err });
      }
      const modules: Record<string, ModuleStatus> = {};
      for (const mod of modulesForStage(opts.modules ?? MODULES, stage, ranThisBoot)) {
        const st = await runModule(mod, cfg, opts, state, instance, stage);
        modules[mod.name] = st;
        if (st.result !== 'skipped' || st.reason?.startsWith('already ran')) ranThisBoot.add(mod.name);
      }
      const anyFailed = Object.values(modules).some((m) => m.result === 'failed') || errors.length > 0;
      if (anyFailed) failed = true;
      const result: StageResult = anyFailed ? 'failed' : 'ok';
      const s: StageStatus = {
        bootId: boot,
        startedAt,
        finishedAt: new Date().toISOString(),
        durationMs: Math.round(host.monotonicMs() - t0),
        result,
        datasource: { name: instance.datasource, source: instance.source },
        instanceId: instance.instanceId,
        errors,
        modules,
      };
      stageLog.event('task-end', `stage ${stage} ${result}`, { result, durationMs: s.durationMs });
      await record(stage, s);
      outcomes.push({ stage, status: s });
    }
  } finally {
    await session.close();
  }
  return { exitCode: failed ? 1 : 0, outcomes, ...(instance ? { instance } : {}) };
}

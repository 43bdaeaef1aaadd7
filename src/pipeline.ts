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
import { startupMark } from './log/startup-trace';
import { openMedium } from './media/open-medium';
import { loadUserData, type LoadedUserData } from './userdata/load';
import type { DefaultUserSettings, NetworkRendererName } from './config/guest-config';
import { STATE_DIR, State, type ModuleStatus, type StageResult, type StageStatus, type StatusFile } from './state/state';
import { DEFAULT_AGENT_CONFIG, loadAgentConfig, type AgentConfig } from './config/agent-config';
import { disabledReason, findHook, runHook } from './module-control';
import { STAGES, stageIndex, type AnyModule, type Datasource, type DatasourceContext, type Detection, type InstanceData, type ModuleOutcome, type Stage } from './types';

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
  /** Re-read the context and re-apply what changed, now (hot-plugged NIC, new context CD). */
  readonly reconfigure?: boolean;
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
  agent: AgentConfig = DEFAULT_AGENT_CONFIG;
  /** Problems in /etc/guestctx/guestctx.yaml: reported, the defaults used instead. */
  configErrors: string[] = [];

  constructor(readonly opts: PipelineOptions) {}

  async init(): Promise<void> {
    this.cmdline = (await this.opts.host.readTextIfExists('/proc/cmdline'))?.trim() ?? '';
    const loaded = await loadAgentConfig(this.opts.host);
    this.agent = loaded.config;
    this.configErrors = loaded.errors.map(describeError);
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
      ...((this.opts.metadataUrl ?? this.agent.metadataUrl) !== undefined ? { metadataUrl: (this.opts.metadataUrl ?? this.agent.metadataUrl) as string } : {}),
      networkBudgetMs: this.opts.networkBudgetMs ?? this.agent.networkBudgetMs,
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
    let list = all;
    if (this.agent.datasources) {
      // The configuration lists which datasources to consider, in its order.
      list = this.agent.datasources.map((n) => all.find((d) => d.name === canonicalDatasourceName(n))).filter((d): d is Datasource => d !== undefined);
    }
    return { list: list.filter((d) => stageIndex(d.stage) <= stageIndex(stage)) };
  }

  /** Detection reports for a stage's candidates; `only` narrows the list (e.g. to later stages' datasources). */
  async detect(stage: Stage, only: (ds: Datasource) => boolean = () => true): Promise<DetectionReport[]> {
    const ctx = this.dsContext();
    const out: DetectionReport[] = [];
    for (const ds of this.candidates(stage).list.filter(only)) out.push({ datasource: ds.name, stage: ds.stage, detection: await ds.detect(ctx) });
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

/** What every module run in one stage shares. */
interface ModuleRunEnv {
  readonly opts: PipelineOptions;
  readonly state: State;
  readonly instance: InstanceData;
  readonly stage: Stage;
  readonly cmdline: string;
  readonly disabledModules: readonly string[];
}

async function runModule(mod: AnyModule, cfg: GuestConfig, env: ModuleRunEnv): Promise<ModuleStatus> {
  const { opts, state, instance, stage } = env;
  const { host } = opts;
  const log = opts.log.child(mod.name);
  const startedAt = new Date().toISOString();
  const t0 = host.monotonicMs();
  const skip = (reason: string): ModuleStatus => ({ result: 'skipped', reason, startedAt, durationMs: 0, changes: [] });
  if (opts.only && !opts.only.includes(mod.name)) return skip('not in --only');
  if (opts.skip?.includes(mod.name)) return skip('excluded by --skip');
  const disabled = disabledReason(mod.name, { config: env.disabledModules, cmdline: env.cmdline, ...(cfg.context ? { context: cfg.context } : {}) });
  if (disabled !== undefined) return skip(disabled);
  if (await state.hasRun(mod.name, mod.frequency, instance.instanceId)) return skip(`already ran (${mod.frequency})`);
  const before = host.changes().length;
  const changes = (): string[] => host.changes().slice(before).map(changeLine);
  const hookEnv = { ...Object.fromEntries(cfg.scriptEnv), INSTANCE_ID: instance.instanceId, GUESTCTX_DATASOURCE: instance.datasource, HOME: '/root', LANG: 'C.UTF-8' };
  log.event('task-start', `${mod.name} starting`);
  let result: 'ok' | 'failed' = 'failed';
  try {
    const config: unknown = mod.parse(cfg);
    if (config === undefined) {
      log.event('task-end', `${mod.name}: nothing to configure`, { result: 'skipped' });
      return skip('nothing to configure');
    }
    const pre = await findHook(host, mod.name, 'pre');
    if (pre !== undefined) {
      const r = await runHook(host, pre, hookEnv, mod.name);
      if (r.output) log.info(`hook ${pre}: ${r.output}`);
      if (r.code !== 0) throw new ModuleError(pre, `pre hook exited ${r.code}; the module did not run`);
    }
    const replace = await findHook(host, mod.name, 'replace');
    let outcome: ModuleOutcome | void;
    if (replace !== undefined) {
      const r = await runHook(host, replace, hookEnv, mod.name);
      if (r.output) log.info(`hook ${replace}: ${r.output}`);
      if (r.code !== 0) throw new ModuleError(replace, `replace hook exited ${r.code}`);
      outcome = { details: { replacedBy: replace } };
    } else {
      const applyLive = host.live && (opts.reconfigure === true || stage !== 'local');
      outcome = await mod.run({ host, log, instance, stage, stateDir: state.dir, applyLive }, config);
    }
    const durationMs = Math.round(host.monotonicMs() - t0);
    if (outcome?.skipped !== undefined) {
      log.event('task-end', `${mod.name} skipped: ${outcome.skipped}`, { result: 'skipped', durationMs });
      return { result: 'skipped', reason: outcome.skipped, startedAt, durationMs, changes: changes(), ...(outcome.details ? { details: outcome.details } : {}) };
    }
    if (!host.dryRun) {
      // A read-only /var must not turn a module that worked into a failure: it
      // only means the module runs again next boot. Say so.
      await state.markRun(mod.name, mod.frequency, instance.instanceId).catch((err: unknown) => log.error(`${describeError(err)}; ${mod.name} will run again at the next boot`));
    }
    result = 'ok';
    log.event('task-end', `${mod.name} done`, { result: 'ok', durationMs });
    return { result: 'ok', startedAt, durationMs, changes: changes(), ...(outcome?.details ? { details: outcome.details } : {}) };
  } catch (err) {
    const durationMs = Math.round(host.monotonicMs() - t0);
    const message = describeError(err);
    log.error(message);
    log.event('task-end', `${mod.name} failed`, { result: 'failed', durationMs });
    const details = err instanceof ModuleError ? err.details : undefined;
    return { result: 'failed', error: message, startedAt, durationMs, changes: changes(), ...(details ? { details } : {}) };
  } finally {
    // A post hook that cannot even be looked up (unreadable /etc/guestctx/hooks) must not mask the module's result.
    const post = await findHook(host, mod.name, 'post').catch(() => undefined);
    if (post !== undefined) {
      const r = await runHook(host, post, hookEnv, mod.name, result).catch((e: unknown) => ({ code: -1, output: describeError(e) }));
      if (r.output || r.code !== 0) log.info(`hook ${post} exited ${r.code}${r.output ? `: ${r.output}` : ''}`);
    }
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

/**
 * Written by the boot's local stage when it found no datasource and no later
 * datasource has local evidence (no DMI vendor, no ds=, no metadata URL): the
 * network and final stages would find nothing, so their units skip
 * (ConditionPathExists=!) instead of each starting the runtime for nothing.
 * /run is a tmpfs: the next boot decides again.
 */
export const NOTHING_LATER_FLAG = '/run/guestctx/no-datasource';

/**
 * After a local stage without a datasource: when nothing later can find one,
 * record the later stages as no-datasource now and raise the flag their units
 * check. Only for the boot's own `run --stage local` (a full run goes on anyway).
 */
async function settleLaterStages(session: Session, opts: PipelineOptions, boot: string, record: (stage: Stage, s: StageStatus) => Promise<void>, log: Logger): Promise<void> {
  const { host } = opts;
  if (host.dryRun || opts.stages.length !== 1 || opts.stages[0] !== 'local' || session.candidates('local').forced !== undefined) return;
  const later = (await session.detect('final', (ds) => stageIndex(ds.stage) > stageIndex('local'))).filter((r) => r.detection.found);
  if (later.length > 0) {
    log.info(`the network stage will look for ${later.map((r) => `${r.datasource} (${r.detection.evidence})`).join(', ')}`);
    return;
  }
  const now = new Date().toISOString();
  for (const stage of STAGES.filter((st) => stageIndex(st) > stageIndex('local'))) {
    await record(stage, { bootId: boot, startedAt: now, finishedAt: now, durationMs: 0, result: 'no-datasource', errors: [], modules: {} });
  }
  try {
    await host.mkdir('/run/guestctx', { mode: 0o700, owner: 'root' });
    await host.writeFile(NOTHING_LATER_FLAG, `no datasource found by the local stage and no evidence of a metadata service (boot ${boot})\n`, { mode: 0o644 });
    log.info('no evidence of a metadata service either: the network and final stages have nothing to do this boot');
  } catch (err) {
    // Without the flag the later units simply run and find nothing themselves.
    log.warn(`cannot write ${NOTHING_LATER_FLAG} (${describeError(err)}): the later stages will run and find nothing`);
  }
}

/** The instance guestctx works with when no datasource is found: only modules marked withoutDatasource run. */
function noDatasourceInstance(previousId: string | undefined): InstanceData {
  return { datasource: 'none', source: 'none', instanceId: previousId ?? 'iid-datasource-none', instanceIdRule: 'no datasource: the last instance id, else iid-datasource-none', publicKeys: [], raw: {}, secretKeys: [], problems: [] };
}

/** Run the requested stages. Throws UsageError for exit code 2 situations. */
export async function runPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const { host, log } = opts;
  const session = new Session(opts);
  const state = new State(host, STATE_DIR);
  const record = async (stage: Stage, s: StageStatus): Promise<void> => {
    if (host.dryRun) return;
    const where = await state.writeStageStatus(stage, s);
    if (where !== state.statusFile) log.error(`${state.statusFile} is not writable; status recorded in ${where} for this boot`);
  };
  const outcomes: StageOutcome[] = [];
  let failed = false;
  let instance: InstanceData | undefined;
  let userData: LoadedUserData | undefined;
  const allModules = opts.modules ?? MODULES;
  try {
    await session.init();
    startupMark('session-ready');
    const agent = session.agent;
    for (const e of session.configErrors) log.error(e);
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
    // Modules already evaluated this boot in a stage that had a datasource. An
    // earlier stage's module is caught up later only when its own stage found
    // none (a metadata service answers only once the network is up).
    const ranThisBoot = new Set<string>();
    for (const st of STAGES) {
      const s = previous.stages[st];
      if (s && s.bootId === boot && s.result !== 'no-datasource') for (const name of Object.keys(s.modules)) ranThisBoot.add(name);
    }
    const buildOpts = {
      defaultUser: opts.defaultUser ?? agent.defaultUser,
      ...((opts.networkRenderer ?? agent.networkRenderer) ? { networkRenderer: (opts.networkRenderer ?? agent.networkRenderer) as NetworkRendererName } : {}),
      networkPolicy: agent.networkPolicy,
      ...((opts.metadataUrl ?? agent.metadataUrl) !== undefined ? { metadataUrl: (opts.metadataUrl ?? agent.metadataUrl) as string } : {}),
    };
    let configErrorsReported = false;
    for (const stage of [...opts.stages].sort((a, b) => stageIndex(a) - stageIndex(b))) {
      const stageLog = log.child(stage);
      startupMark(`stage-${stage}`);
      const startedAt = new Date().toISOString();
      const t0 = host.monotonicMs();
      stageLog.event('task-start', `stage ${stage} starting`);
      const errors: string[] = configErrorsReported ? [] : [...session.configErrors];
      configErrorsReported = true;
      let withoutDatasource = false;
      if (instance === undefined) {
        const found = await session.findInstance(stage);
        errors.push(...found.errors.map(describeError));
        instance = found.instance;
        if (!instance) {
          if (found.required) throw new UsageError(opts.seed ?? opts.datasource ?? 'datasource', found.errors.length > 0 ? `no usable datasource: ${errors.join('; ')}` : 'the requested datasource was not found');
          withoutDatasource = true;
        } else {
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
            try {
              if (prevId !== instance.instanceId) {
                stageLog.info(prevId === undefined ? 'first boot of this instance' : `new instance (was ${prevId})`);
                await state.setInstanceId(instance.instanceId);
              }
              await state.writeInstanceData(instanceRecord(instance));
            } catch (err) {
              // The modules still run: a guest with a read-only /var must still get its network and keys.
              const msg = `cannot record the instance in ${state.dir}: ${describeError(err)}`;
              stageLog.error(msg);
              errors.push(msg);
            }
          }
        }
      } else {
        for (const p of instance.problems) errors.push(describeError(p));
      }
      const current = instance ?? noDatasourceInstance(await state.previousInstanceId());
      if (instance !== undefined && userData === undefined) {
        userData = await loadUserData(host, instance, state.dir);
        for (const w of userData.warnings) stageLog.warn(w);
        for (const e of userData.errors) stageLog.error(e);
        if (userData.parts.length > 0) stageLog.info(`user-data: ${userData.parts.length} part(s): ${userData.parts.map((p) => p.kind).join(', ')}`);
        errors.push(...userData.errors);
      }
      const cfg: GuestConfig = buildGuestConfig(current, buildOpts, userData);
      const env: ModuleRunEnv = { opts, state, instance: current, stage, cmdline: session.cmdline, disabledModules: agent.disabledModules };
      const modules: Record<string, ModuleStatus> = {};
      // Without a datasource only the modules that make sense on their own run
      // (the network fallback), and only in the local stage or a full run.
      const candidates = withoutDatasource
        ? stage === 'local' || opts.stages.length === STAGES.length ? allModules.filter((m) => m.withoutDatasource === true) : []
        : modulesForStage(allModules, stage, ranThisBoot);
      if (withoutDatasource) stageLog.info(errors.length > 0 ? 'no usable datasource' : 'no datasource found');
      for (const mod of candidates) {
        const st = await runModule(mod, cfg, env);
        modules[mod.name] = st;
        // Evaluated with a datasource (whatever the result): later stages of this boot leave it alone.
        if (!withoutDatasource) ranThisBoot.add(mod.name);
      }
      const anyFailed = Object.values(modules).some((m) => m.result === 'failed') || errors.length > 0;
      if (anyFailed) failed = true;
      const result: StageResult = withoutDatasource ? (errors.length > 0 ? 'failed' : 'no-datasource') : anyFailed ? 'failed' : 'ok';
      const s: StageStatus = {
        bootId: boot,
        startedAt,
        finishedAt: new Date().toISOString(),
        durationMs: Math.round(host.monotonicMs() - t0),
        sinceProcessStartMs: Math.round(t0),
        result,
        ...(instance ? { datasource: { name: instance.datasource, source: instance.source }, instanceId: instance.instanceId } : {}),
        errors,
        modules,
      };
      stageLog.event('task-end', `stage ${stage} ${result}`, { result, durationMs: s.durationMs });
      await record(stage, s);
      outcomes.push({ stage, status: s });
      if (result === 'no-datasource' && stage === 'local') await settleLaterStages(session, opts, boot, record, stageLog);
    }
  } finally {
    await session.close();
  }
  return { exitCode: failed ? 1 : 0, outcomes, ...(instance ? { instance } : {}) };
}

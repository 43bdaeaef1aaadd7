// hepix-prolog, hepix-epilog: the HEPiX contextualization scripts of the
// context CD. A HEPiX image runs "prolog.sh start" early in every boot and
// "epilog.sh start" late in every boot, and "epilog.sh stop" when it shuts
// down; each with the CD's files in the working directory and the context
// variables in the environment. guestctx runs them from its private copy of
// the CD (src/scripts/context-dir.ts).
//
// Shutdown: when hepix-epilog has run "start" it leaves a stop plan
// (/var/lib/guestctx/hepix-epilog.json, 0600: script, working directory,
// environment, instance id). systemd/guestctx-shutdown.service calls
// `guestctx hepix-epilog-stop` at shutdown, which is runEpilogStop() below: it
// runs "epilog.sh stop" from the same copy with the same environment, unless
// the guest has since become another instance.
import { ParseError } from '../src/errors';
import type { GuestConfig } from '../src/config/guest-config';
import type { Volume } from '../src/media/volume';
import { contextDirOf, materialiseContextDir } from '../src/scripts/context-dir';
import { ensurePrivateDir, runGuestScript, runJobs, scriptsCannotRun, type RunnerContext } from '../src/scripts/run-guest-script';
import { scriptEnvironment, type ScriptRun } from '../src/scripts/run-script';
import type { Module, ModuleContext, ModuleOutcome, ScriptSpec } from '../src/types';
import { hepixScriptsOf } from '../datasources/hepix';
import { GUEST_PATH } from '../src/host/guest-path';

export interface HepixPlan {
  readonly script: ScriptSpec;
  /** File name in the CD copy: prolog.sh or epilog.sh. */
  readonly file: 'prolog.sh' | 'epilog.sh';
  readonly medium?: Volume;
  readonly env: ReadonlyMap<string, string>;
}

/** Written by hepix-epilog for the shutdown hook. */
export interface EpilogStopPlan {
  readonly version: 1;
  readonly instanceId: string;
  readonly script: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export function epilogStopPlanPath(stateDir: string): string {
  return `${stateDir}/hepix-epilog.json`;
}

function planFor(cfg: GuestConfig, which: 'prolog' | 'epilog'): HepixPlan | undefined {
  if (cfg.instance === undefined) return undefined;
  const script = hepixScriptsOf(cfg.instance)?.[which];
  if (script === undefined) return undefined;
  const medium = cfg.instance.medium;
  return { script, file: `${which}.sh`, ...(medium ? { medium } : {}), env: cfg.scriptEnv };
}

/** Make the CD copy (or, without a medium, a directory holding only the script) and put the script in it, 0700. */
async function prepare(ctx: ModuleContext, plan: HepixPlan): Promise<{ dir: string; path: string }> {
  const dir = plan.medium ? (await materialiseContextDir(ctx.host, ctx.log, plan.medium, ctx.stateDir)).dir : await ensurePrivateDir(ctx.host, ctx.stateDir, 'instance/context');
  const path = `${dir}/${plan.file}`;
  // The copy already holds the same bytes; this only matters without a medium.
  await ctx.host.writeFile(path, plan.script.content, { mode: 0o700, owner: 'root', secret: true });
  return { dir, path };
}

async function runStart(ctx: ModuleContext, plan: HepixPlan, module: string, beforeRun?: (dir: string, path: string, env: Record<string, string>) => Promise<void>): Promise<ModuleOutcome> {
  const cannot = await scriptsCannotRun(ctx.host);
  if (cannot !== undefined) return { skipped: cannot };
  const { dir, path } = await prepare(ctx, plan);
  const env = scriptEnvironment(ctx, plan.env);
  if (beforeRun) await beforeRun(dir, path, env);
  const origin = `${plan.script.origin} start`;
  return runJobs(module, [{ name: plan.file, origin, run: () => runGuestScript(ctx, { path, name: plan.file, origin, args: ['start'] }, env, dir) }]);
}

export const hepixProlog: Module<HepixPlan> = {
  name: 'hepix-prolog',
  stage: 'local',
  frequency: 'always',
  description: 'run the HEPiX prolog.sh start early on every boot',
  parse: (cfg) => planFor(cfg, 'prolog'),
  run: (ctx, plan) => runStart(ctx, plan, 'hepix-prolog'),
};

export const hepixEpilog: Module<HepixPlan> = {
  name: 'hepix-epilog',
  stage: 'final',
  frequency: 'always',
  description: 'run the HEPiX epilog.sh start late on every boot (and epilog.sh stop at shutdown)',
  parse: (cfg) => planFor(cfg, 'epilog'),
  run: (ctx, plan) =>
    runStart(ctx, plan, 'hepix-epilog', async (dir, path, env) => {
      // Written before "start" runs: a start that failed half-way still gets its stop.
      const stop: EpilogStopPlan = { version: 1, instanceId: ctx.instance.instanceId, script: path, cwd: dir, env };
      await ctx.host.writeFile(epilogStopPlanPath(ctx.stateDir), `${JSON.stringify(stop, null, 2)}\n`, { mode: 0o600, owner: 'root', secret: true });
    }),
};

export interface EpilogStopContext extends RunnerContext {
  readonly stateDir: string;
}

export type EpilogStopResult = { readonly ran: false; readonly reason: string } | { readonly ran: true; readonly run: ScriptRun };

function parseStopPlan(text: string, where: string): EpilogStopPlan {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ParseError(where, 'is not valid JSON', { cause: err });
  }
  const o = v as Partial<EpilogStopPlan> | null;
  const envOk = typeof o?.env === 'object' && o.env !== null && Object.values(o.env).every((x) => typeof x === 'string');
  if (o?.version !== 1 || typeof o.instanceId !== 'string' || typeof o.script !== 'string' || typeof o.cwd !== 'string' || !envOk) {
    throw new ParseError(where, 'is not a hepix-epilog stop plan (version 1: instanceId, script, cwd, env)');
  }
  return o as EpilogStopPlan;
}

/** The environment "start" had; guestctx's own variables are reset, as scriptEnvironment does. */
function stopEnvironment(plan: EpilogStopPlan): Record<string, string> {
  return { ...plan.env, PATH: GUEST_PATH, HOME: '/root', LANG: 'C.UTF-8', INSTANCE_ID: plan.instanceId };
}

/**
 * The shutdown half of HEPiX: "epilog.sh stop", as left ready by hepix-epilog.
 * Nothing to do (ran: false) when no epilog ran "start" or the guest is now
 * another instance; throws ModuleError when the script fails.
 */
export async function runEpilogStop(ctx: EpilogStopContext): Promise<EpilogStopResult> {
  const { host, log } = ctx;
  const where = epilogStopPlanPath(ctx.stateDir);
  const text = await host.readTextIfExists(where, 1024 * 1024);
  if (text === undefined) return { ran: false, reason: `no HEPiX epilog ran on this boot (${where} is absent)` };
  const plan = parseStopPlan(text, where);
  // Only the CD copy hepix-epilog made is ever run from here, whatever the file says.
  const home = contextDirOf(ctx.stateDir);
  if (!plan.script.startsWith(`${home}/`) || plan.script.includes('/../') || plan.cwd !== home) throw new ParseError(where, `names ${plan.script} in ${plan.cwd}, not a script of ${home}`);
  const current = (await host.readTextIfExists(`${ctx.stateDir}/instance-id`))?.trim();
  if (current !== undefined && current !== plan.instanceId) {
    log.info(`${where} belongs to instance ${plan.instanceId}, this is ${current}; epilog.sh stop not run`);
    return { ran: false, reason: `the stop plan belongs to instance ${plan.instanceId}, not ${current}` };
  }
  if ((await host.stat(plan.script))?.type !== 'file') return { ran: false, reason: `${plan.script} is gone` };
  const run = await runGuestScript(ctx, { path: plan.script, name: 'epilog.sh', origin: `HEPiX ${plan.script} stop`, args: ['stop'] }, stopEnvironment(plan), plan.cwd);
  if (run.skipped !== undefined) return { ran: false, reason: run.skipped };
  return { ran: true, run };
}

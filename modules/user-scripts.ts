// user-scripts: the user's own scripts (OpenNebula START_SCRIPT /
// START_SCRIPT_BASE64, user-data shell scripts), once per instance, in the
// final stage, in order. Every script runs even if an earlier one failed; the
// module fails when any did, and each exit status lands in status.json.
import { ModuleError, describeError } from '../src/errors';
import { scriptEnvironment, storeAndRunScript, type ScriptRun } from '../src/scripts/run-script';
import type { ScriptSpec } from '../src/types';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface ScriptsPlan {
  readonly scripts: readonly ScriptSpec[];
  readonly env: ReadonlyMap<string, string>;
}

export const userScripts: Module<ScriptsPlan> = {
  name: 'user-scripts',
  stage: 'final',
  frequency: 'per-instance',
  description: 'run START_SCRIPT and user-data scripts once per instance',
  parse(cfg) {
    return cfg.userScripts.length === 0 ? undefined : { scripts: cfg.userScripts, env: cfg.scriptEnv };
  },
  async run(ctx: ModuleContext, plan: ScriptsPlan): Promise<ModuleOutcome> {
    const env = scriptEnvironment(ctx, plan.env);
    const runs: (ScriptRun | { name: string; origin: string; error: string })[] = [];
    const failed: string[] = [];
    for (const s of plan.scripts) {
      try {
        runs.push(await storeAndRunScript(ctx, `${ctx.stateDir}/instance/scripts`, s, env));
      } catch (err) {
        const msg = describeError(err);
        runs.push({ name: s.name, origin: s.origin, error: msg });
        failed.push(msg);
      }
    }
    if (failed.length > 0) throw new ModuleError('user-scripts', failed.join('; '), { details: { scripts: runs } });
    const skipped = runs.filter((r): r is ScriptRun => 'skipped' in r && r.skipped !== undefined);
    return { ...(skipped.length === runs.length ? { skipped: skipped[0]?.skipped ?? 'needs the running guest' } : {}), details: { scripts: runs } };
  },
};

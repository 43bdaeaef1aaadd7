// init-scripts: OpenNebula's INIT_SCRIPTS. The variable lists files of the
// context CD (usually shipped with FILES), separated by spaces, to run in that
// order; when it is unset and the CD has init.sh, init.sh runs (unless a
// START_SCRIPT is given, which one-context runs instead). As with
// one-context the scripts see the CD's files in their working directory and
// the context variables in their environment. guestctx never mounts the CD, so
// it runs them from a private copy of the CD (src/scripts/context-dir.ts).
// Once per instance, in the final stage; every listed script runs even when an
// earlier one failed, and the module fails naming each failure.
import { ConfigError } from '../src/errors';
import type { GuestConfig } from '../src/config/guest-config';
import type { Volume } from '../src/media/volume';
import { materialiseContextDir } from '../src/scripts/context-dir';
import { runGuestScript, runJobs, scriptsCannotRun, type ScriptJob } from '../src/scripts/run-guest-script';
import { scriptEnvironment } from '../src/scripts/run-script';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface InitScriptsPlan {
  /** CD file names in order; undefined = INIT_SCRIPTS unset, run /init.sh when present. */
  readonly names?: readonly string[];
  readonly medium: Volume;
  readonly env: ReadonlyMap<string, string>;
  /** START_SCRIPT(_BASE64) is set: one-context then runs no init.sh by default. */
  readonly startScript: boolean;
}

/** A name from INIT_SCRIPTS as a path inside the CD, or undefined when it would leave the CD. */
export function cdPathOf(name: string): string | undefined {
  const parts = name.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return `/${parts.join('/')}`;
}

export function planInitScripts(cfg: GuestConfig): InitScriptsPlan | undefined {
  const vars = cfg.context;
  if (vars === undefined) return undefined;
  const names = (vars.get('INIT_SCRIPTS') ?? '').split(/\s+/).filter((n) => n !== '');
  const medium = cfg.instance?.medium;
  if (medium === undefined) {
    if (names.length > 0) throw new ConfigError('context INIT_SCRIPTS', `names files of the context CD (${names.join(' ')}), but the datasource ${cfg.instance?.datasource ?? ''} gave no medium to read them from`);
    return undefined;
  }
  const startScript = ['START_SCRIPT', 'START_SCRIPT_BASE64'].some((k) => (vars.get(k) ?? '') !== '');
  return { ...(names.length > 0 ? { names } : {}), medium, env: cfg.scriptEnv, startScript };
}

export const initScripts: Module<InitScriptsPlan> = {
  name: 'init-scripts',
  stage: 'final',
  frequency: 'per-instance',
  description: 'run the context CD scripts named by INIT_SCRIPTS (or init.sh) once per instance',
  parse: planInitScripts,
  async run(ctx: ModuleContext, plan: InitScriptsPlan): Promise<ModuleOutcome> {
    const { host } = ctx;
    let names = plan.names;
    const origin = (name: string): string => (plan.names ? `context INIT_SCRIPTS ${name}` : 'context CD init.sh');
    if (names === undefined) {
      if (plan.startScript) return { skipped: 'INIT_SCRIPTS is not set and START_SCRIPT is: init.sh is not run by default (as with one-context)' };
      if ((await plan.medium.stat('/init.sh'))?.type !== 'file') return { skipped: 'INIT_SCRIPTS is not set and the context CD has no init.sh' };
      names = ['init.sh'];
    }
    const cannot = await scriptsCannotRun(host);
    if (cannot !== undefined) return { skipped: cannot };
    const { dir } = await materialiseContextDir(host, ctx.log, plan.medium, ctx.stateDir);
    const env = scriptEnvironment(ctx, plan.env);
    const jobs: ScriptJob[] = names.map((name) => ({
      name,
      origin: origin(name),
      run: async () => {
        const cdPath = cdPathOf(name);
        if (cdPath === undefined) throw new ConfigError(origin(name), 'is not a file name inside the context CD');
        const path = `${dir}${cdPath}`;
        if ((await host.stat(path))?.type !== 'file') throw new ConfigError(origin(name), 'is not on the context CD');
        return runGuestScript(ctx, { path, name, origin: origin(name) }, env, dir);
      },
    }));
    return runJobs('init-scripts', jobs);
  },
};

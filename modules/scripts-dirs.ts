// scripts-per-boot, scripts-per-instance, scripts-per-once: the drop-in
// script directories an image or an admin fills, run in the final stage.
//   per-boot      every boot
//   per-instance  once for each new instance
//   per-once      once in the life of the image (a new instance does not rerun it)
// Each runs the executables of /var/lib/guestctx/scripts/<freq>/ and, so that
// images prepared for cloud-init keep working, /var/lib/cloud/scripts/<freq>/,
// each directory in lexical order; then the user-data parts of that frequency
// (text/x-shellscript-per-boot, -per-once). Per-instance user-data scripts are
// the user-scripts module's, so they are not run here a second time.
// Non-executable files are skipped with a warning, like run-parts does. A
// module with nothing to run reports a skip, so its marker is not written and
// scripts added later are still picked up on a later boot.
import type { GuestConfig } from '../src/config/guest-config';
import { scriptEnvironment, storeAndRunScript } from '../src/scripts/run-script';
import { ensurePrivateDir, runGuestScript, runJobs, scriptsCannotRun, type ScriptJob } from '../src/scripts/run-guest-script';
import type { Frequency, Module, ModuleContext, ModuleOutcome, ScriptSpec } from '../src/types';
import type { ScriptFrequency } from '../src/userdata/types';

/** cloud-init's script directories, honoured for drop-in compatibility. */
export const CLOUD_INIT_SCRIPTS_DIR = '/var/lib/cloud/scripts';

export interface ScriptsDirPlan {
  readonly which: ScriptFrequency;
  /** User-data parts of this frequency (none for per-instance). */
  readonly userData: readonly ScriptSpec[];
  readonly env: ReadonlyMap<string, string>;
}

/** The directories a module scans, in order: guestctx's own, then cloud-init's. */
export function scriptDirsFor(stateDir: string, which: ScriptFrequency): string[] {
  return [`${stateDir}/scripts/${which}`, `${CLOUD_INIT_SCRIPTS_DIR}/${which}`];
}

function userDataScripts(cfg: GuestConfig, which: ScriptFrequency): ScriptSpec[] {
  if (which === 'per-instance') return [];
  return cfg.parts
    .filter((p) => p.kind === 'script' && p.frequency === which)
    .map((p, i) => ({ name: `user-data-${String(i + 1).padStart(3, '0')}-${p.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`, content: p.content, origin: p.origin }));
}

/** The executables of one directory in lexical order; anything else is reported and left alone. */
async function executablesIn(ctx: ModuleContext, dir: string, env: Record<string, string>): Promise<ScriptJob[]> {
  const { host, log } = ctx;
  const info = await host.stat(dir);
  if (info === undefined) return [];
  if (info.type !== 'dir') {
    log.warn(`${dir} is not a directory; ignored`);
    return [];
  }
  const jobs: ScriptJob[] = [];
  // host.list is sorted by code unit, which is byte order for the ASCII names scripts use.
  for (const name of await host.list(dir)) {
    const path = `${dir}/${name}`;
    const st = await host.stat(path);
    if (st === undefined) {
      log.warn(`${path} is a dangling symbolic link; skipped`);
      continue;
    }
    if (st.type === 'dir') continue;
    if (st.type !== 'file' || (st.mode & 0o111) === 0) {
      log.warn(`${path} is not executable; skipped (chmod +x to run it)`);
      continue;
    }
    jobs.push({ name, origin: path, run: () => runGuestScript(ctx, { path, name, origin: path }, env) });
  }
  return jobs;
}

function scriptsDirModule(name: string, which: ScriptFrequency, frequency: Frequency, description: string): Module<ScriptsDirPlan> {
  return {
    name,
    stage: 'final',
    frequency,
    description,
    parse(cfg) {
      // Always a plan: only run() can look into the guest's directories.
      return { which, userData: userDataScripts(cfg, which), env: cfg.scriptEnv };
    },
    async run(ctx: ModuleContext, plan: ScriptsDirPlan): Promise<ModuleOutcome> {
      const dirs = scriptDirsFor(ctx.stateDir, plan.which);
      const env = scriptEnvironment(ctx, plan.env);
      const jobs: ScriptJob[] = [];
      for (const dir of dirs) jobs.push(...(await executablesIn(ctx, dir, env)));
      if (jobs.length === 0 && plan.userData.length === 0) return { skipped: `no scripts in ${dirs.join(' or ')}${plan.which === 'per-instance' ? '' : ` or user-data ${plan.which} parts`}` };
      const cannot = await scriptsCannotRun(ctx.host);
      if (cannot !== undefined) return { skipped: cannot };
      if (plan.userData.length > 0) {
        const store = await ensurePrivateDir(ctx.host, ctx.stateDir, `instance/scripts-${plan.which}`);
        for (const s of plan.userData) jobs.push({ name: s.name, origin: s.origin, run: () => storeAndRunScript(ctx, store, s, env) });
      }
      return runJobs(name, jobs);
    },
  };
}

export const scriptsPerBoot = scriptsDirModule('scripts-per-boot', 'per-boot', 'always', 'run the scripts of scripts/per-boot and user-data per-boot scripts on every boot');
export const scriptsPerInstance = scriptsDirModule('scripts-per-instance', 'per-instance', 'per-instance', 'run the scripts of scripts/per-instance once per instance');
export const scriptsPerOnce = scriptsDirModule('scripts-per-once', 'per-once', 'once', 'run the scripts of scripts/per-once and user-data per-once scripts once ever');

// boothooks: user-data parts of type text/cloud-boothook (or starting with
// "#cloud-boothook"). As in cloud-init they run early, on every boot, with
// INSTANCE_ID in the environment; a hook that must run once per instance
// checks that itself. The header line is removed before the hook is stored
// (cloud-init does the same), so a "#!" on the next line picks the
// interpreter; without one the hook is run by /bin/sh. Hooks are stored under
// the state directory (0700) and that directory keeps only the current hooks.
import type { Module, ModuleContext, ModuleOutcome, ScriptSpec } from '../src/types';
import type { GuestConfig } from '../src/config/guest-config';
import { scriptEnvironment, storeAndRunScript } from '../src/scripts/run-script';
import { ensurePrivateDir, runJobs, scriptsCannotRun } from '../src/scripts/run-guest-script';

export interface BoothooksPlan {
  readonly hooks: readonly ScriptSpec[];
  readonly env: ReadonlyMap<string, string>;
}

const HEADER = '#cloud-boothook';

/** The hook as it is run: header removed, DOS line ends made Unix, leading blank lines dropped. */
export function boothookBody(content: Buffer): Buffer {
  let text = content.toString('utf8').replace(/\r\n/g, '\n');
  if (text.toLowerCase().startsWith(HEADER)) text = text.slice(HEADER.length);
  return Buffer.from(text.replace(/^\s+/, ''), 'utf8');
}

export function planBoothooks(cfg: GuestConfig): BoothooksPlan | undefined {
  const hooks = cfg.parts
    .filter((p) => p.kind === 'boothook')
    .map((p, i) => ({ name: `boothook-${String(i + 1).padStart(3, '0')}-${p.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`, content: boothookBody(p.content), origin: p.origin }));
  return hooks.length === 0 ? undefined : { hooks, env: cfg.scriptEnv };
}

export const boothooks: Module<BoothooksPlan> = {
  name: 'boothooks',
  stage: 'local',
  frequency: 'always',
  description: 'run user-data #cloud-boothook parts early, on every boot',
  parse: planBoothooks,
  async run(ctx: ModuleContext, plan: BoothooksPlan): Promise<ModuleOutcome> {
    const cannot = await scriptsCannotRun(ctx.host);
    if (cannot !== undefined) return { skipped: cannot };
    const dir = await ensurePrivateDir(ctx.host, ctx.stateDir, 'instance/boothooks');
    // Hooks of an earlier user-data would only keep stale (possibly secret) content.
    const current = new Set(plan.hooks.map((h) => h.name));
    for (const name of await ctx.host.list(dir)) if (!current.has(name)) await ctx.host.remove(`${dir}/${name}`);
    const env = scriptEnvironment(ctx, plan.env);
    return runJobs(
      'boothooks',
      plan.hooks.map((h) => ({ name: h.name, origin: h.origin, run: () => storeAndRunScript(ctx, dir, h, env) })),
    );
  },
};

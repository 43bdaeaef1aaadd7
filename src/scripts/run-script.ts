// Run a user's script in the guest: store it (0700) under the state
// directory, then execute it with a clean, documented environment. Context
// variables are passed as environment values, never spliced into a command
// line. Offline (--root other than "/") the script runs chrooted when the root
// has a shell; otherwise it is skipped, never run against this machine.
import { GUEST_PATH } from '../host/guest-path';
import type { ModuleContext, ScriptSpec } from '../types';
import { runGuestScript, type ScriptRun } from './run-guest-script';

export { SCRIPT_TIMEOUT_MS, type ScriptRun } from './run-guest-script';

/** The environment every user script gets: documented in the README. */
export function scriptEnvironment(ctx: ModuleContext, extra: ReadonlyMap<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of extra) if (!v.includes('\0')) env[k] = v;
  // guestctx's own variables win over the context's: a context cannot redirect PATH.
  return { ...env, PATH: GUEST_PATH, HOME: '/root', LANG: 'C.UTF-8', INSTANCE_ID: ctx.instance.instanceId, GUESTCTX_DATASOURCE: ctx.instance.datasource };
}

export async function storeAndRunScript(ctx: ModuleContext, dir: string, script: ScriptSpec, env: Record<string, string>, cwd = '/'): Promise<ScriptRun> {
  const { host } = ctx;
  const path = `${dir}/${script.name}`;
  await host.mkdir(dir, { mode: 0o700, owner: 'root' });
  await host.writeFile(path, script.content, { mode: 0o700, secret: true });
  return runGuestScript(ctx, { path, name: script.name, origin: script.origin }, env, cwd);
}

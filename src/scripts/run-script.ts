// Run a user's script in the guest: store it (0700) under the state
// directory, then execute it with a clean, documented environment. Context
// variables are passed as environment values, never spliced into a command
// line. Offline (--root other than "/") the script runs chrooted when the root
// has a shell; otherwise it is skipped, never run against this machine.
import { ModuleError } from '../errors';
import { GUEST_PATH } from '../host/guest-path';
import type { ModuleContext, ScriptSpec } from '../types';

export interface ScriptRun {
  readonly name: string;
  readonly origin: string;
  readonly exitCode?: number;
  readonly skipped?: string;
}

export const SCRIPT_TIMEOUT_MS = 30 * 60 * 1000;

/** The environment every user script gets: documented in the README. */
export function scriptEnvironment(ctx: ModuleContext, extra: ReadonlyMap<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of extra) if (!v.includes('\0')) env[k] = v;
  // guestctx's own variables win over the context's: a context cannot redirect PATH.
  return { ...env, PATH: GUEST_PATH, HOME: '/root', LANG: 'C.UTF-8', INSTANCE_ID: ctx.instance.instanceId, GUESTCTX_DATASOURCE: ctx.instance.datasource };
}

export async function storeAndRunScript(ctx: ModuleContext, dir: string, script: ScriptSpec, env: Record<string, string>, cwd = '/'): Promise<ScriptRun> {
  const { host, log } = ctx;
  const path = `${dir}/${script.name}`;
  await host.mkdir(dir, { mode: 0o700, owner: 'root' });
  await host.writeFile(path, script.content, { mode: 0o700, secret: true });
  if (!host.live && !host.dryRun && (await host.which('sh')) === undefined) {
    const reason = `needs the running guest (${host.root} has no /bin/sh to run it chrooted)`;
    log.warn(`${script.origin}: skipped, ${reason}`);
    return { name: script.name, origin: script.origin, skipped: reason };
  }
  // A script without "#!" is run by /bin/sh, as one-context does.
  const hasShebang = script.content.subarray(0, 2).toString('latin1') === '#!';
  const [cmd, args] = hasShebang ? [path, []] : ['/bin/sh', [path]];
  log.event('task-start', `running ${script.origin}`);
  const res = await host.run(cmd, args, { env, cwd, timeoutMs: SCRIPT_TIMEOUT_MS });
  for (const line of `${res.stdout}${res.stderr}`.split('\n')) if (line.trim() !== '') log.info(`${script.name}: ${line}`);
  if (res.signal !== undefined) throw new ModuleError(script.origin, `killed by ${res.signal} (time limit ${SCRIPT_TIMEOUT_MS / 1000} s)`);
  if (res.code !== 0) throw new ModuleError(script.origin, `exited with status ${res.code}`);
  log.info(`${script.origin} finished (exit 0)`);
  return { name: script.name, origin: script.origin, exitCode: res.code };
}

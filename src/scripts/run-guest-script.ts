// Run programs that already live in the guest (a scripts directory, the
// private copy of the context CD), with arguments and a working directory,
// and run a list of them the way every script module does: in order, each one
// even when an earlier one failed, the module failing at the end with every
// failed script and its exit status. Offline, scripts run chrooted when the
// root has /bin/sh, otherwise they are skipped, never run against the machine
// guestctx itself runs on; in a dry run they are recorded, not run.
import { ModuleError, describeError } from '../errors';
import type { Host } from '../host/host';
import type { Logger } from '../log/logger';

export interface ScriptRun {
  readonly name: string;
  readonly origin: string;
  readonly exitCode?: number;
  readonly skipped?: string;
}

/** Time limit of one user script: long jobs are allowed, a hung one is not forever. */
export const SCRIPT_TIMEOUT_MS = 30 * 60 * 1000;

/** A program at a guest path and what to call it in messages. */
export interface GuestScript {
  readonly path: string;
  /** Short name for status.json. */
  readonly name: string;
  /** Where it came from: "/var/lib/guestctx/scripts/per-boot/10-x", "context INIT_SCRIPTS users.sh". */
  readonly origin: string;
  readonly args?: readonly string[];
}

/** What every runner needs from a ModuleContext (the shutdown hook has no instance). */
export interface RunnerContext {
  readonly host: Host;
  readonly log: Logger;
}

/** One entry of a module's "scripts" details: a run, or the error that stopped it. */
export type ScriptReport = ScriptRun | { readonly name: string; readonly origin: string; readonly error: string };

/**
 * Why scripts cannot run here, or undefined when they can. Offline, the
 * guest's own shell must exist to run them chrooted; a dry run records the
 * commands instead of running them, so it never skips.
 */
export async function scriptsCannotRun(host: Host): Promise<string | undefined> {
  if (host.live || host.dryRun) return undefined;
  return (await host.which('sh')) === undefined ? `needs the running guest (${host.root} has no /bin/sh to run it chrooted)` : undefined;
}

/**
 * How to start a file: the kernel runs "#!" scripts and ELF programs itself;
 * anything else is handed to /bin/sh, as one-context and run-parts callers do
 * for shebang-less scripts.
 */
export function commandFor(path: string, head: Buffer, args: readonly string[] = []): [string, string[]] {
  const direct = head.subarray(0, 2).toString('latin1') === '#!' || head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  return direct ? [path, [...args]] : ['/bin/sh', [path, ...args]];
}

// Scripts are small; a program larger than this is certainly a binary and is
// started directly without looking at it.
const SNIFF_LIMIT = 16 * 1024 * 1024;

async function headOf(host: Host, path: string): Promise<Buffer> {
  const info = await host.stat(path);
  if (info === undefined || info.size > SNIFF_LIMIT) return Buffer.from('#!');
  return (await host.readFile(path, SNIFF_LIMIT)).subarray(0, 4);
}

/** Run one guest program; throws ModuleError naming its origin when it fails. */
export async function runGuestScript(ctx: RunnerContext, script: GuestScript, env: Record<string, string>, cwd = '/'): Promise<ScriptRun> {
  const { host, log } = ctx;
  const skip = await scriptsCannotRun(host);
  if (skip !== undefined) {
    log.warn(`${script.origin}: skipped, ${skip}`);
    return { name: script.name, origin: script.origin, skipped: skip };
  }
  const [cmd, args] = commandFor(script.path, await headOf(host, script.path), script.args);
  log.event('task-start', `running ${script.origin}${script.args?.length ? ` ${script.args.join(' ')}` : ''}`);
  const res = await host.run(cmd, args, { env, cwd, timeoutMs: SCRIPT_TIMEOUT_MS });
  if (host.dryRun) {
    log.info(`would run ${script.origin}`);
    return { name: script.name, origin: script.origin, skipped: 'dry run' };
  }
  for (const line of `${res.stdout}${res.stderr}`.split('\n')) if (line.trim() !== '') log.info(`${script.name}: ${line}`);
  if (res.signal !== undefined) throw new ModuleError(script.origin, `killed by ${res.signal} (time limit ${SCRIPT_TIMEOUT_MS / 1000} s)`);
  if (res.code !== 0) throw new ModuleError(script.origin, `exited with status ${res.code}`);
  log.info(`${script.origin} finished (exit 0)`);
  return { name: script.name, origin: script.origin, exitCode: res.code };
}

/** One script of a list: its names for the report, and how to run it. */
export interface ScriptJob {
  readonly name: string;
  readonly origin: string;
  run(): Promise<ScriptRun>;
}

/**
 * Run every job in order; one failure does not stop the others. Returns the
 * module outcome (skipped when every script was skipped) or throws one
 * ModuleError naming each failure, with every run in its details.
 */
export async function runJobs(module: string, jobs: readonly ScriptJob[]): Promise<{ skipped?: string; details: { scripts: ScriptReport[] } }> {
  const runs: ScriptReport[] = [];
  const failed: string[] = [];
  for (const job of jobs) {
    try {
      runs.push(await job.run());
    } catch (err) {
      const msg = describeError(err);
      runs.push({ name: job.name, origin: job.origin, error: msg });
      failed.push(msg);
    }
  }
  if (failed.length > 0) throw new ModuleError(module, `${failed.length} of ${jobs.length} script(s) failed: ${failed.join('; ')}`, { details: { scripts: runs } });
  const skipped = runs.filter((r): r is ScriptRun => 'skipped' in r && r.skipped !== undefined);
  if (runs.length > 0 && skipped.length === runs.length) return { skipped: skipped[0]?.skipped ?? 'needs the running guest', details: { scripts: runs } };
  return { details: { scripts: runs } };
}

/** Create `${stateDir}/a/b...` with every level 0700 root: parents made implicitly would be 0755. */
export async function ensurePrivateDir(host: Host, stateDir: string, sub: string): Promise<string> {
  let path = stateDir;
  await host.mkdir(path, { mode: 0o700, owner: 'root' });
  for (const part of sub.split('/').filter(Boolean)) {
    path = `${path}/${part}`;
    await host.mkdir(path, { mode: 0o700, owner: 'root' });
  }
  return path;
}

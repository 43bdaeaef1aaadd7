// bootcmd and runcmd from cloud-config.
// bootcmd runs on every boot, in the local stage, before the network: each
// entry on its own (a string through /bin/sh -c, a list as argv), all entries
// even after a failure, with INSTANCE_ID in the environment so a command can
// tell a new instance from a reboot.
// runcmd runs once per instance, in the final stage: the entries are rendered
// into one shell script (strings as lines, lists quoted word by word), stored
// under the state directory and run like the user's other scripts.
import { ModuleError, describeError } from '../src/errors';
import type { Command } from '../src/config/cloud-config';
import { commandLine, renderShellScript } from '../src/files/shell-script';
import { scriptsCannotRun } from '../src/scripts/run-guest-script';
import { SCRIPT_TIMEOUT_MS, scriptEnvironment, storeAndRunScript } from '../src/scripts/run-script';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface CommandsPlan {
  readonly commands: readonly Command[];
  /** Extra variables for the commands (the context, as for user scripts). */
  readonly env: ReadonlyMap<string, string>;
}

export interface CommandRun {
  readonly index: number;
  readonly command: string;
  readonly exitCode?: number;
  readonly error?: string;
}

/** Shown in messages: long commands are cut, a command is not a place for a novel. */
function shortCommand(cmd: Command): string {
  const line = commandLine(cmd).replace(/\s*\n\s*/g, '; ');
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

export const bootcmd: Module<CommandsPlan> = {
  name: 'bootcmd',
  stage: 'local',
  frequency: 'always',
  description: 'run cloud-config bootcmd on every boot, before the network',
  parse(cfg) {
    const commands = cfg.cloud.bootcmd ?? [];
    return commands.length === 0 ? undefined : { commands, env: cfg.scriptEnv };
  },
  async run(ctx: ModuleContext, plan: CommandsPlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    const reason = await scriptsCannotRun(ctx.host);
    if (reason !== undefined) {
      log.warn(`bootcmd: skipped, ${reason}`);
      return { skipped: reason };
    }
    const env = scriptEnvironment(ctx, plan.env);
    const runs: CommandRun[] = [];
    const failures: string[] = [];
    for (const [index, cmd] of plan.commands.entries()) {
      const label = `bootcmd[${index}]`;
      const shown = shortCommand(cmd);
      if (typeof cmd !== 'string' && cmd.length === 0) {
        failures.push(`${label}: empty command list`);
        runs.push({ index, command: shown, error: 'empty command list' });
        continue;
      }
      const [program, args] = typeof cmd === 'string' ? ['/bin/sh', ['-c', cmd]] : [cmd[0] as string, cmd.slice(1)];
      try {
        const res = await host.run(program, args, { env, timeoutMs: SCRIPT_TIMEOUT_MS });
        for (const line of `${res.stdout}${res.stderr}`.split('\n')) if (line.trim() !== '') log.info(`${label}: ${line}`);
        runs.push({ index, command: shown, exitCode: res.code });
        if (res.signal !== undefined) failures.push(`${label} (${shown}) was killed by ${res.signal} (time limit ${SCRIPT_TIMEOUT_MS / 1000} s)`);
        else if (res.code !== 0) failures.push(`${label} (${shown}) exited with status ${res.code}`);
      } catch (err) {
        const msg = describeError(err);
        runs.push({ index, command: shown, error: msg });
        failures.push(`${label} (${shown}): ${msg}`);
      }
    }
    if (failures.length > 0) {
      for (const f of failures) log.error(f);
      throw new ModuleError('bootcmd', failures.join('; '), { details: { commands: runs } });
    }
    return { details: { commands: runs } };
  },
};

export const RUNCMD_SCRIPT = 'runcmd';

export const runcmd: Module<CommandsPlan> = {
  name: 'runcmd',
  stage: 'final',
  frequency: 'per-instance',
  description: 'run cloud-config runcmd once per instance, late in boot, as one shell script',
  parse(cfg) {
    const commands = cfg.cloud.runcmd ?? [];
    return commands.length === 0 ? undefined : { commands, env: cfg.scriptEnv };
  },
  async run(ctx: ModuleContext, plan: CommandsPlan): Promise<ModuleOutcome> {
    const dir = `${ctx.stateDir}/instance/scripts`;
    const script = { name: RUNCMD_SCRIPT, content: Buffer.from(renderShellScript(plan.commands), 'utf8'), origin: 'cloud-config runcmd' };
    const env = scriptEnvironment(ctx, plan.env);
    try {
      const run = await storeAndRunScript(ctx, dir, script, env);
      const details = { script: `${dir}/${RUNCMD_SCRIPT}`, commands: plan.commands.length, ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}) };
      return run.skipped !== undefined ? { skipped: run.skipped, details } : { details };
    } catch (err) {
      const msg = describeError(err);
      const status = /exited with status (\d+)/.exec(msg)?.[1];
      throw new ModuleError('runcmd', msg, { cause: err, details: { script: `${dir}/${RUNCMD_SCRIPT}`, commands: plan.commands.length, ...(status !== undefined ? { exitCode: Number(status) } : {}) } });
    }
  },
};

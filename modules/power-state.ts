// power-state: cloud-config power_state — power off, reboot or halt the guest
// once per instance, at the very end of the final stage, with the guest's own
// `shutdown` (-P / -r / -H, "now" or "+N" minutes, an optional wall message).
//
// Running `shutdown ... now` directly would take the system down while
// guestctx is still recording status.json and its per-instance markers (and a
// missing marker means a reboot loop). So, as cloud-init does, the command is
// handed to a small background waiter that lets guestctx exit first, for at
// most `timeout` seconds, then runs shutdown. The module itself returns at once:
// it never holds the stage longer than the condition check, itself bounded by
// the timeout. Only the booted guest is ever shut down: offline it is skipped.
import { ConfigError, ModuleError } from '../src/errors';
import type { Command, PowerStateConfig } from '../src/config/cloud-config';
import type { Module, ModuleContext, ModuleOutcome } from '../src/types';

export interface PowerStatePlan {
  readonly mode: 'poweroff' | 'reboot' | 'halt';
  readonly delay: 'now' | number;
  readonly message?: string;
  /** Seconds to wait for guestctx to exit before shutting down (cloud-init's default: 30). */
  readonly timeoutS: number;
  /** true: go; a command: go only when it exits 0. (false never reaches a plan.) */
  readonly condition: true | Command;
}

export const DEFAULT_TIMEOUT_S = 30;

const MODE_FLAG: Record<PowerStatePlan['mode'], string> = { poweroff: '-P', reboot: '-r', halt: '-H' };

/**
 * The background waiter, run as `sh -c WAITER name PID LIMIT shutdown args...`.
 * The shutdown command arrives as positional parameters, so the message is
 * never parsed by a shell. The subshell is detached from our pipes, so the
 * outer sh (and host.run) return immediately.
 */
export const WAITER = [
  'pid=$1 limit=$2',
  'shift 2',
  '(',
  '  waited=0',
  '  while [ "$waited" -lt "$limit" ] && kill -0 "$pid" 2>/dev/null; do',
  '    sleep 1',
  '    waited=$((waited + 1))',
  '  done',
  '  exec "$@"',
  ') </dev/null >/dev/null 2>&1 &',
].join('\n');

export function planPowerState(p: PowerStateConfig): PowerStatePlan | undefined {
  const condition = p.condition ?? true;
  // `condition: false` means "never": nothing to do, and nothing to schedule.
  if (condition === false) return undefined;
  if (typeof p.delay === 'number' && (!Number.isInteger(p.delay) || p.delay < 0)) throw new ConfigError('power_state.delay', `${p.delay} is not a whole number of minutes`);
  const message = p.message?.trim();
  // shutdown would read a message starting with "-" as an option.
  if (message !== undefined && message.startsWith('-')) throw new ConfigError('power_state.message', `"${message}" starts with "-", which shutdown would take for an option`);
  if (typeof condition !== 'boolean' && (typeof condition === 'string' ? condition.trim() === '' : condition.length === 0)) {
    throw new ConfigError('power_state.condition', 'is an empty command');
  }
  return {
    mode: p.mode,
    delay: p.delay ?? 'now',
    ...(message !== undefined && message !== '' ? { message } : {}),
    timeoutS: p.timeout ?? DEFAULT_TIMEOUT_S,
    condition,
  };
}

/** shutdown's arguments: mode flag, time, optional wall message. */
export function shutdownArgs(plan: PowerStatePlan): string[] {
  const when = plan.delay === 'now' ? 'now' : `+${plan.delay}`;
  return [MODE_FLAG[plan.mode], when, ...(plan.message !== undefined ? [plan.message] : [])];
}

function describeCommand(c: Command): string {
  return typeof c === 'string' ? c : c.join(' ');
}

export const powerState: Module<PowerStatePlan> = {
  name: 'power-state',
  stage: 'final',
  frequency: 'per-instance',
  description: 'power off, reboot or halt after the final stage (power_state)',
  parse(cfg) {
    const p = cfg.cloud.power_state;
    return p === undefined ? undefined : planPowerState(p);
  },
  async run(ctx: ModuleContext, plan: PowerStatePlan): Promise<ModuleOutcome> {
    const { host, log } = ctx;
    if (!host.live) return { skipped: 'needs the running guest (only the booted guest is ever shut down)' };
    const limitMs = Math.max(1000, Math.ceil(plan.timeoutS * 1000));

    if (plan.condition !== true) {
      const c = plan.condition;
      const [cmd, ...args] = typeof c === 'string' ? ['/bin/sh', '-c', c] : c;
      const shown = describeCommand(c);
      const res = await host.run(cmd as string, args, { timeoutMs: limitMs });
      if (res.signal !== undefined) throw new ModuleError('power_state.condition', `"${shown}" did not finish within ${limitMs / 1000} s (${res.signal}); not shutting down`);
      if (res.code === 1) {
        // A decision, not a failure: the module did its job and is not retried next boot.
        log.info(`condition "${shown}" exited 1: not going to ${plan.mode}`);
        return { details: { mode: plan.mode, scheduled: false, condition: shown, conditionExit: 1 } };
      }
      if (res.code !== 0) throw new ModuleError('power_state.condition', `"${shown}" exited with status ${res.code} (0 means go, 1 means don't); not shutting down`);
    }

    const shutdown = await host.which('shutdown');
    if (shutdown === undefined) throw new ConfigError('power_state', 'tool shutdown is not installed in the guest');
    const sh = (await host.which('sh')) ?? '/bin/sh';
    const argv = [shutdown, ...shutdownArgs(plan)];
    const waitS = Math.ceil(plan.timeoutS);
    const res = await host.run(sh, ['-c', WAITER, 'guestctx-power-state', String(process.pid), String(waitS), ...argv], { timeoutMs: 10_000 });
    if (res.code !== 0) throw new ModuleError('power_state', `could not start the shutdown waiter (${sh} exited ${res.code}: ${res.stderr.trim()})`);
    const when = plan.delay === 'now' ? 'as soon as guestctx exits' : `${plan.delay} minute(s) after guestctx exits`;
    log.info(`${plan.mode} scheduled ${when} (waiting at most ${waitS} s): ${argv.join(' ')}`);
    return { details: { mode: plan.mode, scheduled: true, command: argv, waitS } };
  },
};

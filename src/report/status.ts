// `guestctx status`: a readable summary of status.json, and --wait, which
// blocks until the final stage of this boot has finished and always returns:
// also when guestctx is disabled, no datasource was found, a stage failed, or
// the time limit passes.
import type { Host } from '../host/host';
import type { State, StatusFile } from '../state/state';
import { STAGES } from '../types';

export function formatStatus(status: StatusFile): string {
  const lines: string[] = [];
  for (const stage of STAGES) {
    const s = status.stages[stage];
    if (!s) {
      lines.push(`${stage}: not run`);
      continue;
    }
    const ds = s.datasource ? ` datasource ${s.datasource.name} (${s.datasource.source}), instance ${s.instanceId ?? '?'}` : '';
    const startup = s.sinceProcessStartMs !== undefined ? ` (began ${s.sinceProcessStartMs} ms after its process started)` : '';
    lines.push(`${stage}: ${s.result} at ${s.startedAt} in ${s.durationMs ?? '?'} ms${startup}${ds}`);
    for (const e of s.errors) lines.push(`  error: ${e}`);
    for (const [name, m] of Object.entries(s.modules)) {
      const extra = m.result === 'failed' ? `: ${m.error ?? ''}` : m.reason ? ` (${m.reason})` : '';
      lines.push(`  ${name.padEnd(22)} ${m.result.padEnd(8)} ${String(m.durationMs).padStart(6)} ms${extra}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function finishedThisBoot(status: StatusFile, bootId: string): boolean {
  const final = status.stages.final;
  if (final && final.bootId === bootId && final.finishedAt !== undefined) return true;
  // Disabled guests never run the final stage: any stage recording it ends the wait.
  return Object.values(status.stages).some((s) => s?.bootId === bootId && s.result === 'disabled');
}

/**
 * On a running systemd guest: true when the final stage will not run this
 * boot any more (its unit is not active, not activating and has no queued
 * job, and the system has finished starting up), so waiting longer is useless.
 */
async function finalStageWillNotRun(host: Host): Promise<boolean> {
  if (!host.live || (await host.which('systemctl')) === undefined) return false;
  const show = await host.run('systemctl', ['show', '-p', 'ActiveState', '-p', 'Job', 'guestctx-final.service'], { readOnly: true, timeoutMs: 5000 });
  if (show.code !== 0) return false;
  const active = /^ActiveState=(.*)$/m.exec(show.stdout)?.[1] ?? '';
  const job = /^Job=(.*)$/m.exec(show.stdout)?.[1] ?? '';
  if (active === 'activating' || active === 'active' || job !== '') return false;
  const state = (await host.run('systemctl', ['is-system-running'], { readOnly: true, timeoutMs: 5000 })).stdout.trim();
  return state === 'running' || state === 'degraded';
}

export async function waitForFinal(host: Host, state: State, timeoutMs: number): Promise<StatusFile> {
  const bootId = ((await host.localReadText('/proc/sys/kernel/random/boot_id')) ?? 'unknown').trim();
  const deadline = host.monotonicMs() + timeoutMs;
  for (let round = 0; ; round++) {
    const status = await state.readStatus().catch((): StatusFile => ({ version: 1, stages: {} }));
    if (finishedThisBoot(status, bootId) || host.monotonicMs() >= deadline) return status;
    if ((await host.exists('/etc/guestctx/disabled')) || /\bguestctx=(off|disabled)\b/.test((await host.readTextIfExists('/proc/cmdline')) ?? '')) return status;
    // Every 2 s, ask systemd whether the final stage can still come (it never
    // started, or failed before writing its status): then there is nothing to wait for.
    if (round % 8 === 0 && (await finalStageWillNotRun(host))) return status;
    await new Promise((r) => setTimeout(r, 250));
  }
}

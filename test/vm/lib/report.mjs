// What one boot reported: the files vm-report left in /var/lib/vm-report on
// the guest's disk (read after power-off), or the same sections from the
// serial console markers when the disk cannot be read. Plus the parsing of
// `systemctl show` blocks into per-unit timings.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const REPORT_DIR = '/var/lib/vm-report';

/** Sections from a mounted disk: { name: text }. */
export function reportFromDisk(mnt) {
  const dir = path.join(mnt, REPORT_DIR);
  if (!existsSync(dir)) return undefined;
  const out = {};
  for (const n of readdirSync(dir)) out[n] = readFileSync(path.join(dir, n), 'utf8');
  return out;
}

/** Sections from the console: text between @@VMREPORT-BEGIN n@@ and @@VMREPORT-END n@@. */
export function reportFromConsole(text) {
  const out = {};
  const clean = text.replace(/\r/g, '');
  for (const m of clean.matchAll(/@@VMREPORT-BEGIN (\S+)@@\n([\s\S]*?)\n@@VMREPORT-END \1@@/g)) out[m[1]] = m[2];
  return Object.keys(out).length ? out : undefined;
}

/** `systemctl show -p ...` output for several units: blank-line separated blocks. */
export function parseUnits(text) {
  const units = {};
  for (const block of (text ?? '').trim().split(/\n\s*\n/)) {
    const props = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) props[line.slice(0, i)] = line.slice(i + 1);
    }
    if (!props.Id) continue;
    const start = Number(props.ExecMainStartTimestampMonotonic ?? 0);
    const exit = Number(props.ExecMainExitTimestampMonotonic ?? 0);
    units[props.Id] = {
      active: props.ActiveState,
      result: props.Result,
      exitStatus: props.ExecMainStatus === undefined ? undefined : Number(props.ExecMainStatus),
      // "no" when a Condition*= kept the unit from starting (skipped, not failed).
      condition: props.ConditionResult,
      // Monotonic microseconds since boot; 0 = never started/exited.
      startS: start ? start / 1e6 : undefined,
      exitS: exit ? exit / 1e6 : undefined,
      tookS: start && exit ? (exit - start) / 1e6 : undefined,
    };
  }
  return units;
}

export function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON: ${String(text).slice(0, 300)}`, { cause: err });
  }
}

/** The guestctx units' timings in the shape written to dist/vm-results.json. */
export function guestctxTimings(units) {
  const names = ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'];
  const per = {};
  let total = 0;
  for (const n of names) {
    const u = units[n];
    per[n] = u ? { startS: u.startS, exitS: u.exitS, tookS: u.tookS, condition: u.condition } : undefined;
    total += u?.tookS ?? 0;
  }
  return { units: per, totalS: Number(total.toFixed(3)) };
}

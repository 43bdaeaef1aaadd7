// Start-up marks: how long a process took to reach each step, in ms since it
// started (performance.now()). The single executable's entry (packaging/
// sea-main.cjs) records the first marks before the bundle runs, in the same
// global list. GUESTCTX_TRACE_STARTUP=1 prints them as one line on stderr at
// exit: in a guest under emulation, start-up is most of a unit's time, and this
// says whether it went to the runtime, to loading the program or to guestctx.
const KEY = Symbol.for('guestctx.startupMarks');

type Marks = [label: string, ms: number][];

function marks(): Marks {
  const g = globalThis as unknown as Record<symbol, Marks | undefined>;
  return (g[KEY] ??= []);
}

export function startupMark(label: string): void {
  if (process.env.GUESTCTX_TRACE_STARTUP === '1') marks().push([label, performance.now()]);
}

/** "runtime-ready 2559 ms, bundle-compiled +131, ..." or undefined when not tracing. */
export function startupTrace(): string | undefined {
  const list = marks();
  if (process.env.GUESTCTX_TRACE_STARTUP !== '1' || list.length === 0) return undefined;
  return list.map(([label, ms], i) => (i === 0 ? `${label} ${Math.round(ms)} ms` : `${label} +${Math.round(ms - (list[i - 1] as [string, number])[1])}`)).join(', ');
}

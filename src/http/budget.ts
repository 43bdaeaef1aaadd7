// A hard time budget for network waits, measured on the host's monotonic clock:
// a wall-clock step at boot (NTP, RTC fix-up) must neither stretch nor cut a wait.
import type { Host } from '../host/host';

export interface Budget {
  /** The whole budget, in milliseconds. */
  readonly totalMs: number;
  /** Milliseconds spent since the budget started. */
  elapsedMs(): number;
  /** Milliseconds left (never negative). */
  remainingMs(): number;
  expired(): boolean;
}

/** Start a budget of `totalMs` milliseconds now. */
export function startBudget(clock: Pick<Host, 'monotonicMs'>, totalMs: number): Budget {
  const start = clock.monotonicMs();
  const total = Math.max(0, totalMs);
  return {
    totalMs: total,
    elapsedMs: () => clock.monotonicMs() - start,
    remainingMs: () => Math.max(0, total - (clock.monotonicMs() - start)),
    expired: () => clock.monotonicMs() - start >= total,
  };
}

// Start-up marks: recorded only with GUESTCTX_TRACE_STARTUP=1, printed as deltas from the first.
import { afterEach, describe, expect, it } from 'vitest';
import { startupMark, startupTrace } from '../../src/log/startup-trace';

const KEY = Symbol.for('guestctx.startupMarks');
const store = globalThis as unknown as Record<symbol, [string, number][] | undefined>;

afterEach(() => {
  delete process.env.GUESTCTX_TRACE_STARTUP;
  delete store[KEY];
});

describe('startup trace', () => {
  it('records nothing and prints nothing without GUESTCTX_TRACE_STARTUP=1', () => {
    startupMark('a');
    expect(startupTrace()).toBeUndefined();
    expect(store[KEY] ?? []).toEqual([]);
  });

  it("continues the marks the executable's entry left in the shared list, as deltas", () => {
    process.env.GUESTCTX_TRACE_STARTUP = '1';
    store[KEY] = [['runtime-ready', 100.4]];
    startupMark('stage-local');
    expect(startupTrace()).toMatch(/^runtime-ready 100 ms, stage-local \+\d+$/);
  });
});

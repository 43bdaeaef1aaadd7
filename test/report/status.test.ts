// `status --wait` always returns: when the final stage finished this boot,
// when guestctx is disabled, when systemd says the final stage will not run,
// and at the time limit.
import { afterEach, describe, expect, it } from 'vitest';
import { waitForFinal } from '../../src/report/status';
import { State } from '../../src/state/state';
import { hostOn, makeTempRoot, recorder, type TempRoot } from '../helpers/temp-root';
import { readFileSync } from 'node:fs';

let root: TempRoot;
afterEach(() => root?.cleanup());
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

function writeFinal(result: string): void {
  root.write('var/lib/guestctx/status.json', JSON.stringify({ version: 1, stages: { final: { bootId, startedAt: 'x', finishedAt: 'y', result, errors: [], modules: {} } } }));
}

describe('status --wait', () => {
  it('returns at once when the final stage of this boot has finished (even failed)', async () => {
    root = makeTempRoot();
    writeFinal('failed');
    const host = hostOn(root);
    const t0 = Date.now();
    const st = await waitForFinal(host, new State(host), 10_000);
    expect(st.stages.final?.result).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('returns when guestctx is disabled', async () => {
    root = makeTempRoot();
    root.write('etc/guestctx/disabled', '');
    const host = hostOn(root);
    const t0 = Date.now();
    await waitForFinal(host, new State(host), 10_000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('returns when systemd says the final unit is inactive with no job and boot is done', async () => {
    root = makeTempRoot();
    root.write('usr/bin/systemctl', '#!/bin/sh\n', 0o755);
    const rec = recorder((argv) =>
      argv.includes('show') ? { code: 0, stdout: 'ActiveState=inactive\nJob=\n', stderr: '' } : argv.includes('is-system-running') ? { code: 1, stdout: 'degraded\n', stderr: '' } : undefined,
    );
    const host = Object.create(hostOn(root, { executor: rec.executor }), { live: { value: true } }) as ReturnType<typeof hostOn>;
    const t0 = Date.now();
    await waitForFinal(host, new State(host), 10_000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rec.calls.some((c) => c.includes('guestctx-final.service'))).toBe(true);
  });

  it('keeps waiting while the final unit is queued, and stops at the time limit', async () => {
    root = makeTempRoot();
    root.write('usr/bin/systemctl', '#!/bin/sh\n', 0o755);
    const rec = recorder((argv) => (argv.includes('show') ? { code: 0, stdout: 'ActiveState=inactive\nJob=42\n', stderr: '' } : undefined));
    const host = Object.create(hostOn(root, { executor: rec.executor }), { live: { value: true } }) as ReturnType<typeof hostOn>;
    const t0 = Date.now();
    await waitForFinal(host, new State(host), 1200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1100);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

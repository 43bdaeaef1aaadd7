// The shared HTTP helpers: the budget runs on the host's monotonic clock (a
// wall-clock step changes nothing), backoff grows with bounded jitter, retries
// stop at the budget, and the limiter never exceeds its width.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startBudget } from '../../src/http/budget';
import { createLimiter } from '../../src/http/limit';
import { backoffDelayMs, fetchWithRetry, policyForBudget } from '../../src/http/retry';
import { looksLikeHtml, textBody } from '../../src/http/response';
import { DatasourceError, HostError, LimitError } from '../../src/errors';
import type { Host, HttpRequest, HttpResponse } from '../../src/host/host';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A host whose fetch is scripted and whose monotonic clock is ours to move. */
function fakeHost(answers: ((url: string, req: HttpRequest) => Promise<HttpResponse>)[], clock: { now: number }): { host: Host; calls: HttpRequest[] } {
  const calls: HttpRequest[] = [];
  const host = {
    fetch: async (url: string, req: HttpRequest) => {
      calls.push(req);
      const next = answers.shift();
      if (!next) throw new Error('unexpected request');
      return next(url, req);
    },
    monotonicMs: () => clock.now,
  } as unknown as Host;
  return { host, calls };
}

const ok = (status = 200): ((url: string) => Promise<HttpResponse>) => async (url) => ({ status, headers: {}, body: Buffer.from('x'), url });
const refused = (): Promise<HttpResponse> => Promise.reject(new HostError('u', 'request failed (ECONNREFUSED)'));

describe('backoff and policy', () => {
  it('doubles the delay, caps it, and keeps jitter within [half, full]', () => {
    const p = policyForBudget(5000);
    expect(p.requestTimeoutMs).toBe(2000);
    expect(policyForBudget(1500).requestTimeoutMs).toBe(750);
    expect(policyForBudget(100).requestTimeoutMs).toBe(200);
    expect([1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, p, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, p, () => 0.999999))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('startBudget', () => {
  it('measures on the monotonic clock only: a wall-clock step changes nothing', () => {
    const clock = { now: 1000 };
    const b = startBudget({ monotonicMs: () => clock.now }, 500);
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    clock.now += 200;
    expect(b.remainingMs()).toBe(300);
    expect(b.expired()).toBe(false);
    clock.now += 400;
    expect(b.remainingMs()).toBe(0);
    expect(b.expired()).toBe(true);
  });
});

describe('fetchWithRetry', () => {
  it('retries connection errors and 5xx, then returns the first other answer (even a 404)', async () => {
    const clock = { now: 0 };
    const { host, calls } = fakeHost([refused, ok(503), ok(404)], clock);
    const res = await fetchWithRetry(host, 'http://x/a', { maxBytes: 10 }, { budget: startBudget(host, 5000), policy: { ...policyForBudget(5000), random: () => 0 } });
    expect(res.status).toBe(404);
    expect(calls).toHaveLength(3);
    expect(calls.every((c) => c.timeoutMs === 2000)).toBe(true);
  });

  it('caps each attempt by what remains of the budget and stops at the deadline', async () => {
    const clock = { now: 0 };
    const { host, calls } = fakeHost(
      [
        async () => {
          clock.now += 900; // the first attempt used most of the budget
          throw new HostError('u', 'no complete answer within 500 ms');
        },
        refused,
      ],
      clock,
    );
    const err = await fetchWithRetry(host, 'http://x/a', { maxBytes: 10 }, { budget: startBudget(host, 1000), policy: { ...policyForBudget(1000), random: () => 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasourceError);
    expect((err as DatasourceError).message).toContain('network budget of 1000 ms');
    // 100 ms were left: after a 50 ms backoff one more attempt gets those 100 ms;
    // the next backoff (100 ms) would eat the rest, so it stops there.
    expect(calls.map((c) => c.timeoutMs)).toEqual([500, 100]);
  });

  it('does not retry an answer that is too large', async () => {
    const clock = { now: 0 };
    const { host, calls } = fakeHost([() => Promise.reject(new LimitError('u', 'too large')), ok()], clock);
    const err = await fetchWithRetry(host, 'http://x/a', { maxBytes: 10 }, { budget: startBudget(host, 1000), policy: policyForBudget(1000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasourceError);
    expect((err as DatasourceError).cause).toBeInstanceOf(LimitError);
    expect(calls).toHaveLength(1);
  });
});

describe('response checks', () => {
  const res = (body: string, type = 'text/plain'): HttpResponse => ({ status: 200, headers: { 'content-type': type }, body: Buffer.from(body), url: 'http://x/k' });
  it('spots HTML by type or first tag, and keeps plain text', () => {
    expect(looksLikeHtml(res('i-123', 'text/html'))).toBe(true);
    expect(looksLikeHtml(res('  <!DOCTYPE html><html></html>'))).toBe(true);
    expect(looksLikeHtml(res('<html lang="en">'))).toBe(true);
    expect(looksLikeHtml(res('ssh-ed25519 AAAA <user@host>'))).toBe(false);
    expect(textBody(res('i-123\n'))).toBe('i-123\n');
    expect(() => textBody({ ...res(''), body: Buffer.from([0xc3, 0x28]) })).toThrow(/not valid UTF-8/);
  });
});

describe('createLimiter', () => {
  it('never runs more than its width at once, and runs everything', async () => {
    const limit = createLimiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 2 + (i % 4)));
          active--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

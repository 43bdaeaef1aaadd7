// HTTP with retries inside a hard budget. Connection errors, timeouts, 5xx and
// 429 are retried with jittered exponential backoff; any other status is the
// caller's to interpret (404 often means "absent"). No attempt outlives the
// budget, and no sleep runs into it: the whole exchange ends by the deadline.
import { DatasourceError, LimitError } from '../errors';
import type { Host, HttpRequest, HttpResponse } from '../host/host';
import type { Logger } from '../log/logger';
import type { Budget } from './budget';

export interface RetryPolicy {
  /** Attempts at most, the first one included. */
  readonly attempts: number;
  /** Delay before the first retry; doubled for each further retry. */
  readonly baseDelayMs: number;
  /** Ceiling of one delay, before jitter. */
  readonly maxDelayMs: number;
  /** Longest single attempt (connect, headers and body); also capped by what remains of the budget. */
  readonly requestTimeoutMs: number;
  /** An attempt that would get less time than this is not started: it could not succeed. */
  readonly minAttemptMs: number;
  /** Source of jitter in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/**
 * The policy for a network budget: up to 5 attempts, delays of 100, 200, 400,
 * 800 ms (capped at 1 s) with equal jitter, each attempt limited to half the
 * budget (between 200 ms and 2 s) so one stalled connection leaves time for a
 * second try.
 */
export function policyForBudget(budgetMs: number): RetryPolicy {
  return {
    attempts: 5,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    requestTimeoutMs: Math.min(2000, Math.max(200, Math.floor(budgetMs / 2))),
    minAttemptMs: 50,
  };
}

/**
 * Delay before retry number `retry` (1 = the first retry): base·2^(retry−1),
 * capped, then "equal jitter" — half of it fixed, half random — so many
 * guests booting together do not retry in lockstep, yet each still backs off.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = policy.random ?? Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/** Server-side trouble worth another try: 5xx, and 429 (the service throttles bursts). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

export function sleep(ms: number): Promise<void> {
  // Node's timers run on a monotonic clock, so a wall-clock step cannot stretch this.
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export interface RetryOptions {
  readonly budget: Budget;
  readonly policy: RetryPolicy;
  readonly log?: Logger;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One request with retries. Resolves with the first answer that is not a
 * retryable status (whatever it is); throws DatasourceError naming the URL
 * when the attempts or the budget run out, or when the answer is too large.
 */
export async function fetchWithRetry(host: Host, url: string, req: Omit<HttpRequest, 'timeoutMs'>, opts: RetryOptions): Promise<HttpResponse> {
  const { budget, policy, log } = opts;
  let last = '';
  let lastErr: unknown;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    const remaining = budget.remainingMs();
    if (remaining < policy.minAttemptMs) break;
    const timeoutMs = Math.min(policy.requestTimeoutMs, remaining);
    try {
      const res = await host.fetch(url, { ...req, timeoutMs });
      if (!isRetryableStatus(res.status)) return res;
      last = `HTTP ${res.status}`;
      lastErr = undefined;
    } catch (err) {
      // An oversized answer will be as large next time: not worth a retry.
      if (err instanceof LimitError) throw new DatasourceError(url, `answer is larger than the limit of ${req.maxBytes} bytes`, { cause: err });
      last = reasonOf(err);
      lastErr = err;
    }
    if (attempt === policy.attempts) break;
    const delay = backoffDelayMs(attempt, policy);
    // Sleeping into the deadline would only delay the same failure.
    if (budget.remainingMs() - delay < policy.minAttemptMs) break;
    log?.debug(`${req.method ?? 'GET'} ${url}: ${last}; retry ${attempt} in ${delay} ms`);
    await sleep(delay);
  }
  const spent = Math.round(budget.elapsedMs());
  const what = last === '' ? 'not attempted' : `last error: ${last}`;
  throw new DatasourceError(url, `no usable answer within the network budget of ${budget.totalMs} ms (${spent} ms spent; ${what})`, lastErr !== undefined ? { cause: lastErr } : {});
}

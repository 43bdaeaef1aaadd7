// A small concurrency limiter: metadata services throttle bursts (EC2 answers
// 429 past a packet rate), so independent requests run in parallel but never
// more than a handful at once.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(max: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  // A finished task hands its slot straight to the next waiter, so a caller
  // arriving in between cannot slip past the limit.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}

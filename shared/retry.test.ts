import { backoffDelay, CircuitBreaker, DeadlineError, withDeadline, withRetry } from './retry.js';

describe('backoff and circuit breaker', () => {
  test('backoff ceilings double up to the cap, with full jitter', () => {
    expect([0, 1, 2, 10].map((a) => backoffDelay(a, { baseMs: 100, capMs: 1000 }, () => 0.999))).toEqual([99, 199, 399, 999]);
    expect(backoffDelay(5, { baseMs: 100, capMs: 1000 }, () => 0)).toBe(0);
  });

  test('opens after the threshold of consecutive failures, closes on the first success, once each', () => {
    let t = 1000;
    const changes: Array<[boolean, number | undefined]> = [];
    const b = new CircuitBreaker(3, (open, info) => changes.push([open, info.downMs]), () => t);
    b.failure(new Error('1'));
    b.failure(new Error('2'));
    b.success(); // resets the count
    b.failure(new Error('1'));
    b.failure(new Error('2'));
    expect(b.isOpen).toBe(false);
    b.failure(new Error('3'));
    b.failure(new Error('4'));
    expect(b.isOpen).toBe(true);
    t += 60_000;
    b.success();
    b.success();
    expect(b.isOpen).toBe(false);
    expect(changes).toEqual([[true, undefined], [false, 60_000]]);
  });
});

test('withRetry runs afterSleep between attempts (the runner heartbeats there), not after the last', async () => {
  const events: string[] = [];
  let n = 0;
  const result = await withRetry(
    async () => {
      events.push(`try ${++n}`);
      if (n < 3) throw new Error('busy');
      return 'done';
    },
    { retryable: () => true, policy: { baseMs: 1, capMs: 1 }, onRetry: (_e, attempt) => events.push(`retry ${attempt}`), afterSleep: async () => void events.push('heartbeat') },
  );
  expect(result).toBe('done');
  expect(events).toEqual(['try 1', 'retry 1', 'heartbeat', 'try 2', 'retry 2', 'heartbeat', 'try 3']);
});

test('withRetry: delayOf sets the wait of an error that says it, instead of the backoff', async () => {
  const waits: number[] = [];
  let n = 0;
  const r = await withRetry(async () => (++n < 3 ? Promise.reject(new Error(`not yet ${n}`)) : 'done'), {
    retryable: () => true,
    delayOf: (err) => (String(err).includes('not yet 1') ? 5 : undefined),
    policy: { baseMs: 1, capMs: 1 },
    onRetry: (_e, _a, d) => waits.push(d),
  });
  expect(r).toBe('done');
  expect(waits[0]).toBe(5);
  expect(waits[1]).toBeLessThanOrEqual(1);
});

describe('withDeadline', () => {
  it('returns the work when it finishes in time, and ticks while waiting', async () => {
    let ticks = 0;
    const work = new Promise<string>((resolve) => setTimeout(() => resolve('done'), 60));
    await expect(withDeadline(work, 1_000, 'step', { fn: async () => void ticks++, everyMs: 10 })).resolves.toBe('done');
    expect(ticks).toBeGreaterThan(0);
    const after = ticks;
    await new Promise((r) => setTimeout(r, 40));
    expect(ticks).toBe(after); // the ticker stopped with the work
  });

  it('gives up with a DeadlineError naming the step; a late failure of the work is not unhandled', async () => {
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 50));
    const err = await withDeadline(late, 10, 'transaction commit').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as Error).message).toBe('transaction commit did not finish within 10 ms');
    await new Promise((r) => setTimeout(r, 80)); // jest fails the test on an unhandled rejection
  });

  it("passes the work's own error through", async () => {
    await expect(withDeadline(Promise.reject(new Error('refused')), 1_000, 'step')).rejects.toThrow('refused');
  });
});

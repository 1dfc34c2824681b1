/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
 * And Jitter"): delay = random(0, min(cap, base * 2^attempt)). Every retry loop of the
 * runners goes through `withRetry` below (shared/runner/consumer-loop.ts `retrying`).
 */
export interface BackoffPolicy {
  /** First delay ceiling, ms. */
  baseMs: number;
  /** Largest delay ceiling, ms. */
  capMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 200, capMs: 30_000 };

export function backoffDelay(attempt: number, policy: BackoffPolicy = defaultBackoff, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The one retry policy: run `op` until it succeeds, retrying errors for which
 * `retryable(err)` is true with full-jitter backoff. Stops retrying (re-throws the last
 * error) when `signal` aborts or after `maxAttempts`. `onRetry` sees each retry before its
 * sleep (attempt counts from 1); `afterSleep` runs after it (the runner's heartbeat).
 */
export async function withRetry<T>(
  op: () => Promise<T>,
  opts: {
    retryable: (err: unknown) => boolean;
    policy?: BackoffPolicy;
    signal?: AbortSignal;
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
    afterSleep?: () => Promise<void>;
    maxAttempts?: number;
    /** The wait before retrying `err`, when the error says it (a DeferredError's time); undefined: the backoff. */
    delayOf?: (err: unknown) => number | undefined;
  },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const last = opts.maxAttempts !== undefined && attempt + 1 >= opts.maxAttempts;
      if (!opts.retryable(err) || opts.signal?.aborted || last) throw err;
      const delay = opts.delayOf?.(err) ?? backoffDelay(attempt, opts.policy);
      opts.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, opts.signal);
      if (opts.afterSleep) await opts.afterSleep().catch(() => undefined);
    }
  }
}

/**
 * A circuit breaker over one destination: opens after `threshold` consecutive failures,
 * closes on the first success. It does not schedule retries itself: the caller keeps
 * probing with backoff and reports each outcome. `onChange` fires once per transition.
 * Kept instead of a policy library (cockatiel, opossum): those reject calls while open
 * and probe on their own timer, while the sink must keep probing in its retry loop (the
 * batch is held, not failed) and only needs the state for its metric and logs.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;

  constructor(
    private readonly threshold: number,
    private readonly onChange: (open: boolean, info: { failures: number; error?: unknown; downMs?: number }) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  success(): void {
    this.failures = 0;
    if (this.openedAt === undefined) return;
    const downMs = this.now() - this.openedAt;
    this.openedAt = undefined;
    this.onChange(false, { failures: 0, downMs });
  }

  failure(error: unknown): void {
    this.failures++;
    if (this.openedAt !== undefined || this.failures < this.threshold) return;
    this.openedAt = this.now();
    this.onChange(true, { failures: this.failures, error });
  }
}

/** A step given up by `withDeadline`: it may still complete in the background. */
export class DeadlineError extends Error {
  constructor(what: string, readonly ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * `work`, or a DeadlineError once `ms` pass, whichever comes first. The work itself is
 * not cancelled (a promise cannot be): the caller must make a late outcome harmless
 * (the runner drops and fences the producer that ran it). `tick`, when given, runs every
 * `tickMs` while waiting (the runner's consumer heartbeat).
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string, tick?: { fn: () => Promise<void>; everyMs: number }): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  if (tick) ticker = setInterval(() => void tick.fn().catch(() => undefined), tick.everyMs);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    if (ticker) clearInterval(ticker);
  }
}

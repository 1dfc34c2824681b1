/**
 * Tenants (sluice.yaml `tenants:`): which tenants are accepted, and how fast each may
 * send. Pure (the clock is passed in); the collector applies it (services/collector/
 * stages.ts), so a noisy tenant cannot starve the others downstream.
 *
 * - `allow`: the tenants accepted (the `tenant` Kafka header, or the collector's default
 *   tenant), checked on every raw line (`admitTenant`). Absent: every tenant. A line of
 *   another tenant is dead-lettered with SLUICE_ERR_TENANT_NOT_ALLOWED.
 * - `limits`: a token bucket per tenant, in records and/or bytes per second, refilled
 *   continuously, holding at most `burst_seconds` of its rate (default 1 s), taken by
 *   every event the collector emits (`admitRate`). `default` applies to every tenant
 *   without its own entry under `tenants`. An event over its tenant's limit is, by
 *   `over_limit`:
 *   - `delay` (default): slowed, never lost. It reserves the next free slot of the
 *     bucket (the bucket goes into debt), and is written to the delay topic with that
 *     slot's time; the collector releases it to logs.collected at that time. So a tenant
 *     over its limit flows at exactly its rate, in order, while the others are not
 *     held. A slot more than `max_delay_seconds` (default 600) away is not reserved:
 *     the event is dead-lettered with SLUICE_ERR_TENANT_RATE_LIMITED (a bound on the
 *     delay topic's backlog; replayable later with `sluice dlq replay`).
 *   - `dead-letter`: dead-lettered with SLUICE_ERR_TENANT_RATE_LIMITED at once.
 * - quotas `records_per_day` / `bytes_per_day` (same places): counted per UTC day, reset
 *   at 00:00 UTC; an event beyond them is dead-lettered with
 *   SLUICE_ERR_TENANT_QUOTA_EXCEEDED (a day's wait is no delay: replay it the next day
 *   with `sluice dlq replay --code TENANT_QUOTA_EXCEEDED`). Checked before the rate limit;
 *   delayed events count when they are delayed.
 *
 * Limits and quotas hold per collector process (each keeps its own buckets and day
 * counts, in memory: debts and the day's counts are forgotten at a restart, the delayed
 * events keep their slots): with N instances a tenant may send up to N times its limit.
 */

export interface TenantLimit {
  records_per_second?: number;
  bytes_per_second?: number;
  burst_seconds?: number;
  /** What happens to an event over the limit: `delay` (default) or `dead-letter`. */
  over_limit?: 'delay' | 'dead-letter';
  /** Longest delay, s (default 600): an event that would wait longer is dead-lettered. */
  max_delay_seconds?: number;
  /** Quotas per UTC day (reset at 00:00 UTC): events beyond them are dead-lettered. */
  records_per_day?: number;
  bytes_per_day?: number;
}

export interface TenantsConfig {
  allow?: readonly string[];
  limits?: { default?: TenantLimit; tenants?: Readonly<Record<string, TenantLimit>> };
}

export type TenantRefusal = { ok: false; code: 'SLUICE_ERR_TENANT_NOT_ALLOWED' | 'SLUICE_ERR_TENANT_RATE_LIMITED' | 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED'; reason: string };
export type TenantDecision = { ok: true } | TenantRefusal;
/** `admitRate`: pass, wait until `notBeforeMs` (a slot reserved for it), or refuse. */
export type RateDecision = TenantDecision | { ok: 'delay'; notBeforeMs: number };

export const DEFAULT_MAX_DELAY_SECONDS = 600;

class Bucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }
  /** Refill to `now`; whether `n` tokens are there (they are not taken yet). */
  has(n: number, now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
    return this.tokens >= n || (this.tokens >= this.capacity && n > this.capacity); // one record larger than the bucket passes when it is full
  }
  take(n: number): void {
    this.tokens -= n;
  }
  /** Ms (fractional) from the last refill until `n` tokens are there (0: now). */
  waitFor(n: number): number {
    const need = Math.min(n, this.capacity) - this.tokens;
    return need <= 0 ? 0 : (need / this.rate) * 1000;
  }
}

/** Most tenants with buckets held; beyond it the least recently seen is forgotten (it starts full again). */
const MAX_TENANTS = 10_000;

export class TenantPolicy {
  private readonly allow: ReadonlySet<string> | null;
  private readonly buckets = new Map<string, { records?: Bucket; bytes?: Bucket; day?: { day: number; records: number; bytes: number } }>();

  constructor(private readonly config: TenantsConfig = {}) {
    this.allow = config.allow ? new Set(config.allow) : null;
  }

  /** Whether this policy does anything (no allow-list, no limits: every line passes). */
  get active(): boolean {
    return this.allow !== null || this.config.limits !== undefined;
  }

  private limitOf(tenant: string): TenantLimit | undefined {
    return this.config.limits?.tenants?.[tenant] ?? this.config.limits?.default;
  }

  private bucketsOf(tenant: string, now: number): { records?: Bucket; bytes?: Bucket; day?: { day: number; records: number; bytes: number } } {
    let b = this.buckets.get(tenant);
    if (b) {
      this.buckets.delete(tenant); // re-inserted: Map order is recency
      this.buckets.set(tenant, b);
      return b;
    }
    const l = this.limitOf(tenant) ?? {};
    const burst = l.burst_seconds ?? 1;
    b = {};
    if (l.records_per_second !== undefined) b.records = new Bucket(l.records_per_second, Math.max(1, l.records_per_second * burst), now);
    if (l.bytes_per_second !== undefined) b.bytes = new Bucket(l.bytes_per_second, Math.max(1, l.bytes_per_second * burst), now);
    if (this.buckets.size >= MAX_TENANTS) this.buckets.delete(this.buckets.keys().next().value as string);
    this.buckets.set(tenant, b);
    return b;
  }

  /** The allow-list: whether a line of `tenant` is accepted at all. */
  admitTenant(tenant: string): TenantDecision {
    if (this.allow && !this.allow.has(tenant)) return { ok: false, code: 'SLUICE_ERR_TENANT_NOT_ALLOWED', reason: `tenant ${JSON.stringify(tenant)} is not in tenants.allow` };
    return { ok: true };
  }

  /** Whether rate limits are configured (`admitRate` can say anything but ok). */
  get limited(): boolean {
    return this.config.limits !== undefined;
  }

  /**
   * The rate limit for one event of `bytes` bytes of `tenant` at `nowMs`: ok (its tokens
   * are taken), delay (over the limit: the next free slot is reserved for it, the bucket
   * owing its tokens), or refused (over the limit with `over_limit: dead-letter`, or the
   * slot further than `max_delay_seconds` away: nothing is taken).
   */
  admitRate(tenant: string, bytes: number, nowMs: number): RateDecision {
    if (!this.config.limits) return { ok: true };
    const b = this.bucketsOf(tenant, nowMs);
    const l = this.limitOf(tenant) ?? {};
    if (l.records_per_day !== undefined || l.bytes_per_day !== undefined) {
      const day = Math.floor(nowMs / 86_400_000);
      if (b.day?.day !== day) b.day = { day, records: 0, bytes: 0 };
      const over = l.records_per_day !== undefined && b.day.records + 1 > l.records_per_day ? `${l.records_per_day} records` : l.bytes_per_day !== undefined && b.day.bytes + bytes > l.bytes_per_day ? `${l.bytes_per_day} bytes` : null;
      if (over) return { ok: false, code: 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED', reason: `tenant ${JSON.stringify(tenant)} is over its quota of ${over} per day (UTC ${new Date(day * 86_400_000).toISOString().slice(0, 10)})` };
    }
    const decision = this.bucketDecision(tenant, b, l, bytes, nowMs);
    if (decision.ok !== false && b.day) {
      b.day.records += 1;
      b.day.bytes += bytes;
    }
    return decision;
  }

  private bucketDecision(tenant: string, b: { records?: Bucket; bytes?: Bucket }, l: TenantLimit, bytes: number, nowMs: number): RateDecision {
    const recordsOk = b.records?.has(1, nowMs) ?? true;
    const bytesOk = b.bytes?.has(bytes, nowMs) ?? true;
    if (recordsOk && bytesOk) {
      b.records?.take(1);
      b.bytes?.take(bytes);
      return { ok: true };
    }
    const what = !recordsOk ? `${l.records_per_second} records/s` : `${l.bytes_per_second} bytes/s`;
    const refused: TenantRefusal = { ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED', reason: `tenant ${JSON.stringify(tenant)} is over its limit of ${what}` };
    if (l.over_limit === 'dead-letter') return refused;
    const waitMs = Math.max(b.records?.waitFor(1) ?? 0, b.bytes?.waitFor(bytes) ?? 0);
    const maxMs = (l.max_delay_seconds ?? DEFAULT_MAX_DELAY_SECONDS) * 1000;
    if (waitMs > maxMs) return { ...refused, reason: `${refused.reason}, and its next free slot is ${Math.round(waitMs / 1000)} s away (max_delay_seconds ${maxMs / 1000})` };
    b.records?.take(1);
    b.bytes?.take(bytes);
    // Rounded once, on the absolute time: consecutive slots stay 1/rate apart, whatever the clock between them.
    return { ok: 'delay', notBeforeMs: Math.ceil(nowMs + waitMs) };
  }
}

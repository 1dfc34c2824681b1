/**
 * Tenants (sluice.yaml `tenants:`): which tenants are accepted, and how fast each may
 * send. Pure (the clock is passed in); the collector applies it to every raw line
 * before anything else, so a noisy tenant cannot starve the others downstream.
 *
 * - `allow`: the tenants accepted (the `tenant` Kafka header, or the collector's default
 *   tenant). Absent: every tenant. A line of another tenant is dead-lettered with
 *   SLUICE_ERR_TENANT_NOT_ALLOWED.
 * - `limits`: a token bucket per tenant, in records and/or bytes per second, refilled
 *   continuously, holding at most `burst_seconds` of its rate (default 1 s). `default`
 *   applies to every tenant without its own entry under `tenants`. A line over its
 *   tenant's limit is dead-lettered with SLUICE_ERR_TENANT_RATE_LIMITED: never silently
 *   lost, counted, and replayable later with `sluice dlq replay --code TENANT_RATE_LIMITED`.
 *
 * Limits hold per collector process (each keeps its own buckets): with N instances a
 * tenant may send up to N times its limit.
 */

export interface TenantLimit {
  records_per_second?: number;
  bytes_per_second?: number;
  burst_seconds?: number;
}

export interface TenantsConfig {
  allow?: readonly string[];
  limits?: { default?: TenantLimit; tenants?: Readonly<Record<string, TenantLimit>> };
}

export type TenantDecision = { ok: true } | { ok: false; code: 'SLUICE_ERR_TENANT_NOT_ALLOWED' | 'SLUICE_ERR_TENANT_RATE_LIMITED'; reason: string };

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
}

/** Most tenants with buckets held; beyond it the least recently seen is forgotten (it starts full again). */
const MAX_TENANTS = 10_000;

export class TenantPolicy {
  private readonly allow: ReadonlySet<string> | null;
  private readonly buckets = new Map<string, { records?: Bucket; bytes?: Bucket }>();

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

  private bucketsOf(tenant: string, now: number): { records?: Bucket; bytes?: Bucket } {
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

  /** Admit one line of `bytes` bytes of `tenant` at `nowMs`; a line admitted takes its tokens. */
  admit(tenant: string, bytes: number, nowMs: number): TenantDecision {
    if (this.allow && !this.allow.has(tenant)) return { ok: false, code: 'SLUICE_ERR_TENANT_NOT_ALLOWED', reason: `tenant ${JSON.stringify(tenant)} is not in tenants.allow` };
    if (!this.config.limits) return { ok: true };
    const b = this.bucketsOf(tenant, nowMs);
    const recordsOk = b.records?.has(1, nowMs) ?? true;
    const bytesOk = b.bytes?.has(bytes, nowMs) ?? true;
    if (!recordsOk || !bytesOk) {
      const l = this.limitOf(tenant)!;
      const what = !recordsOk ? `${l.records_per_second} records/s` : `${l.bytes_per_second} bytes/s`;
      return { ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED', reason: `tenant ${JSON.stringify(tenant)} is over its limit of ${what}` };
    }
    b.records?.take(1);
    b.bytes?.take(bytes);
    return { ok: true };
  }
}

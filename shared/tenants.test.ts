import { TenantPolicy, type RateDecision } from './tenants.js';

const ok = (d: RateDecision) => d.ok === true;

describe('TenantPolicy', () => {
  test('no configuration: every line passes', () => {
    const p = new TenantPolicy();
    expect(p.active).toBe(false);
    expect(p.admitTenant('anyone')).toEqual({ ok: true });
    expect(p.admitRate('anyone', 100, 0)).toEqual({ ok: true });
  });

  test('an allow-list refuses other tenants with its code', () => {
    const p = new TenantPolicy({ allow: ['acme'] });
    expect(p.admitTenant('acme').ok).toBe(true);
    expect(p.admitTenant('globex')).toEqual({ ok: false, code: 'SLUICE_ERR_TENANT_NOT_ALLOWED', reason: 'tenant "globex" is not in tenants.allow' });
    expect(p.limited).toBe(false);
  });

  test('records per second with over_limit dead-letter: a burst of the bucket, then the rate; other tenants are not affected', () => {
    const p = new TenantPolicy({ limits: { default: { records_per_second: 10, burst_seconds: 2, over_limit: 'dead-letter' }, tenants: { big: { records_per_second: 1000, over_limit: 'dead-letter' } } } });
    const admitted = (tenant: string, n: number, now: number) => Array.from({ length: n }, () => p.admitRate(tenant, 1, now)).filter(ok).length;
    expect(admitted('noisy', 50, 0)).toBe(20); // 2 s of 10/s
    expect(p.admitRate('noisy', 1, 0)).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED' });
    expect(admitted('noisy', 50, 1000)).toBe(10); // one second later: 10 more
    expect(admitted('quiet', 5, 1000)).toBe(5);
    expect(admitted('big', 1500, 1000)).toBe(1000);
  });

  test('bytes per second, and a line larger than the bucket passes only when it is full', () => {
    const p = new TenantPolicy({ limits: { default: { bytes_per_second: 1000, over_limit: 'dead-letter' } } });
    expect(p.admitRate('t', 600, 0).ok).toBe(true);
    expect(p.admitRate('t', 600, 0)).toMatchObject({ ok: false, reason: 'tenant "t" is over its limit of 1000 bytes/s' });
    expect(p.admitRate('t', 5000, 100).ok).toBe(false); // not full
    expect(p.admitRate('t', 5000, 1000).ok).toBe(true); // full again: one oversized line passes
    expect(p.admitRate('t', 1, 1500).ok).toBe(false); // and the bucket owes its size
  });

  test('delay (the default): events over the limit get consecutive slots at exactly the rate, in order', () => {
    const p = new TenantPolicy({ limits: { default: { records_per_second: 10 } } });
    const decisions = Array.from({ length: 30 }, () => p.admitRate('noisy', 1, 0));
    expect(decisions.slice(0, 10).every(ok)).toBe(true); // the burst (1 s of 10/s)
    const slots = decisions.slice(10).map((d) => (d.ok === 'delay' ? d.notBeforeMs : -1));
    expect(slots).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 100)); // 100 ms apart
    // The debt is paid by time: at 2 s every slot has passed, the bucket is empty, not full.
    expect(p.admitRate('noisy', 1, 2000)).toEqual({ ok: 'delay', notBeforeMs: 2100 });
    expect(p.admitRate('quiet', 1, 0)).toEqual({ ok: true });
  });

  test('a slot beyond max_delay_seconds is refused, and nothing is reserved for it', () => {
    const p = new TenantPolicy({ limits: { default: { records_per_second: 1, burst_seconds: 1, max_delay_seconds: 3 } } });
    expect(p.admitRate('t', 1, 0).ok).toBe(true);
    expect([1, 2, 3].map(() => p.admitRate('t', 1, 0))).toEqual([{ ok: 'delay', notBeforeMs: 1000 }, { ok: 'delay', notBeforeMs: 2000 }, { ok: 'delay', notBeforeMs: 3000 }]);
    const refused = p.admitRate('t', 1, 0);
    expect(refused).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED' });
    expect(refused.ok === false && refused.reason).toMatch(/next free slot is 4 s away \(max_delay_seconds 3\)/);
    expect(p.admitRate('t', 1, 1000)).toEqual({ ok: 'delay', notBeforeMs: 4000 }); // one slot freed by time
  });

  test('a bytes limit delays by the bytes owed', () => {
    const p = new TenantPolicy({ limits: { default: { bytes_per_second: 1000 } } });
    expect(p.admitRate('t', 1000, 0).ok).toBe(true);
    expect(p.admitRate('t', 500, 0)).toEqual({ ok: 'delay', notBeforeMs: 500 });
    expect(p.admitRate('t', 500, 0)).toEqual({ ok: 'delay', notBeforeMs: 1000 });
  });
});

test('slots stay exactly 1/rate apart when the clock moves a fraction of a slot between events', () => {
  const p = new TenantPolicy({ limits: { default: { records_per_second: 3, burst_seconds: 1 } } });
  for (let i = 0; i < 3; i++) p.admitRate('t', 1, 0);
  const slots = [0, 1, 2, 7, 8, 9].map((now) => p.admitRate('t', 1, now)).map((d) => (d.ok === 'delay' ? d.notBeforeMs : NaN));
  // Slot k is ceil((k + 1) * 333.33...) whatever the clock read when it was reserved.
  expect(slots).toEqual([334, 667, 1000, 1334, 1667, 2000]);
});

test('daily quotas: beyond records_per_day or bytes_per_day an event is refused until the next UTC day', () => {
  const day0 = Date.UTC(2026, 11, 3, 23, 59, 0);
  const p = new TenantPolicy({ limits: { default: { records_per_day: 3 }, tenants: { big: { bytes_per_day: 100, records_per_second: 1000 } } } });
  expect([1, 2, 3].map(() => p.admitRate('t', 10, day0).ok)).toEqual([true, true, true]);
  const refused = p.admitRate('t', 10, day0 + 1000);
  expect(refused).toEqual({ ok: false, code: 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED', reason: 'tenant "t" is over its quota of 3 records per day (UTC 2026-12-03)' });
  expect(p.admitRate('t', 10, day0 + 60_000).ok).toBe(true); // 00:00 UTC: a new day
  expect(p.admitRate('big', 60, day0).ok).toBe(true);
  expect(p.admitRate('big', 60, day0)).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED' });
  expect(p.admitRate('big', 40, day0).ok).toBe(true); // exactly the 100 bytes
});

test('a delayed event counts against the quota; a refused one does not', () => {
  const p = new TenantPolicy({ limits: { default: { records_per_second: 1, burst_seconds: 1, records_per_day: 3, max_delay_seconds: 1 } } });
  expect(p.admitRate('t', 1, 0)).toEqual({ ok: true });
  expect(p.admitRate('t', 1, 0)).toEqual({ ok: 'delay', notBeforeMs: 1000 });
  expect(p.admitRate('t', 1, 0)).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED' }); // slot 2 s away > 1 s
  expect(p.admitRate('t', 1, 2000).ok).toBe(true); // the bucket has refilled; the third event of the day
  expect(p.admitRate('t', 1, 10_000)).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED' });
});

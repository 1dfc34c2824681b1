import { TenantPolicy } from './tenants.js';

describe('TenantPolicy', () => {
  test('no configuration: every line passes', () => {
    const p = new TenantPolicy();
    expect(p.active).toBe(false);
    expect(p.admit('anyone', 100, 0)).toEqual({ ok: true });
  });

  test('an allow-list refuses other tenants with its code', () => {
    const p = new TenantPolicy({ allow: ['acme'] });
    expect(p.admit('acme', 10, 0).ok).toBe(true);
    expect(p.admit('globex', 10, 0)).toEqual({ ok: false, code: 'SLUICE_ERR_TENANT_NOT_ALLOWED', reason: 'tenant "globex" is not in tenants.allow' });
  });

  test('records per second: a burst of the bucket, then the rate; other tenants are not affected', () => {
    const p = new TenantPolicy({ limits: { default: { records_per_second: 10, burst_seconds: 2 }, tenants: { big: { records_per_second: 1000 } } } });
    const admitted = (tenant: string, n: number, now: number) => Array.from({ length: n }, () => p.admit(tenant, 1, now)).filter((d) => d.ok).length;
    expect(admitted('noisy', 50, 0)).toBe(20); // 2 s of 10/s
    expect(p.admit('noisy', 1, 0)).toMatchObject({ ok: false, code: 'SLUICE_ERR_TENANT_RATE_LIMITED' });
    expect(admitted('noisy', 50, 1000)).toBe(10); // one second later: 10 more
    expect(admitted('quiet', 5, 1000)).toBe(5);
    expect(admitted('big', 1500, 1000)).toBe(1000);
  });

  test('bytes per second, and a line larger than the bucket passes only when it is full', () => {
    const p = new TenantPolicy({ limits: { default: { bytes_per_second: 1000 } } });
    expect(p.admit('t', 600, 0).ok).toBe(true);
    expect(p.admit('t', 600, 0)).toMatchObject({ ok: false, reason: 'tenant "t" is over its limit of 1000 bytes/s' });
    expect(p.admit('t', 5000, 100).ok).toBe(false); // not full
    expect(p.admit('t', 5000, 1000).ok).toBe(true); // full again: one oversized line passes
    expect(p.admit('t', 1, 1500).ok).toBe(false); // and the bucket owes its size
  });
});

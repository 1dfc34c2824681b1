import { cutoffDay, expiredIndex, expiredKey } from './retention.js';

describe('retention decisions', () => {
  const now = Date.UTC(2026, 11, 10, 15, 0, 0);
  test('the cutoff is the UTC day N days back; days before it expire', () => {
    expect(cutoffDay(now, 7)).toBe('2026-12-03');
    expect(expiredIndex('logs-acme-2026.12.02', ['logs'], '2026-12-03')).toBe(true);
    expect(expiredIndex('logs-acme-2026.12.03', ['logs'], '2026-12-03')).toBe(false);
  });
  test('only <prefix>-<tenant>-YYYY.MM.DD of the given prefixes', () => {
    expect(expiredIndex('logs-2026.01.01', ['logs'], '2026-12-03')).toBe(false); // no tenant
    expect(expiredIndex('other-acme-2026.01.01', ['logs', 'metrics'], '2026-12-03')).toBe(false);
    expect(expiredIndex('metrics-acme-2026.01.01', ['logs', 'metrics'], '2026-12-03')).toBe(true);
    expect(expiredIndex('logs-acme-2026.01.01-restored', ['logs'], '2026-12-03')).toBe(false);
  });
  test('objects by their dt= partition; the intent records never', () => {
    expect(expiredKey('run/logs/tenant=acme/dt=2026-12-02/hour=10/t+0+0+9.parquet', '2026-12-03')).toBe(true);
    expect(expiredKey('run/logs/tenant=acme/dt=2026-12-03/hour=10/t+0+0+9.parquet', '2026-12-03')).toBe(false);
    expect(expiredKey('run/logs/_intents/t+0.json', '2026-12-03')).toBe(false);
  });
});

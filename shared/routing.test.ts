import { logRecord } from './testing/records.js';
import { Router, RouteRuleError, sampledIn } from './routing.js';

describe('Router', () => {
  const router = Router.compile([
    { name: 'no-debug', when: { level: ['debug', 'trace'] }, action: 'drop' },
    { name: 'health', when: { service: 'web', message: { match: '^GET /healthz' } }, action: 'sample', rate: 0.1 },
    { name: 'payments', when: { service: ['payments', 'checkout'] }, action: 'route', index: 'payments' },
    { name: 'vip', when: { 'labels.tier': 'gold' }, action: 'route', index: 'vip' },
  ]);

  test('the first matching rule decides; no match keeps the record', () => {
    expect(router.decide(logRecord({ level: 'DEBUG', service: 'payments' }))).toEqual({ action: 'drop', rule: 'no-debug' });
    expect(router.decide(logRecord({ level: 'INFO', service: 'checkout' }))).toEqual({ action: 'keep', rule: 'payments', index: 'payments' });
    expect(router.decide(logRecord({ level: 'INFO', service: 'api', labels: { tier: 'gold' } }))).toEqual({ action: 'keep', rule: 'vip', index: 'vip' });
    expect(router.decide(logRecord({ level: 'INFO', service: 'api' }))).toEqual({ action: 'keep', rule: null });
    expect(router.indexPrefixes).toEqual(['payments', 'vip']);
  });

  test('a sample keeps about its rate, the same records every time', () => {
    const recs = Array.from({ length: 10_000 }, (_, i) => logRecord({ event_id: `e${i}`, level: 'INFO', service: 'web', message: 'GET /healthz 200' }));
    const kept = recs.filter((r) => router.decide(r).action === 'keep');
    expect(kept.length).toBeGreaterThan(850);
    expect(kept.length).toBeLessThan(1150);
    expect(recs.filter((r) => router.decide(r).action === 'keep').map((r) => r.event_id)).toEqual(kept.map((r) => r.event_id));
    expect(router.decide(logRecord({ level: 'INFO', service: 'web', message: 'POST /orders' })).rule).toBeNull();
  });

  test('sampledIn: 0 keeps none, 1 keeps all', () => {
    expect([sampledIn('x', 0), sampledIn('x', 1)]).toEqual([false, true]);
  });

  test.each([
    [{ name: 'a', when: { colour: 'red' }, action: 'drop' }, 'when.colour: unknown field'],
    [{ name: 'a', when: { message: { match: '(a)\\1' } }, action: 'drop' }, 'when.message.match: uses what cannot run in bounded time'],
    [{ name: 'a', action: 'sample', rate: 2 }, 'rate: a sample needs rate between 0 and 1'],
    [{ name: 'a', action: 'route', index: 'Pay-ments' }, 'index: a route needs index'],
  ] as const)('%j is refused: %s', (rule, problem) => {
    expect(() => Router.compile([rule as never])).toThrow(RouteRuleError);
    expect(() => Router.compile([rule as never])).toThrow(problem);
  });

  test('two rules of one name are refused', () => {
    expect(() => Router.compile([{ name: 'a', action: 'drop' }, { name: 'a', action: 'drop' }])).toThrow('another route has the same name');
  });
});

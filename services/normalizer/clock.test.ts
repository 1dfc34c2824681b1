/** Clock quality: flags against the Kafka timestamp (never the wall clock) and the skew observer. */
import type { RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';
import { Registry } from '../../shared/metrics.js';
import { createNormalizeStage, normalize } from './normalize.js';
import { boundedLabel, clockSkewMetrics, clockSkewObserver, type ClockSkew } from './clock.js';

const INGEST = Date.UTC(2026, 10, 21, 12) * 1000;
const MIN = 60_000_000;
const opts = { outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32, futureHorizonUs: 5 * MIN, pastHorizonUs: 7 * 24 * 60 * MIN };
const ev = (body: string, service: string | null = 'svc'): RawEvent => ({
  event_id: 'E', tenant: 't', observed_at: 2, kafka_timestamp: INGEST, origin: { topic: 'logs.raw', partition: 0, offset: 5, index: 0 },
  format: null, shipper: null, service, host: null, file: null, envelope_time: null, body, flags: [],
});
const at = (offsetUs: number) => JSON.stringify({ time: new Date((INGEST + offsetUs) / 1000).toISOString(), msg: 'x' });
const input = (value: RawEvent): StageInput<RawEvent> => ({ topic: 'logs.collected', partition: 0, offset: '5', timestampMs: INGEST / 1000, key: null, headers: {}, value, raw: Buffer.alloc(0) });
// A wall clock far from the ingest time: the flags must not depend on it.
const ctx = { now: () => Date.UTC(2030, 0, 1) };

describe('clock quality flags', () => {
  test.each([
    ['within both horizons', -4 * MIN, []],
    ['just past the future horizon', 5 * MIN + 1000, ['clock_skew_future']],
    ['exactly at the future horizon', 5 * MIN, []],
    ['older than the past horizon', -8 * 24 * 60 * MIN, ['clock_skew_past']],
    ['six days old', -6 * 24 * 60 * MIN, []],
  ] as const)('%s', (_name, offsetUs, flags) => {
    const r = normalize(ev(at(offsetUs)), opts);
    expect(r.timestamp_source).toBe('event');
    expect(r.timestamp).toBe(INGEST + offsetUs);
    expect(r.flags).toEqual(flags);
  });

  test('a record on ingest time is never flagged', () => {
    const r = normalize(ev('{"msg":"no time"}'), { ...opts, futureHorizonUs: 1, pastHorizonUs: 1 });
    expect(r.timestamp_source).toBe('ingest');
    expect(r.flags).toEqual([]);
  });

  test('a horizon of 0 or unset turns its check off', () => {
    expect(normalize(ev(at(60 * MIN)), { ...opts, futureHorizonUs: 0 }).flags).toEqual([]);
    expect(normalize(ev(at(-365 * 24 * 60 * MIN)), { ...opts, pastHorizonUs: undefined }).flags).toEqual([]);
  });

  test('text formats are checked too, and the flag follows collector flags', () => {
    const r = normalize({ ...ev('2026-11-21 12:10:00,000 INFO [main] a.B - hi'), flags: ['truncated'] }, opts);
    expect(r.flags).toEqual(['truncated', 'clock_skew_future']);
  });
});

describe('clock skew observer', () => {
  test('the stage reports ingest - event per record with an event time, and nothing for ingest-timed ones', () => {
    const seen: ClockSkew[] = [];
    const stage = createNormalizeStage({ ...opts, onClockSkew: (s) => seen.push(s) });
    stage.process(input(ev(at(-90_000_000))), ctx);
    stage.process(input(ev(at(10 * MIN), 'api')), ctx);
    stage.process(input(ev('{"msg":"no time"}')), ctx);
    expect(seen).toEqual([
      { service: 'svc', skewUs: 90_000_000, flag: null },
      { service: 'api', skewUs: -10 * MIN, flag: 'clock_skew_future' },
    ]);
  });

  test('the stage output is the same with and without an observer', () => {
    const plain = createNormalizeStage(opts).process(input(ev(at(10 * MIN))), ctx);
    const observed = createNormalizeStage({ ...opts, onClockSkew: () => undefined }).process(input(ev(at(10 * MIN))), ctx);
    expect(observed).toEqual(plain);
  });

  test('metrics: a gauge per bounded service and a flagged counter by direction', async () => {
    const registry = new Registry({ defaultMetrics: false });
    const metrics = clockSkewMetrics(registry);
    const observe = clockSkewObserver(metrics, 2);
    observe({ service: 'a', skewUs: 1_500_000, flag: null });
    observe({ service: 'b', skewUs: -600_000_000, flag: 'clock_skew_future' });
    observe({ service: 'c', skewUs: 700_000_000_000, flag: 'clock_skew_past' });
    observe({ service: null, skewUs: 2_000_000, flag: null });
    expect(await metrics.skew.get({ service: 'a' })).toBe(1.5);
    expect(await metrics.skew.get({ service: 'b' })).toBe(-600);
    expect(await metrics.skew.get({ service: 'other' })).toBe(700_000);
    expect(await metrics.skew.get({ service: 'unknown' })).toBe(2);
    expect(await metrics.flagged.get({ service: 'b', direction: 'future' })).toBe(1);
    expect(await metrics.flagged.get({ service: 'other', direction: 'past' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('sluice_clock_skew_seconds{service="a"} 1.5');
    expect(text).toContain('sluice_clock_skew_flagged_total{direction="future",service="b"} 1');
  });

  test('boundedLabel admits the first N names and folds the rest into "other"', () => {
    const label = boundedLabel(2);
    expect(['x', 'y', 'z', 'x', '', null].map(label)).toEqual(['x', 'y', 'other', 'x', 'unknown', 'unknown']);
  });
});

/**
 * Golden tests: each testdata/<case>/input.* is one raw Kafka message; it goes through
 * the real collector and normalizer stages with a fixed clock and fixed coordinates,
 * and the LogRecord must equal expected.json (UPDATE_GOLDEN=1 rewrites them).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCollectStage } from '../collector/collect.js';
import { createNormalizeStage, normalize } from './normalize.js';
import { golden, goldenCases } from '../../shared/testing/golden.js';
import type { RawEvent, LogRecord } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const KAFKA_TS = Date.UTC(2026, 10, 21, 11, 59, 59, 500);
const opts = { outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };

function input<T>(value: T, raw: Buffer): StageInput<T> {
  return { topic: 'logs.raw', partition: 1, offset: '100', timestampMs: KAFKA_TS, key: null, headers: { tenant: 'acme' }, value, raw };
}

function run(raw: Buffer): LogRecord {
  const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
  const [collected] = collect.process(input(raw, raw), { now: () => NOW });
  const rawEvent = collected!.value as RawEvent;
  const [normalized] = createNormalizeStage(opts).process(input(rawEvent, raw), { now: () => NOW });
  return normalized!.value as LogRecord;
}

describe('collector + normalizer golden cases', () => {
  const cases = goldenCases(join(here, 'testdata'));
  test('there are cases', () => expect(cases.length).toBeGreaterThanOrEqual(5));
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const actual = run(c.input);
    expect(actual).toEqual(golden(c.dir, actual));
  });
});

describe('normalize', () => {
  const base: RawEvent = {
    event_id: 'E', tenant: 't', observed_at: 2, kafka_timestamp: 1_000_000, origin: { topic: 'logs.raw', partition: 0, offset: 5, index: 0 },
    format: null, shipper: null, service: 'hdr-svc', host: null, file: null, envelope_time: null, body: '', flags: [],
  };

  test('keeps microseconds exactly and converts offsets to UTC', () => {
    const r = normalize({ ...base, body: '{"time":"2026-11-21T10:00:00.999999-05:30","msg":"x"}' }, opts);
    expect(r.timestamp).toBe(Date.UTC(2026, 10, 21, 15, 30, 0) * 1000 + 999_999);
    expect(r.timestamp_source).toBe('event');
  });

  test('falls back to the Kafka timestamp, marked as ingest', () => {
    const r = normalize({ ...base, body: '{"time":"not a time","msg":"x"}' }, opts);
    expect(r.timestamp).toBe(1_000_000);
    expect(r.timestamp_source).toBe('ingest');
    expect(r.attributes).toEqual({});
  });

  test('the service header is the fallback service', () => {
    expect(normalize({ ...base, body: '{"msg":"x"}' }, opts).service).toBe('hdr-svc');
    expect(normalize({ ...base, body: '{"msg":"x","service":"own"}' }, opts).service).toBe('own');
  });

  test('bounds attributes in count and size', () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'v'.repeat(10_000)]));
    const r = normalize({ ...base, body: JSON.stringify(many) }, opts);
    expect(Object.keys(r.attributes)).toHaveLength(128);
    expect(Math.max(...Object.values(r.attributes).map((v) => v.length))).toBe(4096);
    expect(r.flags).toContain('attributes_truncated');
  });

  test('deep nesting is kept as JSON text below the depth limit', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const r = normalize({ ...base, body: JSON.stringify({ msg: 'x', deep }) }, { ...opts, maxJsonDepth: 4 });
    const keys = Object.keys(r.attributes);
    expect(keys).toEqual(['deep.d.d.d']);
    expect(r.attributes['deep.d.d.d']!.startsWith('{"d":')).toBe(true);
  });
});

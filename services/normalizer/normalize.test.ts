/**
 * Golden tests: each testdata/<case>/input.* is one raw Kafka message; it goes through
 * the real collector and normalizer stages with a fixed clock and fixed coordinates,
 * and the LogRecord must equal expected.json (UPDATE_GOLDEN=1 rewrites them). A message
 * the collector splits into several events (one JSON document per line) is compared as
 * the array of their LogRecords; a single event stays one object.
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

function run(raw: Buffer): LogRecord | LogRecord[] {
  const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
  const normalizeStage = createNormalizeStage(opts);
  const records = collect.process(input(raw, raw), { now: () => NOW }).map((collected) => {
    const [normalized] = normalizeStage.process(input(collected.value as RawEvent, raw), { now: () => NOW });
    return normalized!.value as LogRecord;
  });
  return records.length === 1 ? records[0]! : records;
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

describe('trace context and field shapes', () => {
  const base: RawEvent = {
    event_id: 'E', tenant: 't', observed_at: 2, kafka_timestamp: 1_000_000, origin: { topic: 'logs.raw', partition: 0, offset: 5, index: 0 },
    format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body: '', flags: [],
  };
  const run1 = (body: object): LogRecord => normalize({ ...base, body: JSON.stringify(body) }, opts);

  test('B3 never lends a span of another trace', () => {
    const r = run1({ msg: 'x', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' });
    expect([r.trace_id, r.span_id]).toEqual(['4bf92f3577b34da6a3ce929d0e0e4736', null]);
  });
  test('malformed B3 ids stay attributes', () => {
    const r = run1({ msg: 'x', 'X-B3-TraceId': 'nothex', b3: 'abc-def' });
    expect([r.trace_id, r.attributes]).toEqual([null, { 'X-B3-TraceId': 'nothex', b3: 'abc-def' }]);
  });
  test('a path, url or size without method or status is not HTTP and keeps its key', () => {
    const r = run1({ msg: 'loaded', path: '/etc/app.yaml', size: 10 });
    expect([r.http, r.attributes]).toEqual([null, { path: '/etc/app.yaml', size: '10' }]);
  });
  test('a status alone still makes an HTTP event', () => {
    expect(run1({ msg: 'x', status: 503, path: '/a' }).http).toMatchObject({ status: 503, path: '/a' });
  });
  test('a winston-style stack fills the missing type and message', () => {
    expect(run1({ msg: 'x', stack: 'TypeError: bad\n    at f (/a.js:1:1)' }).error).toEqual({ type: 'TypeError', message: 'bad', stack: 'TypeError: bad\n    at f (/a.js:1:1)' });
  });
});

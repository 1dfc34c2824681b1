import { envelopeTime, timeOfDayLine } from './fallbacks.js';
import { instantFromTimeOfDay } from '../../shared/time/layout.js';
import { normalize } from './normalize.js';
import type { RawEvent } from '../../shared/records.js';

const raw = (body: string, envelope_time: string | null, service: string | null = 'ts-order-service'): RawEvent => ({
  event_id: '01J0000000000000000000000', tenant: 't', observed_at: 0, kafka_timestamp: Date.UTC(2026, 10, 21) * 1000,
  origin: { topic: 'logs.raw', partition: 0, offset: 1, index: 0 }, format: null, shipper: 'docker', service, host: null, file: null, envelope_time, body, flags: [],
});
const opts = { outputTopic: 'n', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };

describe('normalizer fallbacks', () => {
  test('a time of day only is placed on the envelope date, in whatever 15-minute zone offset fits', () => {
    // TrainTicket: local time UTC+8, Docker envelope in UTC.
    const r = normalize(raw('16:48:42.424 INFO  t.s.TravelServiceImpl#532 TraceID: 1f2a9d0c3b4e5f60718293a4b5c6d7e8 SpanID: 0a1b2c3d4e5f6071 [queryInfo] done', '2023-01-29T08:48:42.425293566Z'), opts);
    expect(r.timestamp).toBe(Date.UTC(2023, 0, 29, 8, 48, 42, 424) * 1000);
    expect([r.timestamp_source, r.level, r.attributes['logger'], r.source.format]).toEqual(['event', 'INFO', 't.s.TravelServiceImpl#532', 'logback']);
    expect([r.trace_id, r.span_id]).toEqual(['1f2a9d0c3b4e5f60718293a4b5c6d7e8', '0a1b2c3d4e5f6071']);
  });

  test('nearest instant across midnight and for negative offsets', () => {
    const ref = Date.UTC(2024, 0, 1, 0, 0, 1) * 1000; // 00:00:01Z
    expect(instantFromTimeOfDay(((23 * 60 + 59) * 60 + 59) * 1e6, ref)).toBe(Date.UTC(2023, 11, 31, 23, 59, 59) * 1000); // UTC, 2 s before
    expect(instantFromTimeOfDay(((19 * 60) * 60 + 0) * 1e6 + 500_000, ref)).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 500) * 1000); // UTC-5
  });

  test('no time in the body: the envelope time, flagged; text trace context is read', () => {
    const r = normalize(raw('{"message":"charge ok","severity":"info"}', '2022-08-22T05:20:01.123456Z'), opts);
    expect([r.timestamp, r.timestamp_source, r.flags]).toEqual([Date.UTC(2022, 7, 22, 5, 20, 1, 123) * 1000 + 456, 'ingest', ['time_from_envelope']]);
    const noEnvelope = normalize(raw('just text', null), opts);
    expect([noEnvelope.timestamp, noEnvelope.flags]).toEqual([Date.UTC(2026, 10, 21) * 1000, []]);
  });

  test('a logger `name` field does not override the service the header or envelope gave', () => {
    expect(normalize(raw('{"msg":"x","name":"recommendationservice-server"}', null, 'recommendationservice'), opts).service).toBe('recommendationservice');
    expect(normalize(raw('{"msg":"x","name":"my-app"}', null, null), opts).service).toBe('my-app');
    expect(normalize(raw('{"msg":"x","service":"checkout"}', null, 'other'), opts).service).toBe('checkout');
  });

  test('the fallbacks leave parsed times alone', () => {
    const ev = raw('{"time":"2024-01-01T00:00:00Z","msg":"m"}', '2022-08-22T05:20:01Z');
    const r = normalize(ev, opts);
    const before = r.timestamp;
    envelopeTime(ev, r);
    expect(timeOfDayLine(ev, r)).toBe(false);
    expect([r.timestamp, r.flags]).toEqual([before, []]);
  });
});

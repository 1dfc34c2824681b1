/** JSON and logfmt without a well-known time or level key: found by key name, then by value (issue #9), and explained. */
import { normalize, type Explanation } from './normalize.js';
import type { RawEvent } from '../../shared/records.js';

const KAFKA = Date.UTC(2026, 10, 21) * 1000;
const ev = (body: string): RawEvent => ({
  event_id: 'e', tenant: 't', observed_at: 0, kafka_timestamp: KAFKA, origin: { topic: 'logs.raw', partition: 0, offset: 0, index: 0 },
  format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body, flags: [],
});
const opts = { outputTopic: 'n', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };
const read = (body: string) => {
  const ex: Explanation = { reader: '', time: '', level: '' };
  const r = normalize(ev(body), opts, undefined, ex);
  return { time: r.timestamp_source === 'event' ? new Date(r.timestamp / 1000).toISOString() : null, level: r.level, ex, r };
};

describe('time and level by shape', () => {
  test('MongoDB 4.4+ structured logs: nested t.$date and the s severity letter', () => {
    const r = read('{"t":{"$date":"2024-03-01T12:00:00.123+00:00"},"s":"W","c":"NETWORK","msg":"slow query"}');
    expect([r.time, r.level, r.ex.time, r.ex.level]).toEqual(['2024-03-01T12:00:00.123Z', 'WARN', 'field "t.$date" (by its name)', 'field "s" (by its name)']);
  });
  test('a key named like a time holding any catalogue layout', () => {
    expect(read('{"eventTime":"01/Mar/2024:12:00:00 +0100","msg":"x"}').time).toBe('2024-03-01T11:00:00.000Z');
    expect(read('{"created_at":1709294400123,"msg":"x"}').time).toBe('2024-03-01T12:00:00.123Z');
  });
  test('an epoch-looking count is not a time', () => {
    expect(read('{"elapsed_time":12345,"msg":"x"}').time).toBeNull();
  });
  test('any value a layout reads whole, when no key is named like a time', () => {
    const r = read('{"a":"x","b":"Mar 1, 2024 1:00:00 PM","msg":"y"}');
    expect([r.time, r.ex.time]).toEqual(['2024-03-01T13:00:00.000Z', 'field "b" (by its value)']);
  });
  test('a level word in capitals under any key, after keys named like a level', () => {
    expect(read('{"msg":"x","status":"WARN"}').level).toBe('WARN');
    expect(read('{"msg":"x","sev":"error"}').level).toBe('ERROR');
    expect(read('{"msg":"x","status":"ok"}').level).toBe('UNKNOWN');
  });
  test('date and time in two fields (Fortinet, IIS W3C as logfmt)', () => {
    const r = read('date=2024-03-01 time=12:00:00 devname=fw1 level=warning msg="x"');
    expect([r.time, r.level, r.ex.time]).toEqual(['2024-03-01T12:00:00.000Z', 'WARN', 'fields "date" and "time"']);
  });
  test('a time read from date and time fields is not replaced by a later search by shape', () => {
    for (const body of [
      'date=2024-03-01 time=12:00:00 created_at=2020-01-01T00:00:00Z msg=x',
      '{"date":"2024-03-01","time":"12:00:00","created_at":"2020-01-01T00:00:00Z","msg":"x"}',
      '{"date":"2024-03-01","time":"12:00:00","other":"Mar 1, 2020 1:00:00 PM","msg":"x"}',
    ]) {
      const r = read(body);
      expect([r.time, r.ex.time]).toEqual(['2024-03-01T12:00:00.000Z', 'fields "date" and "time"']);
      // The other time-shaped field is not consumed: it stays an attribute, unchanged.
      expect(Object.keys(r.r.attributes).sort()).toEqual([body.includes('other') ? 'other' : 'created_at']);
    }
  });
  test('known keys still win and are explained as such', () => {
    const r = read('{"time":"2024-03-01T12:00:00Z","updated_at":"2020-01-01T00:00:00Z","level":"info","msg":"x"}');
    expect([r.time, r.ex.time, r.ex.level]).toEqual(['2024-03-01T12:00:00.000Z', 'field "time"', 'field "level"']);
    expect(r.r.attributes['updated_at']).toBe('2020-01-01T00:00:00Z');
  });
  test('no time anywhere: the Kafka time, said so', () => {
    const r = read('{"msg":"x"}');
    expect([r.time, r.ex.time]).toEqual([null, 'Kafka timestamp (no time in the body)']);
  });
});

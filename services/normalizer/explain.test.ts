/**
 * Explanations (`sluice parse --explain`, NormalizeOptions.onExplain) are built only when
 * asked for; asking for them must not change a record. Every reader path is run both ways:
 * the golden inputs through the real collector, and bodies for the paths they do not reach.
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCollectStage } from '../collector/collect.js';
import { createNormalizeStage, normalize, type Explanation, type NormalizeOptions } from './normalize.js';
import { goldenCases } from '../../shared/testing/golden.js';
import { compileFormats } from '../../shared/formats/rules.js';
import type { LogRecord, RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const KAFKA = Date.UTC(2026, 10, 21) * 1000;
const opts: NormalizeOptions = { outputTopic: 'n', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };
const formats = compileFormats([
  { name: 'cart', match: { service: 'cart' }, pattern: '%{TIME:time} \\[%{DATA:thread}\\] %{LOGLEVEL:level} +%{JAVACLASS:logger} - %{GREEDYDATA:message}', time: { layout: 'dd.MM.yyyy HH:mm:ss.SSS', zone: 'Europe/Berlin' } },
  { name: 'untimed', match: { service: 'untimed' }, pattern: '%{WORD:kind}: %{GREEDYDATA:message}' },
]);

const input = <T>(value: T): StageInput<T> => ({ topic: 'logs.raw', partition: 1, offset: '100', timestampMs: NOW, key: null, headers: { tenant: 'acme' }, value, raw: Buffer.alloc(0) });
const ev = (body: string, more: Partial<RawEvent> = {}): RawEvent => ({
  event_id: 'e', tenant: 't', observed_at: 0, kafka_timestamp: KAFKA, origin: { topic: 'logs.raw', partition: 0, offset: 0, index: 0 },
  format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body, flags: [], ...more,
});

/** The record without an explanation, the record with one, and the explanation. */
function both(e: RawEvent, o: NormalizeOptions = opts): [LogRecord, LogRecord, Explanation] {
  const ex: Explanation = { reader: '', time: '', level: '' };
  return [normalize(e, o), normalize(e, o, undefined, ex), ex];
}

describe('explanations', () => {
  test('golden inputs: the same records with and without onExplain, each record explained', () => {
    const cases = goldenCases(join(here, 'testdata'));
    expect(cases.length).toBeGreaterThanOrEqual(5);
    for (const c of cases) {
      const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
      const seen: Array<[LogRecord, Explanation]> = [];
      const plain = createNormalizeStage(opts);
      const explained = createNormalizeStage({ ...opts, onExplain: (r, x) => seen.push([r, x]) });
      for (const collected of collect.process(input(c.input), { now: () => NOW })) {
        const [a] = plain.process(input(collected.value as RawEvent), { now: () => NOW });
        const [b] = explained.process(input(collected.value as RawEvent), { now: () => NOW });
        expect([c.name, b?.value]).toEqual([c.name, a?.value]);
        const [record, x] = seen[seen.length - 1]!;
        expect(record).toBe(b?.value);
        expect([c.name, x.reader !== '', x.time !== '', x.level !== '']).toEqual([c.name, true, true, true]);
      }
    }
  });

  test.each([
    ['json, date and time fields', ev('{"date":"2024-03-01","time":"12:00:00","level":"warn","msg":"x"}'), opts, ['json', 'fields "date" and "time"', 'field "level"']],
    ['json, time and level by shape', ev('{"t":{"$date":"2024-03-01T12:00:00Z"},"s":"W","msg":"x"}'), opts, ['json', 'field "t.$date" (by its name)', 'field "s" (by its name)']],
    ['json, Serilog CLEF default level', ev('{"@t":"2024-03-01T12:00:00Z","@mt":"hello {Name}","Name":"x"}'), opts, ['json', 'field "@t"', 'Serilog CLEF default (Information)']],
    ['json, unreadable level', ev('{"time":"2024-03-01T12:00:00Z","level":"chatty","msg":"x"}'), opts, ['json', 'field "time"', 'none found']],
    ['json hint on a text body', ev('Mar  1 12:00:00 host app: hi', { format: 'json' }), opts, ['generic header', 'layout "MMM d HH:mm:ss" at 0-15', 'none found']],
    ['text hint', ev('2024-03-01 12:00:00 INFO x', { format: 'text' }), opts, ['text (format hint)', 'Kafka timestamp (no time in the body)', 'none found']],
    ['JSON too deep', ev(`{"msg":"deep",${'"a":{'.repeat(5_000)}"b":1${'}'.repeat(5_000)}}`), opts, ['text (JSON too deep)', 'Kafka timestamp (no time in the body)', 'none found']],
    ['logfmt', ev('ts=2024-03-01T12:00:00Z level=error msg="boom"'), opts, ['logfmt', 'field "ts"', 'field "level"']],
    ['text format reader', ev('2024-03-01 12:00:00,250 INFO [main] a.B - x'), opts, ['log4j', 'log4j reader', 'log4j reader']],
    ['generic header', ev('[2024-03-01 12:00:00] production.ERROR: x'), { ...opts, readers: 'generic' as const }, ['generic header', 'layout "yyyy-MM-dd HH:mm:ss" at 1-20', 'header token "production.ERROR:"']],
    ['logback time-of-day line', ev('16:48:42.424 INFO  t.s.TravelServiceImpl#532 done', { envelope_time: '2023-01-29T08:48:42.425293566Z' }), opts, ['logback time-of-day line (fallbacks.ts)', 'logback time-of-day line (fallbacks.ts)', 'logback time-of-day line (fallbacks.ts)']],
    ['shipper envelope time', ev('{"message":"charge ok","severity":"info"}', { envelope_time: '2022-08-22T05:20:01.123456Z' }), opts, ['json', 'shipper envelope (no time in the body)', 'field "severity"']],
    ['Kafka time', ev('just text'), opts, ['generic header', 'Kafka timestamp (no time in the body)', 'none found']],
    ['user format with a time', ev('01.03.2024 12:00:00.123 [main] WARN  com.acme.Cart - almost full', { service: 'cart' }), { ...opts, formats }, ['format "cart" (sluice.yaml)', 'format "cart" time layout', 'format "cart" level field']],
    ['user format without a time', ev('audit: 2024-03-01T12:00:00Z user x', { service: 'untimed' }), { ...opts, formats }, ['format "untimed" (sluice.yaml)', 'generic header, layout "yyyy-MM-dd\'T\'HH:mm:ss" (the format has no time)', 'none found']],
  ])('%s: explained, and the same record without an explanation', (_name, e, o, [reader, time, level]) => {
    const [plain, explained, ex] = both(e, o);
    expect(explained).toEqual(plain);
    expect(ex).toEqual({ reader, time, level });
  });
});

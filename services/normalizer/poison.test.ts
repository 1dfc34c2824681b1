/**
 * Poison inputs (issue #3, "Must show") through collect -> normalize, chained as in
 * normalize.test.ts: each becomes a flagged LogRecord or a PermanentError with a clear
 * code, and the SAME two stage instances then turn an ordinary line into the usual
 * record. No timing assertions (CONVENTIONS.md): a quadratic regex shows up as a timeout.
 *
 * Timestamps: a log time the sinks cannot store (year 0, year 9999, a negative or zero
 * epoch, before 1970 or after 2255-06-05) is not used; the record keeps the Kafka time
 * with timestamp_source "ingest", exactly like an unparseable time. No extra flag.
 */
import { createCollectStage } from '../collector/collect.js';
import { createNormalizeStage } from './normalize.js';
import { PermanentError, ErrorCodes } from '../../shared/errors.js';
import type { LogRecord, RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';
import { seededBytes } from '../../shared/testing/seeded.js';
import { compileFormats } from '../../shared/formats/rules.js';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const KAFKA_TS = Date.UTC(2026, 10, 21, 11, 59, 59, 500);
const MAX_EVENT_BYTES = 1_048_576;
const ctx = { now: () => NOW };
const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: MAX_EVENT_BYTES });
const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
let offset = 0;

function input<T>(value: T, raw: Buffer, headers: Record<string, string>): StageInput<T> {
  return { topic: 'logs.raw', partition: 0, offset: String(offset), timestampMs: KAFKA_TS, key: null, headers, value, raw };
}

/** One raw message through both stages; a stage error propagates (the runner dead-letters it). */
function run(raw: Buffer | string, headers: Record<string, string> = {}): LogRecord[] {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  offset++;
  return collect.process(input(bytes, bytes, headers), ctx).flatMap((c) => normalize.process(input(c.value as RawEvent, bytes, headers), ctx).map((n) => n.value as LogRecord));
}

function one(raw: Buffer | string, headers?: Record<string, string>): LogRecord {
  const out = run(raw, headers);
  expect(out).toHaveLength(1);
  return out[0]!;
}


function deepJson(depth: number, leaf = '"leaf"'): string {
  return '{"d":'.repeat(depth) + leaf + '}'.repeat(depth);
}

function expectIngestTime(r: LogRecord): void {
  expect(r.timestamp).toBe(KAFKA_TS * 1000);
  expect(r.timestamp_source).toBe('ingest');
}

afterEach(() => {
  const r = one('{"time":"2026-11-21T10:00:00.123456Z","level":"warn","msg":"still alive","user_id":"u1"}');
  expect(r).toMatchObject({ message: 'still alive', level: 'WARN', timestamp_source: 'event', ids: { user_id: 'u1' }, flags: [] });
  expect(r.timestamp).toBe(Date.UTC(2026, 10, 21, 10) * 1000 + 123_456);
});

describe('collect + normalize poison inputs', () => {
  test('a 5 MiB line becomes one record cut at maxEventBytes, flagged truncated', () => {
    const r = one('x'.repeat(5 * 1_048_576));
    expect(Buffer.byteLength(r.message)).toBe(MAX_EVENT_BYTES);
    expect(r.flags).toEqual(['truncated']);
  });

  // Heads of every text family, then 5 MiB: an unanchored or nested regex would go quadratic.
  test.each([
    ['log4j head', '2026-11-21 12:00:00,000 INFO [main] a.B - ' + 'm '.repeat(2_621_440)],
    ['bracketed ISO head', '[2026-11-21 12:00:00,000] ' + '['.repeat(5_242_880)],
    ['syslog 5424 with endless structured data', '<13>1 2026-11-21T12:00:00Z h app - - ' + '[a b="c"]'.repeat(582_542)],
    ['syslog 3164 head', 'Nov 21 12:00:00 host ' + 'tag'.repeat(1_747_626)],
    ['access log with an unterminated quote', '1.2.3.4 - - [21/Nov/2026:12:00:00 +0000] "GET /' + '\\"'.repeat(2_621_440)],
    ['logfmt with an unterminated quote', 'a=1 b="' + 'v'.repeat(5_242_880)],
    ['klog head', 'I1121 12:00:00.000000 1 f.go:1] "' + 'k=v '.repeat(1_310_720)],
    ['digits', '9'.repeat(5_242_880)],
  ])('a 5 MiB %s completes, bounded and flagged', (_name, line) => {
    const r = one(line);
    expect(Buffer.byteLength(r.message)).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(r.flags).toContain('truncated');
  });

  test('a 5 MiB JSON line cut by the collector is no longer JSON: kept as text, flagged truncated', () => {
    const r = one(JSON.stringify({ msg: 'y'.repeat(5 * 1_048_576), level: 'error' }));
    expect(r.level).toBe('UNKNOWN');
    expect(r.message.startsWith('{"msg":"yyy')).toBe(true);
    expect(r.flags).toEqual(['truncated']);
  });

  test('invalid UTF-8 becomes U+FFFD, flagged invalid_utf8, and the line is still parsed', () => {
    const r = one(Buffer.concat([Buffer.from('{"level":"error","msg":"bad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]));
    expect(r).toMatchObject({ level: 'ERROR', message: 'bad \uFFFD(\uFFFD', flags: ['invalid_utf8'] });
  });

  test('NUL bytes are removed, flagged nul_bytes, and the line is still parsed', () => {
    const r = one('level=info\u0000 msg="with\u0000nul"');
    expect(r).toMatchObject({ level: 'INFO', message: 'withnul', flags: ['nul_bytes'] });
  });

  test('only NUL bytes: dead letter SLUICE_ERR_INPUT_EMPTY', () => {
    let err: unknown;
    try {
      run(Buffer.alloc(16));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(ErrorCodes.inputEmpty);
  });

  test('JSON nested 10,000 deep: no stack overflow out of the stage; kept as text, flagged json_too_deep', () => {
    const line = `{"msg":"deep","level":"error",${deepJson(10_000).slice(1)}`;
    const r = one(line);
    expect(r.message).toBe(line);
    expect(r.level).toBe('UNKNOWN');
    expect(r.attributes).toEqual({});
    expect(r.flags).toEqual(['json_too_deep']);
  });

  test('an array nested 10,000 deep inside an object: the same', () => {
    const line = `{"msg":"deep","a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    expect(one(line).flags).toEqual(['json_too_deep']);
  });

  test('JSON nested 100 deep (below the overflow) is flattened to maxJsonDepth as before', () => {
    const r = one(`{"msg":"m",${deepJson(100).slice(1)}`);
    expect(r.message).toBe('m');
    expect(Object.keys(r.attributes)).toEqual(['d'.repeat(32).split('').join('.')]);
    expect(r.flags).toEqual([]);
  });

  test('a JSON object with 100,000 keys: attributes bounded, flagged attributes_truncated', () => {
    // ~0.9 MB, so it stays under maxEventBytes and reaches the normalizer as JSON.
    const obj = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i.toString(36)}`, 0]));
    const body = JSON.stringify({ msg: 'wide', ...obj });
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_EVENT_BYTES);
    const r = one(body);
    expect(r.message.length).toBe(4); // not toBe('wide'): a failure would print 0.9 MB
    expect(r.message).toBe('wide');
    expect(Object.keys(r.attributes)).toHaveLength(128);
    expect(r.flags).toEqual(['attributes_truncated']);
  });

  test.each([
    ['JSON, year 0', '{"time":"0000-01-01T00:00:00Z","msg":"t"}'],
    ['JSON, year 9999', '{"time":"9999-12-31T23:59:59.999999Z","msg":"t"}'],
    ['JSON, year 1969', '{"time":"1969-12-31T23:59:59Z","msg":"t"}'],
    ['JSON, negative epoch seconds', '{"ts":-1700000000,"msg":"t"}'],
    ['JSON, negative epoch string', '{"ts":"-1700000000","msg":"t"}'],
    ['JSON, zero epoch', '{"ts":0,"msg":"t"}'],
    ['JSON, epoch microseconds past 2255', '{"ts":"99999999999999999","msg":"t"}'],
    ['logfmt, year 9999', 'time=9999-12-31T23:59:59Z level=info msg=t'],
    ['log4j, year 9999', '9999-12-31 23:59:59,999 INFO [main] a.B - t'],
    ['log4j, year 0', '0000-01-01 00:00:00,000 INFO [main] a.B - t'],
    ['syslog 5424, year 9999', '<13>1 9999-12-31T23:59:59Z host app - - - t'],
    ['access log, year 9999', '1.2.3.4 - - [31/Dec/9999:23:59:59 +0000] "GET / HTTP/1.1" 200 1'],
    ['access log, year 0', '1.2.3.4 - - [01/Jan/0000:00:00:00 +0000] "GET / HTTP/1.1" 200 1'],
  ])('%s: the Kafka time, timestamp_source ingest', (_name, line) => {
    const r = one(line);
    expectIngestTime(r);
    expect(r.message).not.toBe(''); // the line itself is still read
  });

  test('the latest storable time is still the event time', () => {
    const r = one('{"time":"2255-06-05T23:47:34.740991Z","msg":"t"}');
    expect(r.timestamp).toBe(Number.MAX_SAFE_INTEGER);
    expect(r.timestamp_source).toBe('event');
  });

  test('binary garbage (fixed seed): records with flags, or dead letters; never another error', () => {
    for (let seed = 1; seed <= 20; seed++) {
      try {
        for (const r of run(seededBytes(seed, 4096))) {
          expect(r.flags).toContain('nul_bytes'); // 4 KiB of random bytes holds a NUL (p > 0.99999)
          expect(r.message).not.toContain('\u0000');
        }
      } catch (err) {
        expect(err).toBeInstanceOf(PermanentError);
      }
    }
  });

  test('binary garbage with a JSON or format hint is flagged format_mismatch', () => {
    for (const format of ['json', 'syslog', 'access']) {
      for (const r of run(seededBytes(42, 1024), { format })) expect(r.flags).toContain('format_mismatch');
    }
  });
});

describe('poison for the generic header reader and user formats (issue #9)', () => {
  const formats = compileFormats([
    { name: 'evil', pattern: '(?<message>(a+)+)$' },
    { name: 'evil-start', pattern: 'x', multiline: { start: '^(a|aa)+$' } },
  ]);
  const withRules = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32, formats });
  const collectWithRules = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: MAX_EVENT_BYTES, formats });
  const runRules = (line: string): LogRecord[] => {
    const bytes = Buffer.from(line);
    offset++;
    return collectWithRules.process(input(bytes, bytes, {}), ctx).flatMap((c) => withRules.process(input(c.value as RawEvent, bytes, {}), ctx).map((n) => n.value as LogRecord));
  };

  test('a catastrophic user pattern on a 1 MiB line does not stall the stage', () => {
    const [r] = runRules('a'.repeat(1_000_000) + '!');
    expect(r?.source.format).toBe('text'); // the pattern cannot match; the line goes on as text
  });
  test('a catastrophic multi-line start on long lines does not stall the collector', () => {
    expect(runRules(`${'a'.repeat(20_000)}!\n${'a'.repeat(20_000)}!`)).toHaveLength(2);
  });
  test('impossible dates are not times: the Kafka time, timestamp_source ingest', () => {
    for (const line of ['2024-02-30 12:00:00 INFO x', '2024-03-01 25:00:00 INFO x', '31/02/2024 10:00:00 x', 'Feb 30 12:00:00 host app: x']) {
      const r = one(line);
      expect([r.timestamp, r.timestamp_source]).toEqual([KAFKA_TS * 1000, 'ingest']);
    }
  });
  test('10,000 digits, a 1 MiB run of separators and 100,000 brackets are read in bounded work', () => {
    expect(one('9'.repeat(10_000)).timestamp_source).toBe('ingest');
    expect(one('[' + '- '.repeat(500_000)).timestamp_source).toBe('ingest');
    expect(one('['.repeat(100_000) + '2024-03-01 12:00:00').timestamp_source).toBe('ingest'); // beyond the 120-character scan
    expect(one('2024-03-01T12:00:00Z ' + '1 '.repeat(500_000)).timestamp).toBe(Date.UTC(2024, 2, 1, 12) * 1000);
  });
});

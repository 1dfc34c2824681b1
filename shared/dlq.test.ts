import avro from 'avsc';
import {
  DeadLetterDecoder, DlqSummary, ReplayTally, WatermarkTracker, formatMicros, formatSummaryTable, matches, normalizeCode, parseSince,
  possiblyTruncated, replayDecision, replayedFrom, replayHeaders, toLine, DLQ_ORIGINAL_LIMIT_BYTES,
} from './dlq.js';
import { deadLetterOf, MAX_DLQ_HEADER_BYTES } from './runner/step.js';
import { PermanentError } from './errors.js';
import { loadSchema } from './schemas.js';
import type { DeadLetter } from './records.js';

const NOW_MS = Date.UTC(2024, 4, 1, 12, 0, 0);

function letter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    stage: 'normalizer', error_code: 'SLUICE_ERR_CODEC_DECODE', message: 'not a Confluent-framed Avro message', original: Buffer.from([0xde, 0xad]),
    origin_topic: 'logs.collected', origin_partition: 1, origin_offset: 42, origin_key: Buffer.from('k'), failed_at: NOW_MS * 1000, event_id: null, origin_headers: null, ...over,
  };
}

describe('parseSince', () => {
  test('durations count back from now, and combine', () => {
    expect(parseSince('1h', NOW_MS)).toBe((NOW_MS - 3_600_000) * 1000);
    expect(parseSince('1h30m', NOW_MS)).toBe((NOW_MS - 5_400_000) * 1000);
    expect(parseSince('90s', NOW_MS)).toBe((NOW_MS - 90_000) * 1000);
    expect(parseSince('2d', NOW_MS)).toBe((NOW_MS - 2 * 86_400_000) * 1000);
    expect(parseSince('250ms', NOW_MS)).toBe((NOW_MS - 250) * 1000);
  });
  test('RFC 3339 keeps microseconds and honours the offset', () => {
    expect(parseSince('2024-05-01T12:00:00Z', 0)).toBe(NOW_MS * 1000);
    expect(parseSince('2024-05-01T12:00:00.123456Z', 0)).toBe(NOW_MS * 1000 + 123_456);
    expect(parseSince('2024-05-01T14:00:00+02:00', 0)).toBe(NOW_MS * 1000);
  });
  test('a zone-less time or nonsense is refused, not guessed', () => {
    expect(() => parseSince('2024-05-01T12:00:00', NOW_MS)).toThrow(/zone/);
    expect(() => parseSince('yesterday', NOW_MS)).toThrow(/--since/);
    expect(() => parseSince('1 h', NOW_MS)).toThrow();
  });
});

test('formatMicros is RFC 3339 UTC with six fraction digits', () => {
  expect(formatMicros(NOW_MS * 1000 + 7)).toBe('2024-05-01T12:00:00.000007Z');
  expect(formatMicros(NOW_MS * 1000 + 123_456)).toBe('2024-05-01T12:00:00.123456Z');
});

test('normalizeCode accepts the short form', () => {
  expect(normalizeCode('codec_decode')).toBe('SLUICE_ERR_CODEC_DECODE');
  expect(normalizeCode('SLUICE_ERR_INPUT_EMPTY')).toBe('SLUICE_ERR_INPUT_EMPTY');
});

test('matches: stages and codes are alternatives, since is a lower bound', () => {
  const l = letter();
  expect(matches(l, { stages: [], codes: [] })).toBe(true);
  expect(matches(l, { stages: ['collector', 'normalizer'], codes: [] })).toBe(true);
  expect(matches(l, { stages: ['collector'], codes: [] })).toBe(false);
  expect(matches(l, { stages: ['normalizer'], codes: ['SLUICE_ERR_INPUT_EMPTY'] })).toBe(false);
  expect(matches(l, { stages: [], codes: [], sinceUs: l.failed_at })).toBe(true);
  expect(matches(l, { stages: [], codes: [], sinceUs: l.failed_at + 1 })).toBe(false);
});

test('summary groups by stage and code with first/last failed_at and the first example', () => {
  const s = new DlqSummary();
  s.add(letter({ failed_at: 3_000_000, message: 'first' }));
  s.add(letter({ failed_at: 1_000_000, message: 'second' }));
  s.add(letter({ stage: 'collector', error_code: 'SLUICE_ERR_INPUT_EMPTY', failed_at: 2_000_000, message: 'empty' }));
  expect(s.total).toBe(3);
  expect(s.list()).toEqual([
    { stage: 'collector', errorCode: 'SLUICE_ERR_INPUT_EMPTY', count: 1, firstFailedAtUs: 2_000_000, lastFailedAtUs: 2_000_000, example: 'empty' },
    { stage: 'normalizer', errorCode: 'SLUICE_ERR_CODEC_DECODE', count: 2, firstFailedAtUs: 1_000_000, lastFailedAtUs: 3_000_000, example: 'first' },
  ]);
  const table = formatSummaryTable(s.list(), 10).split('\n');
  expect(table[0]).toMatch(/^STAGE\s+ERROR_CODE\s+COUNT\s+FIRST_FAILED_AT\s+LAST_FAILED_AT\s+EXAMPLE$/);
  expect(table[2]).toContain('1970-01-01T00:00:01.000000Z');
  expect(table.every((l) => l === l.trimEnd())).toBe(true);
});

test('toLine: origin coordinates, sizes, base64 only when asked', () => {
  const at = { topic: 'logs.dlq', partition: 2, offset: '17' };
  const line = toLine(letter(), at, false);
  expect(line).toMatchObject({ dlq_partition: 2, dlq_offset: '17', origin_topic: 'logs.collected', origin_partition: 1, origin_offset: 42, origin_key_base64: 'aw==', original_size: 2, original_truncated: false });
  expect(line).not.toHaveProperty('original_base64');
  expect(toLine(letter({ origin_key: null }), at, true)).toMatchObject({ origin_key_base64: null, original_base64: '3q0=' });
});

describe('replay decision', () => {
  test('an original at the runner limit may be truncated and is skipped', () => {
    const big = letter({ original: Buffer.alloc(DLQ_ORIGINAL_LIMIT_BYTES) });
    expect(possiblyTruncated(big)).toBe(true);
    expect(possiblyTruncated(letter({ original: Buffer.alloc(DLQ_ORIGINAL_LIMIT_BYTES - 1) }))).toBe(false);
    expect(replayDecision(big, true, 0, undefined)).toEqual({ replay: false, reason: 'truncated' });
  });
  test('missing origin topic and --limit', () => {
    expect(replayDecision(letter(), false, 0, undefined)).toEqual({ replay: false, reason: 'origin-topic-missing' });
    expect(replayDecision(letter(), true, 2, 2)).toEqual({ replay: false, reason: 'limit' });
    expect(replayDecision(letter(), true, 1, 2)).toEqual({ replay: true });
  });
  test('header value and tally', () => {
    expect(replayedFrom({ topic: 'logs.dlq', partition: 0, offset: '5' })).toBe('logs.dlq/0/5');
    const t = new ReplayTally();
    t.countReplayed('logs.raw');
    t.countReplayed('logs.collected', 2);
    t.countSkipped('truncated');
    expect(t.totalReplayed).toBe(3);
    expect(t.report('replayed')).toBe('replayed 2 to logs.collected\nreplayed 1 to logs.raw\nskipped 1 (truncated)');
    expect(new ReplayTally().report('would replay')).toBe('would replay 0');
  });
});

describe('WatermarkTracker', () => {
  test('done once every partition reached the watermark captured at start', () => {
    const t = new WatermarkTracker([{ partition: 0, low: 0, high: 3 }, { partition: 1, low: 5, high: 5 }, { partition: 2, low: 2, high: 4 }]);
    expect(t.done).toBe(false);
    expect(t.partitionDone(1)).toBe(true);
    expect(t.progress()).toEqual({ read: 0, total: 5 });
    expect(t.wants(0, 2)).toBe(true);
    expect(t.wants(0, 3)).toBe(false); // written after the start: not part of this scan
    expect(t.wants(9, 0)).toBe(false);
    t.advance(0, 2);
    t.advance(2, 1); // behind the start: no effect
    expect(t.pending()).toEqual([{ partition: 2, next: 2, high: 4 }]);
    t.advance(2, 3); // e.g. the last offset is a transaction marker
    expect(t.done).toBe(true);
    expect(t.progress()).toEqual({ read: 5, total: 5 });
  });
  test('an empty topic is done at once', () => {
    expect(new WatermarkTracker([]).done).toBe(true);
    expect(new WatermarkTracker([{ partition: 0, low: 7, high: 7 }]).done).toBe(true);
  });
});

describe('DeadLetterDecoder', () => {
  const type = avro.Type.forSchema(loadSchema('DeadLetter') as unknown as avro.Schema);
  const frame = (id: number, body: Buffer) => {
    const h = Buffer.alloc(5);
    h.writeInt32BE(id, 1);
    return Buffer.concat([h, body]);
  };
  test('decodes with the writer schema from the registry, fetched once per id', async () => {
    let fetched = 0;
    const d = new DeadLetterDecoder({ avroType: async () => { fetched++; return type; } });
    const l = letter();
    const payload = frame(7, type.toBuffer(l));
    expect(await d.decode(payload)).toEqual(l);
    await d.decode(payload);
    expect(fetched).toBe(1);
  });
  test('reads an older writer version (fewer fields) through schema resolution', async () => {
    const schema = loadSchema('DeadLetter');
    const older = avro.Type.forSchema({ ...schema, fields: schema.fields.filter((f) => f.name !== 'event_id' && f.name !== 'origin_headers') } as unknown as avro.Schema);
    const { event_id: _omitted, origin_headers: _none, ...rest } = letter();
    const d = new DeadLetterDecoder({ avroType: async () => older });
    expect((await d.decode(frame(3, older.toBuffer(rest)))).event_id).toBeNull();
    const beforeHeaders = avro.Type.forSchema({ ...schema, fields: schema.fields.filter((f) => f.name !== 'origin_headers') } as unknown as avro.Schema);
    expect((await new DeadLetterDecoder({ avroType: async () => beforeHeaders }).decode(frame(4, beforeHeaders.toBuffer(rest)))).origin_headers).toBeNull();
  });
  test('unframed bytes and a non-DeadLetter schema are permanent errors', async () => {
    const d = new DeadLetterDecoder({ avroType: async () => avro.Type.forSchema({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] }) });
    await expect(d.decode(Buffer.from('hello'))).rejects.toMatchObject({ code: 'SLUICE_ERR_CODEC_DECODE', retryable: false });
    await expect(d.decode(frame(9, Buffer.from([2])))).rejects.toMatchObject({ code: 'SLUICE_ERR_CODEC_DECODE', retryable: false });
  });
});

describe('original headers', () => {
  const env = { topic: 'logs.raw', partition: 0, offset: '7', timestampMs: NOW_MS, key: null, headers: { tenant: 'acme', service: 'billing', format: 'json' } };
  test('a dead letter keeps the input headers, and they survive the Avro round trip', () => {
    const l = deadLetterOf('collector', env, Buffer.from('x'), new PermanentError('SLUICE_ERR_INPUT_EMPTY', 'empty'), NOW_MS);
    expect(l.origin_headers).toEqual(env.headers);
    const type = avro.Type.forSchema(loadSchema('DeadLetter') as avro.Schema);
    expect((type.fromBuffer(type.toBuffer(l)) as DeadLetter).origin_headers).toEqual(env.headers);
    expect(deadLetterOf('collector', { ...env, headers: {} }, Buffer.from('x'), new PermanentError('X', 'y'), NOW_MS).origin_headers).toBeNull();
  });
  test('headers beyond MAX_DLQ_HEADER_BYTES are left out', () => {
    const big = { a: 'x'.repeat(MAX_DLQ_HEADER_BYTES - 10), b: 'y'.repeat(100), c: 'z' };
    expect(Object.keys(deadLetterOf('collector', { ...env, headers: big }, Buffer.from('x'), new PermanentError('X', 'y'), NOW_MS).origin_headers!)).toEqual(['a']);
  });
  test('replay restores them and names the dead letter (replacing an older replay header)', () => {
    const at = { topic: 'logs.dlq', partition: 2, offset: '9' };
    expect(replayHeaders({ origin_headers: { tenant: 'acme', 'sluice-replayed-from': 'logs.dlq/0/1' } }, at)).toEqual({ tenant: 'acme', 'sluice-replayed-from': 'logs.dlq/2/9' });
    expect(replayHeaders({ origin_headers: null }, at)).toEqual({ 'sluice-replayed-from': 'logs.dlq/2/9' });
    expect(toLine(letter({ origin_headers: { tenant: 'acme' } }), at, false).origin_headers).toEqual({ tenant: 'acme' });
  });
});

/**
 * Poison inputs (issue #3, "Must show") against the collector stage: each becomes a
 * flagged event or a PermanentError with a clear code, and the SAME stage instance then
 * collects an ordinary line as usual. No timing assertions (CONVENTIONS.md): a 5 MiB
 * line that hit a quadratic regex would show up as a test timeout, not a failed number.
 */
import { createCollectStage } from './collect.js';
import { PermanentError, ErrorCodes } from '../../shared/errors.js';
import type { RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';
import { seededBytes } from '../../shared/testing/seeded.js';

const MAX_EVENT_BYTES = 1_048_576;
const FIVE_MIB = 5 * 1_048_576;
const stage = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: MAX_EVENT_BYTES });
const ctx = { now: () => 1_700_000_000_000 };
let offset = 0;

function collect(value: Buffer): RawEvent[] {
  const input: StageInput<Buffer> = { topic: 'logs.raw', partition: 0, offset: String(offset++), timestampMs: 1_699_999_999_000, key: null, headers: {}, value, raw: value };
  return stage.process(input, ctx).map((o) => o.value as RawEvent);
}


function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function deepJson(depth: number, leaf = '"leaf"'): string {
  return '{"d":'.repeat(depth) + leaf + '}'.repeat(depth);
}

// After every poison case the same stage instance must still collect an ordinary line.
afterEach(() => {
  const [ev, ...rest] = collect(Buffer.from('2026-11-21 12:00:00,000 INFO [main] app.Main - still alive\n'));
  expect(rest).toHaveLength(0);
  expect(ev!.body).toBe('2026-11-21 12:00:00,000 INFO [main] app.Main - still alive');
  expect(ev!.flags).toEqual([]);
});

describe('collector poison inputs', () => {
  test('a 5 MiB line is cut at maxEventBytes and flagged truncated', () => {
    const [ev, ...rest] = collect(Buffer.from('x'.repeat(FIVE_MIB) + '\n'));
    expect(rest).toHaveLength(0);
    expect(Buffer.byteLength(ev!.body)).toBe(MAX_EVENT_BYTES);
    expect(ev!.flags).toEqual(['truncated']);
  });

  test('a 5 MiB line of multi-byte characters is cut at a character boundary', () => {
    const [ev] = collect(Buffer.from('€'.repeat(FIVE_MIB / 3)));
    expect(Buffer.byteLength(ev!.body)).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(ev!.body).toBe('€'.repeat(Math.floor(MAX_EVENT_BYTES / 3)));
    expect(ev!.flags).toEqual(['truncated']);
  });

  // Shapes that make a backtracking regex go quadratic if one is unanchored or nested.
  test.each([
    ['spaces between words', 'a '.repeat(FIVE_MIB / 2)],
    ['one 5 MiB JSON string', JSON.stringify({ msg: 'y'.repeat(FIVE_MIB) })],
    ['an unterminated JSON object', '{"log":"' + 'z'.repeat(FIVE_MIB)],
    ['a CRI prefix then 5 MiB', '2024-01-01T00:00:00.1Z stdout F ' + 'q'.repeat(FIVE_MIB)],
    ['dotted Java-exception look-alike', 'a.'.repeat(FIVE_MIB / 2) + 'Exception'],
    ['tabs (continuation-looking)', 'first\n' + '\t'.repeat(FIVE_MIB) + 'x'],
  ])('a 5 MiB line of %s completes, bounded and flagged', (_name, text) => {
    const events = collect(Buffer.from(text));
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const ev of events) expect(Buffer.byteLength(ev.body)).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(events.some((ev) => ev.flags.includes('truncated'))).toBe(true);
  });

  // GO_FUNC once backtracked quadratically on a long run of '(' (40k chars: 1.8 s); it is
  // now bounded (see multiline.ts). This case would hang the collector without that.
  test('a 5 MiB run of "(" inside a Go goroutine dump completes', () => {
    const events = collect(Buffer.from('panic: x\ngoroutine 1 [running]:\n' + '('.repeat(FIVE_MIB)));
    expect(events.some((ev) => ev.flags.includes('truncated'))).toBe(true);
  });

  test('invalid UTF-8 becomes U+FFFD, flagged invalid_utf8', () => {
    const [ev] = collect(Buffer.from([0x6f, 0x6b, 0x20, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x92, 0x20, 0xff, 0xfe]));
    expect(ev!.body).toBe('ok \uFFFD(\uFFFD\uFFFD \uFFFD\uFFFD');
    expect(ev!.flags).toEqual(['invalid_utf8']);
  });

  test('NUL bytes are removed, flagged nul_bytes', () => {
    const [ev] = collect(Buffer.from('a\u0000b\u0000\u0000c'));
    expect(ev!.body).toBe('abc');
    expect(ev!.flags).toEqual(['nul_bytes']);
  });

  test('a message of only NUL bytes is a dead letter (SLUICE_ERR_INPUT_EMPTY)', () => {
    const err = thrown(() => collect(Buffer.alloc(64)));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(ErrorCodes.inputEmpty);
  });

  test('JSON nested 10,000 deep is kept whole as one bare event', () => {
    const line = deepJson(10_000);
    const [ev, ...rest] = collect(Buffer.from(line));
    expect(rest).toHaveLength(0);
    expect(ev!.body).toBe(line);
    expect(ev!.shipper).toBeNull();
  });

  test('an envelope whose non-string body is nested 10,000 deep does not overflow the stack', () => {
    // Filebeat envelope with an object `message`: bodyOf() re-serialises it.
    const line = `{"@timestamp":"2024-01-01T00:00:00Z","agent":{"type":"filebeat"},"message":${deepJson(10_000)}}`;
    const [ev] = collect(Buffer.from(line));
    expect(ev!.body).toBe(line);
    expect(ev!.shipper).toBeNull();
  });

  test('a pretty-printed JSON document nested 10,000 deep is one event', () => {
    const text = '{\n' + deepJson(10_000).slice(1);
    const events = collect(Buffer.from(text));
    expect(events).toHaveLength(1);
  });

  test('a JSON object with 100,000 keys is one event', () => {
    const obj = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [i.toString(36), 1]));
    const [ev, ...rest] = collect(Buffer.from(JSON.stringify(obj)));
    expect(rest).toHaveLength(0);
    expect(ev!.body).toBe(JSON.stringify(obj));
  });

  test('binary garbage (fixed seed) becomes bounded, flagged events', () => {
    const garbage = seededBytes(0x5eed, 256 * 1024);
    const events = collect(garbage);
    expect(events.length).toBeGreaterThan(1); // it holds 0x0a bytes, so it splits
    expect(events.every((e) => e.flags.includes('nul_bytes'))).toBe(true); // message-wide flag
    expect(events.some((e) => e.flags.includes('invalid_utf8'))).toBe(true);
    for (const e of events) {
      expect(e.body).not.toContain('\u0000');
      expect(e.flags.includes('invalid_utf8')).toBe(e.body.includes('\uFFFD'));
    }
  });
});

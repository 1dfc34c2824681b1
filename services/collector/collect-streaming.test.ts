import { seededRandom } from '../../shared/testing/seeded.js';
import { createStreamingCollectStage, decodeCheckpoint, encodeCheckpoint, streamHash, type StreamingCollectOptions } from './collect.js';
import { compileFormats } from '../../shared/formats/rules.js';
import { PermanentError } from '../../shared/errors.js';
import type { RawEvent } from '../../shared/records.js';
import type { Checkpoint, PartitionStage, StageInput, StageOutput } from '../../shared/stage.js';

const opts = { outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576, multilineTimeoutMs: 1000, maxEventLines: 1000, maxHeldStreams: 128 };
const stage = createStreamingCollectStage(opts);
let clock = 1_700_000_000_000;
const ctx = { now: () => clock };

function msg(offset: number, text: string, key = 'host-a', headers: Record<string, string> = {}): StageInput<Buffer> {
  const value = Buffer.from(text);
  return { topic: 'logs.raw', partition: 3, offset: String(offset), timestampMs: 1_699_999_000_000 + offset, key: Buffer.from(key), headers, value, raw: value };
}
const events = (out: StageOutput[]) => out.map((o) => o.value as RawEvent);
const bodies = (out: StageOutput[]) => events(out).map((e) => e.body);

describe('streaming collector: multi-line events across Kafka messages', () => {
  test('a Java trace sent one line per message is one event, emitted when the next event starts', () => {
    const p = stage.open('logs.raw', 3, null);
    expect(p.process(msg(10, 'ERROR request failed'), ctx)).toEqual([]);
    expect(p.process(msg(11, 'java.lang.IllegalStateException: boom'), ctx)).toEqual([]);
    expect(p.process(msg(12, '\tat com.acme.Api.handle(Api.java:42)'), ctx)).toEqual([]);
    expect(p.process(msg(13, 'Caused by: java.io.IOException: closed'), ctx)).toEqual([]);
    expect(p.held).toBe(1);
    const out = events(p.process(msg(14, 'INFO next request'), ctx));
    expect(out.map((e) => e.body)).toEqual(['ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.acme.Api.handle(Api.java:42)\nCaused by: java.io.IOException: closed']);
    expect(out[0]!.origin).toEqual({ topic: 'logs.raw', partition: 3, offset: 10, index: 0 });
    // While "INFO next request" is held, a restart must resume at offset 14.
    expect(p.checkpoint('15')).toEqual({ offset: '14', metadata: `ml1;1;0:0:${streamHash('||host-a|||||')}` });
  });

  test('a quiet stream is flushed after the timeout, and nothing is held afterwards', () => {
    const p = stage.open('logs.raw', 3, null);
    p.process(msg(1, 'Traceback (most recent call last):'), ctx);
    p.process(msg(2, '  File "app.py", line 3, in <module>'), ctx);
    p.process(msg(3, 'ValueError: bad'), ctx);
    expect(p.flush(ctx)).toEqual([]);
    clock += 1000;
    expect(bodies(p.flush(ctx))).toEqual(['Traceback (most recent call last):\n  File "app.py", line 3, in <module>\nValueError: bad']);
    expect(p.held).toBe(0);
    expect(p.checkpoint('4')).toEqual({ offset: '4', metadata: null });
  });

  test('streams (Kafka keys, envelope streams) never mix', () => {
    const p = stage.open('logs.raw', 3, null);
    p.process(msg(1, 'ERROR a failed', 'host-a'), ctx);
    p.process(msg(2, 'ERROR b failed', 'host-b'), ctx);
    p.process(msg(3, '\tat a.A.run(A.java:1)', 'host-a'), ctx);
    p.process(msg(4, '\tat b.B.run(B.java:1)', 'host-b'), ctx);
    const out = [...p.process(msg(5, 'INFO a ok', 'host-a'), ctx), ...p.process(msg(6, 'INFO b ok', 'host-b'), ctx)];
    expect(bodies(out)).toEqual(['ERROR a failed\n\tat a.A.run(A.java:1)', 'ERROR b failed\n\tat b.B.run(B.java:1)']);
    // CRI stdout and stderr of one file are two streams.
    const q = stage.open('logs.raw', 3, null);
    q.process(msg(1, '2024-01-01T00:00:00.000Z stderr F panic: boom'), ctx);
    q.process(msg(2, '2024-01-01T00:00:00.001Z stdout F INFO unrelated'), ctx);
    q.process(msg(3, '2024-01-01T00:00:00.002Z stderr F '), ctx);
    q.process(msg(4, '2024-01-01T00:00:00.003Z stderr F goroutine 1 [running]:'), ctx);
    clock += 5000;
    expect(bodies(q.flush(ctx)).sort()).toEqual(['INFO unrelated', 'panic: boom\n\ngoroutine 1 [running]:']);
  });

  test('CRI partial lines join across messages without a separator', () => {
    const p = stage.open('logs.raw', 3, null);
    p.process(msg(1, '2024-01-01T00:00:00.000Z stdout P part one, '), ctx);
    p.process(msg(2, '2024-01-01T00:00:00.001Z stdout F part two'), ctx);
    clock += 5000;
    const out = events(p.flush(ctx));
    expect(out.map((e) => [e.body, e.flags])).toEqual([['part one, part two', []]]);
  });

  test('event ids follow the first line: index is its line number in its message', () => {
    const p = stage.open('logs.raw', 3, null);
    const out = events(p.process(msg(7, 'first\nsecond\n\tcontinued\nthird'), ctx));
    expect(out.map((e) => [e.body, e.origin.index])).toEqual([['first', 0], ['second\n\tcontinued', 1]]);
    clock += 5000;
    expect(events(p.flush(ctx)).map((e) => e.origin.index)).toEqual([3]);
  });

  test('an empty message is a dead letter; the partition goes on', () => {
    const p = stage.open('logs.raw', 3, null);
    expect(() => p.process(msg(1, ' \n\n'), ctx)).toThrow(PermanentError);
    p.process(msg(2, 'ERROR held'), ctx);
    // A blank line may join the held event of its stream; zero bytes never do.
    expect(() => p.process(msg(3, ''), ctx)).toThrow(PermanentError);
    p.process(msg(4, 'INFO fine'), ctx);
    clock += 5000;
    expect(bodies(p.flush(ctx))).toEqual(['INFO fine']);
  });

  test('more held streams than allowed: the oldest is emitted early', () => {
    const small = createStreamingCollectStage({ ...opts, maxHeldStreams: 2 });
    const p = small.open('logs.raw', 3, null);
    p.process(msg(1, 'ERROR one', 'k1'), ctx);
    clock += 1;
    p.process(msg(2, 'ERROR two', 'k2'), ctx);
    clock += 1;
    expect(bodies(p.process(msg(3, 'ERROR three', 'k3'), ctx))).toEqual(['ERROR one']);
    expect(p.held).toBe(2);
  });

  test('checkpoint metadata round-trips and rejects garbage', () => {
    const meta = encodeCheckpoint(100n, 130n, [{ offset: 100n, line: 0, stream: 'aaaaaaaaaaaa' }, { offset: 117n, line: 2, stream: '0123456789ab' }]);
    expect(meta).toBe('ml1;30;0:0:aaaaaaaaaaaa,17:2:0123456789ab');
    expect(decodeCheckpoint({ offset: '100', metadata: meta })).toEqual({ until: 130n, streams: new Map([['aaaaaaaaaaaa', { offset: 100n, line: 0 }], ['0123456789ab', { offset: 117n, line: 2 }]]) });
    expect(decodeCheckpoint({ offset: '100', metadata: 'something else' })).toBeNull();
    expect(decodeCheckpoint({ offset: '100', metadata: null })).toBeNull();
  });
});

const prng = seededRandom;

/** Interleaved streams; every line unique, so loss or duplication is visible. */
function workload(seed: number, n: number): StageInput<Buffer>[] {
  const rnd = prng(seed);
  const out: StageInput<Buffer>[] = [];
  for (let i = 0; i < n; i++) {
    const key = `host-${Math.floor(rnd() * 4)}`;
    const lines: string[] = [];
    const count = rnd() < 0.2 ? 2 + Math.floor(rnd() * 3) : 1;
    for (let l = 0; l < count; l++) {
      const r = rnd();
      lines.push(r < 0.45 ? `INFO ${key} event ${i}.${l}` : r < 0.55 ? `java.lang.RuntimeException: ${key} ${i}.${l}` : `\tat ${key}.frame${i}_${l}(X.java:${l})`);
    }
    out.push(msg(1000 + i, lines.join('\n'), key));
  }
  return out;
}

interface Emitted {
  id: string;
  body: string;
}

function linesOf(all: Emitted[]): string[] {
  return all.flatMap((e) => e.body.split('\n')).sort();
}

/**
 * Runs a workload like the runner does: batches, a transaction per batch holding the
 * outputs and the checkpoint; optionally a timer flush after some batches. Crashes
 * after `crashAfterBatch` batches (what was committed stays), then a new owner opens
 * the partition from the committed checkpoint and reads from its offset to the end.
 */
function runWithCrash(input: StageInput<Buffer>[], seed: number, crashAfterBatch: number, timerFlushes: boolean, extra: Partial<StreamingCollectOptions> = {}): { emitted: Emitted[]; resumedFrom: string } {
  const rnd = prng(seed);
  const st = createStreamingCollectStage({ ...opts, maxHeldStreams: 3, ...extra });
  let now = 1_700_000_000_000;
  const c = { now: () => now };
  const committed: Emitted[] = [];
  let checkpoint: Checkpoint | null = null;
  let p: PartitionStage<Buffer> = st.open('logs.raw', 3, null);
  let i = 0;
  let batch = 0;
  const take = (outs: StageOutput[]) => outs.map((o) => ({ id: (o.value as RawEvent).event_id, body: (o.value as RawEvent).body }));
  while (i < input.length && batch < crashAfterBatch) {
    const size = 1 + Math.floor(rnd() * 5);
    const pending: Emitted[] = [];
    for (const m of input.slice(i, i + size)) {
      now += 10;
      pending.push(...take(p.process(m, c)));
    }
    i = Math.min(input.length, i + size);
    committed.push(...pending);
    checkpoint = p.checkpoint(String(1000 + i));
    batch++;
    if (timerFlushes && rnd() < 0.3) {
      now += opts.multilineTimeoutMs;
      committed.push(...take(p.flush(c)));
      checkpoint = p.checkpoint(String(1000 + i));
    }
  }
  // Crash: whatever p still holds is lost with the process. A new owner resumes.
  p = st.open('logs.raw', 3, checkpoint);
  const from = checkpoint ? Number(checkpoint.offset) - 1000 : 0;
  for (const m of input.slice(from)) {
    now += 10;
    committed.push(...take(p.process(m, c)));
  }
  now += 10 * opts.multilineTimeoutMs;
  committed.push(...take(p.flush(c)));
  return { emitted: committed, resumedFrom: checkpoint?.offset ?? 'start' };
}

describe('streaming collector: restarts are exact', () => {
  const input = workload(7, 120);
  const straight = runWithCrash(input, 1, Number.POSITIVE_INFINITY, false).emitted;

  test('the straight run keeps every line exactly once', () => {
    const expected = input.flatMap((m) => m.value.toString().split('\n')).sort();
    expect(linesOf(straight)).toEqual(expected);
    expect(new Set(straight.map((e) => e.id)).size).toBe(straight.length);
    expect(straight.some((e) => e.body.includes('\n'))).toBe(true);
  });

  test.each(Array.from({ length: 40 }, (_, k) => k))('crash after batch %i: the same events, none twice', (k) => {
    const run = runWithCrash(input, 1, k, false);
    expect(run.emitted.map((e) => e.id).sort()).toEqual(straight.map((e) => e.id).sort());
    expect(new Map(run.emitted.map((e) => [e.id, e.body]))).toEqual(new Map(straight.map((e) => [e.id, e.body])));
  });

  test.each(Array.from({ length: 40 }, (_, k) => k))('crash after batch %i with timer flushes: every line once, ids unique', (k) => {
    const run = runWithCrash(input, 2, k, true);
    expect(linesOf(run.emitted)).toEqual(linesOf(straight));
    expect(new Set(run.emitted.map((e) => e.id)).size).toBe(run.emitted.length);
  });
});

/**
 * Like `workload`, but the streams of keys host-0 and host-1 carry the service header
 * `ledger`, whose format starts an event only at a `dd.MM.yyyy ` date: their INFO lines and
 * lines opening with another digit continue the event before them. host-2 and host-3 keep
 * the built-in rules.
 */
function ledgerWorkload(seed: number, n: number): StageInput<Buffer>[] {
  const rnd = prng(seed);
  const out: StageInput<Buffer>[] = [];
  for (let i = 0; i < n; i++) {
    const host = Math.floor(rnd() * 4);
    const key = `host-${host}`;
    const lines: string[] = [];
    const count = rnd() < 0.2 ? 2 + Math.floor(rnd() * 3) : 1;
    for (let l = 0; l < count; l++) {
      const r = rnd();
      lines.push(r < 0.35 ? `21.11.2024 10:00:00 ${key} event ${i}.${l}` : r < 0.6 ? `INFO ${key} detail ${i}.${l}` : r < 0.8 ? `${i % 10} ${key} digit ${i}.${l}` : `\tat ${key}.frame${i}_${l}(X.java:${l})`);
    }
    out.push(msg(1000 + i, lines.join('\n'), key, host < 2 ? { service: 'ledger' } : {}));
  }
  return out;
}

describe('streaming collector: restarts are exact with a user start rule', () => {
  const formats = compileFormats([{ name: 'ledger', match: { service: 'ledger' }, pattern: '%{GREEDYDATA:message}', multiline: { start: '^\\d{2}\\.\\d{2}\\.\\d{4} ' } }]);
  const input = ledgerWorkload(11, 120);
  const straight = runWithCrash(input, 1, Number.POSITIVE_INFINITY, false, { formats }).emitted;

  test('the straight run keeps every line once and merges by the rule of each stream', () => {
    const expected = input.flatMap((m) => m.value.toString().split('\n')).sort();
    expect(linesOf(straight)).toEqual(expected);
    expect(new Set(straight.map((e) => e.id)).size).toBe(straight.length);
    const ledger = straight.filter((e) => /host-[01]/.test(e.body));
    const builtin = straight.filter((e) => /host-[23]/.test(e.body));
    // Under the user rule a ledger event never has a later line opening with the date, and
    // INFO / digit lines do join; the built-in streams never merge INFO or digit lines.
    expect(ledger.every((e) => e.body.split('\n').slice(1).every((l) => !l.startsWith('21.11.2024 ')))).toBe(true);
    expect(ledger.some((e) => e.body.includes('\nINFO '))).toBe(true);
    expect(ledger.some((e) => /\n\d host-/.test(e.body))).toBe(true);
    expect(builtin.some((e) => /\n(INFO|\d)/.test(e.body))).toBe(false);
  });

  test.each(Array.from({ length: 40 }, (_, k) => k))('crash after batch %i: the same events, none twice', (k) => {
    const run = runWithCrash(input, 1, k, false, { formats });
    expect(run.emitted.map((e) => e.id).sort()).toEqual(straight.map((e) => e.id).sort());
    expect(new Map(run.emitted.map((e) => [e.id, e.body]))).toEqual(new Map(straight.map((e) => [e.id, e.body])));
  });

  test.each(Array.from({ length: 40 }, (_, k) => k))('crash after batch %i with timer flushes: every line once, ids unique', (k) => {
    const run = runWithCrash(input, 2, k, true, { formats });
    expect(linesOf(run.emitted)).toEqual(linesOf(straight));
    expect(new Set(run.emitted.map((e) => e.id)).size).toBe(run.emitted.length);
  });
});

/**
 * MemoryRunner: topics, offsets, routing, dead letters, flushes and draining, with
 * small stages written here (the services' own stages run through it in bin/ and in
 * test/conformance.test.ts).
 */
import { MemoryRunner, rawBytes, avro, type AnyStageBinding, type MemoryRecord } from './index.js';
import { dropped, type PartitionStage, type Stage, type StatefulStage } from '../stage.js';
import { ErrorCodes, PermanentError, RetryableError } from '../errors.js';
import type { DeadLetter, LogRecord, RawEvent } from '../records.js';
import type { TopicNames } from '../schemas.js';
import { logRecord, rawEvent } from '../testing/records.js';

const topics: TopicNames = {
  topicCollected: 'c', topicNormalized: 'n', topicEnriched: 'e', topicMetrics: 'm', topicSpans: 's', topicTraces: 't', topicDlq: 'dlq',
};

/** raw -> RawEvent per line; "poison" is a PermanentError, "retry" a RetryableError, "drop" dropped. */
const toRaw: Stage<Buffer> = {
  name: 'to-raw',
  process(input, ctx) {
    const text = input.value.toString('utf8');
    if (text === 'poison') throw new PermanentError(ErrorCodes.inputEmpty, 'poison line');
    if (text === 'retry') throw new RetryableError(ErrorCodes.kafkaProduce, 'server down');
    if (text === 'drop') return dropped('noise');
    return [{ topic: 'c', key: null, value: rawEvent({ body: text, observed_at: ctx.now() * 1000, origin: { topic: input.topic, partition: 0, offset: Number(input.offset), index: 0 } }) }];
  },
};

/** Holds RawEvents in pairs, emitting LogRecords of their bodies; flush emits a lone one once `holdMs` passed since it arrived. */
function pairs(holdMs: number): StatefulStage<RawEvent> {
  return {
    name: 'pairs',
    flushIntervalMs: 100,
    open(): PartitionStage<RawEvent> {
      let held: { ev: RawEvent; at: number } | null = null;
      const out = (ev: RawEvent) => ({ topic: 'n', key: null, value: logRecord({ message: ev.body }) });
      return {
        get held() {
          return held ? 1 : 0;
        },
        process(input, ctx) {
          if (!held) {
            held = { ev: input.value, at: ctx.now() };
            return [];
          }
          const both = [out(held.ev), out(input.value)];
          held = null;
          return both;
        },
        flush(ctx) {
          if (!held || ctx.now() - held.at < holdMs) return [];
          const one = [out(held.ev)];
          held = null;
          return one;
        },
        checkpoint: (next) => ({ offset: next, metadata: null }),
      };
    },
  };
}

const bindings = (holdMs = 1000): AnyStageBinding[] => [
  { name: 'to-raw', groupId: 'g1', inputTopic: 'raw', outputTopics: ['c'], decode: rawBytes, stage: toRaw },
  { name: 'pairs', groupId: 'g2', inputTopic: 'c', outputTopics: ['n'], decode: avro<RawEvent>(), stage: pairs(holdMs) },
];

async function setup(holdMs = 1000, route?: (t: string) => string) {
  let now = 1_000_000;
  const records: MemoryRecord[] = [];
  const runner = await MemoryRunner.create({ bindings: bindings(holdMs), topics, clock: () => now, onRecord: (r) => void records.push(r), route });
  const line = (text: string, topic = 'raw') => runner.produce(topic, { key: null, value: Buffer.from(text) });
  const of = (topic: string) => records.filter((r) => r.topic === topic);
  const bodies = (topic: string) => of(topic).map((r) => runner.decode<LogRecord>(r).message);
  return { runner, records, line, of, bodies, advance: (ms: number) => (now += ms) };
}

describe('MemoryRunner', () => {
  test('records cross stages Avro-encoded, offsets count from 0 per topic, held records wait for the stage', async () => {
    const t = await setup();
    for (const s of ['a', 'b', 'c']) t.line(s);
    t.runner.pump();
    expect(t.of('raw').map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(t.of('c').map((r) => [r.offset, r.value[0]])).toEqual([[0, 0], [1, 0], [2, 0]]); // Confluent framing: magic byte 0
    expect(t.bodies('n')).toEqual(['a', 'b']);
    expect(t.runner.held).toBe(1);
  });

  test('tick() flushes with the clock; drain() lets time pass until nothing is held', async () => {
    const t = await setup(5000);
    t.line('x');
    t.runner.pump();
    t.advance(4000);
    t.runner.tick();
    expect(t.bodies('n')).toEqual([]);
    t.advance(1000);
    t.runner.tick();
    expect(t.bodies('n')).toEqual(['x']);
    t.line('y');
    t.runner.drain();
    expect([t.bodies('n'), t.runner.held]).toEqual([['x', 'y'], 0]);
    // drain() moved the stages' clock, not the caller's.
    expect(t.runner.now()).toBeGreaterThanOrEqual(1_000_000 + 5000 + 5000);
  });

  test('endOfInput flushes only the stages of that topic, as if every timeout had passed', async () => {
    const t = await setup(60_000);
    t.line('p');
    t.runner.pump();
    t.runner.endOfInput('raw');
    expect(t.runner.held).toBe(1); // the raw stage holds nothing; the pair stage reads topic c
    t.runner.endOfInput('c');
    expect([t.bodies('n'), t.runner.held]).toEqual([['p'], 0]);
  });

  test('bad input becomes a dead letter with its code and bytes; the run goes on; a drop is not a dead letter', async () => {
    const t = await setup();
    t.line('poison');
    t.line('drop');
    t.line('ok');
    t.runner.produce('c', { key: 'k', value: Buffer.from('not avro') });
    t.runner.pump();
    const letters = t.of('dlq').map((r) => t.runner.decode<DeadLetter>(r));
    expect(letters.map((d) => [d.stage, d.error_code, d.origin_topic, d.origin_offset, d.original.toString()])).toEqual([
      ['to-raw', ErrorCodes.inputEmpty, 'raw', 0, 'poison'],
      ['pairs', ErrorCodes.decodeAvro, 'c', 0, 'not avro'], // produced before the pump: offset 0 of c
    ]);
    expect(letters[0]!.failed_at).toBe(1_000_000 * 1000);
    expect(t.runner.held).toBe(1); // "ok" waits for its pair
  });

  test('an output its schema refuses dead-letters the input it came from', async () => {
    const badOutput: Stage<Buffer> = { name: 'bad', process: () => [{ topic: 'c', key: null, value: { body: 42 } }] };
    const records: MemoryRecord[] = [];
    const runner = await MemoryRunner.create({ bindings: [{ name: 'bad', groupId: 'g', inputTopic: 'raw', outputTopics: ['c'], decode: rawBytes, stage: badOutput }], topics, clock: () => 0, onRecord: (r) => void records.push(r) });
    runner.produce('raw', { key: null, value: Buffer.from('in') });
    runner.pump();
    const [letter] = records.filter((r) => r.topic === 'dlq').map((r) => runner.decode<DeadLetter>(r));
    expect([letter?.error_code, letter?.original.toString(), records.filter((r) => r.topic === 'c')]).toEqual([ErrorCodes.encodeAvro, 'in', []]);
  });

  test('a retryable error cannot be waited out in memory: it is thrown', async () => {
    const t = await setup();
    t.line('retry');
    expect(() => t.runner.pump()).toThrow(RetryableError);
  });

  test('route: records of other topics are read as the raw topic, each topic its own partition state', async () => {
    const t = await setup(1000, (topic) => (topic.startsWith('file:') ? 'raw' : topic));
    t.line('a1', 'file:a');
    t.line('b1', 'file:b');
    t.runner.pump();
    expect(t.of('c').map((r) => t.runner.decode<RawEvent>(r).origin.topic)).toEqual(['file:a', 'file:b']);
    expect(t.of('file:b').map((r) => r.offset)).toEqual([0]);
  });
});

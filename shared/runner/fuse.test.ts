import { ErrorCodes, PermanentError } from '../errors.js';
import type { DeadLetter, LogRecord, RawEvent } from '../records.js';
import type { TopicNames } from '../schemas.js';
import type { Stage, StatefulStage } from '../stage.js';
import { logRecord, rawEvent } from '../testing/records.js';
import { avro, fuse, MemoryRunner, rawBytes, type MemoryRecord, type StageBinding } from './index.js';

const topics: TopicNames = { topicCollected: 'c', topicNormalized: 'n', topicEnriched: 'e', topicMetrics: 'm', topicSpans: 's', topicTraces: 't', topicDlq: 'dlq' };

/** One RawEvent per line; "skip" writes a record to another topic too. */
const first: StageBinding<Buffer> = {
  name: 'first', groupId: 'g', inputTopic: 'raw', outputTopics: ['c'], decode: rawBytes,
  stage: {
    name: 'first',
    process: (input) => [{ topic: 'c', key: 'k', value: rawEvent({ body: input.value.toString('utf8'), origin: { topic: input.topic, partition: 0, offset: Number(input.offset), index: 0 } }) }],
  },
};

/** RawEvent -> LogRecord; a body "bad" is a PermanentError. */
const secondStage: Stage<RawEvent> = {
  name: 'second',
  process(input) {
    if (input.value.body === 'bad') throw new PermanentError(ErrorCodes.inputEmpty, 'bad body');
    return [{ topic: 'n', key: input.key?.toString() ?? null, value: logRecord({ message: input.value.body.toUpperCase() }) }];
  },
};
const second: StageBinding<RawEvent> = { name: 'second', groupId: 'g2', inputTopic: 'c', outputTopics: ['n'], decode: avro<RawEvent>(), stage: secondStage };

describe('fuse', () => {
  test('the first stage\'s records for the second go straight through it; a failure dead-letters that record\'s input, the rest go on', async () => {
    const records: MemoryRecord[] = [];
    const fused = fuse(first, second);
    expect([fused.name, fused.inputTopic, fused.outputTopics, fused.groupId]).toEqual(['first+second', 'raw', ['n'], 'g']);
    const runner = await MemoryRunner.create({ bindings: [fused], topics, clock: () => 0, onRecord: (r) => void records.push(r) });
    for (const s of ['a', 'bad', 'c']) runner.produce('raw', { key: null, value: Buffer.from(s) });
    runner.pump();
    expect(records.filter((r) => r.topic === 'c')).toEqual([]);
    expect(records.filter((r) => r.topic === 'n').map((r) => [runner.decode<LogRecord>(r).message, r.key?.toString()])).toEqual([['A', 'k'], ['C', 'k']]);
    const letters = records.filter((r) => r.topic === 'dlq').map((r) => runner.decode<DeadLetter>(r));
    expect(letters.map((d) => [d.stage, d.error_code, d.origin_topic, d.origin_offset, d.original.toString()])).toEqual([['first+second', ErrorCodes.inputEmpty, 'raw', 1, 'bad']]);
  });

  test('a stateful second stage is refused', () => {
    const stateful: StatefulStage<RawEvent> = { name: 's', flushIntervalMs: 100, open: () => ({ process: () => [], flush: () => [], checkpoint: (n) => ({ offset: n, metadata: null }), held: 0 }) };
    expect(() => fuse(first, { ...second, stage: stateful })).toThrow(/stateful/);
  });
});

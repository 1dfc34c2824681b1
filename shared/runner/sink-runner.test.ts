import type { EachBatchPayload } from 'kafkajs';
import { createLogger } from '../logger.js';
import { Registry, runnerMetrics } from '../metrics.js';
import type { TopicCodecs } from '../codec.js';
import type { KafkaClient } from '../kafka.js';
import { SinkRunner, type BatchPolicy, type SinkBatch, type SinkWriter } from './sink-runner.js';

/** A writer that records the batches it was given. */
function recordingWriter(): SinkWriter<string> & { batches: SinkBatch<string>[] } {
  const batches: SinkBatch<string>[] = [];
  return { name: 'test', batches, start: async () => undefined, write: async (b) => (batches.push(b), []), close: async () => undefined };
}

/** The runner's per-batch and per-fetch hooks, driven without Kafka. */
interface Driven {
  eachBatch(p: EachBatchPayload): Promise<void>;
  onBatchEnd(topic: string, partition: number, caughtUp: boolean): void;
}

function runner(policy: BatchPolicy, writer: SinkWriter<string>): Driven {
  const r = new SinkRunner<string>(
    {
      stageName: 'sink-test', kafka: {} as KafkaClient, groupId: 'g', inputTopic: 't', dlqTopic: 'dlq', codecs: {} as TopicCodecs,
      decode: (raw) => raw.toString('utf8'), metrics: runnerMetrics(new Registry()), log: createLogger('test', 'silent'),
    },
    writer,
    policy,
  );
  return r as unknown as Driven;
}

function payload(from: number, n: number): EachBatchPayload {
  const messages = Array.from({ length: n }, (_, i) => ({ offset: String(from + i), timestamp: '0', key: null, value: Buffer.from(`m${from + i}`), headers: {}, attributes: 0 }));
  return {
    batch: { topic: 't', partition: 0, highWatermark: String(from + n), messages },
    resolveOffset: () => undefined, heartbeat: async () => undefined, isRunning: () => true, isStale: () => false, pause: () => () => undefined,
  } as unknown as EachBatchPayload;
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('SinkRunner: a burst that ended is written without waiting for its age', () => {
  const policy: BatchPolicy = { maxRecords: 1000, maxBytes: 1e9, maxAgeMs: 60_000, caughtUpMinRecords: 10 };

  it('writes the buffer when the partition is read to its end and holds caughtUpMinRecords', async () => {
    const w = recordingWriter();
    const r = runner(policy, w);
    await r.eachBatch(payload(0, 20));
    r.onBatchEnd('t', 0, false);
    await settle();
    expect(w.batches).toHaveLength(0); // more is waiting in the partition: keep filling
    r.onBatchEnd('t', 0, true);
    await settle();
    expect(w.batches).toHaveLength(1);
    expect(w.batches[0]!.items.map((i) => i.value)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect([w.batches[0]!.firstOffset, w.batches[0]!.lastOffset]).toEqual(['0', '19']);
  });

  it('leaves a trickle below caughtUpMinRecords to its age', async () => {
    const w = recordingWriter();
    const r = runner(policy, w);
    await r.eachBatch(payload(0, 5));
    r.onBatchEnd('t', 0, true);
    await settle();
    expect(w.batches).toHaveLength(0);
  });

  it('is off without caughtUpMinRecords', async () => {
    const w = recordingWriter();
    const r = runner({ ...policy, caughtUpMinRecords: 0 }, w);
    await r.eachBatch(payload(0, 50));
    r.onBatchEnd('t', 0, true);
    await settle();
    expect(w.batches).toHaveLength(0);
  });
});

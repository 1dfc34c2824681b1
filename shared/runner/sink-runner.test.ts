import type { EachBatchPayload } from 'kafkajs';
import { createLogger } from '../logger.js';
import { ErrorCodes, PermanentError, RetryableError } from '../errors.js';
import { Registry, runnerMetrics } from '../metrics.js';
import type { TopicCodecs } from '../codec.js';
import type { KafkaClient } from '../kafka.js';
import { BufferBudget, BURST_TAIL_IDLE_MS, SinkRunner, type BatchPolicy, type SinkBatch, type SinkWriter } from './sink-runner.js';

/** A writer that records the batches it was given. */
function recordingWriter(): SinkWriter<string> & { batches: SinkBatch<string>[] } {
  const batches: SinkBatch<string>[] = [];
  return { name: 'test', batches, start: async () => undefined, write: async (b) => (batches.push(b), []), close: async () => undefined };
}

/** The runner's per-batch and per-fetch hooks, driven without Kafka. */
interface Driven {
  eachBatch(p: EachBatchPayload): Promise<void>;
  onBatchEnd(topic: string, partition: number, caughtUp: boolean): void;
  onAssignment(assignment: Record<string, number[]>): void;
  flushAged(): void;
}

function runnerOpts(): ConstructorParameters<typeof SinkRunner<string>>[0] {
  return {
    stageName: 'sink-test', kafka: {} as KafkaClient, groupId: 'g', inputTopic: 't', dlqTopic: 'dlq', codecs: {} as TopicCodecs,
    decode: (raw) => raw.toString('utf8'), metrics: runnerMetrics(new Registry()), log: createLogger('test', 'silent'),
  };
}

function runner(policy: BatchPolicy, writer: SinkWriter<string>): Driven {
  return new SinkRunner<string>(runnerOpts(), writer, policy) as unknown as Driven;
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

  it("writes a burst's tail below caughtUpMinRecords once the partition is quiet, once per burst", async () => {
    let clock = 1_000_000;
    const w = recordingWriter();
    const r = new SinkRunner<string>({ ...runnerOpts(), now: () => clock }, w, policy) as unknown as Driven;
    await r.eachBatch(payload(0, 20));
    r.onBatchEnd('t', 0, true); // a burst: written for its size
    await settle();
    await r.eachBatch(payload(20, 3)); // its tail: 3 records, below caughtUpMinRecords
    r.onBatchEnd('t', 0, true);
    await settle();
    r.flushAged();
    await settle();
    expect(w.batches).toHaveLength(1); // still arriving (no quiet yet)
    clock += BURST_TAIL_IDLE_MS;
    r.flushAged();
    await settle();
    expect(w.batches.map((b) => b.items.length)).toEqual([20, 3]);
    // A trickle after the tail is not a burst: it waits for its age.
    await r.eachBatch(payload(23, 2));
    r.onBatchEnd('t', 0, true);
    clock += BURST_TAIL_IDLE_MS;
    r.flushAged();
    await settle();
    expect(w.batches).toHaveLength(2);
    clock += policy.maxAgeMs;
    r.flushAged();
    await settle();
    expect(w.batches.map((b) => b.items.length)).toEqual([20, 3, 2]);
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

describe('SinkRunner: one memory budget for every runner of a process', () => {
  const policy: BatchPolicy = { maxRecords: 1_000_000, maxBytes: 1e12, maxAgeMs: 60_000 };
  /** Messages of `size` bytes each. */
  function sized(from: number, n: number, size: number, partition = 0): EachBatchPayload {
    const p = payload(from, n) as unknown as { batch: { partition: number; messages: Array<{ value: Buffer }> } };
    p.batch.partition = partition;
    for (const m of p.batch.messages) m.value = Buffer.alloc(size, 97);
    return p as unknown as EachBatchPayload;
  }

  it('writes a buffer once the records held by all runners pass the budget (unbounded by policy otherwise)', async () => {
    const budget = new BufferBudget(16_000);
    const w1 = recordingWriter();
    const w2 = recordingWriter();
    const a = new SinkRunner<string>(runnerOpts(), w1, policy, budget) as unknown as Driven;
    const b = new SinkRunner<string>(runnerOpts(), w2, policy, budget) as unknown as Driven;
    await a.eachBatch(sized(0, 10, 1000)); // 10 kB held: under the budget
    await settle();
    expect(w1.batches).toHaveLength(0);
    expect(budget.usedBytes).toBe(10_000);
    await b.eachBatch(sized(0, 10, 1000)); // the other runner takes the total to 20 kB
    await settle();
    // b's buffer passed 1/16 of the budget while the total was over: written, and its bytes released.
    expect(w2.batches.length).toBeGreaterThanOrEqual(1);
    expect(w2.batches.reduce((n, x) => n + x.items.length, 0)).toBeLessThan(10);
    expect(budget.usedBytes).toBeLessThanOrEqual(16_000);
  });

  it('without a budget, only the policy bounds a buffer', async () => {
    const w = recordingWriter();
    const r = runner(policy, w);
    await r.eachBatch(sized(0, 100, 1000));
    await settle();
    expect(w.batches).toHaveLength(0);
  });
});

describe('SinkRunner: a writer that is not ready yet at start', () => {
  const policy: BatchPolicy = { maxRecords: 10, maxBytes: 1e9, maxAgeMs: 60_000 };
  /** A writer whose start fails with `errors` in turn, then succeeds. */
  function startingWriter(errors: Error[]): SinkWriter<string> & { starts: number } {
    const w = { ...recordingWriter(), starts: 0 };
    w.start = async () => {
      const err = errors[w.starts++];
      if (err) throw err;
    };
    return w;
  }
  // The runner's Kafka part (after the writer's start) is absent here: reaching it shows the writer's start was passed.
  const reachedKafka = /producer is not a function/;

  it('retries a retryable failure of the writer start, then goes on', async () => {
    const w = startingWriter([new RetryableError(ErrorCodes.esUnavailable, 'templates: 503')]);
    const r = new SinkRunner<string>(runnerOpts(), w, policy);
    await expect(r.start()).rejects.toThrow(reachedKafka);
    expect(w.starts).toBe(2);
  });

  it('stops at once on a permanent failure', async () => {
    const w = startingWriter([new PermanentError(ErrorCodes.esMapping, 'template refused')]);
    const r = new SinkRunner<string>(runnerOpts(), w, policy);
    await expect(r.start()).rejects.toThrow('template refused');
    expect(w.starts).toBe(1);
  });
});

describe('SinkRunner: backpressure pauses a partition until its write is done', () => {
  const policy: BatchPolicy = { maxRecords: 5, maxBytes: 1e9, maxAgeMs: 60_000 };
  /** A writer whose writes wait until `release()`. */
  function heldWriter(): SinkWriter<string> & { release(): void; writes: number } {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const w = { ...recordingWriter(), writes: 0, release: () => open() };
    w.write = async () => {
      w.writes++;
      await gate;
      return [];
    };
    return w;
  }
  /** A batch whose pause() counts pauses and resumes. */
  function pausable(from: number, n: number): { p: EachBatchPayload; state: { paused: number; resumed: number } } {
    const state = { paused: 0, resumed: 0 };
    const p = payload(from, n) as unknown as Record<string, unknown>;
    p['pause'] = () => {
      state.paused++;
      return () => void state.resumed++;
    };
    return { p: p as unknown as EachBatchPayload, state };
  }

  it('resumes the partition when the write it waited for is done', async () => {
    const w = heldWriter();
    const r = runner(policy, w);
    const { p, state } = pausable(0, 20);
    await r.eachBatch(p);
    expect([state.paused, state.resumed]).toEqual([1, 0]);
    w.release();
    await settle();
    expect(state.resumed).toBe(1);
  });

  it('resumes a paused partition at a rebalance (kafkajs keeps it paused; the old write will not resume it)', async () => {
    const w = heldWriter();
    const r = runner(policy, w);
    const { p, state } = pausable(0, 20);
    await r.eachBatch(p);
    expect([state.paused, state.resumed]).toEqual([1, 0]);
    r.onAssignment({ t: [0] });
    expect(state.resumed).toBe(1);
    w.release();
    await settle();
    expect(state.resumed).toBe(1); // once, not again by the old generation's write
  });
});

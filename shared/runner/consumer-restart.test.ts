/**
 * ConsumerLoop after a crash kafkajs does not restart (restartAfterCrash): the runner runs
 * the same consumer again, a group join resets the count, and after MAX_CONSUMER_RESTARTS
 * (10) restarts without a join it is stopped for good (isAlive false, `failed` resolves).
 * kafkajs is faked at its surface (producer, consumer events, run): no broker here.
 */
import { jest } from '@jest/globals';
import type { EachBatchPayload } from 'kafkajs';
import { createLogger } from '../logger.js';
import { Registry, runnerMetrics } from '../metrics.js';
import { ConsumerLoop, rawBytes, type RunnerOptions } from './consumer-loop.js';

type Listener = (e: { payload: Record<string, unknown> }) => void;

class FakeConsumer {
  readonly events = { GROUP_JOIN: 'join', END_BATCH_PROCESS: 'end', CRASH: 'crash' };
  readonly listeners = new Map<string, Listener>();
  runs = 0;
  on(event: string, fn: Listener) {
    this.listeners.set(event, fn);
  }
  async connect() {}
  async subscribe() {}
  async run() {
    this.runs++;
  }
  pause() {}
  async disconnect() {}
  emit(event: string, payload: Record<string, unknown>) {
    this.listeners.get(event)?.({ payload });
  }
}

class Loop extends ConsumerLoop<Buffer> {
  protected eachBatch(_p: EachBatchPayload): Promise<void> {
    return Promise.resolve();
  }
}

function loop(consumer: FakeConsumer): Loop {
  const kafka = { producer: () => ({ connect: async () => undefined, disconnect: async () => undefined }), consumer: () => consumer };
  const opts = {
    stageName: 'test',
    kafka,
    groupId: 'g',
    inputTopic: 'in',
    dlqTopic: 'dlq',
    codecs: {},
    decode: rawBytes,
    metrics: runnerMetrics(new Registry()),
    log: createLogger('test', 'silent'),
  } as unknown as RunnerOptions<Buffer>;
  return new Loop(opts);
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('a crash kafkajs leaves stopped: the same consumer runs again after a backoff, and a group join resets the count', async () => {
  const consumer = new FakeConsumer();
  const l = loop(consumer);
  await l.start();
  expect(consumer.runs).toBe(1);
  consumer.emit('join', { memberAssignment: {} });
  expect(l.isReady()).toBe(true);

  consumer.emit('crash', { error: new Error('Broker not connected'), restart: false });
  expect(l.isReady()).toBe(false);
  expect(l.isAlive()).toBe(true);
  await jest.advanceTimersByTimeAsync(500);
  expect(consumer.runs).toBe(1); // not before the backoff's floor (1 s)
  await jest.advanceTimersByTimeAsync(2_500);
  expect(consumer.runs).toBe(2);

  // A join in between: the next crashes count from 1 again, so 10 more are restarted.
  consumer.emit('join', { memberAssignment: {} });
  for (let i = 0; i < 10; i++) {
    consumer.emit('crash', { error: new Error('Broker not connected'), restart: false });
    await jest.advanceTimersByTimeAsync(31_000);
  }
  expect(consumer.runs).toBe(12);
  expect(l.isAlive()).toBe(true);
});

test('a crash kafkajs restarts itself is left to kafkajs', async () => {
  const consumer = new FakeConsumer();
  const l = loop(consumer);
  await l.start();
  consumer.emit('crash', { error: new Error('retriable'), restart: true });
  await jest.advanceTimersByTimeAsync(60_000);
  expect(consumer.runs).toBe(1);
  expect(l.isAlive()).toBe(true);
});

test('the 11th crash without a group join stops the runner for good: not alive, `failed` resolves with the error', async () => {
  const consumer = new FakeConsumer();
  const l = loop(consumer);
  await l.start();
  let failed: Error | undefined;
  void l.failed.then((e) => (failed = e));
  for (let i = 0; i < 10; i++) {
    consumer.emit('crash', { error: new Error(`crash ${i}`), restart: false });
    await jest.advanceTimersByTimeAsync(31_000);
  }
  expect(consumer.runs).toBe(11);
  expect(l.isAlive()).toBe(true);
  consumer.emit('crash', { error: new Error('the last straw'), restart: false });
  await jest.advanceTimersByTimeAsync(60_000);
  expect(consumer.runs).toBe(11);
  expect(l.isAlive()).toBe(false);
  expect(failed?.message).toBe('the last straw');
});

test('no restart once the runner is stopping', async () => {
  const consumer = new FakeConsumer();
  const l = loop(consumer);
  await l.start();
  await l.stopFetching();
  consumer.emit('crash', { error: new Error('Broker not connected'), restart: false });
  await jest.advanceTimersByTimeAsync(60_000);
  expect(consumer.runs).toBe(1);
  expect(l.isAlive()).toBe(true);
});

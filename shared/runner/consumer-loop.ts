/**
 * The one runner that owns all I/O of a stage (CONVENTIONS.md, "Stages are pure; I/O
 * lives in one runner"). Two shapes share the consumer loop:
 *
 * - PipelineRunner (Kafka -> Kafka): consume -> decode -> stage -> encode -> produce
 *   (acks=all) -> commit, per fetched batch and partition. An offset is committed only
 *   after every record derived from it, dead letters included, is acknowledged.
 * - SinkRunner (Kafka -> Elasticsearch/S3): consume -> decode -> buffer per partition
 *   by a bounded batch policy -> writer.write() -> commit up to the last offset whose
 *   outputs are all durable.
 *
 * Poison input (undecodable bytes, a PermanentError from the stage or the writer) goes
 * to the dead-letter topic with its code and original bytes; the stage goes on.
 * Environment failures (RetryableError) back off with jitter and are retried without
 * committing, so nothing is lost.
 */
import kafkajs from 'kafkajs';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, KafkaMessage, Producer, ProducerConfig, IHeaders } from 'kafkajs';
import type { KafkaClient } from '../kafka.js';
import type { Logger } from '../logger.js';
import type { RunnerMetrics } from '../metrics.js';
import type { TopicCodecs } from '../codec.js';
import type { Envelope } from '../stage.js';
import { classify, DeferredError, ErrorCodes, errorMessage, RetryableError, SluiceError } from '../errors.js';
import { backoffDelay, withRetry } from '../retry.js';
import type { Encoded } from './batching.js';
import { deadLetterOf } from './step.js';
import { byTopic, chunkByBytes, MAX_PRODUCE_BYTES } from './batching.js';

/** Longest single wait for a DeferredError's time: the runner heartbeats (and sees a stop) in between. */
const MAX_DEFER_STEP_MS = 1_000;

/** Restarts of a consumer kafkajs left stopped, without a group join in between, before the runner gives up (restartAfterCrash). */
const MAX_CONSUMER_RESTARTS = 10;

/** Longest wait of a fetch for data, and of a fully paused consumer before it looks again, ms. */
export const FETCH_MAX_WAIT_MS = 100;

export type Decoder<I> = (raw: Buffer, codecs: TopicCodecs) => Promise<I> | I;

/** Decoders for the two kinds of input: raw bytes (logs.raw) and registry-framed Avro. */
export const rawBytes: Decoder<Buffer> = (raw) => raw;
export function avro<I>(): Decoder<I> {
  return (raw, codecs) => codecs.decode(raw) as I | Promise<I>;
}

export interface RunnerOptions<I> {
  /** Stage name in dead letters and logs: collector | normalizer | enricher | sink-es | sink-parquet. */
  stageName: string;
  kafka: KafkaClient;
  groupId: string;
  inputTopic: string;
  dlqTopic: string;
  codecs: TopicCodecs;
  decode: Decoder<I>;
  metrics: RunnerMetrics;
  log: Logger;
  /** Start from the earliest offset when the group has no committed offset. */
  fromBeginning?: boolean;
  /** Wall clock, ms; injectable for tests. */
  now?: () => number;
  /** Consumer session timeout, ms (default 30 s); tests shorten it to provoke a stalled member. */
  sessionTimeoutMs?: number;
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}

export function envelopeOf(topic: string, partition: number, m: KafkaMessage): Envelope {
  return { topic, partition, offset: m.offset, timestampMs: Number(m.timestamp), key: m.key ?? null, headers: headersOf(m.headers) };
}

export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** The consumer loop, DLQ and produce-with-retry shared by both runner shapes. */
export abstract class ConsumerLoop<I> {
  protected consumer: Consumer | undefined;
  protected producer: Producer | undefined;
  private ready = false;
  protected stopping = false;
  /** Set when the consumer stopped for good (a crash kafkajs does not restart). */
  private failure: Error | undefined;
  private onFailed: ((err: Error) => void) | undefined;
  /** Resolves when the consumer stopped for good: the runner is dead and its process must restart. */
  readonly failed: Promise<Error> = new Promise((resolve) => (this.onFailed = resolve));
  protected readonly abort = new AbortController();
  protected readonly now: () => number;
  protected readonly log: Logger;
  /** Every runner metric carries the stage, so one process running two writers stays readable. */
  protected readonly stageLabel: Readonly<Record<string, string>>;

  constructor(protected readonly opts: RunnerOptions<I>) {
    this.stageLabel = { stage: opts.stageName };
    this.now = opts.now ?? Date.now;
    this.log = opts.log.child({ component: 'runner', stage: opts.stageName });
  }

  isReady(): boolean {
    return this.ready && !this.stopping;
  }

  /** False once the consumer stopped for good (/healthz then fails). */
  isAlive(): boolean {
    return this.failure === undefined;
  }

  /** Connect, subscribe and start consuming. Resolves once the consumer runs. */
  async start(): Promise<void> {
    const { kafka, groupId } = this.opts;
    this.producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 5, createPartitioner: kafkajs.Partitioners.DefaultPartitioner, ...this.producerOptions() });
    await this.producer.connect();
    await this.beforeConsume();
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
    // maxWaitTimeInMs: how long a fetch waits on the broker for data, and (kafkajs) how
    // long the consumer sleeps when every assigned partition is paused. kafkajs's 5 s
    // default held a sink paused for backpressure up to 5 s after its write finished;
    // 100 ms rather than 250 took p50/p99 produce→searchable from 1.9/4.1 s to 1.5/2.7 s
    // (bench:e2e), for about ten fetch requests a second per idle consumer.
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout, heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 5)), maxWaitTimeInMs: FETCH_MAX_WAIT_MS });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.ready = true;
      this.restarts = 0;
      this.onAssignment(e.payload.memberAssignment);
    });
    // Every fetched batch, also one holding only transaction markers (kafkajs does not
    // pass those to eachBatch): offsetLag counts the markers, so 0 means fully read.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => this.onBatchEnd(e.payload.topic, e.payload.partition, e.payload.offsetLag === '0'));
    consumer.on(consumer.events.CRASH, (e) => {
      this.ready = false;
      if (e.payload.restart || this.stopping) {
        this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
        return;
      }
      this.restartAfterCrash(consumer, e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.opts.inputTopic], fromBeginning: this.opts.fromBeginning ?? true });
    await consumer.run(this.runConfig);
  }

  private readonly runConfig: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: (payload) => this.track(this.eachBatch(payload)),
  };

  /** Restarts after crashes kafkajs left stopped, since the last group join. */
  private restarts = 0;

  /**
   * kafkajs restarts a crashed consumer itself only after an error it classifies as
   * retriable; after any other it leaves the consumer stopped. Some of those are
   * transient: a connection reset mid-request surfaces as a plain
   * `Error: Broker not connected` (seen in the fault matrix, net-kafka-reset). So the
   * runner starts the same consumer again (kafkajs's own restart: `run` after the crash
   * left it disconnected; its subscription is kept), with backoff, up to
   * MAX_CONSUMER_RESTARTS times without a group join in between. After that it is
   * stopped for good: logged at fatal, /healthz fails, and the service shuts down and
   * exits 1 for its supervisor to restart it.
   */
  private restartAfterCrash(consumer: Consumer, error: unknown): void {
    this.restarts++;
    if (this.restarts > MAX_CONSUMER_RESTARTS) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.log.fatal({ err: error, restarts: this.restarts - 1 }, 'consumer stopped for good after errors kafkajs does not retry: the service shuts down and exits 1, for its supervisor to restart it');
      this.onFailed?.(this.failure);
      return;
    }
    const delayMs = 1_000 + backoffDelay(this.restarts - 1, { baseMs: 1_000, capMs: 30_000 });
    this.log.error({ err: error, attempt: this.restarts, delayMs }, 'consumer stopped after an error kafkajs does not retry; starting it again');
    setTimeout(() => {
      if (this.stopping) return;
      consumer.run(this.runConfig).catch((err: unknown) => this.restartAfterCrash(consumer, err));
    }, delayMs).unref();
  }

  /** Extra producer settings (the pipeline runner makes its producer transactional). */
  protected producerOptions(): Partial<ProducerConfig> {
    return {};
  }

  /** Start-up work after the producer connected and before consuming. */
  protected async beforeConsume(): Promise<void> {}

  /** After every fetched batch: whether the partition is now read up to its end. */
  protected onBatchEnd(_topic: string, _partition: number, _caughtUp: boolean): void {}

  /** Called on every (re)join with the new assignment. */
  protected onAssignment(_assignment: Record<string, number[]>): void {}

  protected abstract eachBatch(payload: EachBatchPayload): Promise<void>;

  private inFlight = new Set<Promise<void>>();

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Shutdown step 1: stop fetching (pause every topic: the group membership stays, so
   * offsets can still be committed) and wait for the in-flight batch to finish.
   */
  async stopFetching(): Promise<void> {
    this.stopping = true;
    this.consumer?.pause([{ topic: this.opts.inputTopic }]);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Last shutdown step (after the subclass flushed and committed): leave the group, close connections. */
  async close(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.consumer?.stop().catch((err: unknown) => this.log.warn({ err }, 'consumer stop failed'));
    await this.consumer?.disconnect().catch((err: unknown) => this.log.warn({ err }, 'consumer disconnect failed'));
    await this.producer?.disconnect().catch((err: unknown) => this.log.warn({ err }, 'producer disconnect failed'));
  }

  protected get running(): boolean {
    return !this.abort.signal.aborted;
  }

  /** A dead letter for `raw`, encoded for the DLQ topic (shared/runner/step.ts). */
  protected deadLetter(env: Envelope, raw: Buffer, error: SluiceError, eventId: string | null = null): Encoded {
    const { metrics } = this.opts;
    metrics.failed.inc({ ...this.stageLabel, code: error.code });
    metrics.dlq.inc(this.stageLabel);
    const letter = deadLetterOf(this.opts.stageName, env, raw, error, this.now(), eventId);
    return { topic: this.opts.dlqTopic, key: env.key, value: this.opts.codecs.encode(this.opts.dlqTopic, letter) };
  }

  /**
   * Decode with retry: a RetryableError (registry unreachable) is retried until it
   * succeeds or the runner stops; a PermanentError is returned for the DLQ.
   */
  protected async decode(raw: Buffer, heartbeat: () => Promise<void>): Promise<{ ok: true; value: I } | { ok: false; error: SluiceError }> {
    try {
      const value = await this.retrying('decode', heartbeat, (err) => classify(err, ErrorCodes.decodeAvro).retryable, async () => {
        const v = this.opts.decode(raw, this.opts.codecs);
        return v instanceof Promise ? await v : v;
      });
      return { ok: true, value };
    } catch (err) {
      const e = classify(err, ErrorCodes.decodeAvro);
      if (!e.retryable) return { ok: false, error: e };
      throw e; // the runner is stopping
    }
  }

  /**
   * Every retry of the runners goes through here (shared/retry.ts withRetry): `attempt`
   * runs until it returns; an error `retryable` accepts is counted
   * (sluice_retries_total{op}), logged on the 1st and every 10th retry, backed off with
   * jitter and followed by a heartbeat, while the runner runs. A DeferredError is waited
   * for instead (until its time, in steps of at most MAX_DEFER_STEP_MS with a heartbeat
   * after each), neither counted nor logged. Any other error, or any error once the
   * runner is stopping, is thrown to the caller.
   */
  protected retrying<T>(op: string, heartbeat: () => Promise<void>, retryable: (err: unknown) => boolean, attempt: () => Promise<T>): Promise<T> {
    return withRetry(attempt, {
      retryable: (err) => retryable(err) && this.running,
      signal: this.abort.signal,
      delayOf: (err) => (err instanceof DeferredError ? Math.min(MAX_DEFER_STEP_MS, Math.max(1, err.untilMs - this.now())) : undefined),
      onRetry: (err, n, delayMs) => {
        if (err instanceof DeferredError) return;
        this.opts.metrics.retries.inc({ op });
        if (n === 1 || (n - 1) % 10 === 0) this.log.warn({ op, attempt: n - 1, delayMs, err: errorMessage(err) }, `${op} failed; retrying`);
      },
      afterSleep: heartbeat,
    });
  }

  /**
   * Produce with acks=all, retrying until acknowledged or the runner stops (then throws:
   * nothing is committed). Sent in chunks of at most MAX_PRODUCE_BYTES, because a
   * broker refuses a record batch above its message.max.bytes (1 MB by default) and one
   * fetched batch can hold far more than that.
   */
  protected async produce(messages: Encoded[], heartbeat: () => Promise<void>): Promise<void> {
    for (const chunk of chunkByBytes(messages, MAX_PRODUCE_BYTES)) await this.produceChunk(chunk, heartbeat);
  }

  private async produceChunk(messages: Encoded[], heartbeat: () => Promise<void>): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.retrying('produce', heartbeat, () => true, () => this.producer!.sendBatch({ topicMessages: byTopic(messages), acks: -1 }));
    } catch (err) {
      throw new RetryableError(ErrorCodes.kafkaProduce, `produce failed during shutdown: ${errorMessage(err)}`, err);
    }
  }

  protected async commit(topic: string, partition: number, lastOffset: string): Promise<void> {
    await this.consumer!.commitOffsets([{ topic, partition, offset: nextOffset(lastOffset) }]);
  }
}


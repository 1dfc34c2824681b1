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
import type { Consumer, EachBatchPayload, KafkaMessage, Producer, ProducerConfig, IHeaders } from 'kafkajs';
import type { KafkaClient } from './kafka.js';
import type { Logger } from './logger.js';
import type { RunnerMetrics } from './metrics.js';
import type { TopicCodecs } from './codec.js';
import { isStateful, statelessPartition } from './stage.js';
import type { Checkpoint, Envelope, PartitionStage, Stage, StageContext, StageInput, StageOutput, StatefulStage } from './stage.js';
import type { DeadLetter } from './records.js';
import { classify, ErrorCodes, errorMessage, PermanentError, RetryableError, SluiceError } from './errors.js';
import { backoffDelay, CircuitBreaker, sleep } from './retry.js';

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

function envelopeOf(topic: string, partition: number, m: KafkaMessage): Envelope {
  return { topic, partition, offset: m.offset, timestampMs: Number(m.timestamp), key: m.key ?? null, headers: headersOf(m.headers) };
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Upper bound of one produce request's payload, bytes: below Kafka's default message.max.bytes (1 MB). */
export const MAX_PRODUCE_BYTES = 768 * 1024;
/** Per-record overhead counted against MAX_PRODUCE_BYTES (record header, varints, headers). */
const RECORD_OVERHEAD = 64;

/** Split messages, in order, into chunks whose estimated size stays under `maxBytes` (a single larger message is a chunk of its own). */
export function chunkByBytes<M extends { key: Buffer | string | null; value: Buffer }>(messages: readonly M[], maxBytes: number): M[][] {
  const chunks: M[][] = [];
  let current: M[] = [];
  let size = 0;
  for (const m of messages) {
    const n = m.value.length + (m.key === null ? 0 : Buffer.byteLength(m.key)) + RECORD_OVERHEAD;
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

interface PartitionEntry<I> {
  topic: string;
  partition: number;
  state: PartitionStage<I>;
  /** The offset after the last input processed. */
  next: string | undefined;
  /** The last fetch reached the partition's high watermark. */
  caughtUp: boolean;
}

/** Our transaction was fenced: another instance owns the partition now. */
class FencedError extends Error {}

function isFenced(err: unknown): boolean {
  for (let e = err as { type?: string; code?: number; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.code === 47 || e.code === 90) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

interface Encoded {
  topic: string;
  key: Buffer | string | null;
  value: Buffer;
}

function byTopic(messages: readonly Encoded[]): Array<{ topic: string; messages: Array<{ key: Buffer | string | null; value: Buffer }> }> {
  const map = new Map<string, Array<{ key: Buffer | string | null; value: Buffer }>>();
  for (const m of messages) {
    let list = map.get(m.topic);
    if (!list) map.set(m.topic, (list = []));
    list.push({ key: m.key, value: m.value });
  }
  return [...map].map(([topic, msgs]) => ({ topic, messages: msgs }));
}

/** Dead letters keep at most this much of the original bytes, so they fit in a Kafka message. */
const MAX_DLQ_ORIGINAL_BYTES = 256 * 1024;


/** The consumer loop, DLQ and produce-with-retry shared by both runner shapes. */
abstract class ConsumerLoop<I> {
  protected consumer: Consumer | undefined;
  protected producer: Producer | undefined;
  private ready = false;
  protected stopping = false;
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

  /** Connect, subscribe and start consuming. Resolves once the consumer runs. */
  async start(): Promise<void> {
    const { kafka, groupId } = this.opts;
    this.producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 5, createPartitioner: kafkajs.Partitioners.DefaultPartitioner, ...this.producerOptions() });
    await this.producer.connect();
    await this.beforeConsume();
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout, heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 5)) });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.ready = true;
      this.onAssignment(e.payload.memberAssignment);
    });
    // Every fetched batch, also one holding only transaction markers (kafkajs does not
    // pass those to eachBatch): offsetLag counts the markers, so 0 means fully read.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => this.onBatchEnd(e.payload.topic, e.payload.partition, e.payload.offsetLag === '0'));
    consumer.on(consumer.events.CRASH, (e) => {
      this.ready = false;
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.opts.inputTopic], fromBeginning: this.opts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.track(this.eachBatch(payload)),
    });
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

  /** A dead letter for `raw`, encoded for the DLQ topic. */
  protected async deadLetter(env: Envelope, raw: Buffer, error: SluiceError, eventId: string | null = null): Promise<Encoded> {
    const { metrics } = this.opts;
    metrics.failed.inc({ ...this.stageLabel, code: error.code });
    metrics.dlq.inc(this.stageLabel);
    const letter: DeadLetter = {
      stage: this.opts.stageName,
      error_code: error.code,
      message: error.message.slice(0, 4096),
      original: raw.length > MAX_DLQ_ORIGINAL_BYTES ? raw.subarray(0, MAX_DLQ_ORIGINAL_BYTES) : raw,
      origin_topic: env.topic,
      origin_partition: env.partition,
      origin_offset: Number(env.offset),
      origin_key: env.key,
      failed_at: this.now() * 1000,
      event_id: eventId,
    };
    return { topic: this.opts.dlqTopic, key: env.key, value: this.opts.codecs.encode(this.opts.dlqTopic, letter) };
  }

  /**
   * Decode with retry: a RetryableError (registry unreachable) is retried until it
   * succeeds or the runner stops; a PermanentError is returned for the DLQ.
   */
  protected async decode(raw: Buffer, heartbeat: () => Promise<void>): Promise<{ ok: true; value: I } | { ok: false; error: SluiceError }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const v = this.opts.decode(raw, this.opts.codecs);
        return { ok: true, value: v instanceof Promise ? await v : v };
      } catch (err) {
        const e = classify(err, ErrorCodes.decodeAvro);
        if (!e.retryable) return { ok: false, error: e };
        if (!this.running) throw e;
        await this.backoff('decode', e, attempt, heartbeat);
      }
    }
  }

  protected async backoff(op: string, err: unknown, attempt: number, heartbeat: () => Promise<void>): Promise<void> {
    const delay = backoffDelay(attempt);
    this.opts.metrics.retries.inc({ op });
    if (attempt === 0 || attempt % 10 === 0) this.log.warn({ op, attempt, delayMs: delay, err: errorMessage(err) }, `${op} failed; retrying`);
    await sleep(delay, this.abort.signal);
    await heartbeat().catch(() => undefined);
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
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer!.sendBatch({ topicMessages: byTopic(messages), acks: -1 });
        return;
      } catch (err) {
        if (!this.running) throw new RetryableError(ErrorCodes.kafkaProduce, `produce failed during shutdown: ${errorMessage(err)}`, err);
        await this.backoff('produce', err, attempt, heartbeat);
      }
    }
  }

  protected async commit(topic: string, partition: number, lastOffset: string): Promise<void> {
    await this.consumer!.commitOffsets([{ topic, partition, offset: nextOffset(lastOffset) }]);
  }
}

/**
 * Kafka -> Kafka: one stage between an input and output topics.
 *
 * Exactly once between topics: each fetched batch's outputs (dead letters included) and
 * its consumer offset are written in ONE Kafka transaction, so a crash or a retry
 * never leaves a partial batch visible to read_committed consumers (kafkajs's default).
 * A record larger than its topic allows (max.message.bytes, read at start) can never be
 * written: its input is dead-lettered instead of failing the transaction forever.
 *
 * Zombie fencing: each input partition has its own transactional producer, with the
 * transactional id `<group>-<topic>-<partition>`. A new owner of the partition
 * initializes that id before it reads the partition, which aborts and fences whatever
 * the previous owner still had open: a stalled instance that lost the partition can no
 * longer commit a last batch (its transaction fails as fenced and it drops the
 * partition). The new owner then re-reads the committed offset, in case the old owner
 * committed between the group join and the fence, and seeks there.
 *
 * A stateful stage (multi-line merging) gets one PartitionStage per input partition.
 * The offset committed with a batch is the stage's checkpoint: it stays at the first
 * input whose records are still held, with metadata that lets the next owner rebuild
 * them (shared/stage.ts). Held records are emitted by a timer (`flush`) in a
 * transaction of their own. On every rebalance the states are dropped: kafkajs resumes
 * each partition from its committed offset, and the state is rebuilt from there.
 */
export class PipelineRunner<I> extends ConsumerLoop<I> {
  private readonly ctx: StageContext;
  private readonly maxRecordBytes = new Map<string, number>();
  private readonly outputTopics: readonly string[];
  private readonly partitions = new Map<string, PartitionEntry<I>>();
  /** One transactional producer per input partition (see the class comment). */
  private readonly producers = new Map<string, Producer>();
  /** Partitions whose transaction was fenced: not touched again until the next group join. */
  private readonly fenced = new Set<string>();
  /** Serializes batches and timer flushes: a partition state is never used concurrently. */
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    opts: RunnerOptions<I> & {
      /** Topics the stage writes to; their record size limits are read at start. */
      outputTopics: string[];
    },
    private readonly stage: Stage<I> | StatefulStage<I>,
  ) {
    super(opts);
    this.ctx = { now: this.now };
    this.outputTopics = opts.outputTopics;
  }

  /** The partition's transactional producer, initialized (which fences any previous owner). */
  private async producerFor(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}:${partition}`;
    const existing = this.producers.get(key);
    if (existing) return existing;
    const producer = this.opts.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      transactionalId: `${this.opts.groupId}-${topic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    // InitProducerId happens at the first transaction: an empty one fences the previous owner now.
    const txn = await producer.transaction();
    await txn.abort();
    this.producers.set(key, producer);
    return producer;
  }

  private async dropProducers(keys: Iterable<string>): Promise<void> {
    for (const key of [...keys]) {
      const producer = this.producers.get(key);
      this.producers.delete(key);
      await producer?.disconnect().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'producer disconnect failed'));
    }
  }

  override async start(): Promise<void> {
    await super.start();
    if (isStateful(this.stage)) {
      this.timer = setInterval(() => void this.flushHeld().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'flush of held records failed')), this.stage.flushIntervalMs);
      this.timer.unref();
    }
  }

  protected override async beforeConsume(): Promise<void> {
    const topics = [...new Set([...this.outputTopics, this.opts.dlqTopic])];
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      const res = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })) });
      for (const r of res.resources) {
        const v = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
        if (Number.isFinite(v) && v > 0) this.maxRecordBytes.set(r.resourceName, v);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A (re)join: states are rebuilt from the committed offsets, and every partition gets a
   * fresh producer (initialized, so fencing, again) before its next batch. Queued behind
   * the batch in flight.
   */
  protected override onAssignment(): void {
    void this.exclusive(async () => {
      const held = [...this.partitions.values()].reduce((n, p) => n + p.state.held, 0);
      if (held > 0) this.log.info({ held }, 'rebalance: dropping held records (they are rebuilt from the committed offsets)');
      this.partitions.clear();
      this.fenced.clear();
      await this.dropProducers(this.producers.keys());
    });
  }

  protected override onBatchEnd(topic: string, partition: number, caughtUp: boolean): void {
    const p = this.partitions.get(`${topic}:${partition}`);
    if (p) p.caughtUp = caughtUp;
  }

  /** Largest record value we send to `topic`, leaving room for the batch and record headers. */
  private limitFor(topic: string): number {
    return (this.maxRecordBytes.get(topic) ?? 1_048_588) - 512;
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * The partition's state, or null when this batch must not be processed: its first
   * offset is behind the committed offset (a previous owner committed after our group
   * join, before our producer fenced it), so the consumer is moved to the committed
   * offset instead. A stateful stage resumes from the checkpoint its group committed.
   */
  private async partitionState(topic: string, partition: number, firstOffset: string): Promise<PartitionEntry<I> | null> {
    const key = `${topic}:${partition}`;
    let p = this.partitions.get(key);
    if (p) return p;
    await this.producerFor(topic, partition);
    const committed = await this.committedCheckpoint(topic, partition);
    if (committed && BigInt(committed.offset) > BigInt(firstOffset)) {
      this.log.warn({ topic, partition, committed: committed.offset, fetched: firstOffset }, 'the previous owner committed after this instance joined: seeking to the committed offset');
      this.consumer?.seek({ topic, partition, offset: committed.offset });
      return null;
    }
    let state: PartitionStage<I>;
    if (isStateful(this.stage)) {
      state = this.stage.open(topic, partition, committed);
      if (committed?.metadata) this.log.info({ topic, partition, offset: committed.offset }, 'resuming held records from the committed checkpoint');
    } else {
      state = statelessPartition(this.stage);
    }
    p = { topic, partition, state, next: undefined, caughtUp: false };
    this.partitions.set(key, p);
    return p;
  }

  private async committedCheckpoint(topic: string, partition: number): Promise<Checkpoint | null> {
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      const res = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
      const p = res.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === partition);
      if (!p || Number(p.offset) < 0) return null;
      return { offset: p.offset, metadata: p.metadata ?? null };
    } finally {
      await admin.disconnect();
    }
  }

  protected eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    return this.exclusive(async () => {
      const { metrics } = this.opts;
      if (batch.messages.length === 0 || !isRunning() || isStale()) return;
      if (this.fenced.has(`${batch.topic}:${batch.partition}`)) return;
      const p = await this.partitionState(batch.topic, batch.partition, batch.messages[0]!.offset);
      if (!p) return;
      const out: Encoded[] = [];
      let last: string | undefined;
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const env = envelopeOf(batch.topic, batch.partition, m);
        const raw = m.value ?? Buffer.alloc(0);
        metrics.received.inc(this.stageLabel);
        out.push(...(await this.handle(p.state, env, raw, heartbeat)));
        last = m.offset;
      }
      if (last === undefined) return;
      p.next = nextOffset(last);
      metrics.batchSize.observe(out.length);
      if (!(await this.commitOrForget(p, out, heartbeat))) return;
      metrics.sent.inc(this.stageLabel, out.filter((o) => o.topic !== this.opts.dlqTopic).length);
      resolveOffset(last);
      metrics.commitLag.set(Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)), { ...this.stageLabel, partition: String(batch.partition) });
    });
  }

  /** Timer: emit what stateful stages have held too long, with their new checkpoints. */
  private flushHeld(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.isReady()) return;
      for (const p of [...this.partitions.values()]) {
        if (p.next === undefined || p.state.held === 0) continue;
        const outputs = p.state.flush(this.ctx, { caughtUp: p.caughtUp });
        if (outputs.length === 0) continue;
        const out = await this.encodeOutputs(outputs, null);
        if (!(await this.commitOrForget(p, out, async () => undefined))) continue;
        this.opts.metrics.sent.inc(this.stageLabel, out.filter((o) => o.topic !== this.opts.dlqTopic).length);
      }
    });
  }

  /**
   * Commit `out` with the partition's checkpoint; false when the transaction was fenced
   * (the partition has a new owner: its state and producer are dropped, and the
   * partition is left alone until the next group join). If the commit fails for good
   * otherwise (only while stopping), the in-memory state is ahead of what was committed:
   * it is forgotten, so a later batch rebuilds it from the committed checkpoint.
   */
  private async commitOrForget(p: PartitionEntry<I>, out: Encoded[], heartbeat: () => Promise<void>): Promise<boolean> {
    const key = `${p.topic}:${p.partition}`;
    try {
      await this.produceAndCommit(out, p.topic, p.partition, p.state.checkpoint(p.next as string), heartbeat);
      return true;
    } catch (err) {
      this.partitions.delete(key);
      if (!(err instanceof FencedError)) throw err;
      this.log.warn({ topic: p.topic, partition: p.partition }, 'fenced: another instance owns this partition now; its batch is dropped here and processed there');
      this.fenced.add(key);
      await this.dropProducers([key]);
      return false;
    }
  }

  /** Outputs and the checkpoint, in one transaction; retried whole until committed or stopped. */
  private async produceAndCommit(messages: Encoded[], topic: string, partition: number, checkpoint: Checkpoint, heartbeat: () => Promise<void>): Promise<void> {
    const offsets = { consumerGroupId: this.opts.groupId, topics: [{ topic, partitions: [{ partition, offset: checkpoint.offset, metadata: checkpoint.metadata }] }] };
    const producer = await this.producerFor(topic, partition);
    for (let attempt = 0; ; attempt++) {
      const txn = await producer.transaction();
      try {
        for (const chunk of chunkByBytes(messages, MAX_PRODUCE_BYTES)) {
          await txn.sendBatch({ topicMessages: byTopic(chunk), acks: -1 });
        }
        await txn.sendOffsets(offsets);
        await txn.commit();
        return;
      } catch (err) {
        await txn.abort().catch(() => undefined);
        if (isFenced(err)) throw new FencedError(errorMessage(err));
        if (!this.running) throw new RetryableError(ErrorCodes.kafkaProduce, `transaction failed during shutdown: ${errorMessage(err)}`, err);
        await this.backoff('transaction', err, attempt, heartbeat);
      }
    }
  }

  private async handle(state: PartitionStage<I>, env: Envelope, raw: Buffer, heartbeat: () => Promise<void>): Promise<Encoded[]> {
    const decoded = await this.decode(raw, heartbeat);
    if (!decoded.ok) return [await this.deadLetter(env, raw, decoded.error)];
    const input: StageInput<I> = { ...env, value: decoded.value, raw };
    for (let attempt = 0; ; attempt++) {
      let outputs: StageOutput[];
      try {
        outputs = state.process(input, this.ctx);
      } catch (err) {
        const e = classify(err);
        if (e.retryable && this.running) {
          await this.backoff('stage', e, attempt, heartbeat);
          continue;
        }
        return [await this.deadLetter(env, raw, e)];
      }
      if (outputs.length === 0) {
        const reason = (outputs as { dropReason?: string }).dropReason;
        // A stateful stage returning nothing is holding the input, not dropping it.
        if (reason !== undefined || !isStateful(this.stage)) this.opts.metrics.dropped.inc({ ...this.stageLabel, reason: reason ?? 'stage' });
        return [];
      }
      return this.encodeOutputs(outputs, { envelope: env, raw });
    }
  }

  private async encodeOutputs(outputs: StageOutput[], input: { envelope: Envelope; raw: Buffer } | null): Promise<Encoded[]> {
    const encoded: Encoded[] = [];
    for (const o of outputs) {
      try {
        const value = this.opts.codecs.encode(o.topic, o.value);
        if (value.length > this.limitFor(o.topic)) {
          throw new PermanentError(ErrorCodes.kafkaProduce, `output record of ${value.length} bytes exceeds ${o.topic}'s max.message.bytes (${this.maxRecordBytes.get(o.topic) ?? 'broker default'})`);
        }
        encoded.push({ topic: o.topic, key: o.key, value });
      } catch (err) {
        // The stage produced a record its schema rejects: a bug or an input the stage
        // should have refused. Either way the input is dead-lettered, with the reason.
        const from = o.origin ?? input;
        const eventId = (o.value as { event_id?: unknown }).event_id;
        if (!from) throw err;
        encoded.push(await this.deadLetter(from.envelope, from.raw, classify(err, ErrorCodes.encodeAvro), typeof eventId === 'string' ? eventId : null));
      }
    }
    return encoded;
  }

  /**
   * Graceful stop: stop fetching (the in-flight batch produces and commits), then close.
   * Records a stateful stage still holds are not emitted: the committed checkpoint points
   * at their inputs, and the next owner rebuilds them.
   */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stopFetching();
    await this.lock;
    await this.dropProducers(this.producers.keys());
    await this.close();
  }
}

export interface SinkItem<T> {
  value: T;
  raw: Buffer;
  envelope: Envelope;
}

export interface SinkBatch<T> {
  topic: string;
  partition: number;
  /** First and last Kafka offsets covered by this batch (items may skip dead-lettered offsets). */
  firstOffset: string;
  lastOffset: string;
  items: SinkItem<T>[];
}

export interface SinkFailure<T> {
  item: SinkItem<T>;
  error: SluiceError;
}

/**
 * A destination for one consumer group. `write` must make every item of the batch
 * durable before it resolves, and is idempotent for the same batch (Elasticsearch
 * `_id` = event_id; S3 keys derived from offsets), because a crash between write and
 * commit redelivers it. It resolves with the items that failed permanently (they go
 * to the DLQ) and throws a RetryableError when the destination is unavailable.
 */
export interface SinkWriter<T> {
  readonly name: string;
  start(): Promise<void>;
  write(batch: SinkBatch<T>): Promise<SinkFailure<T>[]>;
  close(): Promise<void>;
}

export interface BatchPolicy {
  /** Flush a partition's buffer at this many records. */
  maxRecords: number;
  /** ... or at this many bytes of encoded input. */
  maxBytes: number;
  /** ... or when its oldest record has waited this long, ms. */
  maxAgeMs: number;
}

interface PartitionBuffer<T> {
  topic: string;
  partition: number;
  items: SinkItem<T>[];
  bytes: number;
  firstOffset: string | undefined;
  lastSeen: string | undefined;
  openedAt: number;
  /** Serializes flushes of this partition. */
  chain: Promise<void>;
  /** Batches of this partition handed to the writer and not yet committed (0 or 1 normally). */
  queued: number;
  /** Set while the partition is paused for backpressure: resumes it. */
  resume: (() => void) | undefined;
}

/**
 * Kafka -> destination, with per-partition batching and commit after durability.
 *
 * Memory is bounded per partition by one batch being written plus one full buffer: when
 * the buffer is full while the previous batch is still being written (a slow or
 * unavailable destination), the partition is PAUSED (kafkajs keeps the group membership
 * and heartbeats) and the rest of the fetched batch is left unresolved, to be fetched
 * again on resume. A circuit breaker opens after consecutive write failures: every
 * partition is paused, the failing batch keeps being retried with backoff (the probe),
 * and the first success closes the circuit and resumes fetching. Both transitions are
 * logged once and exported as `sluice_sink_circuit_open`.
 */
export class SinkRunner<T> extends ConsumerLoop<T> {
  private readonly buffers = new Map<string, PartitionBuffer<T>>();
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private readonly breaker: CircuitBreaker;

  constructor(opts: RunnerOptions<T>, private readonly writer: SinkWriter<T>, private readonly policy: BatchPolicy) {
    super(opts);
    this.breaker = new CircuitBreaker(3, (open, info) => {
      opts.metrics.circuitOpen.set(open ? 1 : 0, this.stageLabel);
      if (open) {
        this.log.error({ writer: writer.name, failures: info.failures, err: errorMessage(info.error) }, `circuit open: ${writer.name} is failing; fetching paused, retrying with backoff`);
        if (!this.stopping) this.consumer?.pause([{ topic: opts.inputTopic }]);
      } else {
        this.log.info({ writer: writer.name, downMs: info.downMs }, `circuit closed: ${writer.name} is writing again; fetching resumed`);
        if (!this.stopping) this.resumeAll();
      }
    });
  }

  override async start(): Promise<void> {
    await this.writer.start();
    await super.start();
    this.timer = setInterval(() => this.flushAged(), Math.max(50, Math.min(1000, Math.floor(this.policy.maxAgeMs / 4))));
    this.timer.unref();
  }

  /**
   * After a rebalance kafkajs resumes every partition from its committed offset, so
   * whatever is buffered but uncommitted will be delivered again: drop it now rather
   * than write it twice.
   */
  protected override onAssignment(): void {
    this.generation++;
    if (this.buffers.size > 0) this.log.info({ dropped: [...this.buffers.values()].reduce((n, b) => n + b.items.length, 0) }, 'rebalance: dropping uncommitted buffers (they are redelivered)');
    this.buffers.clear();
  }

  private bufferFor(topic: string, partition: number): PartitionBuffer<T> {
    const key = `${topic}:${partition}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = { topic, partition, items: [], bytes: 0, firstOffset: undefined, lastSeen: undefined, openedAt: this.now(), chain: Promise.resolve(), queued: 0, resume: undefined };
      this.buffers.set(key, b);
    }
    return b;
  }

  private full(b: PartitionBuffer<T>): boolean {
    return b.items.length >= this.policy.maxRecords || b.bytes >= this.policy.maxBytes;
  }

  private resumeAll(): void {
    this.consumer?.resume([{ topic: this.opts.inputTopic }]);
    for (const b of this.buffers.values()) b.resume = undefined;
  }

  protected async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
    const { metrics } = this.opts;
    const dead: Encoded[] = [];
    const buf = this.bufferFor(batch.topic, batch.partition);
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      if (this.full(buf)) {
        if (buf.queued > 0) {
          // Backpressure: the previous batch is still being written. Pause this partition;
          // the unresolved rest of the fetched batch is fetched again after the resume.
          this.pauseUntilWritten(buf, pause);
          break;
        }
        this.flushInBackground(buf);
      }
      const env = envelopeOf(batch.topic, batch.partition, m);
      const raw = m.value ?? Buffer.alloc(0);
      metrics.received.inc(this.stageLabel);
      const decoded = await this.decode(raw, heartbeat);
      if (buf.items.length === 0 && buf.firstOffset === undefined) {
        buf.firstOffset = m.offset;
        buf.openedAt = this.now();
      }
      if (decoded.ok) {
        buf.items.push({ value: decoded.value, raw, envelope: env });
        buf.bytes += raw.length;
      } else {
        dead.push(await this.deadLetter(env, raw, decoded.error));
      }
      buf.lastSeen = m.offset;
      resolveOffset(m.offset);
    }
    if (this.full(buf) && buf.queued === 0) this.flushInBackground(buf);
    // Dead letters are durable before the offsets they stand for can be committed.
    await this.produce(dead, heartbeat);
  }

  private pauseUntilWritten(b: PartitionBuffer<T>, pause: () => () => void): void {
    if (b.resume || this.stopping) return;
    this.opts.metrics.paused.inc(this.stageLabel);
    b.resume = pause();
    const generation = this.generation;
    void b.chain.finally(() => {
      const resume = b.resume;
      b.resume = undefined;
      if (resume && !this.stopping && !this.breaker.isOpen && generation === this.generation) resume();
    });
  }

  private flushInBackground(b: PartitionBuffer<T>): void {
    void this.flush(b, async () => undefined).catch((err: unknown) => this.log.error({ err: errorMessage(err), partition: b.partition }, 'flush failed'));
  }

  private flushAged(): void {
    const now = this.now();
    for (const b of this.buffers.values()) {
      // A partition with a batch still being written waits: small batches must not pile up behind it.
      if (b.lastSeen !== undefined && b.queued === 0 && now - b.openedAt >= this.policy.maxAgeMs) this.flushInBackground(b);
    }
  }

  /**
   * Write the buffered items and commit past the last offset seen. Queued behind any
   * flush of the same partition already running.
   */
  private flush(b: PartitionBuffer<T>, heartbeat: () => Promise<void>): Promise<void> {
    if (b.lastSeen === undefined) return b.chain;
    const batch: SinkBatch<T> = { topic: b.topic, partition: b.partition, firstOffset: b.firstOffset ?? b.lastSeen, lastOffset: b.lastSeen, items: b.items };
    const generation = this.generation;
    b.items = [];
    b.bytes = 0;
    b.firstOffset = undefined;
    b.lastSeen = undefined;
    b.queued++;
    b.chain = b.chain.then(() => this.writeAndCommit(batch, generation, heartbeat)).finally(() => {
      b.queued--;
    });
    return b.chain;
  }

  private async writeAndCommit(batch: SinkBatch<T>, generation: number, heartbeat: () => Promise<void>): Promise<void> {
    const { metrics } = this.opts;
    if (batch.items.length > 0) {
      metrics.batchSize.observe(batch.items.length);
      for (let attempt = 0; ; attempt++) {
        try {
          const failures = await this.writer.write(batch);
          this.breaker.success();
          const dead: Encoded[] = [];
          for (const f of failures) {
            const id = (f.item.value as { event_id?: unknown }).event_id;
            dead.push(await this.deadLetter(f.item.envelope, f.item.raw, f.error, typeof id === 'string' ? id : null));
          }
          await this.produce(dead, heartbeat);
          metrics.sent.inc(this.stageLabel, batch.items.length - failures.length);
          break;
        } catch (err) {
          const e = classify(err);
          if (!e.retryable) {
            this.breaker.success(); // the destination answered; the batch is bad
            // A writer that throws a permanent error for a whole batch: dead-letter each item.
            const dead = await Promise.all(batch.items.map((it) => this.deadLetter(it.envelope, it.raw, e)));
            await this.produce(dead, heartbeat);
            break;
          }
          this.breaker.failure(e);
          if (!this.running) throw e;
          await this.backoff(`write:${this.writer.name}`, e, attempt, heartbeat);
        }
      }
    }
    if (generation !== this.generation) return; // partition may have moved: the new owner commits.
    try {
      await this.commit(batch.topic, batch.partition, batch.lastOffset);
    } catch (err) {
      this.log.warn({ err: errorMessage(err), partition: batch.partition }, 'commit failed (rebalance?); the batch will be redelivered and rewritten idempotently');
    }
  }

  /** Flush every buffer now (used at shutdown). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.buffers.values()].map((b) => this.flush(b, async () => undefined)));
  }

  /** Graceful stop: stop fetching, flush buffers, commit, close the writer and connections. */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stopFetching();
    await this.flushAll();
    await this.writer.close();
    await this.close();
  }
}

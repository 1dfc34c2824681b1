/**
 * PipelineRunner: Kafka -> stage -> Kafka, transactional per batch and input partition
 * (see consumer-loop.ts for the loop both runner shapes share).
 */
import kafkajs from 'kafkajs';
import type { EachBatchPayload, Producer } from 'kafkajs';
import { isStateful, statelessPartition } from '../stage.js';
import type { Checkpoint, Envelope, PartitionStage, Stage, StageContext, StageInput, StageOutput, StatefulStage } from '../stage.js';
import { classify, DeferredError, ErrorCodes, errorMessage, RetryableError } from '../errors.js';
import { backoffDelay, DeadlineError, sleep, withDeadline } from '../retry.js';
import { ConsumerLoop, nextOffset, envelopeOf, type RunnerOptions } from './consumer-loop.js';
import { byTopic, chunkByBytes, MAX_PRODUCE_BYTES, type Encoded } from './batching.js';
import { dropReasonOf, encodeOutputs, type OutputEncoding } from './step.js';
import { UpstreamWatch, type Upstream } from './upstream.js';

interface PartitionEntry<I> {
  topic: string;
  partition: number;
  state: PartitionStage<I>;
  /** The offset after the last input processed. */
  next: string | undefined;
  /** The last fetch reached the partition's high watermark. */
  caughtUp: boolean;
  /** The first offset this state read: where a partition with no committed offset resumes after a failed transaction. */
  start: string;
}

/** Our transaction was fenced: another instance owns the partition now. */
class FencedError extends Error {}

/**
 * A transaction step failed or passed its deadline: the transaction may be open,
 * aborted, or committed (an EndTxn the broker took before the connection broke). Only
 * a new producer's InitProducerId settles it (see commitOrForget).
 */
class TransactionInDoubt extends Error {}

/**
 * Deadline of one transaction step (open, send, offsets, commit) and of a producer's
 * initialization. kafkajs retries a request 8 times with backoff up to 30 s
 * (shared/kafka.ts), about 65 s in all; a step still pending after this is treated as
 * failed. Seen in the fault matrix: after a broker restart, kafkajs's transactional
 * producer retried CONCURRENT_TRANSACTIONS and then never settled.
 */
const TXN_STEP_DEADLINE_MS = 60_000;
/** How often a runner waiting on a transaction step heartbeats its consumer group. */
const TXN_HEARTBEAT_MS = 3_000;
/** Deadline of a producer's disconnect (a stuck producer is dropped, not waited for). */
const DISCONNECT_DEADLINE_MS = 5_000;

function isFenced(err: unknown): boolean {
  for (let e = err as { type?: string; code?: number; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.code === 47 || e.code === 90) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/** `handle`'s answer for an input deferred (not yet due) and left for a later fetch. */
const DEFERRED = Symbol('deferred');

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
  /** Consecutive transactions in doubt per partition (backoff of the resets); cleared by a commit. */
  private readonly inDoubt = new Map<string, number>();
  /** Serializes batches and timer flushes: a partition state is never used concurrently. */
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    opts: RunnerOptions<I> & {
      /** Topics the stage writes to; their record size limits are read at start. */
      outputTopics: string[];
      /** Consumer groups upstream: a partition counts as caught up for `flush` only while they are (upstream.ts). */
      upstream?: readonly Upstream[] | undefined;
    },
    private readonly stage: Stage<I> | StatefulStage<I>,
  ) {
    super(opts);
    this.ctx = { now: this.now };
    this.outputTopics = opts.outputTopics;
    this.upstream = new UpstreamWatch(opts.kafka, opts.upstream ?? [], this.log);
  }

  private readonly upstream: UpstreamWatch;

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
    try {
      // InitProducerId happens at the first transaction: an empty one fences the previous
      // owner now, and makes the coordinator finish (commit or abort) any transaction of
      // this id still in flight before it answers.
      await withDeadline(
        (async () => {
          await producer.connect();
          const txn = await producer.transaction();
          await txn.abort();
        })(),
        TXN_STEP_DEADLINE_MS,
        'transactional producer initialization',
      );
    } catch (err) {
      await this.disconnect(producer);
      throw err;
    }
    this.producers.set(key, producer);
    return producer;
  }

  private async dropProducers(keys: Iterable<string>): Promise<void> {
    for (const key of [...keys]) {
      const producer = this.producers.get(key);
      this.producers.delete(key);
      if (producer) await this.disconnect(producer);
    }
  }

  private async disconnect(producer: Producer): Promise<void> {
    await withDeadline(producer.disconnect(), DISCONNECT_DEADLINE_MS, 'producer disconnect').catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'producer disconnect failed'));
  }

  override async start(): Promise<void> {
    await this.upstream.start();
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
      this.reportHeld();
      this.fenced.clear();
      this.inDoubt.clear();
      await this.dropProducers(this.producers.keys());
    });
  }

  protected override onBatchEnd(topic: string, partition: number, caughtUp: boolean): void {
    const p = this.partitions.get(`${topic}:${partition}`);
    if (p) p.caughtUp = caughtUp;
  }

  /** sluice_records_held: what this runner's partitions hold now. */
  private reportHeld(): void {
    this.opts.metrics.held.set([...this.partitions.values()].reduce((n, p) => n + p.state.held, 0), this.stageLabel);
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
    p = { topic, partition, state, next: undefined, caughtUp: false, start: firstOffset };
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
      let deferredAt: string | undefined;
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const env = envelopeOf(batch.topic, batch.partition, m);
        const raw = m.value ?? Buffer.alloc(0);
        // The first input of a batch is waited for when deferred; a later one ends the batch before it.
        const handled = await this.handle(p.state, env, raw, heartbeat, last === undefined ? () => isRunning() && !isStale() : null);
        if (handled === DEFERRED) {
          deferredAt = m.offset;
          break;
        }
        metrics.received.inc(this.stageLabel);
        out.push(...handled);
        last = m.offset;
      }
      if (last === undefined) return;
      if (p.state.endOfBatch) out.push(...this.encodeOutputs(p.state.endOfBatch(this.ctx), null));
      p.next = nextOffset(last);
      metrics.batchSize.observe(out.length);
      this.reportHeld();
      if (!(await this.commitOrForget(p, out, heartbeat))) return;
      metrics.sent.inc(this.stageLabel, out.filter((o) => o.topic !== this.opts.dlqTopic).length);
      resolveOffset(last);
      // Fetch again from the deferred input (the rest of this batch is not dropped: it is read again).
      if (deferredAt !== undefined) this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: deferredAt });
      metrics.commitLag.set(Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)), { ...this.stageLabel, partition: String(batch.partition) });
    });
  }

  /** Timer: emit what stateful stages have held too long, with their new checkpoints. */
  private flushHeld(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.isReady()) return;
      for (const p of [...this.partitions.values()]) {
        if (p.next === undefined || p.state.held === 0) continue;
        // Caught up means: this partition read to its end, and no stage upstream behind (a restart or a backlog is not idleness).
        const outputs = p.state.flush(this.ctx, { caughtUp: p.caughtUp && this.upstream.quiet });
        if (outputs.length === 0) continue;
        const out = this.encodeOutputs(outputs, null);
        if (!(await this.commitOrForget(p, out, async () => undefined))) continue;
        this.opts.metrics.sent.inc(this.stageLabel, out.filter((o) => o.topic !== this.opts.dlqTopic).length);
      }
      this.reportHeld();
    });
  }

  /**
   * Commit `out` with the partition's checkpoint; false when it was not committed here,
   * and the partition's state was dropped:
   * - fenced: the partition has a new owner; its producer is dropped and the partition
   *   left alone until the next group join;
   * - in doubt (a step failed or passed its deadline): the partition is reset (below) and
   *   read again from its committed offset.
   * If the commit fails while stopping, the error is thrown (the state is dropped too:
   * whatever was not committed is read again by the next owner).
   *
   * Reset: the producer is dropped and a new one initialized with the same
   * transactional id. Its InitProducerId fences the old one and returns only once the
   * coordinator has finished the transaction in doubt, committed or aborted. The group's
   * committed offset then tells which: the consumer seeks there, so the batch is read
   * again if the transaction aborted and not again if it committed. Exactly once either
   * way, with no guess about what a broken connection did.
   */
  private async commitOrForget(p: PartitionEntry<I>, out: Encoded[], heartbeat: () => Promise<void>): Promise<boolean> {
    const key = `${p.topic}:${p.partition}`;
    try {
      await this.produceAndCommit(out, p.topic, p.partition, p.state.checkpoint(p.next as string), heartbeat);
      this.inDoubt.delete(key);
      return true;
    } catch (err) {
      this.partitions.delete(key);
      this.reportHeld();
      if (err instanceof FencedError) {
        this.log.warn({ topic: p.topic, partition: p.partition }, 'fenced: another instance owns this partition now; its batch is dropped here and processed there');
        this.fenced.add(key);
        await this.dropProducers([key]);
        return false;
      }
      if (!(err instanceof TransactionInDoubt)) throw err;
      if (!this.running) throw new RetryableError(ErrorCodes.kafkaProduce, `transaction failed during shutdown: ${errorMessage(err)}`, err);
      const failures = (this.inDoubt.get(key) ?? 0) + 1;
      this.inDoubt.set(key, failures);
      this.opts.metrics.retries.inc({ op: 'transaction' });
      const delayMs = backoffDelay(failures - 1);
      if (failures === 1 || failures % 10 === 0) {
        this.log.warn({ topic: p.topic, partition: p.partition, attempt: failures, delayMs, err: errorMessage(err) }, 'transaction failed: resuming the partition from its committed offset with a new producer');
      }
      await this.dropProducers([key]);
      await sleep(delayMs, this.abort.signal);
      await this.resume(p, heartbeat);
      return false;
    }
  }

  /** Reset step 2 (see commitOrForget): a new producer, then the consumer moved to the committed offset. */
  private async resume(p: PartitionEntry<I>, heartbeat: () => Promise<void>): Promise<void> {
    const committed = await this.retrying('transaction', heartbeat, (err) => !isFenced(err), async () => {
      await this.producerFor(p.topic, p.partition);
      return this.committedCheckpoint(p.topic, p.partition);
    });
    const offset = committed?.offset ?? p.start;
    this.log.info({ topic: p.topic, partition: p.partition, offset }, committed ? 'resuming from the committed offset' : 'nothing committed yet: resuming from the first offset read');
    this.consumer?.seek({ topic: p.topic, partition: p.partition, offset });
  }

  /**
   * Outputs and the checkpoint, in one transaction, each step under a deadline (the
   * consumer heartbeats meanwhile). Throws FencedError, or TransactionInDoubt for any
   * other failure: it is not aborted or retried here (see commitOrForget).
   */
  private async produceAndCommit(messages: Encoded[], topic: string, partition: number, checkpoint: Checkpoint, heartbeat: () => Promise<void>): Promise<void> {
    const offsets = { consumerGroupId: this.opts.groupId, topics: [{ topic, partitions: [{ partition, offset: checkpoint.offset, metadata: checkpoint.metadata }] }] };
    const producer = await this.producerFor(topic, partition);
    const step = <T>(what: string, work: Promise<T>) => withDeadline(work, TXN_STEP_DEADLINE_MS, `transaction ${what}`, { fn: heartbeat, everyMs: TXN_HEARTBEAT_MS });
    try {
      const txn = await step('begin', producer.transaction());
      for (const chunk of chunkByBytes(messages, MAX_PRODUCE_BYTES)) {
        await step('send', txn.sendBatch({ topicMessages: byTopic(chunk), acks: -1 }));
      }
      await step('offsets', txn.sendOffsets(offsets));
      await step('commit', txn.commit());
    } catch (err) {
      if (isFenced(err)) throw new FencedError(errorMessage(err));
      throw Object.assign(new TransactionInDoubt(err instanceof DeadlineError ? err.message : errorMessage(err)), { cause: err });
    }
  }

  /**
   * One input through the stage. A DeferredError (not yet: shared/errors.ts) is waited for
   * while `waitDeferred` says so (the input is the first of its batch, and the partition
   * still ours), else DEFERRED is returned and the input is left for a later fetch.
   */
  private async handle(state: PartitionStage<I>, env: Envelope, raw: Buffer, heartbeat: () => Promise<void>, waitDeferred: (() => boolean) | null): Promise<Encoded[] | typeof DEFERRED> {
    const decoded = await this.decode(raw, heartbeat);
    if (!decoded.ok) return [this.deadLetter(env, raw, decoded.error)];
    const input: StageInput<I> = { ...env, value: decoded.value, raw };
    let outputs: StageOutput[];
    try {
      const retryable = (err: unknown) => (err instanceof DeferredError ? waitDeferred !== null && waitDeferred() : classify(err).retryable);
      outputs = await this.retrying('stage', heartbeat, retryable, async () => state.process(input, this.ctx));
    } catch (err) {
      if (err instanceof DeferredError) return DEFERRED;
      return [this.deadLetter(env, raw, classify(err))];
    }
    if (outputs.length === 0) {
      const reason = dropReasonOf(outputs, isStateful(this.stage));
      if (reason !== null) this.opts.metrics.dropped.inc({ ...this.stageLabel, reason });
      return [];
    }
    return this.encodeOutputs(outputs, { envelope: env, raw });
  }

  private encodeOutputs(outputs: StageOutput[], input: { envelope: Envelope; raw: Buffer } | null): Encoded[] {
    return encodeOutputs(outputs, input, this.encoding);
  }

  private readonly encoding: OutputEncoding = {
    codecs: this.opts.codecs,
    maxRecordBytes: (topic) => this.maxRecordBytes.get(topic),
    deadLetter: (env, raw, error, eventId) => this.deadLetter(env, raw, error, eventId),
  };

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
    await this.upstream.stop();
    await this.close();
  }
}

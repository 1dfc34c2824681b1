/**
 * SinkRunner: Kafka -> bounded per-partition batches -> a SinkWriter (Elasticsearch, S3)
 * -> commit once durable (see consumer-loop.ts for the loop both runner shapes share).
 */
import type { EachBatchPayload } from 'kafkajs';
import type { Envelope } from '../stage.js';
import { classify, errorMessage, SluiceError } from '../errors.js';
import { CircuitBreaker, withRetry } from '../retry.js';
import { ConsumerLoop, envelopeOf, type RunnerOptions } from './consumer-loop.js';
import type { Encoded } from './batching.js';

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
  /**
   * ... or as soon as the partition has been read to its end (its last fetch reached the
   * high watermark) while the buffer holds at least this many records: a burst that
   * ended is written at once, a trickle still waits for maxAgeMs. 0 or absent: off.
   *
   * The tail of a burst: once a partition's buffer was written for its size (full, or
   * caught up with at least caughtUpMinRecords), the rest buffered after it is written as
   * soon as the partition is read to its end and no record has arrived for
   * BURST_TAIL_IDLE_MS, whatever its size, once per burst. A trickle never makes a burst
   * (below caughtUpMinRecords per maxAgeMs), so it still waits for maxAgeMs: a burst
   * costs at most one small object, and its last records do not wait maxAgeMs.
   */
  caughtUpMinRecords?: number;
}

/** A partition read to its end with no record for this long has finished its burst, ms. */
export const BURST_TAIL_IDLE_MS = 500;

/**
 * A byte budget shared by every SinkRunner of a process: the encoded input bytes of the
 * records they hold (buffered, or handed to a writer and not yet committed), over all
 * partitions and datasets. While the total is over the budget, a partition buffer that
 * holds at least 1/16 of it counts as full: it is written at its next record (or, with a
 * write of it still running, the partition pauses). Smaller buffers are left alone, so
 * the total stays below about budget + 1/16 of it per buffer, however many partitions
 * and datasets one process serves, and no writer is pushed into tiny batches. The
 * decoded records take several times their encoded bytes on the heap.
 */
export class BufferBudget {
  private used = 0;
  constructor(readonly maxBytes: number) {}
  add(bytes: number): void {
    this.used += bytes;
  }
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
  get usedBytes(): number {
    return this.used;
  }
  get over(): boolean {
    return this.maxBytes > 0 && this.used > this.maxBytes;
  }
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
  /** The last fetch of this partition reached its high watermark. */
  caughtUp: boolean;
  /** When the last record was added, ms. */
  lastAddedAt: number;
  /** A flush for size happened and its burst's tail is not written yet (BatchPolicy.caughtUpMinRecords). */
  inBurst: boolean;
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

  constructor(
    opts: RunnerOptions<T>,
    private readonly writer: SinkWriter<T>,
    private readonly policy: BatchPolicy,
    /** Shared by the process's runners; none: only the per-partition bounds of `policy`. */
    private readonly budget: BufferBudget = new BufferBudget(0),
  ) {
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

  /**
   * The writer's start (Elasticsearch: capabilities and templates) is retried with backoff
   * while it fails retryably (the destination still starting, or busy), up to 30 attempts
   * (about 10 minutes), as the service waits for Kafka and the registry; a permanent error
   * (bad credentials, a refused template) stops the start at once.
   */
  override async start(): Promise<void> {
    await withRetry(() => this.writer.start(), {
      retryable: (err) => err instanceof SluiceError && err.retryable,
      maxAttempts: 30,
      onRetry: (err, attempt, delayMs) => this.log.warn({ writer: this.writer.name, attempt, delayMs, err: errorMessage(err) }, `${this.writer.name} not ready yet; retrying its start`),
    });
    await super.start();
    this.timer = setInterval(() => this.flushAged(), Math.max(50, Math.min(BURST_TAIL_IDLE_MS / 2, Math.floor(this.policy.maxAgeMs / 4))));
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
    for (const b of this.buffers.values()) {
      this.budget.release(b.bytes);
      // kafkajs keeps a partition paused across a rebalance when it stays assigned; the
      // write it waited for belongs to the old generation and will not resume it (and the
      // buffer it waited on is dropped), so resume it here or it is never fetched again.
      const resume = b.resume;
      b.resume = undefined;
      if (resume && !this.stopping && !this.breaker.isOpen) resume();
    }
    this.buffers.clear();
  }

  private bufferFor(topic: string, partition: number): PartitionBuffer<T> {
    const key = `${topic}:${partition}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = { topic, partition, items: [], bytes: 0, firstOffset: undefined, lastSeen: undefined, openedAt: this.now(), chain: Promise.resolve(), queued: 0, resume: undefined, caughtUp: false, lastAddedAt: 0, inBurst: false };
      this.buffers.set(key, b);
    }
    return b;
  }

  /** Read to its end with enough buffered to write now (BatchPolicy.caughtUpMinRecords). */
  private endedBurst(b: PartitionBuffer<T>): boolean {
    const min = this.policy.caughtUpMinRecords ?? 0;
    return min > 0 && b.caughtUp && b.items.length >= min;
  }

  /** The rest of a burst, read to the end and quiet for BURST_TAIL_IDLE_MS (BatchPolicy.caughtUpMinRecords). */
  private burstTail(b: PartitionBuffer<T>, now: number): boolean {
    return b.inBurst && b.caughtUp && b.items.length > 0 && now - b.lastAddedAt >= BURST_TAIL_IDLE_MS;
  }

  protected override onBatchEnd(topic: string, partition: number, caughtUp: boolean): void {
    const b = this.buffers.get(`${topic}:${partition}`);
    if (!b) return;
    b.caughtUp = caughtUp;
    if (b.queued === 0 && this.endedBurst(b)) this.flushInBackground(b, 'size');
  }

  private full(b: PartitionBuffer<T>): boolean {
    return b.items.length >= this.policy.maxRecords || b.bytes >= this.policy.maxBytes || (this.budget.over && b.bytes >= this.budget.maxBytes / 16);
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
        this.flushInBackground(buf, 'size');
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
        buf.lastAddedAt = this.now();
        this.budget.add(raw.length);
      } else {
        dead.push(await this.deadLetter(env, raw, decoded.error));
      }
      buf.lastSeen = m.offset;
      resolveOffset(m.offset);
    }
    if (this.full(buf) && buf.queued === 0) this.flushInBackground(buf, 'size');
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

  /** Write the buffer without waiting; `why` tracks bursts (BatchPolicy.caughtUpMinRecords). */
  private flushInBackground(b: PartitionBuffer<T>, why: 'size' | 'age' | 'tail'): void {
    b.inBurst = why === 'size' && (this.policy.caughtUpMinRecords ?? 0) > 0;
    void this.flush(b, async () => undefined).catch((err: unknown) => this.log.error({ err: errorMessage(err), partition: b.partition }, 'flush failed'));
  }

  private flushAged(): void {
    const now = this.now();
    for (const b of this.buffers.values()) {
      // A partition with a batch still being written waits: small batches must not pile up behind it.
      if (b.lastSeen === undefined || b.queued > 0) continue;
      if (this.endedBurst(b)) this.flushInBackground(b, 'size');
      else if (this.burstTail(b, now)) this.flushInBackground(b, 'tail');
      else if (now - b.openedAt >= this.policy.maxAgeMs) this.flushInBackground(b, 'age');
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
    const bytes = b.bytes;
    b.items = [];
    b.bytes = 0;
    b.firstOffset = undefined;
    b.lastSeen = undefined;
    b.queued++;
    b.chain = b.chain.then(() => this.writeAndCommit(batch, generation, heartbeat)).finally(() => {
      b.queued--;
      this.budget.release(bytes);
    });
    return b.chain;
  }

  private async writeAndCommit(batch: SinkBatch<T>, generation: number, heartbeat: () => Promise<void>): Promise<void> {
    const { metrics } = this.opts;
    if (batch.items.length > 0) {
      metrics.batchSize.observe(batch.items.length);
      // Retryable failures trip the circuit breaker and are retried while the runner runs.
      const retryable = (err: unknown): boolean => {
        const e = classify(err);
        if (e.retryable) this.breaker.failure(e);
        return e.retryable;
      };
      try {
        await this.retrying(`write:${this.writer.name}`, heartbeat, retryable, async () => {
          const failures = await this.writer.write(batch);
          this.breaker.success();
          const dead: Encoded[] = [];
          for (const f of failures) {
            const id = (f.item.value as { event_id?: unknown }).event_id;
            dead.push(await this.deadLetter(f.item.envelope, f.item.raw, f.error, typeof id === 'string' ? id : null));
          }
          await this.produce(dead, heartbeat);
          metrics.sent.inc(this.stageLabel, batch.items.length - failures.length);
        });
      } catch (err) {
        const e = classify(err);
        if (e.retryable) throw e; // the runner is stopping: nothing is committed
        this.breaker.success(); // the destination answered; the batch is bad
        // A writer that throws a permanent error for a whole batch: dead-letter each item.
        const dead = await Promise.all(batch.items.map((it) => this.deadLetter(it.envelope, it.raw, e)));
        await this.produce(dead, heartbeat);
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


/**
 * MemoryRunner: the stages a Kafka deployment runs (services/<name>/stages.ts), run in
 * one process with topics held in memory and an injected clock. `sluice parse` is this
 * runner plus file input and NDJSON output; the conformance suite runs the same inputs
 * through it and through Kafka and compares (test/conformance.test.ts).
 *
 * Contract: for the same inputs, its records equal those of a Kafka deployment whose
 * topics have ONE partition each, apart from wall-clock fields (observed_at, failed_at)
 * and apart from timing the Kafka runners cannot control (a flush timer firing between
 * two batches). To get there it keeps the Kafka runner's rules (shared/runner/step.ts):
 * - a topic is one partition; offsets count from 0 per topic, in the order records are
 *   produced; each record is encoded with its topic's Avro schema when produced and
 *   decoded by its consumer with the binding's own decoder (the TopicCodecs of the
 *   services, over an in-memory schema registry), so values cross stages exactly as
 *   through Kafka;
 * - a binding consumes its input topic in offset order; a stateful stage gets one
 *   PartitionStage per topic it reads, opened without a checkpoint (nothing to resume);
 * - the outputs of an input follow one another in the order the stage returned them;
 *   dead letters (undecodable input, a PermanentError of the stage, an output its
 *   schema refuses or larger than 1 MB) go to the dead-letter topic as the Kafka runner
 *   builds them;
 * - the records that arrived since the last `pump()` are a consumer's batch: stages that
 *   merge per batch (`endOfBatch`) see batches of what the caller produced in between;
 * - `tick()` is the runners' flush timer: every stateful partition holding records is
 *   flushed with the clock's time, caught up (nothing waits after `pump()`);
 * - `drain()` lets time pass (the clock advanced in steps of the shortest flush
 *   interval, ticking at each) until no stage holds anything: what a deployment does
 *   once its input stops. `endOfInput(topic)` flushes the stages reading `topic` as if
 *   every timeout had passed;
 * - a RetryableError of a stage cannot be waited out in memory: it is thrown.
 * Memory: records wait only between `produce()` and `pump()`; stages bound the rest.
 */
import avro from 'avsc';
import { TopicCodecs } from '../codec.js';
import type { SchemaRegistryPort } from '../registry.js';
import type { AvroRecordSchema, TopicNames } from '../schemas.js';
import { isStateful, statelessPartition, type Envelope, type PartitionStage, type StageContext, type StageOutput } from '../stage.js';
import { classify, ErrorCodes, PermanentError } from '../errors.js';
import type { AnyStageBinding, StageBinding } from './binding.js';
import type { Encoded } from './batching.js';
import { deadLetterOf, encodeOutputs, type OutputEncoding } from './step.js';

/** One record of an in-memory topic. */
export interface MemoryRecord {
  topic: string;
  offset: number;
  key: Buffer | null;
  /** Encoded as on Kafka: raw bytes for the raw topic, Confluent-framed Avro for the rest. */
  value: Buffer;
  headers: Readonly<Record<string, string>>;
  timestampMs: number;
}

export interface MemoryRunnerOptions {
  bindings: ReadonlyArray<AnyStageBinding>;
  /** The services' topic names (their Avro schemas are registered under them). */
  topics: TopicNames;
  /** Wall-clock time, ms: the stages' `ctx.now()` (fixed or manual in tests and files). */
  clock: () => number;
  /** Every record written to any topic, dead letters included, in the order written. */
  onRecord?: (record: MemoryRecord) => void;
  /**
   * The input topic whose stages consume a record of `topic` (default: `topic` itself), as
   * a Kafka consumer subscribed to a topic pattern would: `sluice parse` writes each file
   * to a topic of its own name, read by the collector as its raw topic.
   */
  route?: (topic: string) => string;
}

interface Consumer {
  binding: StageBinding<unknown>;
  queue: MemoryRecord[];
  /** One per topic read (each topic is one partition). */
  states: Map<string, PartitionStage<unknown>>;
}

/** A schema registry in memory: ids 1, 2, ... in order of registration. */
function memoryRegistry(): SchemaRegistryPort {
  const types: avro.Type[] = [];
  const ids = new Map<string, number>();
  return {
    register: async (_subject: string, schema: AvroRecordSchema) => {
      const text = JSON.stringify(schema);
      let id = ids.get(text);
      if (id === undefined) {
        types.push(avro.Type.forSchema(schema as unknown as avro.Schema));
        ids.set(text, (id = types.length));
      }
      return id;
    },
    avroType: async (id: number) => {
      const t = types[id - 1];
      if (!t) throw new PermanentError(ErrorCodes.decodeAvro, `unknown schema id ${id}`);
      return t;
    },
  };
}

/** Far enough ahead that every timeout of a stage has passed. */
const END_OF_TIME_MS = 100 * 365 * 24 * 3600 * 1000;
/** `drain()` gives up after this many steps (a stage that never lets go is a bug). */
const MAX_DRAIN_STEPS = 1_000_000;

export class MemoryRunner {
  readonly codecs: TopicCodecs;
  private readonly consumers: Consumer[];
  private readonly offsets = new Map<string, number>();
  private readonly dlqTopic: string;
  /** Time `drain()` has let pass, added to the clock. */
  private passedMs = 0;
  private readonly ctx: StageContext;
  private readonly stepMs: number;
  private readonly encodings: Map<string, OutputEncoding>;

  private constructor(
    private readonly opts: MemoryRunnerOptions,
    codecs: TopicCodecs,
  ) {
    this.codecs = codecs;
    this.dlqTopic = opts.topics.topicDlq;
    this.ctx = { now: () => this.opts.clock() + this.passedMs };
    this.consumers = opts.bindings.map((b) => ({ binding: b as StageBinding<unknown>, queue: [], states: new Map() }));
    const intervals = opts.bindings.map((b) => b.stage).filter(isStateful).map((s) => s.flushIntervalMs);
    this.stepMs = Math.max(1, Math.min(1000, ...intervals));
    this.encodings = new Map(
      opts.bindings.map((b) => [
        b.name,
        {
          codecs,
          maxRecordBytes: () => undefined,
          deadLetter: (env, raw, error, eventId) => this.encodeDeadLetter(b.name, env, raw, error, eventId),
        } satisfies OutputEncoding,
      ]),
    );
  }

  static async create(opts: MemoryRunnerOptions): Promise<MemoryRunner> {
    return new MemoryRunner(opts, await TopicCodecs.register(memoryRegistry(), opts.topics));
  }

  /** The stages' time now (the clock plus what `drain()` let pass). */
  now(): number {
    return this.ctx.now();
  }

  /** Decode a record of a Sluice topic (Avro). */
  decode<T>(record: MemoryRecord): T {
    return this.codecs.decode(record.value) as T;
  }

  /** Append a record to `topic` (a shipper producing a raw line, or a stage's output). */
  produce(topic: string, message: { key: Buffer | string | null; value: Buffer; headers?: Readonly<Record<string, string>>; timestampMs?: number }): MemoryRecord {
    const offset = this.offsets.get(topic) ?? 0;
    this.offsets.set(topic, offset + 1);
    const key = message.key === null ? null : Buffer.isBuffer(message.key) ? message.key : Buffer.from(message.key);
    const record: MemoryRecord = { topic, offset, key, value: message.value, headers: message.headers ?? {}, timestampMs: message.timestampMs ?? this.now() };
    this.opts.onRecord?.(record);
    const input = this.opts.route ? this.opts.route(topic) : topic;
    for (const c of this.consumers) if (c.binding.inputTopic === input) c.queue.push(record);
    return record;
  }

  /** Run every stage until no input waits. */
  pump(): void {
    for (let busy = true; busy; ) {
      busy = false;
      for (const c of this.consumers) {
        if (c.queue.length === 0) continue;
        busy = true;
        const queue = c.queue;
        c.queue = [];
        for (const r of queue) this.handle(c, r);
        // The records that arrived since the last pump are this consumer's batch.
        for (const state of c.states.values()) if (state.endOfBatch) this.write(encodeOutputs(state.endOfBatch(this.ctx), null, this.encodings.get(c.binding.name) as OutputEncoding));
      }
    }
  }

  /** The flush timer: stateful partitions holding records emit what is due at the clock's time. */
  tick(): void {
    for (const c of this.consumers) for (const state of c.states.values()) this.flush(c, state, this.ctx);
    this.pump();
  }

  /** `topic` will not grow: the stages reading it emit what they hold, as if every timeout had passed. */
  endOfInput(topic: string): void {
    const late: StageContext = { now: () => this.ctx.now() + END_OF_TIME_MS };
    for (const c of this.consumers) {
      const state = c.states.get(topic);
      if (state) this.flush(c, state, late);
    }
    this.pump();
  }

  /** Records held by the stages (multi-line events, open windows, spans and traces). */
  get held(): number {
    let n = 0;
    for (const c of this.consumers) for (const state of c.states.values()) n += state.held;
    return n;
  }

  /** Let time pass until no stage holds anything: what a deployment does once its input stops. */
  drain(): void {
    this.pump();
    for (let step = 0; this.held > 0; step++) {
      if (step >= MAX_DRAIN_STEPS) throw new Error(`MemoryRunner.drain: stages still hold ${this.held} records after ${step} flushes`);
      this.passedMs += this.stepMs;
      this.tick();
    }
  }

  private flush(c: Consumer, state: PartitionStage<unknown>, ctx: StageContext): void {
    if (state.held === 0) return;
    this.write(encodeOutputs(state.flush(ctx, { caughtUp: true }), null, this.encodings.get(c.binding.name) as OutputEncoding));
  }

  private handle(c: Consumer, r: MemoryRecord): void {
    const { binding } = c;
    const env: Envelope = { topic: r.topic, partition: 0, offset: String(r.offset), timestampMs: r.timestampMs, key: r.key, headers: r.headers };
    let value: unknown;
    try {
      value = binding.decode(r.value, this.codecs);
      if (value instanceof Promise) {
        value.catch(() => undefined);
        throw new PermanentError(ErrorCodes.decodeAvro, 'a schema id no topic here was registered with');
      }
    } catch (err) {
      this.write([this.encodeDeadLetter(binding.name, env, r.value, classify(err, ErrorCodes.decodeAvro), null)]);
      return;
    }
    let state = c.states.get(r.topic);
    if (!state) c.states.set(r.topic, (state = isStateful(binding.stage) ? binding.stage.open(r.topic, 0, null) : statelessPartition(binding.stage)));
    let outputs: StageOutput[];
    try {
      outputs = state.process({ ...env, value, raw: r.value }, this.ctx);
    } catch (err) {
      const e = classify(err);
      if (e.retryable) throw e;
      this.write([this.encodeDeadLetter(binding.name, env, r.value, e, null)]);
      return;
    }
    this.write(encodeOutputs(outputs, { envelope: env, raw: r.value }, this.encodings.get(binding.name) as OutputEncoding));
  }

  private encodeDeadLetter(stage: string, env: Envelope, raw: Buffer, error: ReturnType<typeof classify>, eventId: string | null): Encoded {
    const letter = deadLetterOf(stage, env, raw, error, this.now(), eventId);
    return { topic: this.dlqTopic, key: env.key, value: this.codecs.encode(this.dlqTopic, letter) };
  }

  private write(records: readonly Encoded[]): void {
    for (const e of records) this.produce(e.topic, { key: e.key, value: e.value, timestampMs: this.now() });
  }
}

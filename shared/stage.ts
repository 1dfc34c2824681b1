/**
 * The stage contract (CONVENTIONS.md, "One result contract"). A stage is pure: it gets
 * one decoded input and a small context and returns what to send on. It never touches
 * Kafka, Elasticsearch, S3 or the wall clock; the runner owns all I/O.
 *
 * - `[]` drops on purpose (counted by the runner, not logged per record);
 * - `[r]` passes one record on, `[a, b]` splits;
 * - throwing a PermanentError sends the input to the dead-letter topic with its code;
 * - throwing a RetryableError makes the runner back off and retry without committing.
 */
import type { SluiceError } from './errors.js';

export interface Envelope {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (kafkajs's representation; offsets can exceed 2^53 in theory). */
  offset: string;
  /** Kafka message timestamp, ms since the epoch. */
  timestampMs: number;
  key: Buffer | null;
  /** Kafka headers decoded as UTF-8; a repeated header keeps its last value. */
  headers: Readonly<Record<string, string>>;
}

export interface StageInput<I> extends Envelope {
  value: I;
  /** The undecoded message value, kept for the dead-letter topic. */
  raw: Buffer;
}

export interface StageOutput {
  /** Destination topic; the runner encodes `value` with that topic's Avro schema. */
  topic: string;
  key: string | null;
  value: unknown;
  /**
   * The input this record came from, when it is not the input being processed (a
   * stateful stage emitting records held from earlier inputs): its dead letter, if the
   * record cannot be encoded, names that input.
   */
  origin?: { envelope: Envelope; raw: Buffer };
  /**
   * Set when this record failed in a later stage of the same process (shared/runner/fuse.ts):
   * the runner writes a dead letter for its origin (else the input being processed) with
   * this error instead of the record.
   */
  deadLetter?: SluiceError;
  /** Kafka headers of the record (the delay path's not-before time); none by default. */
  headers?: Readonly<Record<string, string>>;
}

export interface StageContext {
  /** Wall-clock time in ms, supplied by the runner (fixed in tests). */
  now(): number;
}

export interface Stage<I> {
  readonly name: string;
  process(input: StageInput<I>, ctx: StageContext): StageOutput[];
}

/** Where a consumer resumes a partition: the offset to commit and the metadata committed with it. */
export interface Checkpoint {
  /** The next offset to read after a restart (Kafka's committed-offset convention). */
  offset: string;
  /** Stage state needed to resume exactly (Kafka offset-commit metadata, at most ~4 KB); null: none. */
  metadata: string | null;
}

/**
 * The state of a stateful stage for ONE input partition (CONVENTIONS.md: "Stateful work
 * is an explicit stateful stage with flush()"). The runner calls it in offset order and
 * never concurrently.
 *
 * - `process` returns the records this input completed, possibly of earlier inputs;
 * - `flush` returns records held longer than the stage allows (the runner calls it on a
 *   timer, with the wall clock in `ctx`, and says whether the partition was caught up
 *   at its last fetch: no more input was waiting in Kafka);
 * - `endOfBatch` (optional) returns what the stage merges per batch of inputs (late metric
 *   deltas): the runner calls it after the last input of every fetched batch, before
 *   that batch's checkpoint, and sends its records in the same transaction; so nothing
 *   is pending in it at any checkpoint;
 * - `checkpoint(next)` says where a new owner must resume after the runner has processed
 *   every input before offset `next`: the committed offset stays at the first input whose
 *   records are still held, and `metadata` lets `open` rebuild the held state exactly,
 *   without emitting twice what was emitted already. It is committed in the same Kafka
 *   transaction as the records emitted so far.
 */
export interface PartitionStage<I> {
  process(input: StageInput<I>, ctx: StageContext): StageOutput[];
  flush(ctx: StageContext, partition?: { caughtUp: boolean }): StageOutput[];
  endOfBatch?(ctx: StageContext): StageOutput[];
  checkpoint(next: string): Checkpoint;
  /** Records currently held (a gauge for operators). */
  readonly held: number;
}

/** A stage whose records may depend on several inputs of one partition (multi-line merging). */
export interface StatefulStage<I> {
  readonly name: string;
  /** How often the runner calls `flush`, ms. */
  readonly flushIntervalMs: number;
  /** State for one partition, resuming from what its previous owner committed (null: nothing committed). */
  open(topic: string, partition: number, committed: Checkpoint | null): PartitionStage<I>;
}

export function isStateful<I>(s: Stage<I> | StatefulStage<I>): s is StatefulStage<I> {
  return typeof (s as StatefulStage<I>).open === 'function';
}

/** A stateless stage seen as a stateful one: nothing held, the checkpoint is the next offset. */
export function statelessPartition<I>(stage: Stage<I>): PartitionStage<I> {
  return {
    process: (input, ctx) => stage.process(input, ctx),
    flush: () => [],
    checkpoint: (next) => ({ offset: next, metadata: null }),
    held: 0,
  };
}

/** Drops are counted by reason: a stage may return this marker list instead of `[]`. */
export function dropped(reason: string): StageOutput[] & { dropReason: string } {
  return Object.assign([] as StageOutput[], { dropReason: reason });
}

/**
 * `stage` with what goes in and comes out of it wrapped, the same for a stateless stage
 * and for each partition of a stateful one: `input(process)` wraps `process`, `output`
 * sees the records of `process`, `flush` and `endOfBatch` (a stage's empty answer is left
 * as it is: it may be a `dropped` marker). Checkpoints and `held` are the stage's own.
 */
function wrapStage<I, S extends Stage<I> | StatefulStage<I>>(
  stage: S,
  wrap: { input?: (process: PartitionStage<I>['process']) => PartitionStage<I>['process']; output?: (outputs: StageOutput[], ctx: StageContext) => StageOutput[] },
): S {
  const out = (outputs: StageOutput[], ctx: StageContext): StageOutput[] => (wrap.output && outputs.length > 0 ? wrap.output(outputs, ctx) : outputs);
  const inp = wrap.input ?? ((process: PartitionStage<I>['process']) => process);
  if (isStateful(stage)) {
    const s = stage as StatefulStage<I>;
    return {
      name: s.name,
      flushIntervalMs: s.flushIntervalMs,
      open(topic, partition, committed) {
        const p = s.open(topic, partition, committed);
        const process = inp((input, ctx) => p.process(input, ctx));
        const wrapped: PartitionStage<I> = {
          process: (input, ctx) => out(process(input, ctx), ctx),
          flush: (ctx, part) => out(p.flush(ctx, part), ctx),
          checkpoint: (next) => p.checkpoint(next),
          get held() {
            return p.held;
          },
        };
        if (p.endOfBatch) wrapped.endOfBatch = (ctx) => out(p.endOfBatch!(ctx), ctx);
        return wrapped;
      },
    } as S;
  }
  const s = stage as Stage<I>;
  const process = inp(s.process.bind(s));
  return { name: s.name, process: (input, ctx) => out(process(input, ctx), ctx) } as S;
}

/**
 * `stage` behind an admission check: `refuse` sees each input first and returns the error
 * it is refused with (the runner dead-letters the input with it, and counts it by code),
 * or null to let it through. The stage never sees a refused input, so its state does not
 * change. The collector's tenant allow-list (shared/tenants.ts) is one.
 */
export function withAdmission<I, S extends Stage<I> | StatefulStage<I>>(stage: S, refuse: (input: StageInput<I>, ctx: StageContext) => Error | null): S {
  return wrapStage<I, S>(stage, {
    input: (process) => (input, ctx) => {
      const err = refuse(input, ctx);
      if (err) throw err;
      return process(input, ctx);
    },
  });
}

/**
 * `stage` with its records passed through `map` before the runner sees them (from
 * `process`, `flush` and `endOfBatch` alike); a stage's empty answer is left as it is
 * (it may be a `dropped` marker). The collector's tenant rate limit is one.
 */
export function withOutputs<I, S extends Stage<I> | StatefulStage<I>>(stage: S, map: (outputs: StageOutput[], ctx: StageContext) => StageOutput[]): S {
  return wrapStage<I, S>(stage, { output: map });
}

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
}

export interface StageContext {
  /** Wall-clock time in ms, supplied by the runner (fixed in tests). */
  now(): number;
}

export interface Stage<I> {
  readonly name: string;
  process(input: StageInput<I>, ctx: StageContext): StageOutput[];
}

/** Drops are counted by reason: a stage may return this marker list instead of `[]`. */
export function dropped(reason: string): StageOutput[] & { dropReason: string } {
  return Object.assign([] as StageOutput[], { dropReason: reason });
}

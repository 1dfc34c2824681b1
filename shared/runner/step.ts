/**
 * What every runner does with one input and the records a stage returns, whatever the
 * transport (PipelineRunner over Kafka, MemoryRunner in one process). Kept here, once,
 * so the two cannot drift:
 *
 * - `deadLetterOf`: the DeadLetter record for an input (original bytes capped at
 *   MAX_DLQ_ORIGINAL_BYTES, message at 4 KB, failed_at from the runner's clock, the
 *   input's Kafka headers up to MAX_DLQ_HEADER_BYTES, so a replay restores its tenant,
 *   service and format);
 * - `encodeOutputs`: each output encoded with its topic's Avro schema; an output the
 *   schema refuses, or larger than its topic allows, dead-letters the input it came
 *   from (`origin`, else the input being processed) instead of failing the batch, and
 *   so does an output marked `deadLetter` (a later fused stage failed on it);
 * - `dropReasonOf`: why a stage returned nothing (shared/stage.ts `dropped`), or null
 *   for a stateful stage holding its input.
 */
import type { TopicCodecs } from '../codec.js';
import type { DeadLetter } from '../records.js';
import type { Envelope, StageOutput } from '../stage.js';
import { classify, ErrorCodes, PermanentError, type SluiceError } from '../errors.js';
import type { Encoded } from './batching.js';

/** Dead letters keep at most this much of the original bytes, so they fit in a Kafka message. */
export const MAX_DLQ_ORIGINAL_BYTES = 256 * 1024;

/** Kafka's default max.message.bytes: the record limit of a topic whose setting is unknown. */
export const DEFAULT_MAX_RECORD_BYTES = 1_048_588;
const RECORD_OVERHEAD_BYTES = 512;

export function deadLetterOf(stage: string, env: Envelope, raw: Buffer, error: SluiceError, failedAtMs: number, eventId: string | null = null): DeadLetter {
  return {
    stage,
    error_code: error.code,
    message: error.message.slice(0, 4096),
    original: raw.length > MAX_DLQ_ORIGINAL_BYTES ? raw.subarray(0, MAX_DLQ_ORIGINAL_BYTES) : raw,
    origin_topic: env.topic,
    origin_partition: env.partition,
    origin_offset: Number(env.offset),
    origin_key: env.key,
    failed_at: failedAtMs * 1000,
    event_id: eventId,
    origin_headers: boundedHeaders(env.headers),
  };
}

/** Headers a dead letter keeps: at most this many bytes of names and values together (the rest are left out, last first). */
export const MAX_DLQ_HEADER_BYTES = 16 * 1024;

function boundedHeaders(headers: Readonly<Record<string, string>>): Record<string, string> | null {
  const out: Record<string, string> = {};
  let size = 0;
  for (const [k, v] of Object.entries(headers)) {
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (size > MAX_DLQ_HEADER_BYTES) break;
    out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

export interface OutputEncoding {
  codecs: TopicCodecs;
  /** The topic's max.message.bytes when known (read from the broker at start). */
  maxRecordBytes(topic: string): number | undefined;
  /** The encoded dead letter of an input whose output could not be written. */
  deadLetter(env: Envelope, raw: Buffer, error: SluiceError, eventId: string | null): Encoded;
}

/**
 * Encode a stage's outputs for their topics. `input` is the input being processed (null
 * for a timer flush, whose outputs all name their `origin`). An output that cannot be
 * encoded and has no input to blame is a bug: it is thrown.
 */
export function encodeOutputs(outputs: readonly StageOutput[], input: { envelope: Envelope; raw: Buffer } | null, enc: OutputEncoding): Encoded[] {
  const encoded: Encoded[] = [];
  for (const o of outputs) {
    if (o.deadLetter) {
      const from = o.origin ?? input;
      if (!from) throw o.deadLetter;
      encoded.push(enc.deadLetter(from.envelope, from.raw, o.deadLetter, eventIdOf(o.value)));
      continue;
    }
    try {
      const value = enc.codecs.encode(o.topic, o.value);
      // Room is left for the batch and record headers.
      const max = enc.maxRecordBytes(o.topic);
      if (value.length > (max ?? DEFAULT_MAX_RECORD_BYTES) - RECORD_OVERHEAD_BYTES) {
        throw new PermanentError(ErrorCodes.kafkaProduce, `output record of ${value.length} bytes exceeds ${o.topic}'s max.message.bytes (${max ?? 'broker default'})`);
      }
      encoded.push(o.headers ? { topic: o.topic, key: o.key, value, headers: o.headers } : { topic: o.topic, key: o.key, value });
    } catch (err) {
      // The stage produced a record its schema rejects: a bug or an input the stage
      // should have refused. Either way the input is dead-lettered, with the reason.
      const from = o.origin ?? input;
      if (!from) throw err;
      encoded.push(enc.deadLetter(from.envelope, from.raw, classify(err, ErrorCodes.encodeAvro), eventIdOf(o.value)));
    }
  }
  return encoded;
}

/** The event id an output record carries (its dead letter names it), or null. */
function eventIdOf(value: unknown): string | null {
  const id = (value as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' ? id : null;
}

/** Why a stage returned no records: its `dropped(reason)`, 'stage' for a plain `[]`, null when a stateful stage holds the input. */
export function dropReasonOf(outputs: readonly StageOutput[], stateful: boolean): string | null {
  const reason = (outputs as { dropReason?: string }).dropReason;
  if (reason !== undefined) return reason;
  return stateful ? null : 'stage';
}

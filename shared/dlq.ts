/**
 * The logic behind `sluice dlq` (list and replay dead letters), kept free of Kafka so
 * it can be unit-tested: filters, the per-(stage, error_code) summary, `--since`
 * parsing, the NDJSON shape of one dead letter, the replay decision, and the
 * bookkeeping that lets a scan stop at the watermarks captured when it started.
 * The command (bin/sluice.ts) owns the consumer, producer and admin client.
 *
 * Times: `failed_at` is Avro timestamp-micros (microseconds since the Unix epoch, UTC);
 * filters and the summary work in microseconds too.
 */
import avro from 'avsc';
import type { DeadLetter } from './records.js';
import type { SchemaRegistryPort } from './registry.js';
import { loadSchema } from './schemas.js';
import { PermanentError, ErrorCodes, errorMessage } from './errors.js';
import { MAX_DLQ_ORIGINAL_BYTES } from './runner/step.js';

/**
 * The runner keeps at most this many bytes of a dead letter's original input (the
 * runner's own constant). A letter whose `original` is this long may have been cut, so
 * replaying it could publish a truncated message: replay skips it.
 */
export const DLQ_ORIGINAL_LIMIT_BYTES = MAX_DLQ_ORIGINAL_BYTES;

/** Header set on every replayed message: `<dlq topic>/<partition>/<offset>` of its dead letter. */
export const REPLAYED_FROM_HEADER = 'sluice-replayed-from';

/** Where a dead letter sits in the DLQ topic. */
export interface DlqCoordinates {
  topic: string;
  partition: number;
  offset: string;
}

// ---------------------------------------------------------------- filters

export interface DlqFilter {
  /** Match any of these stages; empty = every stage. */
  stages: readonly string[];
  /** Match any of these error codes (full `SLUICE_ERR_...` form); empty = every code. */
  codes: readonly string[];
  /** Only letters with failed_at >= this (microseconds); undefined = no lower bound. */
  sinceUs?: number | undefined;
}

/** `codec_decode` and `CODEC_DECODE` mean `SLUICE_ERR_CODEC_DECODE`; a full code is kept as is. */
export function normalizeCode(code: string): string {
  const upper = code.trim().toUpperCase();
  return upper.startsWith('SLUICE_ERR_') ? upper : `SLUICE_ERR_${upper}`;
}

export function matches(letter: Pick<DeadLetter, 'stage' | 'error_code' | 'failed_at'>, filter: DlqFilter): boolean {
  if (filter.stages.length > 0 && !filter.stages.includes(letter.stage)) return false;
  if (filter.codes.length > 0 && !filter.codes.includes(letter.error_code)) return false;
  if (filter.sinceUs !== undefined && letter.failed_at < filter.sinceUs) return false;
  return true;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: an RFC 3339 timestamp with an explicit zone (`2024-05-01T12:00:00Z`,
 * `...+02:00`; a zone-less time is refused rather than guessed) or a duration back from
 * `nowMs` (`90s`, `15m`, `1h`, `1h30m`, `2d`, `1w`). Returns microseconds since the epoch.
 */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  if (/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(t)) {
    let ms = 0;
    for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return Math.round((nowMs - ms) * 1000);
  }
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(t);
  if (m) {
    const whole = Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`);
    if (!Number.isNaN(whole)) {
      const fraction = Number(((m[3] ?? '') + '000000').slice(0, 6));
      return whole * 1000 + fraction;
    }
  }
  throw new Error(`--since ${JSON.stringify(text)} is neither an RFC 3339 time with a zone (2024-05-01T12:00:00Z) nor a duration (90s, 15m, 1h30m, 2d)`);
}

/** RFC 3339, UTC, microsecond precision. */
export function formatMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const micros = us - ms * 1000;
  return new Date(ms).toISOString().replace(/Z$/, `${String(micros).padStart(3, '0')}Z`);
}

// ---------------------------------------------------------------- summary

export interface SummaryRow {
  stage: string;
  errorCode: string;
  count: number;
  firstFailedAtUs: number;
  lastFailedAtUs: number;
  /** The message of the first letter seen in this group. */
  example: string;
}

/** Counts per (stage, error_code); memory is one row per group, whatever the topic's size. */
export class DlqSummary {
  private readonly rows = new Map<string, SummaryRow>();

  add(letter: Pick<DeadLetter, 'stage' | 'error_code' | 'failed_at' | 'message'>): void {
    const key = `${letter.stage}\u0000${letter.error_code}`;
    const row = this.rows.get(key);
    if (!row) {
      this.rows.set(key, { stage: letter.stage, errorCode: letter.error_code, count: 1, firstFailedAtUs: letter.failed_at, lastFailedAtUs: letter.failed_at, example: letter.message });
      return;
    }
    row.count++;
    row.firstFailedAtUs = Math.min(row.firstFailedAtUs, letter.failed_at);
    row.lastFailedAtUs = Math.max(row.lastFailedAtUs, letter.failed_at);
  }

  get total(): number {
    let n = 0;
    for (const r of this.rows.values()) n += r.count;
    return n;
  }

  /** Sorted by stage, then by count (largest first), then code. */
  list(): SummaryRow[] {
    return [...this.rows.values()].sort((a, b) => a.stage.localeCompare(b.stage) || b.count - a.count || a.errorCode.localeCompare(b.errorCode));
  }
}

/** One line, at most `max` characters: the example column of the table. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A plain-text table (columns padded, no trailing spaces). */
export function formatSummaryTable(rows: readonly SummaryRow[], exampleWidth = 80): string {
  const header = ['STAGE', 'ERROR_CODE', 'COUNT', 'FIRST_FAILED_AT', 'LAST_FAILED_AT', 'EXAMPLE'];
  const body = rows.map((r) => [r.stage, r.errorCode, String(r.count), formatMicros(r.firstFailedAtUs), formatMicros(r.lastFailedAtUs), oneLine(r.example, exampleWidth)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  return [header, ...body]
    .map((cells) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

// ---------------------------------------------------------------- NDJSON

/** The `dlq list --json` shape of one dead letter (snake_case, like the Avro fields). */
export interface DeadLetterLine {
  dlq_topic: string;
  dlq_partition: number;
  dlq_offset: string;
  stage: string;
  error_code: string;
  message: string;
  event_id: string | null;
  failed_at: string;
  origin_topic: string;
  origin_partition: number;
  origin_offset: number;
  origin_key_base64: string | null;
  /** The original message's Kafka headers (tenant, service, format...), restored by replay. */
  origin_headers: Record<string, string>;
  original_size: number;
  /** The original may have been cut at DLQ_ORIGINAL_LIMIT_BYTES (see possiblyTruncated). */
  original_truncated: boolean;
  /** Only with --with-original. */
  original_base64?: string;
}

export function toLine(letter: DeadLetter, at: DlqCoordinates, withOriginal: boolean): DeadLetterLine {
  const line: DeadLetterLine = {
    dlq_topic: at.topic,
    dlq_partition: at.partition,
    dlq_offset: at.offset,
    stage: letter.stage,
    error_code: letter.error_code,
    message: letter.message,
    event_id: letter.event_id,
    failed_at: formatMicros(letter.failed_at),
    origin_topic: letter.origin_topic,
    origin_partition: letter.origin_partition,
    origin_offset: letter.origin_offset,
    origin_key_base64: letter.origin_key ? Buffer.from(letter.origin_key).toString('base64') : null,
    origin_headers: letter.origin_headers ?? {},
    original_size: letter.original.length,
    original_truncated: possiblyTruncated(letter),
  };
  if (withOriginal) line.original_base64 = Buffer.from(letter.original).toString('base64');
  return line;
}

// ---------------------------------------------------------------- replay

/**
 * The runner cuts originals at DLQ_ORIGINAL_LIMIT_BYTES without recording the real
 * size, so a letter holding exactly that many bytes cannot be told apart from one
 * that was cut: both count as possibly truncated (an input of exactly 256 KiB is
 * skipped too; replay it from its origin coordinates if it is still retained).
 */
export function possiblyTruncated(letter: Pick<DeadLetter, 'original'>): boolean {
  return letter.original.length >= DLQ_ORIGINAL_LIMIT_BYTES;
}

export type ReplayDecision = { replay: true } | { replay: false; reason: 'truncated' | 'origin-topic-missing' | 'limit' };

/**
 * Whether to replay `letter`. `originTopicExists` answers from the cluster's metadata;
 * `replayedSoFar` and `limit` implement --limit (undefined = no limit).
 */
export function replayDecision(letter: Pick<DeadLetter, 'original' | 'origin_topic'>, originTopicExists: boolean, replayedSoFar: number, limit: number | undefined): ReplayDecision {
  if (limit !== undefined && replayedSoFar >= limit) return { replay: false, reason: 'limit' };
  if (possiblyTruncated(letter)) return { replay: false, reason: 'truncated' };
  if (!originTopicExists) return { replay: false, reason: 'origin-topic-missing' };
  return { replay: true };
}

export function replayedFrom(at: DlqCoordinates): string {
  return `${at.topic}/${at.partition}/${at.offset}`;
}

/**
 * The headers a replayed message is sent with: the original message's (tenant, service,
 * format...: so a replayed raw line lands in its own tenant, not the collector's
 * default) and REPLAYED_FROM_HEADER naming the dead letter (it replaces one the original
 * had from an earlier replay).
 */
export function replayHeaders(letter: Pick<DeadLetter, 'origin_headers'>, at: DlqCoordinates): Record<string, string> {
  return { ...(letter.origin_headers ?? {}), [REPLAYED_FROM_HEADER]: replayedFrom(at) };
}

/** Counts for the final report of `dlq replay`. */
export class ReplayTally {
  readonly replayed = new Map<string, number>();
  readonly skipped = new Map<string, number>();

  countReplayed(topic: string, n = 1): void {
    this.replayed.set(topic, (this.replayed.get(topic) ?? 0) + n);
  }

  countSkipped(reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }

  get totalReplayed(): number {
    let n = 0;
    for (const v of this.replayed.values()) n += v;
    return n;
  }

  /** `verb` is "replayed" or "would replay" (dry run). */
  report(verb: string): string {
    const lines = [...this.replayed].sort(([a], [b]) => a.localeCompare(b)).map(([topic, n]) => `${verb} ${n} to ${topic}`);
    if (lines.length === 0) lines.push(`${verb} 0`);
    for (const [reason, n] of [...this.skipped].sort(([a], [b]) => a.localeCompare(b))) lines.push(`skipped ${n} (${reason})`);
    return lines.join('\n');
  }
}

// ---------------------------------------------------------------- scan bookkeeping

export interface PartitionRange {
  partition: number;
  /** First offset still in the log. */
  low: number;
  /** The watermark captured at start (last stable offset, read_committed): the scan stops here. */
  high: number;
}

/**
 * Tracks a read of a topic from its low watermarks up to the watermarks captured at
 * start, so the scan ends on its own even while stages keep dead-lettering. Offsets
 * are plain numbers: exact up to 2^53, far beyond any real partition.
 */
export class WatermarkTracker {
  private readonly next = new Map<number, number>();
  private readonly ranges = new Map<number, PartitionRange>();

  constructor(ranges: readonly PartitionRange[]) {
    for (const r of ranges) {
      this.ranges.set(r.partition, r);
      this.next.set(r.partition, r.low);
    }
  }

  /** Whether a record at `offset` was in the topic when the scan started. */
  wants(partition: number, offset: number): boolean {
    const r = this.ranges.get(partition);
    return r !== undefined && offset < r.high;
  }

  /** The consumer has read `partition` up to and including `lastOffset` (records, markers or gaps). */
  advance(partition: number, lastOffset: number): void {
    const cur = this.next.get(partition);
    if (cur !== undefined && lastOffset + 1 > cur) this.next.set(partition, lastOffset + 1);
  }

  partitionDone(partition: number): boolean {
    const r = this.ranges.get(partition);
    return r === undefined || this.next.get(partition)! >= r.high;
  }

  get done(): boolean {
    return [...this.ranges.keys()].every((p) => this.partitionDone(p));
  }

  /** Offsets covered so far and in total (transaction markers count as offsets, so this is approximate in records). */
  progress(): { read: number; total: number } {
    let read = 0;
    let total = 0;
    for (const r of this.ranges.values()) {
      const span = Math.max(0, r.high - r.low);
      total += span;
      read += Math.min(span, Math.max(0, this.next.get(r.partition)! - r.low));
    }
    return { read, total };
  }

  /** Partitions not yet read to their captured watermark, for a stall message. */
  pending(): Array<{ partition: number; next: number; high: number }> {
    return [...this.ranges.values()].filter((r) => !this.partitionDone(r.partition)).map((r) => ({ partition: r.partition, next: this.next.get(r.partition)!, high: r.high }));
  }
}

// ---------------------------------------------------------------- decoding

/**
 * Decodes DeadLetter values (Confluent framing: magic byte 0, 4-byte schema id, Avro
 * body) with the writer schema fetched from the registry by id, resolved into the
 * local schemas/DeadLetter.avsc. Read-only on purpose: unlike TopicCodecs.register, it
 * registers nothing, so listing a misnamed topic leaves no subjects behind; and it
 * reads letters written by older or newer (BACKWARD compatible) DeadLetter versions.
 */
export class DeadLetterDecoder {
  private readonly reader = avro.Type.forSchema(loadSchema('DeadLetter') as unknown as avro.Schema);
  private readonly resolvers = new Map<number, avro.Resolver>();

  constructor(private readonly registry: Pick<SchemaRegistryPort, 'avroType'>) {}

  async decode(payload: Buffer): Promise<DeadLetter> {
    if (payload.length < 5 || payload[0] !== 0) {
      throw new PermanentError(ErrorCodes.decodeAvro, 'not a Confluent-framed Avro message (missing magic byte 0)');
    }
    const id = payload.readInt32BE(1);
    let resolver = this.resolvers.get(id);
    if (!resolver) {
      const writer = await this.registry.avroType(id);
      try {
        resolver = this.reader.createResolver(writer);
      } catch (err) {
        throw new PermanentError(ErrorCodes.decodeAvro, `schema ${id} is not a DeadLetter this version can read: ${errorMessage(err)}`, err);
      }
      this.resolvers.set(id, resolver);
    }
    try {
      return this.reader.fromBuffer(payload.subarray(5), resolver) as DeadLetter;
    } catch (err) {
      throw new PermanentError(ErrorCodes.decodeAvro, `Avro decode with schema ${id} failed: ${errorMessage(err)}`, err);
    }
  }
}

/**
 * Kafka-free driver for `sluice parse`: runs the very same collect and normalize stages
 * over lines of a file or stdin and renders LogRecords as NDJSON.
 *
 * Contract:
 * - each input line (without `\n` / `\r\n`) is one raw Kafka message at topic
 *   `file:<name>`, partition 0, offset = its 1-based line number, Kafka timestamp =
 *   the caller's `timestampMs` (file mtime, or now for stdin); `observed_at` is the
 *   fixed `startedAtMs`;
 * - lines that are empty or whitespace-only are skipped and counted, not dead-lettered;
 * - a stage error (PermanentError or anything unexpected) is counted by code as a dead
 *   letter and the run goes on: bad input never stops it;
 * - output keeps the Avro LogRecord field names and order; `timestamp` and `observed_at`
 *   are RFC 3339 UTC strings with exactly six fractional digits;
 * - memory is bounded by the longest line (capped at `maxLineBytes`; the rest of such a
 *   line is discarded and counted), never by the file.
 */
import type { Readable } from 'node:stream';
import { createCollectStage } from '../services/collector/collect.js';
import { createNormalizeStage, type NormalizeOptions } from '../services/normalizer/normalize.js';
import { formatMicros } from '../services/normalizer/timestamps.js';
import type { LogRecord, RawEvent } from './records.js';
import type { Stage, StageContext, StageInput } from './stage.js';
import { classify } from './errors.js';

export interface ParseOptions {
  /** Format hint, as the Kafka header `format`. */
  format?: string | undefined;
  /** IANA zone for zone-less timestamps, passed to the normalizer. */
  zone?: string | undefined;
  /** Service hint, as the Kafka header `service`. */
  source?: string | undefined;
  /** Tenant, as the Kafka header `tenant`; default "default". */
  tenant?: string | undefined;
  /** observed_at of every record, ms since the epoch. */
  startedAtMs: number;
  /** Collector bound per event, bytes. Default 1 MiB (the collector's default). */
  maxEventBytes?: number;
  /** Longest input line kept, bytes; the rest is discarded. Default 8 MiB. */
  maxLineBytes?: number;
}

export interface ParseSummary {
  lines: number;
  emptyLines: number;
  oversizedLines: number;
  records: number;
  /** Dead letters by error code, with the first message seen for each. */
  deadLetters: Map<string, { count: number; example: string }>;
}

export type LineSink = (ndjsonLine: string) => void | Promise<void>;

/** A LogRecord as one NDJSON line (without the newline). */
export function toNdjson(record: LogRecord): string {
  return JSON.stringify({ ...record, timestamp: formatMicros(record.timestamp), observed_at: formatMicros(record.observed_at) });
}

/** Split a byte stream into lines (Buffers, so invalid UTF-8 reaches the collector intact). */
export async function* readLines(stream: Readable | AsyncIterable<Buffer | string>, maxLineBytes: number, onOversized: () => void = () => undefined): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  const take = (chunk: Buffer): void => {
    if (overflow) return;
    const room = maxLineBytes - size;
    if (chunk.length > room) {
      chunk = chunk.subarray(0, room);
      overflow = true;
      onOversized();
    }
    parts.push(chunk);
    size += chunk.length;
  };
  const line = (): Buffer => {
    let b = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    if (!overflow && b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
    parts = [];
    size = 0;
    overflow = false;
    return b;
  };
  for await (const c of stream as AsyncIterable<Buffer | string>) {
    let chunk = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a)) {
      take(chunk.subarray(0, nl));
      yield line();
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length > 0) take(chunk);
  }
  if (size > 0 || overflow) yield line();
}

function isBlank(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0b && byte !== 0x0c) return false;
  return true;
}

export class ParsePipeline {
  readonly summary: ParseSummary = { lines: 0, emptyLines: 0, oversizedLines: 0, records: 0, deadLetters: new Map() };
  private readonly collect: Stage<Buffer>;
  private readonly normalize: Stage<RawEvent>;
  private readonly ctx: StageContext;
  private readonly headers: Record<string, string>;
  private readonly maxLineBytes: number;

  /** Throws (RangeError) on an unknown `zone`, before any input is read. */
  constructor(opts: ParseOptions) {
    this.collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: opts.maxEventBytes ?? 1_048_576 });
    const normalizeOptions: NormalizeOptions = {
      outputTopic: 'logs.normalized',
      maxAttributes: 128,
      maxAttributeBytes: 4096,
      maxJsonDepth: 32,
      // Spread, so this compiles whether or not NormalizeOptions declares `zone`.
      ...(opts.zone === undefined ? {} : { zone: opts.zone }),
    };
    this.normalize = createNormalizeStage(normalizeOptions);
    const startedAt = opts.startedAtMs;
    this.ctx = { now: () => startedAt };
    this.headers = {};
    if (opts.tenant) this.headers['tenant'] = opts.tenant;
    if (opts.source) this.headers['service'] = opts.source;
    if (opts.format) this.headers['format'] = opts.format;
    this.maxLineBytes = opts.maxLineBytes ?? 8 * 1_048_576;
  }

  /** Run one input to the end; `name` becomes topic `file:<name>`. */
  async run(name: string, timestampMs: number, input: Readable | AsyncIterable<Buffer | string>, sink: LineSink): Promise<void> {
    let lineNo = 0;
    for await (const line of readLines(input, this.maxLineBytes, () => this.summary.oversizedLines++)) {
      lineNo++;
      for (const out of this.processLine(name, timestampMs, lineNo, line)) await sink(out);
    }
  }

  /** One line = one synthetic Kafka message; returns the NDJSON lines it produced. */
  processLine(name: string, timestampMs: number, lineNo: number, line: Buffer): string[] {
    this.summary.lines++;
    if (isBlank(line)) {
      this.summary.emptyLines++;
      return [];
    }
    const envelope = { topic: `file:${name}`, partition: 0, offset: String(lineNo), timestampMs, key: null, headers: this.headers };
    const out: string[] = [];
    let collected;
    try {
      collected = this.collect.process({ ...envelope, value: line, raw: line }, this.ctx);
    } catch (err) {
      this.deadLetter(err);
      return out;
    }
    for (const c of collected) {
      try {
        const input: StageInput<RawEvent> = { ...envelope, key: c.key === null ? null : Buffer.from(c.key), value: c.value as RawEvent, raw: line };
        for (const n of this.normalize.process(input, this.ctx)) out.push(toNdjson(n.value as LogRecord));
      } catch (err) {
        this.deadLetter(err);
      }
    }
    this.summary.records += out.length;
    return out;
  }

  /** The one-line summary for stderr. */
  summaryLine(): string {
    const s = this.summary;
    const dead = [...s.deadLetters.values()].reduce((n, d) => n + d.count, 0);
    const reasons = [...s.deadLetters].map(([code, d]) => `${code} x${d.count} (e.g. ${JSON.stringify(d.example)})`).join(', ');
    return `sluice parse: ${s.lines} lines read, ${s.emptyLines} empty skipped, ${s.oversizedLines} oversized cut, ${s.records} records written, ${dead} dead letters${reasons ? `: ${reasons}` : ''}`;
  }

  private deadLetter(err: unknown): void {
    const e = classify(err);
    const d = this.summary.deadLetters.get(e.code);
    if (d) d.count++;
    else this.summary.deadLetters.set(e.code, { count: 1, example: e.message });
  }
}

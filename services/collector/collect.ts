/**
 * The collector stage: raw shipper messages -> RawEvent(s) for logs.collected.
 *
 * Contract:
 * - the body is decoded as UTF-8; invalid sequences become U+FFFD and the events holding
 *   them are flagged `invalid_utf8`; NUL bytes are removed and the events of the message
 *   are flagged `nul_bytes`;
 * - the message is split into physical lines (split.ts; one pretty-printed JSON document
 *   is one line), each unwrapped from its shipper envelope (envelopes.ts); CRI partial
 *   lines are joined; continuation lines (multiline.ts: stack traces) join the event
 *   before them in the same stream;
 * - an event is identified by the Kafka coordinates of its FIRST line: origin.index is
 *   that line's 0-based number in its message, and event_id is
 *   ULID(Kafka timestamp, hash(topic, partition, offset, index)) (docs/architecture.md, "Ids");
 * - an event longer than `maxEventBytes` is cut at a character boundary and flagged
 *   `truncated`;
 * - a message with no non-blank line cannot become an event: PermanentError
 *   SLUICE_ERR_INPUT_EMPTY (it goes to the DLQ);
 * - Kafka headers `tenant`, `service`, `format` win over what the envelope says;
 * - `labels` are the envelope's (its Kubernetes coordinates, envelopes.ts), `{}` without;
 * - user-declared formats (`formats`, sluice.yaml): a line whose first applicable format
 *   has `multiline.start` is merged by that start rule instead of the built-in ones
 *   (multiline.ts). A line's subject is the input's Kafka topic, its service and format
 *   (Kafka header, else the envelope's) and the envelope's file; an event is classified
 *   with the rule of its first line.
 *
 * Two shapes share these rules:
 * - `createCollectStage`: pure, one message at a time; events merge within the message.
 *   Used by `sluice parse` (which merges across lines itself) and the golden tests.
 * - `createStreamingCollectStage`: the Kafka collector. Events merge ACROSS messages of
 *   one stream within a partition (stream = tenant and service headers, Kafka key,
 *   and the envelope's `streamKeyOf`: shipper, stream, service, host, file, pod and
 *   container), which is what a shipper sending one line per message needs. An event
 *   is emitted when the next event of its stream starts, when its stream has been
 *   quiet for `multilineTimeoutMs`, or when more than `maxHeldStreams` streams hold an
 *   event (the oldest goes first). Its checkpoint (see `checkpoint` below) makes
 *   restarts exact.
 * With user start rules the pure stage runs the message through the streaming collector
 * alone (no line or stream limit, flushed at its end), so both shapes merge by the same
 * rules; without them it is split.ts's `splitMessage`, as always.
 */
import type { Checkpoint, Envelope, PartitionStage, Stage, StageContext, StageInput, StageOutput, StatefulStage } from '../../shared/stage.js';
import type { RawEvent } from '../../shared/records.js';
import { PermanentError, ErrorCodes } from '../../shared/errors.js';
import { createHash } from 'node:crypto';
import { eventId } from '../../shared/ids.js';
import { physicalLines, splitMessage, streamKeyOf } from './split.js';
import { unwrapLine, type Unwrapped } from './envelopes.js';
import { MultilineMerger, type MergedEvent } from './multiline.js';
import { multilineStartFor, type CompiledFormat } from '../../shared/formats/rules.js';

export interface CollectOptions {
  outputTopic: string;
  defaultTenant: string;
  maxEventBytes: number;
  /**
   * User-declared formats (sluice.yaml, shared/formats/rules.ts); only their `multiline.start`
   * matters here. Default none: the built-in continuation rules for every stream.
   */
  formats?: readonly CompiledFormat[] | undefined;
}

export interface StreamingCollectOptions extends CollectOptions {
  /** Emit a held event once its stream has been quiet this long, ms. */
  multilineTimeoutMs: number;
  /** Most lines per event; longer traces are cut into several events. */
  maxEventLines: number;
  /** Most streams holding an event per partition (bounds memory and the checkpoint size). */
  maxHeldStreams: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode as UTF-8 and drop NUL bytes; returns the text and the flags it earned. */
export function decodeBody(raw: Buffer): { text: string; flags: string[] } {
  const flags: string[] = [];
  let text = utf8.decode(raw);
  if (text.includes('\uFFFD') && !raw.includes(Buffer.from('\uFFFD'))) flags.push('invalid_utf8');
  if (text.includes('\u0000')) {
    text = text.replace(/\u0000/g, '');
    flags.push('nul_bytes');
  }
  return { text, flags };
}

/** Cut `text` to at most `maxBytes` UTF-8 bytes at a character boundary. */
export function boundText(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (text.length <= maxBytes / 3 || Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, truncated: false };
  // Cut by bytes, then drop a partial trailing character.
  return { text: utf8.decode(Buffer.from(text, 'utf8').subarray(0, maxBytes)).replace(/\uFFFD$/, ''), truncated: true };
}

/** Decode, clean and bound a whole body as one event; returns the text and the flags it earned. */
export function cleanBody(raw: Buffer, maxBytes: number): { text: string; flags: string[] } {
  const { text: decoded, flags } = decodeBody(raw);
  const { text, truncated } = boundText(decoded.replace(/\r?\n$/, ''), maxBytes);
  if (truncated) flags.push('truncated');
  return { text, flags };
}

/** The flags of the message that apply to a piece of its text. */
function flagsFor(messageFlags: readonly string[], text: string): string[] {
  return messageFlags.filter((f) => f !== 'invalid_utf8' || text.includes('\uFFFD'));
}

/** Shared by every line of a message without flags (the usual case); never mutated. */
const NO_FLAGS: readonly string[] = Object.freeze([]);

/**
 * Kafka keys as text, remembering the last one: a partition's messages often share a key,
 * and the stream scope and the output key both need it. Only a cache: same text either way.
 */
let lastKeyBytes: Buffer | null = null;
let lastKeyText = '';
function keyText(key: Buffer | null): string {
  if (key === null) return '';
  if (key !== lastKeyBytes && !(lastKeyBytes !== null && key.length === lastKeyBytes.length && key.equals(lastKeyBytes))) {
    lastKeyText = key.toString('utf8');
  }
  lastKeyBytes = key;
  return lastKeyText;
}

/** Whether `s` is empty or all whitespace (as `s.trim().length === 0`, without trimming). */
function isBlank(s: string): boolean {
  const c = s.charCodeAt(0);
  // Printable ASCII other than space: not blank, and the usual case.
  if (c > 0x20 && c < 0x7f) return false;
  return s.trim().length === 0;
}

interface EventParts {
  /** Number of the event's first line in its message. */
  line: number;
  envelope: Unwrapped;
  body: string;
  flags: string[];
}

/** One RawEvent for logs.collected, identified by the coordinates of its first line. */
function toOutput(opts: CollectOptions, input: Envelope, parts: EventParts, observedAtMs: number): StageOutput {
  const { text: body, truncated } = parts.body.length * 3 <= opts.maxEventBytes ? { text: parts.body, truncated: false } : boundText(parts.body, opts.maxEventBytes);
  const flags = parts.flags.length === 0 ? [] : parts.flags.length === 1 ? [parts.flags[0] as string] : [...new Set(parts.flags)];
  if (truncated && !flags.includes('truncated')) flags.push('truncated');
  const tenant = input.headers['tenant'] || opts.defaultTenant;
  const service = input.headers['service'] || parts.envelope.service;
  const event: RawEvent = {
    event_id: eventId(input.timestampMs, input.topic, input.partition, input.offset, parts.line),
    tenant,
    observed_at: observedAtMs * 1000,
    kafka_timestamp: input.timestampMs * 1000,
    origin: { topic: input.topic, partition: input.partition, offset: Number(input.offset), index: parts.line },
    format: input.headers['format'] || parts.envelope.format,
    shipper: parts.envelope.shipper,
    service,
    host: parts.envelope.host,
    file: parts.envelope.file,
    envelope_time: parts.envelope.envelopeTime,
    body,
    flags,
    labels: { ...parts.envelope.labels },
  };
  // Stream key: events of one source stay in one partition, in order.
  const key = `${tenant}|${service ?? ''}|${keyText(input.key)}`;
  return { topic: opts.outputTopic, key, value: event };
}

function emptyMessage(): PermanentError {
  return new PermanentError(ErrorCodes.inputEmpty, 'empty message: nothing to collect');
}

/** The pure, one-message-at-a-time collector (events merge within the message only). */
export function createCollectStage(opts: CollectOptions): Stage<Buffer> {
  const formats = hasStartRules(opts.formats) ? opts.formats : undefined;
  return {
    name: 'collect',
    process(input: StageInput<Buffer>, ctx): StageOutput[] {
      const { text, flags: messageFlags } = decodeBody(input.value);
      const events = formats
        ? splitMessage(text, (e) => multilineStartFor(formats, { topic: input.topic, service: input.headers['service'] || e.service, format: input.headers['format'] || e.format, file: e.file }))
        : splitMessage(text);
      if (events.length === 0) throw emptyMessage();
      const observedAt = ctx.now();
      return events.map((e) => toOutput(opts, input, { ...e, flags: [...flagsFor(messageFlags, e.body), ...e.flags] }, observedAt));
    },
  };
}

/** One physical line held by the streaming collector, with the message it came from. */
interface HeldLine {
  input: Envelope;
  raw: Buffer;
  line: number;
  envelope: Unwrapped;
  flags: readonly string[];
  observedAtMs: number;
}

const CHECKPOINT_VERSION = 'ml1';

function hasStartRules(formats: readonly CompiledFormat[] | undefined): formats is readonly CompiledFormat[] {
  return formats !== undefined && formats.some((f) => f.multilineStart !== undefined);
}

/** Most (stream, format) pairs whose start rule is remembered; beyond it the cache starts over. */
const MAX_CACHED_STARTS = 4096;

/**
 * The user start rule of a line (`multilineStartFor` over its subject), remembered per
 * stream key. A stream key fixes the subject's service (header, envelope) and file, and a
 * partition its topic, but not its format (neither the `format` header nor the envelope's
 * is part of it), so an entry also records the format it was looked up for.
 */
class StartRules {
  private readonly cache = new Map<string, { format: string | null; start: RegExp | undefined }>();

  constructor(private readonly formats: readonly CompiledFormat[]) {}

  of(key: string, input: Envelope, e: Unwrapped): RegExp | undefined {
    const format = input.headers['format'] || e.format;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.format === format) return hit.start;
    const start = multilineStartFor(this.formats, { topic: input.topic, service: input.headers['service'] || e.service, format, file: e.file });
    if (hit === undefined && this.cache.size >= MAX_CACHED_STARTS) this.cache.clear();
    this.cache.set(key, { format, start });
    return start;
  }
}

/** A line's place in the partition: (offset, line number in its message). */
interface Position {
  offset: bigint;
  line: number;
}

function before(a: Position, b: Position): boolean {
  return a.offset < b.offset || (a.offset === b.offset && a.line < b.line);
}

/** 48 bits of SHA-256 of a stream key: names a stream in a checkpoint, compactly. */
export function streamHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/**
 * The checkpoint of a partition (Kafka offset-commit metadata; at most ~3 KB with 128
 * streams, under the broker's default 4 KB `offset.metadata.max.bytes`):
 *
 *   ml1;<until - offset>;<offset delta>:<line>:<stream hash>,...
 *
 * The committed offset is the first line of the oldest held event; `until` is the
 * offset the owner had read up to. A new owner replays [offset, until) feeding the
 * merger ONLY the lines of each listed stream from its listed position on (the first
 * line of the event it held): every other line of that range belongs to an event that
 * was emitted already. From `until` on, every line is fed. So the held events are
 * rebuilt exactly, and nothing emitted is emitted again.
 */
export function encodeCheckpoint(offset: bigint, until: bigint, streams: ReadonlyArray<Position & { stream: string }>): string {
  return `${CHECKPOINT_VERSION};${until - offset};${streams.map((h) => `${h.offset - offset}:${h.line}:${h.stream}`).join(',')}`;
}

export function decodeCheckpoint(c: Checkpoint | null): { until: bigint; streams: Map<string, Position> } | null {
  if (!c?.metadata) return null;
  const m = /^ml1;(\d+);((?:\d+:\d+:[0-9a-f]{12})(?:,\d+:\d+:[0-9a-f]{12})*)?$/.exec(c.metadata);
  if (!m) return null;
  const base = BigInt(c.offset);
  const streams = new Map<string, Position>();
  for (const e of (m[2] ?? '').split(',').filter(Boolean)) {
    const [d, line, stream] = e.split(':') as [string, string, string];
    streams.set(stream, { offset: base + BigInt(d), line: Number(line) });
  }
  return { until: base + BigInt(m[1] as string), streams };
}

class PartitionCollector implements PartitionStage<Buffer> {
  private readonly merger: MultilineMerger<HeldLine>;
  /** Streams whose last line was a CRI partial (`P`): their next line continues it. */
  private readonly openPartials = new Set<string>();
  /** While replaying after a restart (see encodeCheckpoint): the streams to feed, by hash. */
  private replay: { until: bigint; streams: Map<string, Position> } | null;
  /** Null when no format has a start rule: every stream keeps the built-in rules. */
  private readonly starts: StartRules | null;

  /** `maxChars`: most UTF-16 code units per merged event (0 = unbounded); default `maxEventBytes`. */
  constructor(
    private readonly opts: StreamingCollectOptions,
    committed: Checkpoint | null,
    maxChars: number = opts.maxEventBytes,
  ) {
    this.merger = new MultilineMerger<HeldLine>({ maxLines: opts.maxEventLines, maxChars });
    this.replay = decodeCheckpoint(committed);
    this.starts = hasStartRules(opts.formats) ? new StartRules(opts.formats) : null;
  }

  get held(): number {
    return this.merger.pendingStreams;
  }

  process(input: StageInput<Buffer>, ctx: StageContext): StageOutput[] {
    if (this.replay && BigInt(input.offset) >= this.replay.until) this.replay = null;
    // A message of zero bytes holds not even a line: always a dead letter.
    if (input.value.length === 0) throw emptyMessage();
    const { text, flags: messageFlags } = decodeBody(input.value);
    const physical = physicalLines(text);
    const n = physical.length;
    const lines: Unwrapped[] = new Array(n);
    const keys: string[] = new Array(n);
    const scope = this.scopeOf(input);
    // A blank line can still belong to a held event (the blank line inside a Go panic).
    let empty = true;
    for (let i = 0; i < n; i++) {
      const e = unwrapLine(physical[i] as string);
      const key = this.streamKey(scope, e);
      lines[i] = e;
      keys[i] = key;
      if (empty && !(isBlank(e.body) && !e.partial && !this.merger.hasPending(key))) empty = false;
    }
    if (empty) throw emptyMessage();
    const now = ctx.now();
    const offset = this.replay ? BigInt(input.offset) : 0n;
    const done: MergedEvent<HeldLine>[] = [];
    for (let line = 0; line < n; line++) {
      const envelope = lines[line] as Unwrapped;
      const key = keys[line] as string;
      if (this.replay && !this.replayFeeds(key, { offset, line })) continue;
      const continues = this.openPartials.size > 0 && this.openPartials.has(key);
      if (envelope.partial) this.openPartials.add(key);
      else if (continues) this.openPartials.delete(key);
      const flags = messageFlags.length === 0 ? NO_FLAGS : flagsFor(messageFlags, envelope.body);
      const held: HeldLine = { input, raw: input.raw, line, envelope, flags, observedAtMs: now };
      // A replay feeds an event from its first line, which brings back the rule it was merged by.
      const start = this.starts === null ? undefined : this.starts.of(key, input, envelope);
      this.merger.pushInto(done, envelope.body, key, now, true, held, continues, start);
    }
    while (this.merger.pendingStreams > this.opts.maxHeldStreams) {
      const oldest = this.merger.oldestPending();
      if (!oldest) break;
      done.push(...this.closeStream(oldest.streamKey));
    }
    return this.outputs(done);
  }

  /** Last scope built, and what it was built from (consecutive messages usually share it). */
  private scopeTenant: string | undefined = '';
  private scopeService: string | undefined = '';
  private scopeKey = '';
  private scope = '';

  /** The part of a stream key that comes from Kafka: tenant and service headers, key. */
  private scopeOf(input: StageInput<Buffer>): string {
    const tenant = input.headers['tenant'];
    const service = input.headers['service'];
    const key = keyText(input.key);
    if (this.scope === '' || tenant !== this.scopeTenant || service !== this.scopeService || key !== this.scopeKey) {
      this.scopeTenant = tenant;
      this.scopeService = service;
      this.scopeKey = key;
      this.scope = `${tenant ?? ''}|${service ?? ''}|${key}|`;
    }
    return this.scope;
  }

  /** Last stream key built, and what it was built from (consecutive lines usually share it). */
  private lastScope = '';
  private lastEnvelopeKey = '';
  private lastKey = '';

  /** `scope + streamKeyOf(e)`, reusing the previous string when both parts repeat. */
  private streamKey(scope: string, e: Unwrapped): string {
    const envelopeKey = streamKeyOf(e);
    if (envelopeKey !== this.lastEnvelopeKey || scope !== this.lastScope) {
      this.lastScope = scope;
      this.lastEnvelopeKey = envelopeKey;
      this.lastKey = scope + envelopeKey;
    }
    return this.lastKey;
  }

  flush(ctx: StageContext): StageOutput[] {
    const done = this.merger.flush(ctx.now(), this.opts.multilineTimeoutMs);
    for (const e of done) this.openPartials.delete(e.streamKey);
    return this.outputs(done);
  }

  checkpoint(next: string): Checkpoint {
    const nextPos: Position = { offset: BigInt(next), line: 0 };
    const streams = new Map<string, Position>();
    for (const { streamKey, head } of this.merger.pendingHeads()) streams.set(streamHash(streamKey), { offset: BigInt(head.input.offset), line: head.line });
    let until = nextPos.offset;
    if (this.replay) {
      // Still replaying: streams not yet reached keep their position; a stream whose held
      // event was emitted during the replay is fed from here on.
      if (this.replay.until > until) until = this.replay.until;
      for (const [h, pos] of this.replay.streams) if (!streams.has(h)) streams.set(h, before(pos, nextPos) ? nextPos : pos);
    }
    const list = [...streams].map(([stream, pos]) => ({ ...pos, stream })).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    const offset = list.length > 0 && (list[0] as Position).offset < nextPos.offset ? (list[0] as Position).offset : nextPos.offset;
    if (offset === until) return { offset: next, metadata: null };
    return { offset: offset.toString(), metadata: encodeCheckpoint(offset, until, list) };
  }

  /** During a replay: whether this line belongs to an event the previous owner held. */
  private replayFeeds(key: string, pos: Position): boolean {
    const from = this.replay?.streams.get(streamHash(key));
    return from !== undefined && !before(pos, from);
  }

  private closeStream(key: string): MergedEvent<HeldLine>[] {
    this.openPartials.delete(key);
    return this.merger.flushStream(key);
  }

  private outputs(events: MergedEvent<HeldLine>[]): StageOutput[] {
    const out: StageOutput[] = [];
    for (const e of events) {
      const lines = e.payloads ?? [];
      const head = lines[0];
      if (!head) continue;
      let body = head.envelope.body;
      for (let i = 1; i < lines.length; i++) body += ((lines[i - 1] as HeldLine).envelope.partial ? '' : '\n') + (lines[i] as HeldLine).envelope.body;
      if (isBlank(body)) continue; // an envelope around nothing, inside a stream
      const flags: string[] = [];
      for (const l of lines) for (const f of l.flags) flags.push(f);
      if (e.truncated) flags.push('truncated');
      if ((lines[lines.length - 1] as HeldLine).envelope.partial) flags.push('partial');
      const o = toOutput(this.opts, head.input, { line: head.line, envelope: head.envelope, body, flags }, head.observedAtMs);
      o.origin = { envelope: head.input, raw: head.raw };
      out.push(o);
    }
    return out;
  }
}

/** The Kafka collector: merges multi-line events across the messages of a partition. */
export function createStreamingCollectStage(opts: StreamingCollectOptions): StatefulStage<Buffer> {
  return {
    name: 'collect',
    flushIntervalMs: Math.max(50, Math.min(1000, Math.floor(opts.multilineTimeoutMs / 2))),
    open: (_topic, _partition, committed) => new PartitionCollector(opts, committed),
  };
}

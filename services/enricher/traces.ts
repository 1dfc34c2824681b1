/**
 * Spans derived from logs (docs/architecture.md, "Derived data"): a pure,
 * deterministic assembler for ONE input partition. No wall clock, no I/O: time is the
 * logs' own event time, and the caller (the enricher's runner) feeds records in offset
 * order and commits what `checkpoint` says.
 *
 * Which logs make which span:
 * - (a) `direct`: a log with trace_id AND span_id AND a duration becomes a span at once
 *   (derivation 'ids'). Duration: `http.duration_us`; else an attribute whose last dotted
 *   segment is duration/elapsed/latency/took/response_time, with an optional unit suffix
 *   `_us|_ms|_ns|_s` (no suffix: a number is milliseconds, a string may carry its unit,
 *   "12.5ms", "1.2s", "350us"); the log is written when the work ends, so
 *   end = timestamp, start = end - duration. Else explicit start AND end attributes
 *   (`start`/`end`, `start_time`/`end_time`, `startTime`/`endTime`: ISO 8601 or epoch
 *   s/ms/µs/ns). Parent: the log's parent_span_id, else null.
 * - (b) grouped: every other log with a trace_id, or without one but with a correlation
 *   id in `record.ids` (CORRELATION_KEYS, first present wins), joins a group:
 *   - with a span_id: one group per (tenant, trace_id, span_id), derivation 'ids';
 *   - without: one group per (tenant, trace, service), derivation 'correlation'.
 *   A correlation-only group's trace_id is the first 32 hex of sha256("corr\0" + value),
 *   so all services logging the same request id share a trace. The span runs from the
 *   group's first to its last log (event time), the logs are its events (event_count).
 *   span_id: the logged one, else 16 hex of sha256(trace_id, service, first event_id).
 *   Parent: the first parent_span_id a log of the span carries (by event time), else
 *   null — never invented; a null parent on a 'correlation' span means "unknown", not
 *   "root", and `derivation` says so.
 *   Logs with neither trace_id nor a correlation id make no span (`stats.uncorrelated`).
 * - (c) status ERROR when any log of the span is ERROR/FATAL or has http.status >= 500.
 *   operation: "<METHOD> <route>" (either part alone when only one is there) of the
 *   first log carrying one; else a template of the first log's message (`messageTemplate`:
 *   trace-context tokens removed, uuids/hex/numbers/quoted values masked, at most 8
 *   words and 80 characters); else "log". "First" is always by (timestamp, event_id), so
 *   input order never changes a span.
 *
 * Completion (d): the watermark is the largest event time seen. A group is emitted once
 * `watermark >= last event time + inactivityTimeoutUs`. An event whose group is not open
 * and whose time is already past that point (`time + timeout <= watermark`) is late:
 * counted in `stats.late` and dropped (re-opening a closed span would emit its id twice).
 * Logs of a span id already emitted as a direct span are counted as `stats.absorbed`
 * while the direct span is remembered (until the watermark passes its end + timeout);
 * a group open for that id when the direct log arrives is folded into it (its events
 * count, the direct interval wins).
 * Memory: at most `maxOpenGroups` groups (direct spans remembered included); one more
 * emits the group idle longest (smallest last event time) early (`stats.overflow`).
 *
 * Restarts: `checkpoint(next)` = the smallest input offset any open group depends on
 * (else `next`) plus the watermark and `next` ("until"). `new SpanDeriver(opts, resume)`
 * replays from that offset: inputs before `until` rebuild state without emitting (a
 * direct span was emitted already), and when replay ends (the first input at or after
 * `until`, or `flush`) the rebuilt groups that would be closed under the restored
 * watermark are dropped (they were emitted, or are tails of emitted groups). Open groups
 * depend only on offsets >= the committed one, so they come back whole: the same spans,
 * nothing twice. Two documented exceptions, both re-emitting a span under the SAME
 * deterministic id (an overwrite for id-keyed sinks): a group emitted early by overflow,
 * and a late-dropped event whose key re-opened afterwards.
 */
import { createHash } from 'node:crypto';
import type { LogRecord, Micros, Span } from '../../shared/records.js';
import { parseTimestamp } from '../../shared/time/timestamps.js';

/** Keys of `record.ids` that identify one request across services, in precedence order. */
export const CORRELATION_KEYS = ['correlation_id', 'request_id', 'transaction_id'] as const;

export interface SpanDeriverOptions {
  /** Event-time inactivity after which a group is complete, µs. Default 30 s. */
  inactivityTimeoutUs?: number;
  /** Most groups held at once (bounds memory); beyond it the idlest is emitted early. Default 10,000. */
  maxOpenGroups?: number;
}

export const DEFAULT_INACTIVITY_US = 30_000_000;
export const DEFAULT_MAX_OPEN_GROUPS = 10_000;

/** Where a new owner of the partition resumes (see the module contract). */
export interface ResumeState {
  /** The watermark at checkpoint time, µs. */
  watermarkUs: Micros;
  /** The next input offset at checkpoint time: inputs before it are replay. */
  untilOffset: number;
}

export interface DerivationStats {
  events: number;
  direct: number;
  grouped: number;
  uncorrelated: number;
  late: number;
  absorbed: number;
  overflow: number;
  replayed: number;
  emitted: number;
}

// ---------------------------------------------------------------------------------
// Inactivity groups: the event-time session machinery shared with trace-summary.ts.
// ---------------------------------------------------------------------------------

/** What InactivityGroups needs of a group. */
export interface Timed {
  /** Largest event time of the group, µs: it closes at last + timeout. */
  last: Micros;
  /** Smallest input offset the group depends on. */
  minOffset: number;
}

/**
 * Keyed groups closing on an event-time watermark, with a lazy min-heap on `last`
 * (an entry whose `last` is stale is skipped when popped). Insertion order of keys is
 * kept so ties are resolved deterministically by the caller's sort.
 */
export class InactivityGroups<G extends Timed> {
  private readonly groups = new Map<string, G>();
  private heap: Array<{ last: Micros; key: string }> = [];

  constructor(readonly timeoutUs: number) {}

  get size(): number {
    return this.groups.size;
  }
  get(key: string): G | undefined {
    return this.groups.get(key);
  }
  values(): IterableIterator<G> {
    return this.groups.values();
  }
  delete(key: string): void {
    this.groups.delete(key);
  }
  /** Insert or re-index `g` after its `last` changed. */
  put(key: string, g: G): void {
    this.groups.set(key, g);
    this.push({ last: g.last, key });
  }

  /** Remove and return the groups with last + timeout <= watermark. */
  expire(watermark: Micros): Array<[string, G]> {
    const out: Array<[string, G]> = [];
    for (;;) {
      const top = this.heap[0];
      if (!top || top.last + this.timeoutUs > watermark) break;
      this.pop();
      const g = this.groups.get(top.key);
      if (g && g.last === top.last) {
        this.groups.delete(top.key);
        out.push([top.key, g]);
      }
    }
    this.compact();
    return out;
  }

  /** Remove and return the group idle longest. */
  evictOldest(): [string, G] | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top) return undefined;
      this.pop();
      const g = this.groups.get(top.key);
      if (g && g.last === top.last) {
        this.groups.delete(top.key);
        return [top.key, g];
      }
    }
  }

  /** Remove every group. */
  drain(): Array<[string, G]> {
    const out = [...this.groups];
    this.groups.clear();
    this.heap = [];
    return out;
  }

  /** Smallest offset a group depends on; null when none does (tombstones depend on none). */
  minOffset(): number | null {
    let min: number | null = null;
    for (const g of this.groups.values()) if (Number.isFinite(g.minOffset) && (min === null || g.minOffset < min)) min = g.minOffset;
    return min;
  }

  /** Stale heap entries are rebuilt away once they outnumber live groups 4:1. */
  private compact(): void {
    if (this.heap.length <= 64 || this.heap.length <= 4 * this.groups.size) return;
    this.heap = [];
    for (const [key, g] of this.groups) this.push({ last: g.last, key });
  }

  private push(e: { last: Micros; key: string }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((h[p] as { last: number }).last <= e.last) break;
      h[i] = h[p] as { last: Micros; key: string };
      i = p;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as { last: number }).last < (h[l] as { last: number }).last ? r : l;
      if ((h[c] as { last: number }).last >= last.last) break;
      h[i] = h[c] as { last: Micros; key: string };
      i = c;
    }
    h[i] = last;
  }
}

/** Replay bookkeeping shared by both assemblers. */
export class ReplayGate {
  private until: number | null;
  constructor(resume: ResumeState | null | undefined) {
    this.until = resume ? resume.untilOffset : null;
  }
  get active(): boolean {
    return this.until !== null;
  }
  /** True while `offset` is replay; the first offset past it ends replay (returns false). */
  isReplay(offset: number): boolean {
    return this.until !== null && offset < this.until;
  }
  end(): void {
    this.until = null;
  }
}

/**
 * What both assemblers (SpanDeriver below, TraceAssembler in trace-summary.ts) share:
 * keyed groups closing on an event-time watermark, at most `maxOpen` of them, and the
 * replay of a resumed partition (see the module contract). `expire` emits what the
 * watermark has closed.
 */
export abstract class WatermarkAssembler<G extends Timed, Out> {
  abstract readonly stats: { replayed: number };
  protected readonly groups: InactivityGroups<G>;
  protected readonly maxOpen: number;
  protected readonly gate: ReplayGate;
  protected wm: Micros;

  /** `maxOpenOption`: the name of the option `maxOpen` comes from, for its error. */
  constructor(timeoutUs: number, maxOpen: number, maxOpenOption: string, resume: ResumeState | null | undefined) {
    if (!(timeoutUs > 0)) throw new RangeError('inactivityTimeoutUs must be > 0');
    this.maxOpen = maxOpen;
    if (!(this.maxOpen >= 1)) throw new RangeError(`${maxOpenOption} must be >= 1`);
    this.groups = new InactivityGroups<G>(timeoutUs);
    this.gate = new ReplayGate(resume);
    this.wm = resume ? resume.watermarkUs : Number.NEGATIVE_INFINITY;
  }

  /** The watermark (or the restored one), µs; -Infinity before the first input. */
  get watermark(): Micros {
    return this.wm;
  }
  /** Groups held (open groups, and for SpanDeriver remembered direct spans). */
  get held(): number {
    return this.groups.size;
  }
  /** Smallest input offset any held group depends on; null when nothing is held. */
  get minOpenOffset(): number | null {
    return this.groups.minOffset();
  }

  /** The resume state to commit once every input before `next` was processed. */
  checkpoint(next: number): { offset: number; resume: ResumeState } {
    const min = this.minOpenOffset;
    return { offset: min === null ? next : Math.min(min, next), resume: { watermarkUs: this.wm, untilOffset: next } };
  }

  /**
   * Emit the groups the watermark has closed (the runner's timer; also ends a replay
   * that saw no input past `until`). The watermark only moves with event time, so this
   * returns nothing new between inputs unless replay just ended.
   */
  flush(): Out[] {
    if (this.gate.active) this.endReplay();
    return this.expire([]);
  }

  /** Whether the input at `offset` is replay (counted in `stats.replayed`); the first input past it ends the replay. */
  protected replaying(offset: number): boolean {
    const replay = this.gate.isReplay(offset);
    if (!replay && this.gate.active) this.endReplay();
    if (replay) this.stats.replayed++;
    return replay;
  }

  protected endReplay(): void {
    this.gate.end();
    // Rebuilt groups already closed under the restored watermark were emitted before.
    this.groups.expire(this.wm);
  }

  /** Emit the groups the watermark closed, after `out`. */
  protected abstract expire(out: Out[]): Out[];
}

// ---------------------------------------------------------------------------------
// Span derivation
// ---------------------------------------------------------------------------------

interface First {
  ts: Micros;
  eventId: string;
}

interface SpanGroup extends Timed {
  trace: string;
  /** Logged span id, or null (correlation group). */
  spanId: string | null;
  service: string;
  tenant: string;
  derivation: 'ids' | 'correlation';
  start: Micros;
  end: Micros;
  count: number;
  error: boolean;
  first: First;
  parent: (First & { id: string }) | null;
  /** Operation from HTTP fields (earliest log carrying them). */
  httpOp: (First & { op: string }) | null;
  /** Operation from the earliest log's message. */
  msgOp: string;
  /** A direct span already emitted for this key: remembered, never emitted again. */
  done: boolean;
  /** A group emitted on inactivity, kept as a tombstone: a later log of it is late. */
  closed?: boolean;
}

const before = (a: First, b: First): boolean => a.ts < b.ts || (a.ts === b.ts && a.eventId < b.eventId);

/** The watermark is the largest event time seen (see the module contract). */
export class SpanDeriver extends WatermarkAssembler<SpanGroup, Span> {
  readonly stats: DerivationStats = { events: 0, direct: 0, grouped: 0, uncorrelated: 0, late: 0, absorbed: 0, overflow: 0, replayed: 0, emitted: 0 };

  /** `resume`: the state committed by the previous owner (see the module contract); absent: a fresh start. */
  constructor(opts: SpanDeriverOptions = {}, resume?: ResumeState | null) {
    super(opts.inactivityTimeoutUs ?? DEFAULT_INACTIVITY_US, opts.maxOpenGroups ?? DEFAULT_MAX_OPEN_GROUPS, 'maxOpenGroups', resume);
  }

  /** Feed one record at input `offset`; returns the spans it completed (its own direct span included). */
  push(record: LogRecord, offset: number): Span[] {
    this.stats.events++;
    const replay = this.replaying(offset);

    const t = record.timestamp;
    const out: Span[] = [];
    const corr = record.trace_id ? null : correlationOf(record.ids);
    const trace = record.trace_id ?? (corr === null ? null : correlationTraceId(corr));
    if (trace === null) {
      this.stats.uncorrelated++;
      return this.advance(t, out, replay);
    }
    const service = record.service ?? 'unknown';
    const spanId = record.trace_id && record.span_id ? record.span_id : null;
    const key = spanId ? `s\u0000${record.tenant}\u0000${trace}\u0000${spanId}` : `c\u0000${record.tenant}\u0000${trace}\u0000${service}`;
    const existing = this.groups.get(key);
    const first: First = { ts: t, eventId: record.event_id };

    const interval = spanId ? directInterval(record) : null;
    if (interval) {
      this.stats.direct++;
      if (existing?.done) {
        if (existing.closed) this.stats.late++;
        else this.stats.absorbed++;
        return this.advance(t, out, replay);
      }
      if (!existing && !replay && t + this.groups.timeoutUs <= this.wm) {
        // Late: a group for this span may have closed (and been emitted) already, and a
        // second span under the same id would be a duplicate. Counted, as for groups.
        this.stats.late++;
        return this.advance(t, out, replay);
      }
      const g = this.newGroup(record, trace, spanId, service, offset, first);
      g.start = interval.start;
      g.end = interval.end;
      g.done = true;
      if (existing) {
        // Logs of this span seen before its direct log are its events.
        g.count += existing.count;
        g.error ||= existing.error;
        g.minOffset = Math.min(g.minOffset, existing.minOffset);
        if (!g.parent && existing.parent) g.parent = existing.parent;
        if (existing.httpOp && (!g.httpOp || before(existing.httpOp, g.httpOp))) g.httpOp = existing.httpOp;
        if (before(existing.first, g.first)) {
          g.first = existing.first;
          g.msgOp = existing.msgOp;
        }
      }
      // Remembered until its end + timeout, so later logs of the id are absorbed.
      g.last = Math.max(interval.end, t, existing?.last ?? Number.NEGATIVE_INFINITY);
      this.groups.put(key, g);
      if (!replay) out.push(this.toSpan(g));
      return this.advance(t, out, replay);
    }

    this.stats.grouped++;
    if (existing) {
      if (existing.done) {
        if (existing.closed) this.stats.late++;
        else this.stats.absorbed++;
        return this.advance(t, out, replay);
      }
      this.addTo(existing, record, offset, first);
      if (t > existing.last) existing.last = t;
      this.groups.put(key, existing);
      return this.advance(t, out, replay);
    }
    if (!replay && t + this.groups.timeoutUs <= this.wm) {
      this.stats.late++;
      return this.advance(t, out, replay);
    }
    const g = this.newGroup(record, trace, spanId, service, offset, first);
    this.groups.put(key, g);
    if (this.groups.size > this.maxOpen) {
      const old = this.groups.evictOldest();
      if (old) {
        this.stats.overflow++;
        if (!old[1].done && !replay) out.push(this.toSpan(old[1]));
      }
    }
    return this.advance(t, out, replay);
  }

  /**
   * Move the watermark to `t` (if later) without an event: the runner does this for a
   * partition that has been idle, so its last groups close. Call only after replay.
   */
  advanceWatermark(t: Micros): Span[] {
    if (this.gate.active) this.endReplay();
    if (t > this.wm) this.wm = t;
    return this.expire([]);
  }

  /** End of input (tests, batch use): emit every open group, oldest first. */
  drain(): Span[] {
    if (this.gate.active) this.endReplay();
    const out: Span[] = [];
    for (const [, g] of this.groups.drain()) if (!g.done) out.push(this.toSpan(g));
    return sortSpans(out);
  }

  private advance(t: Micros, out: Span[], replay: boolean): Span[] {
    if (t > this.wm) this.wm = t;
    if (replay) return out;
    return this.expire(out);
  }

  /**
   * Emit the groups the watermark closed. A closed group stays as a tombstone (done, and
   * depending on no offset) for one more timeout, so a log of it that arrives after the
   * close is absorbed and counted instead of starting a second span under the same id.
   * Tombstones are not rebuilt after a restart.
   */
  protected expire(out: Span[]): Span[] {
    const closed = this.groups.expire(this.wm);
    if (closed.length === 0) return out;
    const spans: Span[] = [];
    for (const [key, g] of closed) {
      if (g.done) continue;
      spans.push(this.toSpan(g));
      g.done = true;
      g.closed = true;
      g.last = this.wm;
      g.minOffset = Number.POSITIVE_INFINITY;
      this.groups.put(key, g);
    }
    return out.concat(sortSpans(spans));
  }

  private newGroup(record: LogRecord, trace: string, spanId: string | null, service: string, offset: number, first: First): SpanGroup {
    const g: SpanGroup = {
      trace,
      spanId,
      service,
      tenant: record.tenant,
      derivation: spanId ? 'ids' : 'correlation',
      start: first.ts,
      end: first.ts,
      last: first.ts,
      minOffset: offset,
      count: 0,
      error: false,
      first,
      parent: null,
      httpOp: null,
      msgOp: messageTemplate(record.message),
      done: false,
    };
    this.addTo(g, record, offset, first);
    return g;
  }

  private addTo(g: SpanGroup, record: LogRecord, offset: number, at: First): void {
    g.count++;
    if (at.ts < g.start) g.start = at.ts;
    if (at.ts > g.end) g.end = at.ts;
    if (offset < g.minOffset) g.minOffset = offset;
    if (isError(record)) g.error = true;
    if (before(at, g.first)) {
      g.first = at;
      g.msgOp = messageTemplate(record.message);
    }
    if (record.parent_span_id && (!g.parent || before(at, g.parent))) g.parent = { ...at, id: record.parent_span_id };
    const op = httpOperation(record);
    if (op && (!g.httpOp || before(at, g.httpOp))) g.httpOp = { ...at, op };
  }

  private toSpan(g: SpanGroup): Span {
    this.stats.emitted++;
    return {
      trace_id: g.trace,
      span_id: g.spanId ?? syntheticSpanId(g.trace, g.service, g.first.eventId),
      parent_span_id: g.parent?.id ?? null,
      service: g.service,
      operation: g.httpOp?.op ?? g.msgOp,
      start: g.start,
      end: g.end,
      duration_us: g.end - g.start,
      status: g.error ? 'ERROR' : 'OK',
      event_count: g.count,
      derivation: g.derivation,
      tenant: g.tenant,
    };
  }
}

/** Deterministic order of spans emitted together: by end, trace, span id. */
export function sortSpans(spans: Span[]): Span[] {
  return spans.sort((a, b) => a.end - b.end || cmp(a.trace_id, b.trace_id) || cmp(a.span_id, b.span_id));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function correlationOf(ids: Record<string, string>): string | null {
  for (const k of CORRELATION_KEYS) {
    const v = ids[k];
    if (v) return v;
  }
  return null;
}

/** Trace id of a correlation-only group: 32 hex of sha256("corr\0" + id value). */
export function correlationTraceId(value: string): string {
  return createHash('sha256').update(`corr\u0000${value}`).digest('hex').slice(0, 32);
}

/** Span id of a group without a logged one: 16 hex of sha256(trace, service, first event_id). */
export function syntheticSpanId(trace: string, service: string, firstEventId: string): string {
  return createHash('sha256').update(`${trace}\u0000${service}\u0000${firstEventId}`).digest('hex').slice(0, 16);
}

function isError(r: LogRecord): boolean {
  return r.level === 'ERROR' || r.level === 'FATAL' || (r.http?.status ?? 0) >= 500;
}

function httpOperation(r: LogRecord): string | null {
  const h = r.http;
  if (!h) return null;
  if (h.method && h.route) return `${h.method} ${h.route}`;
  return h.route ?? h.method ?? null;
}

const TRACE_TOKENS = /\b(?:trace[_ ]?id|span[_ ]?id|parent[_ ]?(?:span[_ ]?)?id)\s*[:=]\s*[0-9a-f-]+/gi;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const HEX = /\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi;
const NUM = /[-+]?\b\d+(?:[.,:]\d+)*\b/g;
const QUOTED = /"[^"]*"|'[^']*'/g;

/**
 * A stable short name of a message: trace-context tokens dropped, quoted values, uuids,
 * hex ids and numbers masked, at most 8 words and 80 characters; "log" when empty.
 */
export function messageTemplate(message: string): string {
  const firstLine = message.split('\n', 1)[0] ?? '';
  const s = firstLine
    .replace(TRACE_TOKENS, ' ')
    .replace(QUOTED, '<*>')
    .replace(UUID, '<uuid>')
    .replace(HEX, '<hex>')
    .replace(NUM, '<num>')
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .slice(0, 8)
    .join(' ');
  const cut = s.length > 80 ? s.slice(0, 80) : s;
  return cut.length > 0 ? cut : 'log';
}

const DURATION_NAME = /^(?:duration|elapsed|latency|took|response_?time)(?:_(us|ms|ns|s))?$/i;
const UNIT_US: Readonly<Record<string, number>> = { ns: 0.001, us: 1, 'µs': 1, ms: 1000, s: 1_000_000 };

/** The interval of a log that carries a duration or explicit start/end, else null. */
export function directInterval(r: LogRecord): { start: Micros; end: Micros } | null {
  const d = durationUs(r);
  if (d !== null) return { start: r.timestamp - d, end: r.timestamp };
  const a = r.attributes;
  const start = parseTimestamp(a['start'] ?? a['start_time'] ?? a['startTime']);
  const end = parseTimestamp(a['end'] ?? a['end_time'] ?? a['endTime']);
  if (start !== undefined && end !== undefined && end >= start) return { start, end };
  return null;
}

function durationUs(r: LogRecord): number | null {
  const h = r.http?.duration_us;
  if (typeof h === 'number' && Number.isFinite(h) && h >= 0) return Math.round(h);
  for (const [k, v] of Object.entries(r.attributes)) {
    const seg = k.slice(k.lastIndexOf('.') + 1);
    const m = DURATION_NAME.exec(seg);
    if (!m) continue;
    const d = parseDuration(v, m[1] ?? 'ms');
    if (d !== null) return d;
  }
  return null;
}

/** "12.5", "12.5ms", "1.2s", "350us", "7µs", "9ns" -> µs; a bare number is in `unit`. */
export function parseDuration(v: string, unit: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*$/.exec(v);
  if (!m) return null;
  const f = UNIT_US[m[2] ?? unit];
  if (f === undefined) return null;
  return Math.round(Number(m[1]) * f);
}

/**
 * Trace summaries from spans (docs/architecture.md, "Derived data"): a pure,
 * deterministic assembler for ONE partition of `traces.spans` (keyed by trace_id, so all
 * spans of a trace meet here). Same event-time rules as `SpanDeriver` (traces.ts): the
 * watermark is the largest span `end` seen; a trace (tenant, trace_id) is complete once
 * `watermark >= its latest span end + inactivityTimeoutUs`, and yields one TraceSummary.
 *
 * Fields:
 * - span_count: distinct span ids (a span id seen twice, e.g. re-emitted after an
 *   overflow, counts once: `stats.duplicates`); services: distinct, sorted; error: any
 *   span with status ERROR;
 * - root: the trace is "linked" when at least one of its spans has a parent_span_id.
 *   In a linked trace the root is the parentless span (the earliest by (start, span_id)
 *   when several): root_service/root_operation are its own, start = its start,
 *   duration_us = its duration_us. A linked trace without a parentless span (its root
 *   logged nothing) has root_service/root_operation null, start = earliest start,
 *   duration_us = latest end - earliest start.
 *   A trace without any parent link (logs carried no parents: every span is parentless
 *   and none is proven a root) takes root_service/root_operation from its EARLIEST span
 *   (by start, span_id) and start = earliest start, duration_us = latest end - earliest
 *   start. A reader tells the two cases apart from the spans themselves (any
 *   parent_span_id in the trace), since the schema has no field for it.
 * - a span for a trace already summarised (its time + timeout <= watermark and no open
 *   trace) is late: counted in `stats.late`, dropped (the summary is not re-emitted);
 * - at most `maxOpenTraces` traces are held; one more emits the trace idle longest early
 *   (`stats.overflow`).
 * Restarts: `checkpoint`/resume exactly as `SpanDeriver` (replay before `until` rebuilds
 * without emitting; rebuilt traces closed under the restored watermark are dropped).
 */
import type { Micros, Span, TraceSummary } from '../../shared/records.js';
import { DEFAULT_MAX_OPEN_GROUPS, WatermarkAssembler, type ResumeState, type Timed } from './traces.js';

export interface TraceAssemblerOptions {
  /** Event-time inactivity after which a trace is complete, µs. Default 60 s (spans of one trace come from several enricher partitions). */
  inactivityTimeoutUs?: number;
  /** Most traces held at once. Default 10,000. */
  maxOpenTraces?: number;
}

export const DEFAULT_TRACE_INACTIVITY_US = 60_000_000;

export interface TraceStats {
  spans: number;
  duplicates: number;
  late: number;
  overflow: number;
  replayed: number;
  emitted: number;
}

interface Candidate {
  start: Micros;
  spanId: string;
  service: string;
  operation: string;
  duration: number;
}

interface TraceGroup extends Timed {
  trace: string;
  tenant: string;
  spanIds: Set<string>;
  services: Set<string>;
  start: Micros;
  end: Micros;
  error: boolean;
  linked: boolean;
  earliest: Candidate;
  parentless: Candidate | null;
}

const earlier = (a: Candidate, b: Candidate): boolean => a.start < b.start || (a.start === b.start && a.spanId < b.spanId);

/** The groups are traces; the watermark is the smallest per-service largest span end (see observe). */
export class TraceAssembler extends WatermarkAssembler<TraceGroup, TraceSummary> {
  /** Largest span end seen per service (see observe). */
  private readonly serviceEnds = new Map<string, Micros>();
  readonly stats: TraceStats = { spans: 0, duplicates: 0, late: 0, overflow: 0, replayed: 0, emitted: 0 };

  constructor(opts: TraceAssemblerOptions = {}, resume?: ResumeState | null) {
    super(opts.inactivityTimeoutUs ?? DEFAULT_TRACE_INACTIVITY_US, opts.maxOpenTraces ?? DEFAULT_MAX_OPEN_GROUPS, 'maxOpenTraces', resume);
  }

  /** Feed one span at input `offset`; returns the summaries it completed. */
  push(span: Span, offset: number): TraceSummary[] {
    this.stats.spans++;
    const replay = this.replaying(offset);
    const out: TraceSummary[] = [];
    const key = `${span.tenant}\u0000${span.trace_id}`;
    const cand: Candidate = { start: span.start, spanId: span.span_id, service: span.service, operation: span.operation, duration: span.duration_us };
    const g = this.groups.get(key);
    if (g) {
      if (g.spanIds.has(span.span_id)) this.stats.duplicates++;
      else {
        add(g, span, cand, offset);
        this.groups.put(key, g);
      }
    } else if (!replay && span.end + this.groups.timeoutUs <= this.wm) {
      this.stats.late++;
    } else {
      const n: TraceGroup = {
        trace: span.trace_id,
        tenant: span.tenant,
        spanIds: new Set(),
        services: new Set(),
        start: span.start,
        end: span.end,
        last: span.end,
        minOffset: offset,
        error: false,
        linked: false,
        earliest: cand,
        parentless: null,
      };
      add(n, span, cand, offset);
      this.groups.put(key, n);
      if (this.groups.size > this.maxOpen) {
        const old = this.groups.evictOldest();
        if (old) {
          this.stats.overflow++;
          if (!replay) out.push(this.summary(old[1]));
        }
      }
    }
    this.observe(span.service, span.end);
    if (replay) return out;
    return this.expire(out);
  }

  /**
   * The watermark is the SMALLEST of the per-service largest span ends (never moving
   * back): spans reach traces.spans from many services, each derived by an enricher
   * partition that runs at its own pace (and a span rebuilt from a log group only once
   * the group goes quiet), so the largest end over all spans would make the slower
   * services' spans late.
   */
  private observe(service: string, end: Micros): void {
    const prev = this.serviceEnds.get(service);
    if (prev === undefined || end > prev) this.serviceEnds.set(service, end);
    let min = Number.POSITIVE_INFINITY;
    for (const v of this.serviceEnds.values()) if (v < min) min = v;
    if (min > this.wm) this.wm = min;
  }

  /**
   * Move the watermark to `t` (if later) without an event: the runner does this for a
   * partition that has been idle, so its last groups close. Call only after replay.
   */
  advanceWatermark(t: Micros): TraceSummary[] {
    if (this.gate.active) this.endReplay();
    if (t > this.wm) this.wm = t;
    for (const [service, end] of this.serviceEnds) if (end < t) this.serviceEnds.set(service, t);
    return this.expire([]);
  }

  /** End of input: summarise every open trace. */
  drain(): TraceSummary[] {
    if (this.gate.active) this.endReplay();
    return sortSummaries(this.groups.drain().map(([, g]) => this.summary(g)));
  }

  protected expire(out: TraceSummary[]): TraceSummary[] {
    const closed = this.groups.expire(this.wm);
    if (closed.length === 0) return out;
    return out.concat(sortSummaries(closed.map(([, g]) => this.summary(g))));
  }

  private summary(g: TraceGroup): TraceSummary {
    this.stats.emitted++;
    const root = g.linked ? g.parentless : g.earliest;
    const proven = g.linked && root !== null;
    return {
      trace_id: g.trace,
      root_service: root?.service ?? null,
      root_operation: root?.operation ?? null,
      start: proven ? root.start : g.start,
      duration_us: proven ? root.duration : g.end - g.start,
      span_count: g.spanIds.size,
      services: [...g.services].sort(),
      error: g.error,
      tenant: g.tenant,
    };
  }
}

function add(g: TraceGroup, span: Span, cand: Candidate, offset: number): void {
  g.spanIds.add(span.span_id);
  g.services.add(span.service);
  if (span.start < g.start) g.start = span.start;
  if (span.end > g.end) g.end = span.end;
  if (span.end > g.last) g.last = span.end;
  if (offset < g.minOffset) g.minOffset = offset;
  if (span.status === 'ERROR') g.error = true;
  if (span.parent_span_id) g.linked = true;
  else if (!g.parentless || earlier(cand, g.parentless)) g.parentless = cand;
  if (earlier(cand, g.earliest)) g.earliest = cand;
}

export function sortSummaries(s: TraceSummary[]): TraceSummary[] {
  return s.sort((a, b) => a.start + a.duration_us - (b.start + b.duration_us) || (a.trace_id < b.trace_id ? -1 : a.trace_id > b.trace_id ? 1 : 0));
}

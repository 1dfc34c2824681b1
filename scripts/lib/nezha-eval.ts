/**
 * Span derivation against the Nezha corpus (issue #5 "Must show"; corpus read in place
 * from $SLUICE_CORPUS_DIR or ../shared/corpus, never copied). Used by nezha.test.ts and
 * scripts/traces-nezha.ts.
 *
 * Each log CSV row is one Kafka message: value = the `Log` column (a Docker json-file
 * record), header `service` = the pod's workload name (`serviceOfPod`: what a shipper's
 * Kubernetes metadata gives, e.g. Fluent Bit's kubernetes filter), Kafka timestamp = a
 * fixed ingest time (a replay, as `corpus-eval.ts` does). Records reach `SpanDeriver`
 * in shipper order (`shipperOrder`), offset = position in that order. The REAL
 * `createCollectStage` + `createNormalizeStage` make the LogRecord; `SpanDeriver` makes
 * spans in CSV row order; the trace CSV is the ground truth.
 *
 * The normalizer reads these logs by itself (fallbacks.ts: time-of-day lines placed on
 * the envelope's date, `TraceID:`/`SpanID:` in text; the service hint over a logger
 * `name` field), so the evaluation runs the records exactly as the pipeline makes them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCollectStage } from '../../services/collector/collect.js';
import { createNormalizeStage } from '../../services/normalizer/normalize.js';
import { parseCsv } from './corpus-eval.js';
import { parseIso } from '../../shared/time/timestamps.js';
import type { LogRecord, RawEvent, Span } from '../../shared/records.js';
import type { StageContext } from '../../shared/stage.js';
import { DEFAULT_INACTIVITY_US, SpanDeriver, type SpanDeriverOptions } from '../../services/enricher/traces.js';

export interface NezhaSystem {
  name: string;
  log: string;
  trace: string;
}

export const NEZHA_SYSTEMS: readonly NezhaSystem[] = [
  { name: 'TrainTicket 2023-01-29 08:50', log: 'nezha/construct_data/2023-01-29/log/08_50_log.csv', trace: 'nezha/construct_data/2023-01-29/trace/08_50_trace.csv' },
  { name: 'OnlineBoutique 2022-08-22 05:20', log: 'nezha/rca_data/2022-08-22/log/05_20_log.csv', trace: 'nezha/rca_data/2022-08-22/trace/05_20_trace.csv' },
];

/** Fixed Kafka timestamp of the replay: 2026-11-21T12:00:00Z (as corpus-eval.ts). */
export const NEZHA_INGEST_MS = Date.UTC(2026, 10, 21, 12, 0, 0);
/** Tolerance of the interval check, µs (the Docker envelope's capture lag is up to 5.2 ms). */
export const INTERVAL_TOLERANCE_US = 10_000;

export function nezhaAvailable(corpusDir: string): boolean {
  return NEZHA_SYSTEMS.every((s) => existsSync(join(corpusDir, s.log)) && existsSync(join(corpusDir, s.trace)));
}

/** Kubernetes pod name -> workload: `ts-order-service-5d8f7b9c4-xk2lp` -> `ts-order-service` (Deployment pods: `-<pod-template-hash>-<5 chars>`). */
export function serviceOfPod(pod: string): string {
  const m = /^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(pod);
  return m ? (m[1] as string) : pod;
}

export interface Rate {
  ok: number;
  total: number;
}
export interface NezhaReport {
  system: string;
  /** The deriver's inactivity timeout, µs. */
  timeoutUs: number;
  logRows: number;
  records: number;
  deadLetters: number;
  /** Records by timestamp_source, and how far record time is from the CSV's TimeUnixNano. */
  timestamp: { event: number; ingest: number; within10ms: number; medianAbsErrorMs: number };
  /** Records carrying trace_id / span_id. */
  withTraceId: number;
  withSpanId: number;
  /** Distinct span ids in the log CSV's SpanID column (the ground truth of what was logged). */
  loggedSpanIds: number;
  derivedSpans: number;
  exactlyOne: Rate;
  rightTrace: Rate;
  rightService: Rate;
  intervalInside: Rate;
  membership: Rate;
  stats: SpanDeriver['stats'];
  /** Wall time of the derivation alone (SpanDeriver.push + drain), ms. */
  deriveMs: number;
  misses: string[];
}

interface GtSpan {
  trace: string;
  pod: string;
  startUs: number;
  endUs: number;
}

function readCsv(path: string): { header: string[]; rows: string[][] } {
  const rows = parseCsv(readFileSync(path, 'utf8')).filter((r) => r.length > 1);
  const header = rows.shift() ?? [];
  return { header, rows };
}

const col = (header: string[], name: string): number => {
  const i = header.indexOf(name);
  if (i < 0) throw new Error(`column ${name} missing`);
  return i;
};

const nsToUs = (ns: string): number => Number(BigInt(ns) / 1000n);

export function readGroundTruth(path: string): Map<string, GtSpan> {
  const { header, rows } = readCsv(path);
  const [t, s, p, st, en] = [col(header, 'TraceID'), col(header, 'SpanID'), col(header, 'PodName'), col(header, 'StartTimeUnixNano'), col(header, 'EndTimeUnixNano')];
  const out = new Map<string, GtSpan>();
  for (const r of rows) out.set(r[s] as string, { trace: r[t] as string, pod: r[p] as string, startUs: nsToUs(r[st] as string), endUs: nsToUs(r[en] as string) });
  return out;
}

export interface NezhaLog {
  row: number;
  pod: string;
  traceId: string;
  spanId: string;
  timeUs: number;
  raw: RawEvent | null;
  record: LogRecord | null;
}

/** Every log row through the real collect + normalize stages. */
export function readNezhaLogs(path: string): NezhaLog[] {
  const { header, rows } = readCsv(path);
  const [pod, tid, sid, tns, log] = [col(header, 'PodName'), col(header, 'TraceID'), col(header, 'SpanID'), col(header, 'TimeUnixNano'), col(header, 'Log')];
  const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
  const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
  const ctx: StageContext = { now: () => NEZHA_INGEST_MS };
  return rows.map((r, i) => {
    const value = Buffer.from(r[log] as string, 'utf8');
    const env = { topic: 'nezha', partition: 0, offset: String(i), timestampMs: NEZHA_INGEST_MS, key: null, headers: { service: serviceOfPod(r[pod] as string) } };
    let raw: RawEvent | null = null;
    let record: LogRecord | null = null;
    try {
      const c = collect.process({ ...env, value, raw: value }, ctx)[0];
      raw = (c?.value as RawEvent | undefined) ?? null;
      if (c && raw) record = (normalize.process({ ...env, key: c.key === null ? null : Buffer.from(c.key), value: raw, raw: value }, ctx)[0]?.value as LogRecord | undefined) ?? null;
    } catch {
      record = null;
    }
    return { row: i, pod: r[pod] as string, traceId: r[tid] as string, spanId: r[sid] as string, timeUs: nsToUs(r[tns] as string), raw, record };
  });
}

/**
 * The order a log shipper reads the rows: by the Docker envelope time (when the daemon
 * captured the line), stable. The CSV itself is not in any arrival order (rows of one
 * pod run backwards in time and pods follow each other), so feeding it as is would be
 * minutes of disorder no event-time timeout is meant to absorb.
 */
export function shipperOrder(rows: NezhaLog[]): NezhaLog[] {
  const at = (l: NezhaLog): number => (l.raw?.envelope_time ? (parseIso(l.raw.envelope_time) ?? 0) : 0);
  return rows.map((l) => [at(l), l] as const).sort((a, b) => a[0] - b[0] || a[1].row - b[1].row).map(([, l]) => l);
}

const rate = (ok: number, total: number): Rate => ({ ok, total });
export function pct(r: Rate): string {
  return r.total === 0 ? 'n/a' : `${((100 * r.ok) / r.total).toFixed(2)}%`;
}

export function evaluateNezha(corpusDir: string, system: NezhaSystem, opts: SpanDeriverOptions = {}, logs?: NezhaLog[]): NezhaReport {
  const gt = readGroundTruth(join(corpusDir, system.trace));
  const rows = logs ?? readNezhaLogs(join(corpusDir, system.log));
  const records: LogRecord[] = [];
  const offsets: number[] = [];
  let event = 0;
  let within = 0;
  const errs: number[] = [];
  for (const l of shipperOrder(rows)) {
    if (!l.record || !l.raw) continue;
    const rec = l.record;
    offsets.push(records.length);
    records.push(rec);
    if (rec.timestamp_source === 'event') event++;
    const e = Math.abs(rec.timestamp - l.timeUs);
    errs.push(e);
    if (e <= INTERVAL_TOLERANCE_US) within++;
  }
  errs.sort((a, b) => a - b);

  const deriver = new SpanDeriver(opts);
  const spans: Span[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < records.length; i++) for (const s of deriver.push(records[i] as LogRecord, offsets[i] as number)) spans.push(s);
  for (const s of deriver.drain()) spans.push(s);
  const deriveMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const bySpan = new Map<string, Span[]>();
  for (const s of spans) bySpan.set(s.span_id, [...(bySpan.get(s.span_id) ?? []), s]);
  const logged = [...new Set(rows.map((l) => l.spanId))];
  const misses: string[] = [];
  let one = 0;
  let trace = 0;
  let service = 0;
  let inside = 0;
  for (const id of logged) {
    const g = gt.get(id);
    const d = bySpan.get(id) ?? [];
    if (d.length === 1) one++;
    const s = d.length === 1 ? (d[0] as Span) : undefined;
    if (!g || !s) {
      if (misses.length < 5) misses.push(`${system.name} span ${id}: ${d.length} derived spans${g ? '' : ', not in trace CSV'}`);
      continue;
    }
    if (s.trace_id === g.trace) trace++;
    if (s.service === serviceOfPod(g.pod)) service++;
    else if (misses.length < 5) misses.push(`${system.name} span ${id}: service ${s.service} vs pod ${g.pod}`);
    if (s.start >= g.startUs - INTERVAL_TOLERANCE_US && s.end <= g.endUs + INTERVAL_TOLERANCE_US) inside++;
    else if (misses.length < 5) misses.push(`${system.name} span ${id}: [${s.start}, ${s.end}] vs truth [${g.startUs}, ${g.endUs}] (µs)`);
  }

  // Membership: per trace, span ids of derived spans == the trace CSV's span ids that appear in the logs.
  const loggedSet = new Set(logged);
  const truthMembers = new Map<string, Set<string>>();
  for (const [id, g] of gt) if (loggedSet.has(id)) (truthMembers.get(g.trace) ?? truthMembers.set(g.trace, new Set()).get(g.trace))?.add(id);
  const derivedMembers = new Map<string, Set<string>>();
  for (const s of spans) (derivedMembers.get(s.trace_id) ?? derivedMembers.set(s.trace_id, new Set()).get(s.trace_id))?.add(s.span_id);
  const traces = new Set([...truthMembers.keys(), ...derivedMembers.keys()]);
  let same = 0;
  for (const t of traces) {
    const a = truthMembers.get(t) ?? new Set<string>();
    const b = derivedMembers.get(t) ?? new Set<string>();
    if (a.size === b.size && [...a].every((x) => b.has(x))) same++;
  }

  return {
    system: system.name,
    timeoutUs: opts.inactivityTimeoutUs ?? DEFAULT_INACTIVITY_US,
    logRows: rows.length,
    records: records.length,
    deadLetters: rows.length - records.length,
    timestamp: { event, ingest: records.length - event, within10ms: within, medianAbsErrorMs: (errs[errs.length >> 1] ?? 0) / 1000 },
    withTraceId: records.filter((r) => r.trace_id !== null).length,
    withSpanId: records.filter((r) => r.span_id !== null).length,
    loggedSpanIds: logged.length,
    derivedSpans: spans.length,
    exactlyOne: rate(one, logged.length),
    rightTrace: rate(trace, logged.length),
    rightService: rate(service, logged.length),
    intervalInside: rate(inside, logged.length),
    membership: rate(same, traces.size),
    stats: { ...deriver.stats },
    deriveMs,
    misses,
  };
}

export function nezhaTable(reports: NezhaReport[]): string {
  const out = [
    '| system | timeout | log rows | records (event time / within 10 ms of truth) | span ids in logs | derived spans | exactly one span | right trace id | right service | interval inside truth ±10 ms | trace membership equal |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    out.push(
      `| ${r.system} | ${r.timeoutUs / 1_000_000} s | ${r.logRows} | ${r.records} (${r.timestamp.event} / ${r.timestamp.within10ms}) | ${r.loggedSpanIds} | ${r.derivedSpans} | ${pct(r.exactlyOne)} | ${pct(r.rightTrace)} | ${pct(r.rightService)} | ${pct(r.intervalInside)} | ${pct(r.membership)} (${r.membership.ok}/${r.membership.total}) |`,
    );
  }
  return out.join('\n');
}

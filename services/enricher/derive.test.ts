import { createDeriveStage, createSummarizeStage } from './derive.js';
import { routed } from './stages.js';
import { Router, ROUTE_LABEL } from '../../shared/routing.js';
import { generate } from '../../scripts/lib/generator.js';
import { createCollectStage } from '../collector/collect.js';
import { createNormalizeStage } from '../normalizer/normalize.js';
import type { LogRecord, MetricWindow, RawEvent, Span, TraceSummary } from '../../shared/records.js';
import type { Checkpoint, PartitionStage, StageInput, StageOutput } from '../../shared/stage.js';

/** Generated logs of a few services, through the real collect + normalize stages: one partition's input. */
function records(): LogRecord[] {
  const g = generate({ seed: 7, rps: 8, seconds: 60, lateRate: 0.02 });
  const collect = createCollectStage({ outputTopic: 'c', defaultTenant: 'demo', maxEventBytes: 1_048_576 });
  const normalize = createNormalizeStage({ outputTopic: 'n', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
  const out: LogRecord[] = [];
  g.messages.forEach((m, i) => {
    const value = Buffer.from(m.value);
    const input: StageInput<Buffer> = { topic: 'logs.raw', partition: 0, offset: String(i), timestampMs: Number(m.timestamp), key: Buffer.from(m.key), headers: m.headers, value, raw: value };
    const ctx = { now: () => Number(m.timestamp) };
    for (const c of collect.process(input, ctx)) for (const n of normalize.process({ ...input, value: c.value as RawEvent }, ctx)) out.push(n.value as LogRecord);
  });
  return out;
}

const topics = { enriched: 'logs.enriched', metrics: 'metrics.derived', spans: 'traces.spans' };
const opts = { topics, enrich: (r: LogRecord) => ({ ...r, labels: { ...r.labels, enriched: 'yes' } }), metrics: {}, spans: { inactivityTimeoutUs: 10_000_000 }, idleAfterMs: 1000, flushIntervalMs: 100 };
const input = (r: LogRecord, offset: number): StageInput<LogRecord> => ({ topic: 'logs.normalized', partition: 0, offset: String(offset), timestampMs: 0, key: null, headers: {}, value: r, raw: Buffer.alloc(0) });
const idOf = (o: StageOutput): string => {
  const v = o.value as Partial<LogRecord & MetricWindow & Span>;
  return `${o.topic}:${o.topic === topics.enriched ? v.event_id : o.topic === topics.metrics ? v.window_id : `${v.trace_id}-${v.span_id}`}`;
};

/**
 * Like the runner: batches, each committed with its checkpoint; a crash after `crashAfter`
 * batches loses what was not committed; the next owner opens from the checkpoint and
 * reads from its offset. At the end the partition goes idle and the flush closes the rest.
 */
function run(recs: LogRecord[], crashAfter: number): StageOutput[] {
  const stage = createDeriveStage(opts);
  let now = 1_000_000;
  const ctx = { now: () => now };
  const committed: StageOutput[] = [];
  let cp: Checkpoint | null = null;
  let p: PartitionStage<LogRecord> = stage.open('logs.normalized', 0, null);
  let i = 0;
  for (let batch = 0; i < recs.length && batch < crashAfter; batch++) {
    const end = Math.min(recs.length, i + 37 + (batch % 5) * 11);
    for (; i < end; i++) committed.push(...p.process(input(recs[i]!, i), ctx));
    cp = p.checkpoint(String(i));
    now += 10;
  }
  p = stage.open('logs.normalized', 0, cp);
  for (let k = cp ? Number(cp.offset) : 0; k < recs.length; k++) committed.push(...p.process(input(recs[k]!, k), ctx));
  for (let t = 0; t < 200; t++) {
    now += 1000;
    committed.push(...p.flush(ctx));
  }
  return committed;
}

describe('enricher derive stage', () => {
  const recs = records();
  const straight = run(recs, Number.POSITIVE_INFINITY);
  const byId = (outs: StageOutput[]) => new Map(outs.map((o) => [idOf(o), o.value]));

  test('passes every record on once, enriched, and derives windows and spans', () => {
    const logs = straight.filter((o) => o.topic === topics.enriched);
    expect(logs.length).toBe(recs.length);
    expect((logs[0]!.value as LogRecord).labels['enriched']).toBe('yes');
    expect(straight.filter((o) => o.topic === topics.metrics).length).toBeGreaterThan(10);
    expect(straight.filter((o) => o.topic === topics.spans).length).toBeGreaterThan(10);
    const seen = new Map<string, StageOutput[]>();
    for (const o of straight) seen.set(idOf(o), [...(seen.get(idOf(o)) ?? []), o]);
    const dups = [...seen].filter(([, v]) => v.length > 1);
    if (dups.length) console.log(JSON.stringify(dups.slice(0, 2).map(([k, v]) => [k, v.map((o) => o.value)]), null, 1).slice(0, 3000));
    expect(byId(straight).size).toBe(straight.length); // nothing twice
  });

  test.each([1, 2, 3, 5, 8, 13, 21, 34])('a crash after batch %i: the same outputs, none twice', (k) => {
    const outs = run(recs, k);
    expect(byId(outs).size).toBe(outs.length);
    expect(byId(outs)).toEqual(byId(straight));
  });

  test('checkpoints keep the offset at the oldest open window or span group', () => {
    const p = createDeriveStage(opts).open('t', 0, null);
    for (let i = 0; i < 200; i++) p.process(input(recs[i]!, i), { now: () => 0 });
    const cp = p.checkpoint('200');
    expect(Number(cp.offset)).toBeLessThan(200);
    expect(cp.metadata).toMatch(/^en3;\d+;[0-9a-f]{12}:/);
  });
});

describe('enricher summarize stage', () => {
  test('spans become one summary per trace, also across a restart', () => {
    const spans = run(records(), Number.POSITIVE_INFINITY).filter((o) => o.topic === topics.spans).map((o) => o.value as Span);
    const stage = createSummarizeStage({ topic: 'traces.summaries', traces: { inactivityTimeoutUs: 15_000_000 }, idleAfterMs: 1000, flushIntervalMs: 100 });
    const go = (crashAt: number) => {
      let now = 0;
      const ctx = { now: () => now };
      let p = stage.open('traces.spans', 0, null);
      const out: TraceSummary[] = [];
      let cp: Checkpoint | null = null;
      for (let i = 0; i < Math.min(crashAt, spans.length); i++) {
        out.push(...p.process({ ...input(spans[i] as unknown as LogRecord, i), value: spans[i]! } as StageInput<Span>, ctx).map((o) => o.value as TraceSummary));
        cp = p.checkpoint(String(i + 1));
      }
      p = stage.open('traces.spans', 0, cp);
      for (let i = cp ? Number(cp.offset) : spans.length; i < spans.length; i++) out.push(...p.process({ ...input(spans[i] as unknown as LogRecord, i), value: spans[i]! } as StageInput<Span>, ctx).map((o) => o.value as TraceSummary));
      for (let t = 0; t < 100; t++) {
        now += 1000;
        out.push(...p.flush(ctx).map((o) => o.value as TraceSummary));
      }
      return out;
    };
    const all = go(Number.POSITIVE_INFINITY);
    expect(new Set(all.map((t) => t.trace_id)).size).toBe(all.length);
    expect(all.length).toBe(new Set(spans.map((s) => s.trace_id)).size);
    const restarted = go(Math.floor(spans.length / 2));
    expect(new Map(restarted.map((t) => [t.trace_id, t]))).toEqual(new Map(all.map((t) => [t.trace_id, t])));
    expect(restarted.length).toBe(all.length);
  });
});

describe('enricher derive stage with sluice.yaml routes', () => {
  const recs = records();
  const router = Router.compile([
    { name: 'no-info', when: { level: 'INFO' }, action: 'drop' },
    { name: 'api', when: { service: 'checkout' }, action: 'route', index: 'gateway' },
  ]);
  const decisions = new Map<string, number>();
  const routing = { router, onDecision: (rule: string, action: string) => decisions.set(`${rule}:${action}`, (decisions.get(`${rule}:${action}`) ?? 0) + 1) };

  function all(withRoutes: boolean): StageOutput[] {
    const stage = createDeriveStage({ ...opts, ...(withRoutes ? { store: (r: LogRecord) => routed(routing, r) } : {}) });
    let now = 1_000_000;
    const ctx = { now: () => now };
    const p = stage.open('logs.normalized', 0, null);
    const out = recs.flatMap((r, i) => p.process(input(r, i), ctx));
    for (let t = 0; t < 200; t++) {
      now += 1000;
      out.push(...p.flush(ctx));
    }
    return out;
  }

  test('dropped records are not stored but still counted in metrics, spans and traces; routed ones carry their index', () => {
    const plain = all(false);
    const routedOut = all(true);
    const enriched = (o: StageOutput[]) => o.filter((x) => x.topic === topics.enriched).map((x) => x.value as LogRecord);
    const derived = (o: StageOutput[]) => o.filter((x) => x.topic !== topics.enriched);
    expect(derived(routedOut)).toEqual(derived(plain));
    const stored = enriched(routedOut);
    const infos = recs.filter((r) => r.level === 'INFO').length;
    expect(infos).toBeGreaterThan(0);
    expect(stored.length).toBe(recs.length - infos);
    expect(stored.every((r) => r.level !== 'INFO')).toBe(true);
    const gateway = stored.filter((r) => r.service === 'checkout');
    expect(gateway.length).toBeGreaterThan(0);
    expect(gateway.every((r) => r.labels[ROUTE_LABEL] === 'gateway')).toBe(true);
    expect(stored.filter((r) => r.service !== 'checkout').every((r) => r.labels[ROUTE_LABEL] === undefined)).toBe(true);
    expect(decisions.get('no-info:drop')).toBe(infos);
    expect(decisions.get('api:keep')).toBe(gateway.length);
  });
});

describe('enricher derive stage: late events at idle', () => {
  test('a late event is held (the runner keeps flushing) and emitted when the partition goes idle', () => {
    const stage = createDeriveStage(opts);
    let now = 1_000_000;
    const ctx = { now: () => now };
    const p = stage.open('logs.normalized', 0, null);
    const t0 = Date.UTC(2026, 0, 1) * 1000;
    const rec = (id: string, ts: number): LogRecord => ({ ...records()[0]!, event_id: id, timestamp: ts, http: null, trace_id: null, span_id: null, parent_span_id: null });
    p.process(input(rec('a', t0), 0), ctx);
    now += 20_000; // idle: the window closes (10 s windows, 5 s lateness)
    const closed = p.flush(ctx).filter((o) => o.topic === topics.metrics);
    expect(closed.length).toBeGreaterThan(0);
    p.process(input(rec('b', t0 + 1), 1), ctx); // late for the closed window
    expect(p.endOfBatch!(ctx).filter((o) => o.topic === topics.metrics)).toEqual([]); // in the late lane
    expect(p.held).toBeGreaterThan(0);
    now += 20_000;
    const late = p.flush(ctx).filter((o) => o.topic === topics.metrics).map((o) => o.value as MetricWindow);
    expect(late.map((w) => w.late_count)).toEqual([1]);
    expect(p.held).toBe(0);
  });
});

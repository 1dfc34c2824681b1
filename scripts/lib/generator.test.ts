/**
 * The generator: repeatable, consistent ground truth, windows that a recount of its own
 * lines confirms, shipping delays at the configured rates, and lines that the REAL
 * collect + normalize stages read with the right ids, levels, times and HTTP fields.
 */
import { Readable } from 'node:stream';
import { generate, renderFiles, type Generated, type GeneratedEvent } from './generator.js';
import { computeWindows, accessLevel, type CountedEvent } from './generator-truth.js';
import type { GenLevel } from './generator-formats.js';
import { createCollectStage } from '../../services/collector/collect.js';
import { createNormalizeStage } from '../../services/normalizer/normalize.js';
import { ParsePipeline } from '../../bin/parse-pipeline.js';
import type { LogRecord, RawEvent } from '../../shared/records.js';

const SMALL = { rps: 30, seconds: 40 };
// Higher error and slow rates so every error and slow path shows up in a short run.
const RICH = { seed: 7, rps: 40, seconds: 100, errorRate: 0.1, slowRate: 0.1 };

let rich: Generated;
beforeAll(() => {
  rich = generate(RICH);
});

describe('repeatability', () => {
  test('same seed -> byte-identical files', () => {
    const a = renderFiles(generate({ seed: 42, ...SMALL }));
    const b = renderFiles(generate({ seed: 42, ...SMALL }));
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, v] of a) expect(b.get(k)).toBe(v);
    expect([...a.keys()].sort()).toEqual(expect.arrayContaining(['frontend.log', 'frontend.access.log', 'checkout.log', 'checkout.access.log', 'payment.log', 'inventory.log', 'catalog.log', 'db.log', 'messages.ndjson', 'truth/traces.ndjson', 'truth/spans.ndjson', 'truth/windows.ndjson', 'truth/summary.json']));
  });

  test('different seed -> different output', () => {
    const a = renderFiles(generate({ seed: 42, ...SMALL }));
    const b = renderFiles(generate({ seed: 43, ...SMALL }));
    for (const k of ['frontend.log', 'messages.ndjson', 'truth/spans.ndjson', 'truth/windows.ndjson']) expect(b.get(k)).not.toBe(a.get(k));
  });

  test('invalid options are refused', () => {
    expect(() => generate({ seed: 1, rps: 0 })).toThrow(/rps/);
    expect(() => generate({ seed: 1, lateRate: 0.6, outOfOrderRate: 0.6 })).toThrow(/outOfOrderRate \+ lateRate/);
  });
});

describe('trace truth', () => {
  test('ids are W3C-shaped and unique', () => {
    expect(rich.spans.filter((s) => !/^[0-9a-f]{32}$/.test(s.trace_id) || !/^[0-9a-f]{16}$/.test(s.span_id))).toEqual([]);
    expect(new Set(rich.spans.map((s) => s.span_id)).size).toBe(rich.spans.length);
    expect(new Set(rich.traces.map((t) => t.trace_id)).size).toBe(rich.traces.length);
  });

  test('every parent exists in its trace and contains its child; one root per trace; summaries agree', () => {
    const byTrace = new Map<string, typeof rich.spans>();
    for (const s of rich.spans) (byTrace.get(s.trace_id) ?? byTrace.set(s.trace_id, []).get(s.trace_id)!).push(s);
    expect(byTrace.size).toBe(rich.traces.length);
    const problems: string[] = [];
    for (const t of rich.traces) {
      const spans = byTrace.get(t.trace_id)!;
      const byId = new Map(spans.map((s) => [s.span_id, s]));
      const roots = spans.filter((s) => s.parent_span_id === null);
      if (roots.length !== 1) problems.push(`${t.trace_id}: ${roots.length} roots`);
      const root = roots[0]!;
      for (const s of spans) {
        if (s.duration_us !== s.end - s.start || s.duration_us <= 0) problems.push(`${s.span_id}: bad duration`);
        if (s.parent_span_id === null) continue;
        const p = byId.get(s.parent_span_id);
        if (!p) problems.push(`${s.span_id}: parent ${s.parent_span_id} not in trace`);
        else if (!(s.start > p.start && s.end < p.end)) problems.push(`${s.span_id}: outside its parent's interval`);
        // An erroring child makes its parent err.
        else if (s.status === 'ERROR' && p.status !== 'ERROR') problems.push(`${s.span_id}: error did not propagate`);
      }
      const want = { root_service: root.service, root_operation: root.operation, start: root.start, duration_us: root.duration_us, span_count: spans.length, services: [...new Set(spans.map((s) => s.service))].sort(), error: spans.some((s) => s.status === 'ERROR') };
      const got = { root_service: t.root_service, root_operation: t.root_operation, start: t.start, duration_us: t.duration_us, span_count: t.span_count, services: t.services, error: t.error };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${t.trace_id}: summary ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    }
    expect(problems).toEqual([]);
  });

  test('error and slow traces occur at about the configured rates', () => {
    const n = rich.traces.length;
    const errors = rich.traces.filter((t) => t.error).length / n;
    const slow = rich.traces.filter((t) => t.duration_us >= 1_200_000).length / n;
    expect(errors).toBeGreaterThan(0.07);
    expect(errors).toBeLessThan(0.13);
    // A slow span may sit in a sibling branch cut short by an earlier failure; most are not.
    expect(slow).toBeGreaterThan(0.07);
    expect(slow).toBeLessThan(0.13);
  });

  test('each span logs at its start and end, with its ids', () => {
    const bySpan = new Map<string, GeneratedEvent[]>();
    for (const e of rich.events) if (e.kind === 'app') (bySpan.get(e.span_id) ?? bySpan.set(e.span_id, []).get(e.span_id)!).push(e);
    const problems: string[] = [];
    for (const s of rich.spans) {
      const ev = bySpan.get(s.span_id) ?? [];
      if (ev.length !== s.event_count || ev.length < 2) problems.push(`${s.span_id}: ${ev.length} lines, event_count ${s.event_count}`);
      if (!ev.every((e) => e.trace_id === s.trace_id && e.parent_span_id === s.parent_span_id && e.service === s.service)) problems.push(`${s.span_id}: ids`);
      // Stated times: exact µs, except classic pino (catalog), which states milliseconds.
      const q = s.service === 'catalog' ? 1000 : 1;
      if (Math.min(...ev.map((e) => e.time_us)) !== Math.floor(s.start / q) * q) problems.push(`${s.span_id}: first line not at start`);
      if (Math.max(...ev.map((e) => e.time_us)) !== Math.floor(s.end / q) * q) problems.push(`${s.span_id}: last line not at end`);
      if (s.status === 'ERROR' && !ev.some((e) => e.level === 'ERROR')) problems.push(`${s.span_id}: error span without ERROR line`);
    }
    expect(problems).toEqual([]);
  });
});

// ---- An independent reader of the generator's own lines (not Sluice's parser). ----

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ISO_US = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})(?:Z|\+00:00)$/;
function isoUs(s: string): number {
  const m = ISO_US.exec(s);
  if (!m) throw new Error(`not an ISO µs time: ${s}`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) * 1000 + Number(m[7]);
}
const PINO: Record<number, GenLevel> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR' };
const WORD: Record<string, GenLevel> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', warning: 'WARN', error: 'ERROR' };
const ACCESS = /^(\S+) - - \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000\] "(\S+) (\S+) HTTP\/1\.1" (\d{3}) (\d+) "[^"]*" "[^"]*"(?: "[^"]*")? (\d+)(?:\.(\d{3}))?$/;
/** The route template of a path: numeric segments are ids, the query is dropped. */
const template = (path: string): string => path.split('?')[0]!.replace(/\/\d+(?=\/|$)/g, '/{id}');

function readLine(service: string, line: string): CountedEvent {
  if (/^\d/.test(line)) {
    const m = ACCESS.exec(line);
    if (!m) throw new Error(`unreadable access line: ${line}`);
    const time = Date.UTC(+m[4]!, MONTHS.indexOf(m[3]!), +m[2]!, +m[5]!, +m[6]!, +m[7]!) * 1000;
    const status = Number(m[10]);
    const duration = m[13] === undefined ? Number(m[12]) : Number(m[12]) * 1_000_000 + Number(m[13]) * 1000;
    return { service, time_us: time, level: accessLevel(status), http: { route: template(m[9]!), method: m[8]!, status, duration_us: duration }, late: false };
  }
  if (line.startsWith('ts=')) {
    const ts = /^ts=(\S+) level=(\w+) /.exec(line)!;
    return { service, time_us: isoUs(ts[1]!), level: WORD[ts[2]!]!, http: null, late: false };
  }
  const o = JSON.parse(line) as Record<string, unknown>;
  const t = o['time'] ?? o['timestamp'] ?? o['@timestamp'];
  const time = typeof t === 'number' ? t * 1000 : isoUs(t as string);
  const lv = o['level'] ?? o['log.level'] ?? o['severity_text'];
  const level = typeof lv === 'number' ? PINO[lv]! : WORD[String(lv).toLowerCase()]!;
  return { service, time_us: time, level, http: null, late: false };
}

describe('window truth', () => {
  test('equals a recount from the emitted messages (own parser, own late rule)', () => {
    const g = rich;
    const windowUs = g.options.windowMs * 1000;
    let watermark = -Infinity;
    const counted: CountedEvent[] = [];
    expect(g.messages.filter((m) => m.key !== m.headers.service || m.headers.tenant !== 'demo')).toEqual([]);
    for (const m of g.messages) {
      const e = readLine(m.headers.service, m.value);
      e.late = Math.floor(e.time_us / windowUs) * windowUs + windowUs + g.options.latenessMs * 1000 <= watermark;
      watermark = Math.max(watermark, e.time_us);
      counted.push(e);
    }
    // computeWindows is only the grouping; what is grouped comes from the lines here.
    expect(computeWindows(counted, g.options.windowMs, 'demo')).toEqual(g.windows);
    const total = g.windows.filter((w) => w.series.level !== null).reduce((n, w) => n + w.count, 0);
    expect(total).toBe(g.events.length);
    expect(g.windows.some((w) => w.late_count > 0)).toBe(true);
  });

  test('the stream files hold the same lines as the messages', () => {
    const files = Object.values(rich.streams).flat().sort();
    expect(rich.messages.map((m) => m.value).sort()).toEqual(files);
  });

  test('HTTP series use route templates and carry durations', () => {
    const http = rich.windows.filter((w) => w.series.route !== null);
    const routes = new Set(http.map((w) => `${w.series.service} ${w.series.method} ${w.series.route}`));
    expect([...routes].sort()).toEqual([
      'checkout GET /orders/{id}', 'checkout POST /checkout', 'frontend GET /api/orders/{id}', 'frontend GET /api/products', 'frontend GET /api/products/{id}', 'frontend POST /api/checkout',
    ]);
    expect(http.every((w) => w.error_count === (w.series.status_class === '5xx' ? w.count : 0))).toBe(true);
    // A fast failure can take under the 1 ms nginx states; successful windows take longer.
    expect(http.filter((w) => w.series.status_class === '2xx').every((w) => w.duration_sum_us > 0)).toBe(true);
    expect(new Set(http.map((w) => w.series.status_class))).toEqual(new Set(['2xx', '4xx', '5xx']));
  });
});

describe('shipping: out of order and late', () => {
  const opts = { seed: 11, rps: 50, seconds: 240, lateRate: 0.02, outOfOrderRate: 0.1, outOfOrderMs: 2000, latenessMs: 30_000 };
  let g: Generated;
  beforeAll(() => {
    g = generate(opts);
  });

  test('planned fractions are near the configured rates', () => {
    const n = g.events.length;
    const sigma = (p: number): number => Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(g.stats.plannedLate / n - opts.lateRate)).toBeLessThan(4 * sigma(opts.lateRate));
    expect(Math.abs(g.stats.plannedOutOfOrder / n - opts.outOfOrderRate)).toBeLessThan(4 * sigma(opts.outOfOrderRate));
  });

  test('late lines really are beyond the lateness in emission order; out-of-order ones are not', () => {
    const endUs = (g.options.startMs + opts.seconds * 1000) * 1000;
    // Away from the end of the run, where no newer traffic follows a late line.
    const steady = g.emitted.filter((m) => m.event.write_us < endUs - 2 * opts.latenessMs * 1000 - 5_000_000);
    const late = steady.filter((m) => m.event.shipping === 'late');
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((m) => m.beyondLateness)).toBe(true);
    expect(steady.filter((m) => m.event.shipping !== 'late').some((m) => m.beyondLateness)).toBe(false);
    const measured = steady.filter((m) => m.beyondLateness).length / steady.length;
    expect(Math.abs(measured - opts.lateRate)).toBeLessThan(4 * Math.sqrt((opts.lateRate * (1 - opts.lateRate)) / steady.length));
    // Delayed lines within outOfOrderMs arrive after newer ones.
    const ooo = steady.filter((m) => m.event.shipping === 'out_of_order');
    expect(ooo.filter((m) => m.outOfOrder).length / ooo.length).toBeGreaterThan(0.9);
  });

  test('messages are in emission order with Kafka timestamps from it', () => {
    const ts = g.messages.map((m) => Number(m.timestamp));
    expect(ts.filter((t, i) => i > 0 && t < ts[i - 1]!)).toEqual([]);
  });
});

// ---- Through the real Sluice stages. ----

type Gap = string;

/** Compare what Sluice read with what the generator wrote; returns "<stream> <field>" for each mismatch kind. */
function check(e: GeneratedEvent, r: LogRecord, gaps: Map<Gap, number>, examples: Map<Gap, string>): void {
  const miss = (field: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    const k = `${e.stream} ${field}`;
    gaps.set(k, (gaps.get(k) ?? 0) + 1);
    if (!examples.has(k)) examples.set(k, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)} in ${e.line.slice(0, 200)}`);
  };
  miss('service', r.service, e.service);
  miss('tenant', r.tenant, 'demo');
  miss('timestamp', r.timestamp, e.time_us);
  miss('timestamp_source', r.timestamp_source, 'event');
  miss('level', r.level, e.level);
  if (e.kind === 'app') {
    miss('trace_id', r.trace_id, e.trace_id);
    miss('span_id', r.span_id, e.span_id);
    miss('parent_span_id', r.parent_span_id, e.parent_span_id);
    miss('http', r.http, null);
    if (e.error_type) {
      miss('error.type', r.error?.type ?? null, e.error_type);
      miss('error.stack', (r.error?.stack ?? '').includes('\n'), true);
    } else if (e.stream === 'db' && e.line.includes(' error=')) miss('error.message', r.error?.message != null, true);
  } else {
    const h = e.http!;
    miss('http.method', r.http?.method, h.method);
    miss('http.path', r.http?.path, h.path);
    miss('http.status', r.http?.status, h.status);
    miss('http.duration_us', r.http?.duration_us, h.duration_us);
    // nginx lines carry the frontend span's traceparent as an extra quoted field.
    if (e.stream === 'frontend.access') miss('trace_id', r.trace_id, e.trace_id);
  }
}

/**
 * What today's normalizer does not read from these lines (reported, not fixed here):
 * - a traceparent logged as an extra quoted field of an nginx access line.
 */
const KNOWN_GAPS: readonly Gap[] = ['frontend.access trace_id'];

describe('through the real collect + normalize stages', () => {
  test('every message: ids, level, service, time, HTTP and error fields come out right', () => {
    const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
    const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
    const ctx = { now: () => 1_800_000_000_000 };
    const byLine = new Map<string, GeneratedEvent>(rich.events.map((e) => [e.line, e]));
    const gaps = new Map<Gap, number>();
    const examples = new Map<Gap, string>();
    let n = 0;
    rich.messages.forEach((m, offset) => {
      const value = Buffer.from(m.value);
      const env = { topic: 'logs.raw', partition: 0, offset: String(offset), timestampMs: Number(m.timestamp), key: Buffer.from(m.key), headers: m.headers };
      const collected = collect.process({ ...env, value, raw: value }, ctx);
      expect(collected).toHaveLength(1);
      const raw = collected[0]!.value as RawEvent;
      const out = normalize.process({ ...env, value: raw, raw: value }, ctx);
      expect(out).toHaveLength(1);
      check(byLine.get(m.value)!, out[0]!.value as LogRecord, gaps, examples);
      n++;
    });
    expect(n).toBe(rich.events.length);
    const found = [...gaps.keys()].sort();
    if (JSON.stringify(found) !== JSON.stringify([...KNOWN_GAPS].sort())) {
      throw new Error(`normalizer gaps changed:\n${found.map((k) => `  ${k} x${gaps.get(k)}: ${examples.get(k)}`).join('\n')}`);
    }
  });

  test('the stream files through ParsePipeline (sluice parse) give one record per line, in order', async () => {
    const g = generate({ seed: 5, rps: 20, seconds: 30, errorRate: 0.2 });
    const byLine = new Map<string, GeneratedEvent>(g.events.map((e) => [e.line, e]));
    for (const [stream, lines] of Object.entries(g.streams)) {
      const service = stream.split('.')[0]!;
      const p = await ParsePipeline.create({ startedAtMs: 1_800_000_000_000, tenant: 'demo', source: service, env: {} });
      const out: LogRecord[] = [];
      await p.run(`${stream}.log`, 1_800_000_000_000, Readable.from([lines.map((l) => l + '\n').join('')]), (l) => void out.push(JSON.parse(l) as LogRecord));
      await p.finish();
      expect(out).toHaveLength(lines.length);
      expect(p.summary.mergedLines).toBe(0);
      out.forEach((r, i) => {
        const e = byLine.get(lines[i]!)!;
        expect(r.service).toBe(e.service);
        expect(r.level).toBe(e.level);
        if (e.kind === 'app') expect([r.trace_id, r.span_id]).toEqual([e.trace_id, e.span_id]);
        else expect(r.http?.status).toBe(e.http!.status);
      });
    }
  });
});

/**
 * A realistic, seeded log generator with ground truth (issue #5, item 6).
 *
 * Simulated topology (each box a service writing its own log stream, see
 * generator-formats.ts for every service's format):
 *
 *   client ─► frontend ─┬─► catalog                      GET /api/products, /api/products/{id}
 *                       └─► checkout ─┬─► inventory ─► db POST /api/checkout
 *                                     ├─► payment
 *                                     └─► db             GET /api/orders/{id}
 *
 * Requests arrive as a Poisson process at `rps` over `seconds` of simulated time starting
 * at `startMs` (a fixed epoch, never the wall clock). Each request is a trace (W3C ids: 32
 * hex trace id, 16 hex span ids); each service hop is a span with µs start/end, strictly
 * inside its parent's interval. Every span logs at its start and at its end (the end
 * line carries `duration_ms` with µs precision), a slow span (>= `slowThresholdMs`) logs a
 * WARN before its end, a failing span logs an ERROR with a stack trace and its ancestors
 * end at ERROR; frontend and checkout also write access lines.
 *
 * Contract:
 * - same options (incl. seed) -> byte-identical output; nothing reads the clock or
 *   Math.random;
 * - `errorRate`: fraction of traces in which one span (uniformly chosen among the trace's
 *   planned spans) fails; the failure propagates (5xx) to every ancestor, and siblings
 *   after the failed call are not made. `slowRate`: fraction of traces in which one leaf
 *   span takes 1.2-4 s more. `notFoundRate`: fraction of product lookups answered 404
 *   (not an error);
 * - emission (messages.ndjson): a line is shipped when its process writes it (app logs:
 *   at their event time; access lines: at the end of the request) plus a delay: 0 for
 *   most lines, U(1 ms, outOfOrderMs] for a fraction `outOfOrderRate`, and
 *   latenessMs + U(1 s, latenessMs] for a fraction `lateRate` (late: beyond the allowed
 *   lateness). Messages are ordered by that emission time (ties: generation order);
 *   the Kafka timestamp of a message is its emission time in ms;
 * - `<service>.log` files hold each stream in write order (what a file shipper reads).
 */
import { Rng } from './generator-random.js';
import {
  JAVA_ERRORS, PYTHON_ERRORS, javaStack, nodeStack, pythonStack, renderAccess, renderApp, statedAccessTime, statedAppTime, statedDuration,
  type AccessStyle, type AppLine, type AppStyle, type GenLevel,
} from './generator-formats.js';
import { accessLevel, computeWindows, type TruthWindow } from './generator-truth.js';

export interface GeneratorOptions {
  seed: number;
  /** Mean request arrival rate, requests per simulated second. Default 50. */
  rps: number;
  /** Simulated duration during which requests arrive, s. Default 120. */
  seconds: number;
  /** Start of simulated time, ms since the epoch. Default 2026-11-21T09:00:00Z. */
  startMs: number;
  /** Fraction of traces with a failing span. Default 0.02. */
  errorRate: number;
  /** Fraction of traces with a slow leaf span. Default 0.05. */
  slowRate: number;
  /** A span this long or longer logs a WARN "slow request", ms. Default 1000. */
  slowThresholdMs: number;
  /** Fraction of product lookups answered 404. Default 0.02. */
  notFoundRate: number;
  /** Fraction of lines shipped out of order (delayed by up to outOfOrderMs). Default 0.05. */
  outOfOrderRate: number;
  /** Largest out-of-order delay, ms. Default 2000. */
  outOfOrderMs: number;
  /** Fraction of lines shipped late (delayed by more than latenessMs). Default 0.01. */
  lateRate: number;
  /** Allowed lateness the late lines exceed, ms; also the late_count rule of the truth. Default 30000. */
  latenessMs: number;
  /** Metric window size of the truth, ms. Default 10000 (the enricher's default). */
  windowMs: number;
  /** Kafka `tenant` header and the tenant of the truth. Default "demo". */
  tenant: string;
}

export const defaultOptions: Omit<GeneratorOptions, 'seed'> = {
  rps: 50, seconds: 120, startMs: Date.UTC(2026, 10, 21, 9, 0, 0), errorRate: 0.02, slowRate: 0.05, slowThresholdMs: 1000, notFoundRate: 0.02,
  outOfOrderRate: 0.05, outOfOrderMs: 2000, lateRate: 0.01, latenessMs: 30_000, windowMs: 10_000, tenant: 'demo',
};

/** Field names and order of the Avro `Span` (timestamps as integer µs). */
export interface TruthSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service: string;
  operation: string;
  start: number;
  end: number;
  duration_us: number;
  status: 'OK' | 'ERROR';
  /** Lines of this span that carry its span id (app log lines; access lines are not counted). */
  event_count: number;
  derivation: 'ids';
  tenant: string;
}

/** Field names and order of the Avro `TraceSummary`. */
export interface TruthTrace {
  trace_id: string;
  root_service: string;
  root_operation: string;
  start: number;
  duration_us: number;
  span_count: number;
  /** Sorted, unique. */
  services: string[];
  error: boolean;
  tenant: string;
}

export interface GeneratedEvent {
  /** Stream (file) name: the service, or `<service>.access`. */
  stream: string;
  service: string;
  kind: 'app' | 'access';
  line: string;
  /** Event time as the line states it, µs. */
  time_us: number;
  /** When the process writes the line, µs (file order). */
  write_us: number;
  /** When the shipper sends it, µs (message order). */
  emit_us: number;
  /** What the generator did to its shipping: on time, delayed within outOfOrderMs, or beyond latenessMs. */
  shipping: 'on_time' | 'out_of_order' | 'late';
  level: GenLevel;
  trace_id: string;
  /** The span this line belongs to (access lines: the server span of the request). */
  span_id: string;
  /** Parent span id when the line states one. */
  parent_span_id: string | null;
  http: { method: string; route: string; path: string; status: number; duration_us: number } | null;
  /** Exception type the line states (logfmt db lines state only `error=<message>`). */
  error_type: string | null;
  seq: number;
}

export interface KafkaMessage {
  key: string;
  headers: { service: string; tenant: string };
  /** Kafka timestamp, ms since the epoch, as a decimal string (kafkajs's form). */
  timestamp: string;
  value: string;
}

export interface EmissionStats {
  messages: number;
  /** Lines the generator delayed within outOfOrderMs / beyond latenessMs. */
  plannedOutOfOrder: number;
  plannedLate: number;
  /** Measured in emission order against the largest event time emitted before. */
  outOfOrder: number;
  beyondLateness: number;
  lateWindow: number;
}

export interface Generated {
  options: GeneratorOptions;
  /** Lines per stream in write order. */
  streams: Record<string, string[]>;
  /** Every line, in generation order (stream files and messages are views of these). */
  events: GeneratedEvent[];
  /** In emission order. */
  messages: KafkaMessage[];
  /** Events in emission order (parallel to `messages`) with their measured lateness. */
  emitted: Array<{ event: GeneratedEvent; outOfOrder: boolean; beyondLateness: boolean; lateWindow: boolean }>;
  traces: TruthTrace[];
  spans: TruthSpan[];
  windows: TruthWindow[];
  stats: EmissionStats;
}

interface ServiceDef {
  style: AppStyle;
  access?: AccessStyle;
  host: string;
  pid: number;
  ip: string;
  /** Own work before and after the downstream calls, µs [min, max]. */
  pre: [number, number];
  post: [number, number];
}

const SERVICES: Readonly<Record<string, ServiceDef>> = {
  frontend: { style: 'pino-iso', access: 'nginx', host: 'frontend-6c9f7d5b8-x2k4p', pid: 1, ip: '10.1.0.12', pre: [200, 1500], post: [100, 800] },
  checkout: { style: 'node-camel', access: 'apache', host: 'checkout-5d8b9c7f6-q7wmn', pid: 7, ip: '10.1.1.23', pre: [500, 4000], post: [200, 1500] },
  payment: { style: 'ecs-java', host: 'payment-7f6d5c4b3-r2t9z', pid: 42, ip: '10.1.2.34', pre: [20_000, 150_000], post: [500, 3000] },
  inventory: { style: 'otel-python', host: 'inventory-84c7b6d5f-k3j8h', pid: 9, ip: '10.1.3.45', pre: [1000, 6000], post: [500, 3000] },
  catalog: { style: 'pino-ms', host: 'catalog-6b5a4c3d2-m4n5p', pid: 1, ip: '10.1.4.56', pre: [2000, 25_000], post: [200, 2000] },
  db: { style: 'logfmt', host: 'db-proxy-0', pid: 311, ip: '10.1.5.67', pre: [300, 8000], post: [50, 300] },
};

/** A planned call: one span. `route` is the template, `path` an instance of it. */
interface Plan {
  service: string;
  operation: string;
  method: string | null;
  route: string | null;
  path: string | null;
  children: Plan[];
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'curl/8.5.0',
];

function http(service: string, method: string, route: string, path: string, children: Plan[] = []): Plan {
  return { service, operation: `${method} ${route}`, method, route, path, children };
}

function query(statement: string): Plan {
  return { service: 'db', operation: statement, method: null, route: null, path: null, children: [] };
}

function planRequest(rng: Rng): Plan {
  const kind = rng.weighted([['product', 0.45], ['list', 0.2], ['checkout', 0.2], ['order', 0.15]] as const);
  switch (kind) {
    case 'product': {
      const id = rng.int(1, 5000);
      return http('frontend', 'GET', '/api/products/{id}', `/api/products/${id}`, [http('catalog', 'GET', '/products/{id}', `/products/${id}`)]);
    }
    case 'list': {
      const page = rng.int(1, 20);
      return http('frontend', 'GET', '/api/products', `/api/products?page=${page}`, [http('catalog', 'GET', '/products', `/products?page=${page}`)]);
    }
    case 'checkout':
      return http('frontend', 'POST', '/api/checkout', '/api/checkout', [
        http('checkout', 'POST', '/checkout', '/checkout', [
          http('inventory', 'POST', '/reserve', '/reserve', [query('UPDATE stock')]),
          http('payment', 'POST', '/charge', '/charge'),
        ]),
      ]);
    case 'order': {
      const id = rng.int(100_000, 999_999);
      return http('frontend', 'GET', '/api/orders/{id}', `/api/orders/${id}`, [http('checkout', 'GET', '/orders/{id}', `/orders/${id}`, [query('SELECT orders')])]);
    }
  }
}

function flatten(p: Plan, out: Plan[] = []): Plan[] {
  out.push(p);
  for (const c of p.children) flatten(c, out);
  return out;
}

/** Everything one trace produces before rendering. */
interface SimSpan {
  plan: Plan;
  span: TruthSpan;
  /** HTTP status this span answered with (null for db). */
  status: number | null;
}

class Simulator {
  readonly events: GeneratedEvent[] = [];
  readonly spans: TruthSpan[] = [];
  readonly traces: TruthTrace[] = [];
  private seq = 0;

  constructor(private readonly rng: Rng, private readonly o: GeneratorOptions) {}

  request(arrivalUs: number): void {
    const rng = this.rng;
    const plan = planRequest(rng);
    const all = flatten(plan);
    const failing = rng.chance(this.o.errorRate) ? rng.pick(all) : null;
    const slow = rng.chance(this.o.slowRate) ? rng.pick(all.filter((p) => p.children.length === 0)) : null;
    const notFound = plan.route === '/api/products/{id}' && rng.chance(this.o.notFoundRate);
    const traceId = rng.hex(16);
    const sims: SimSpan[] = [];
    const root = this.span(plan, traceId, null, arrivalUs, { failing, slow, notFound }, sims);
    const services = [...new Set(sims.map((s) => s.span.service))].sort();
    this.traces.push({
      trace_id: traceId, root_service: root.span.service, root_operation: root.span.operation, start: root.span.start, duration_us: root.span.duration_us,
      span_count: sims.length, services, error: sims.some((s) => s.span.status === 'ERROR'), tenant: this.o.tenant,
    });
    this.spans.push(...sims.map((s) => s.span));
  }

  /** Simulate one span and its calls; returns it (children are pushed to `sims` in start order). */
  private span(plan: Plan, traceId: string, parent: string | null, startUs: number, f: { failing: Plan | null; slow: Plan | null; notFound: boolean }, sims: SimSpan[]): SimSpan {
    const rng = this.rng;
    const def = SERVICES[plan.service] as ServiceDef;
    const spanId = rng.hex(8);
    const span: TruthSpan = { trace_id: traceId, span_id: spanId, parent_span_id: parent, service: plan.service, operation: plan.operation, start: startUs, end: startUs, duration_us: 0, status: 'OK', event_count: 0, derivation: 'ids', tenant: this.o.tenant };
    const sim: SimSpan = { plan, span, status: plan.method ? 200 : null };
    sims.push(sim);
    const app = (at: number, level: GenLevel, msg: string, fields: Record<string, string | number> = {}, error?: AppLine['error']): void => {
      const line = renderApp(def.style, { service: plan.service, host: def.host, pid: def.pid, time_us: at, level, msg, trace_id: traceId, span_id: spanId, parent_span_id: parent, fields, error });
      this.push({ stream: plan.service, service: plan.service, kind: 'app', line, time_us: statedAppTime(def.style, at), write_us: at, level, trace_id: traceId, span_id: spanId, parent_span_id: parent, http: null, error_type: error && def.style !== 'logfmt' ? error.type : null });
      span.event_count++;
    };

    const opFields: Record<string, string | number> = plan.method ? { 'http.route': plan.route as string, operation: plan.operation } : { statement: plan.operation };
    app(startUs, plan.service === 'db' ? 'DEBUG' : 'INFO', plan.method ? `request started ${plan.method} ${plan.route}` : 'query started', opFields);
    let t = startUs + rng.latency(def.pre[0], def.pre[1]);
    let ownFailure: AppLine['error'] | null = null;
    let downstreamFailed: string | null = null;
    if (f.slow === plan) t += rng.int(1_200_000, 4_000_000);
    if (f.failing === plan) {
      ownFailure = this.failure(plan.service);
    } else {
      for (const child of plan.children) {
        const c = this.span(child, traceId, spanId, t + rng.int(80, 600), f, sims);
        t = c.span.end + rng.int(80, 600);
        if (c.span.status === 'ERROR') {
          downstreamFailed = `${child.service} answered ${c.status ?? 'error'}`;
          break;
        }
      }
    }
    if (ownFailure) app(t, 'ERROR', `${plan.operation} failed: ${ownFailure.message}`, opFields, ownFailure);
    else if (downstreamFailed) app(t, 'ERROR', `downstream call failed: ${downstreamFailed}`, opFields);
    t += rng.latency(def.post[0], def.post[1]);
    span.end = t;
    span.duration_us = t - startUs;
    if (ownFailure || downstreamFailed) {
      span.status = 'ERROR';
      if (plan.method) sim.status = ownFailure ? rng.pick([500, 500, 503]) : 502;
    } else if (f.notFound && plan.method === 'GET' && plan.route?.endsWith('{id}')) sim.status = 404;
    const durationMs = Number((span.duration_us / 1000).toFixed(3));
    if (span.duration_us >= this.o.slowThresholdMs * 1000) app(t, 'WARN', `slow request: ${plan.operation} took ${durationMs} ms`, { ...opFields, duration_ms: durationMs });
    const outcome = span.status === 'ERROR' ? 'error' : sim.status === 404 ? 'not_found' : 'success';
    app(t, span.status === 'ERROR' ? 'ERROR' : 'INFO', plan.method ? `request completed ${plan.method} ${plan.route}` : 'query completed', { ...opFields, duration_ms: durationMs, outcome });

    if (def.access && plan.method) {
      const nginx = def.access === 'nginx';
      const at = nginx ? t : startUs;
      const status = sim.status as number;
      const duration = statedDuration(def.access, span.duration_us);
      const line = renderAccess(def.access, {
        at_us: at, client_ip: nginx ? `203.0.113.${rng.int(1, 254)}` : SERVICES['frontend']!.ip, method: plan.method, path: plan.path as string, status,
        bytes: status >= 500 ? rng.int(150, 600) : rng.int(300, 48_000), user_agent: nginx ? rng.pick(USER_AGENTS) : 'frontend/1.14.2 (undici)', duration_us: span.duration_us,
        traceparent: `00-${traceId}-${spanId}-01`,
      });
      this.push({
        stream: `${plan.service}.access`, service: plan.service, kind: 'access', line, time_us: statedAccessTime(at), write_us: t, level: accessLevel(status), trace_id: traceId, span_id: spanId,
        parent_span_id: null, http: { method: plan.method, route: plan.route as string, path: plan.path as string, status, duration_us: duration }, error_type: null,
      });
    }
    return sim;
  }

  private failure(service: string): { type: string; message: string; stack: string } {
    const rng = this.rng;
    if (service === 'payment') {
      const e = rng.pick(JAVA_ERRORS);
      return { type: e.type, message: e.message, stack: javaStack(e) };
    }
    if (service === 'inventory') {
      const e = rng.pick(PYTHON_ERRORS);
      return { type: e.type, message: e.message, stack: pythonStack(e) };
    }
    if (service === 'db') return { type: 'QueryError', message: rng.pick(['deadlock detected', 'canceling statement due to statement timeout']), stack: '' };
    const message = rng.pick([`connect ECONNREFUSED ${SERVICES['db']!.ip}:5432`, 'socket hang up']);
    return { type: 'Error', message, stack: nodeStack('Error', message) };
  }

  private push(e: Omit<GeneratedEvent, 'seq' | 'emit_us' | 'shipping'>): void {
    this.events.push({ ...e, emit_us: e.write_us, shipping: 'on_time', seq: this.seq++ });
  }
}

export function generate(partial: Partial<GeneratorOptions> & { seed: number }): Generated {
  const o: GeneratorOptions = { ...defaultOptions, ...partial };
  validate(o);
  const rng = new Rng(o.seed);
  const sim = new Simulator(rng, o);
  const startUs = o.startMs * 1000;
  const endUs = startUs + o.seconds * 1_000_000;
  for (let t = startUs + Math.round(rng.exp(1_000_000 / o.rps)); t < endUs; t += Math.max(1, Math.round(rng.exp(1_000_000 / o.rps)))) sim.request(t);

  // Shipping delays, drawn in generation order so they repeat with the seed.
  const ship = new Rng((o.seed ^ 0x5bd1e995) >>> 0);
  let plannedOutOfOrder = 0;
  let plannedLate = 0;
  for (const e of sim.events) {
    const r = ship.next();
    if (r < o.lateRate) {
      e.shipping = 'late';
      e.emit_us = e.write_us + o.latenessMs * 1000 + ship.int(1_000_000, Math.max(1_000_000, o.latenessMs * 1000));
      plannedLate++;
    } else if (r < o.lateRate + o.outOfOrderRate) {
      e.shipping = 'out_of_order';
      e.emit_us = e.write_us + ship.int(1000, Math.max(1000, o.outOfOrderMs * 1000));
      plannedOutOfOrder++;
    }
  }

  const byWrite = [...sim.events].sort((a, b) => a.write_us - b.write_us || a.seq - b.seq);
  const streams: Record<string, string[]> = {};
  for (const e of byWrite) (streams[e.stream] ??= []).push(e.line);

  const byEmit = [...sim.events].sort((a, b) => a.emit_us - b.emit_us || a.seq - b.seq);
  const windowUs = o.windowMs * 1000;
  const latenessUs = o.latenessMs * 1000;
  let watermark = -Infinity;
  const emitted: Generated['emitted'] = [];
  const late = new Set<GeneratedEvent>();
  for (const e of byEmit) {
    const windowEnd = Math.floor(e.time_us / windowUs) * windowUs + windowUs;
    const m = { event: e, outOfOrder: e.time_us < watermark, beyondLateness: e.time_us + latenessUs < watermark, lateWindow: windowEnd + latenessUs <= watermark };
    if (m.lateWindow) late.add(e);
    emitted.push(m);
    watermark = Math.max(watermark, e.time_us);
  }
  const messages: KafkaMessage[] = byEmit.map((e) => ({ key: e.service, headers: { service: e.service, tenant: o.tenant }, timestamp: String(Math.floor(e.emit_us / 1000)), value: e.line }));

  const windows = computeWindows(sim.events.map((e) => ({ service: e.service, time_us: e.time_us, level: e.level, http: e.http, late: late.has(e) })), o.windowMs, o.tenant);
  const traces = [...sim.traces].sort((a, b) => a.start - b.start || (a.trace_id < b.trace_id ? -1 : 1));
  const spans = [...sim.spans].sort((a, b) => a.start - b.start || (a.span_id < b.span_id ? -1 : 1));
  return {
    options: o, streams, events: sim.events, messages, emitted, traces, spans, windows,
    stats: {
      messages: messages.length, plannedOutOfOrder, plannedLate,
      outOfOrder: emitted.filter((m) => m.outOfOrder).length, beyondLateness: emitted.filter((m) => m.beyondLateness).length, lateWindow: late.size,
    },
  };
}

function validate(o: GeneratorOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.seed)) problems.push('seed must be an integer');
  if (!(o.rps > 0)) problems.push('rps must be > 0');
  if (!(o.seconds > 0)) problems.push('seconds must be > 0');
  for (const k of ['errorRate', 'slowRate', 'notFoundRate', 'outOfOrderRate', 'lateRate'] as const) if (!(o[k] >= 0 && o[k] <= 1)) problems.push(`${k} must be in [0, 1]`);
  if (o.outOfOrderRate + o.lateRate > 1) problems.push('outOfOrderRate + lateRate must be <= 1');
  for (const k of ['outOfOrderMs', 'latenessMs', 'slowThresholdMs'] as const) if (!(o[k] >= 0)) problems.push(`${k} must be >= 0`);
  if (!(o.windowMs > 0) || !Number.isInteger(o.windowMs)) problems.push('windowMs must be a positive integer');
  if (!Number.isFinite(o.startMs)) problems.push('startMs must be a number');
  if (!o.tenant) problems.push('tenant must not be empty');
  if (problems.length > 0) throw new RangeError(`generator options: ${problems.join('; ')}`);
}

/** The output directory's files (relative path -> content), exactly as the CLI writes them. */
export function renderFiles(g: Generated): Map<string, string> {
  const files = new Map<string, string>();
  const ndjson = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');
  for (const name of Object.keys(g.streams).sort()) files.set(`${name}.log`, (g.streams[name] as string[]).map((l) => l + '\n').join(''));
  files.set('messages.ndjson', ndjson(g.messages));
  files.set('truth/traces.ndjson', ndjson(g.traces));
  files.set('truth/spans.ndjson', ndjson(g.spans));
  files.set('truth/windows.ndjson', ndjson(g.windows));
  files.set('truth/summary.json', JSON.stringify({ options: g.options, lines: g.events.length, traces: g.traces.length, spans: g.spans.length, windows: g.windows.length, emission: g.stats }, null, 2) + '\n');
  return files;
}

import { httpFields, logRecord } from '../../shared/testing/records.js';
import type { LogRecord, Span } from '../../shared/records.js';
import { SpanDeriver, messageTemplate, sortSpans, syntheticSpanId } from './traces.js';
import { TraceAssembler } from './trace-summary.js';

const T0 = Date.UTC(2024, 0, 1) * 1000;
const S = 1_000_000;
const TRACE = 'a'.repeat(32);

let seq = 0;
function log(p: Partial<LogRecord> & { at: number }): LogRecord {
  const { at, ...rest } = p;
  seq++;
  return logRecord({ event_id: `E${String(seq).padStart(6, '0')}`, timestamp: T0 + at, observed_at: T0, message: 'hello', service: 'svc', source: { format: 'json', shipper: null, file: null, topic: 'x', partition: 0, offset: 0 }, ...rest });
}
const http = (h: Partial<NonNullable<LogRecord['http']>>): LogRecord['http'] => httpFields(h);

function run(records: LogRecord[], d = new SpanDeriver({ inactivityTimeoutUs: 30 * S })): Span[] {
  const out: Span[] = [];
  records.forEach((r, i) => out.push(...d.push(r, i)));
  out.push(...d.drain());
  return sortSpans(out);
}

describe('SpanDeriver (a) direct spans', () => {
  test('ids + http.duration_us: end = timestamp, start = end - duration, parent from the log', () => {
    const d = new SpanDeriver();
    const out = d.push(log({ at: 5 * S, trace_id: TRACE, span_id: '1'.repeat(16), parent_span_id: '2'.repeat(16), http: http({ method: 'GET', route: '/users/{id}', status: 200, duration_us: 1500 }) }), 0);
    expect(out).toEqual([
      { trace_id: TRACE, span_id: '1'.repeat(16), parent_span_id: '2'.repeat(16), service: 'svc', operation: 'GET /users/{id}', start: T0 + 5 * S - 1500, end: T0 + 5 * S, duration_us: 1500, status: 'OK', event_count: 1, derivation: 'ids', tenant: 't' },
    ]);
    expect(d.drain()).toEqual([]);
  });

  test('duration attributes with units and start/end attributes', () => {
    const a = run([log({ at: S, trace_id: TRACE, span_id: '1'.repeat(16), attributes: { 'http.resp.took_ms': '12' } })]);
    expect(a[0]?.duration_us).toBe(12_000);
    const b = run([log({ at: S, trace_id: TRACE, span_id: '1'.repeat(16), attributes: { latency: '1.5s' } })]);
    expect(b[0]?.duration_us).toBe(1_500_000);
    const c = run([log({ at: S, trace_id: TRACE, span_id: '1'.repeat(16), attributes: { start: '2024-01-01T00:00:01Z', end: '2024-01-01T00:00:03.5Z' } })]);
    expect([c[0]?.start, c[0]?.end, c[0]?.duration_us]).toEqual([T0 + S, T0 + 3.5 * S, 2.5 * S]);
  });

  test('other logs of a direct span are its events, never a second span', () => {
    const id = '1'.repeat(16);
    const spans = run([
      log({ at: 0, trace_id: TRACE, span_id: id, message: 'begin' }),
      log({ at: 2 * S, trace_id: TRACE, span_id: id, http: http({ status: 503, duration_us: 3 * S }) }),
      log({ at: 3 * S, trace_id: TRACE, span_id: id, message: 'after' }),
    ]);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ span_id: id, start: T0 - S, end: T0 + 2 * S, event_count: 2, status: 'ERROR', derivation: 'ids' });
  });
});

describe('SpanDeriver (b) grouped spans', () => {
  test('shared trace id, no span ids: one span per service, first..last log, correlation, no parent invented', () => {
    const spans = run([
      log({ at: 0, trace_id: TRACE, service: 'front', message: 'request 42 received' }),
      log({ at: 1 * S, trace_id: TRACE, service: 'back', message: 'query' }),
      log({ at: 2 * S, trace_id: TRACE, service: 'back', message: 'done', level: 'ERROR' }),
      log({ at: 3 * S, trace_id: TRACE, service: 'front', message: 'responded' }),
    ]);
    expect(spans.map((s) => [s.service, s.start - T0, s.end - T0, s.event_count, s.status, s.derivation, s.parent_span_id, s.operation])).toEqual([
      ['back', 1 * S, 2 * S, 2, 'ERROR', 'correlation', null, 'query'],
      ['front', 0, 3 * S, 2, 'OK', 'correlation', null, 'request <num> received'],
    ]);
    for (const s of spans) expect(s.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  test('span ids: one span per span id (ids), parent only where a log carries it', () => {
    const spans = run([
      log({ at: 0, trace_id: TRACE, span_id: '1'.repeat(16) }),
      log({ at: S, trace_id: TRACE, span_id: '2'.repeat(16), parent_span_id: '1'.repeat(16), service: 'db' }),
      log({ at: 2 * S, trace_id: TRACE, span_id: '2'.repeat(16), service: 'db' }),
      log({ at: 4 * S, trace_id: TRACE, span_id: '1'.repeat(16) }),
    ]);
    expect(spans.map((s) => [s.span_id, s.parent_span_id, s.start - T0, s.end - T0, s.event_count, s.derivation])).toEqual([
      ['2'.repeat(16), '1'.repeat(16), S, 2 * S, 2, 'ids'],
      ['1'.repeat(16), null, 0, 4 * S, 2, 'ids'],
    ]);
  });

  test('correlation ids from record.ids group without a trace id; all services share one derived trace id', () => {
    const spans = run([
      log({ at: 0, service: 'a', ids: { request_id: 'r-1' } }),
      log({ at: S, service: 'b', ids: { request_id: 'r-1' } }),
      log({ at: S, service: 'b', ids: { user_id: 'u' } }),
    ]);
    expect(spans).toHaveLength(2);
    expect(new Set(spans.map((s) => s.trace_id)).size).toBe(1);
    expect(spans[0]?.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  test('deterministic ids: hash of trace, service and first event_id', () => {
    const r = log({ at: 0, trace_id: TRACE, service: 'x' });
    const [s] = run([r, log({ at: S, trace_id: TRACE, service: 'x' })]);
    expect(s?.span_id).toBe(syntheticSpanId(TRACE, 'x', r.event_id));
    expect(run([r])[0]?.span_id).toBe(s?.span_id);
  });
});

describe('SpanDeriver (c) status and operation', () => {
  test('ERROR from FATAL or http >= 500; operation from http method/route over the message', () => {
    const [a] = run([log({ at: 0, trace_id: TRACE, level: 'FATAL' })]);
    expect(a?.status).toBe('ERROR');
    const [b] = run([log({ at: 0, trace_id: TRACE, message: 'x' }), log({ at: S, trace_id: TRACE, http: http({ method: 'POST', route: '/orders', status: 502 }) })]);
    expect([b?.status, b?.operation]).toEqual(['ERROR', 'POST /orders']);
    const [c] = run([log({ at: 0, trace_id: TRACE, http: http({ status: 404 }) })]);
    expect([c?.status, c?.operation]).toEqual(['OK', 'hello']);
  });
  test('message template', () => {
    expect(messageTemplate('TraceID: 0e00ebc94f6a55390e4ce22d7b823fe6 SpanID: 5f069cf74c654a50 List Recommendations product_ids=[\'2ZYF\']')).toBe("List Recommendations product_ids=[<*>]");
    expect(messageTemplate('user 5d0f6c1e-3a1b-4c2d-9e8f-0a1b2c3d4e5f paid 12.50 for order deadbeef99')).toBe('user <uuid> paid <num> for order <hex>');
    expect(messageTemplate('')).toBe('log');
  });
});

describe('SpanDeriver (d) completion, order, restarts, memory', () => {
  const ids = ['1', '2', '3', '4'].map((c) => c.repeat(16));
  const input = (): LogRecord[] => {
    const out: LogRecord[] = [];
    for (let k = 0; k < 40; k++) {
      const trace = k.toString(16).padStart(32, '0');
      out.push(log({ at: k * 5 * S, trace_id: trace, span_id: ids[k % 4] as string, service: `s${k % 3}` }));
      out.push(log({ at: k * 5 * S + 2 * S, trace_id: trace, service: 'gw' }));
      out.push(log({ at: k * 5 * S + 4 * S, trace_id: trace, span_id: ids[k % 4] as string, service: `s${k % 3}`, level: k % 7 === 0 ? 'ERROR' : 'INFO' }));
    }
    return out;
  };

  test('emits on the event-time watermark, not before', () => {
    const d = new SpanDeriver({ inactivityTimeoutUs: 30 * S });
    expect(d.push(log({ at: 0, trace_id: TRACE }), 0)).toEqual([]);
    expect(d.push(log({ at: 29 * S, trace_id: 'b'.repeat(32) }), 1)).toEqual([]);
    expect(d.minOpenOffset).toBe(0);
    const out = d.push(log({ at: 30 * S, trace_id: 'c'.repeat(32) }), 2);
    expect(out.map((s) => s.trace_id)).toEqual([TRACE]);
    expect(d.minOpenOffset).toBe(1);
    expect(d.watermark).toBe(T0 + 30 * S);
  });

  test('out-of-order input within the timeout gives the same spans as sorted input', () => {
    const sorted = input();
    const shuffled = [...sorted];
    // Deterministic shuffle inside windows of 6 records (at most ~10 s of disorder).
    for (let i = 0; i + 6 <= shuffled.length; i += 6) shuffled.splice(i, 6, ...[3, 0, 5, 1, 4, 2].map((j) => shuffled[i + j] as LogRecord));
    const a = run(sorted);
    const b = run(shuffled);
    expect(b).toEqual(a);
    expect(a.length).toBe(80);
  });

  test('late events (group already closed) are counted and dropped, never a second span', () => {
    const d = new SpanDeriver({ inactivityTimeoutUs: 10 * S });
    const out = [...d.push(log({ at: 0, trace_id: TRACE }), 0), ...d.push(log({ at: 20 * S, trace_id: 'b'.repeat(32) }), 1), ...d.push(log({ at: 1 * S, trace_id: TRACE }), 2), ...d.drain()];
    expect(out.filter((s) => s.trace_id === TRACE)).toHaveLength(1);
    expect(d.stats.late).toBe(1);
  });

  test('restart from any checkpoint gives the same spans, nothing twice', () => {
    const records = input();
    const all = run(records);
    for (const cut of [1, 7, 30, 61, 100, records.length - 1]) {
      const d1 = new SpanDeriver({ inactivityTimeoutUs: 30 * S });
      const before: Span[] = [];
      for (let i = 0; i < cut; i++) before.push(...d1.push(records[i] as LogRecord, i));
      const cp = d1.checkpoint(cut);
      const d2 = new SpanDeriver({ inactivityTimeoutUs: 30 * S }, cp.resume);
      const after: Span[] = [];
      for (let i = cp.offset; i < records.length; i++) after.push(...d2.push(records[i] as LogRecord, i));
      after.push(...d2.drain());
      const together = sortSpans([...before, ...after]);
      expect(together).toEqual(all);
      expect(new Set(together.map((s) => s.span_id + s.trace_id)).size).toBe(together.length);
    }
  });

  test('restart replays a direct span without emitting it again', () => {
    const recs = [log({ at: 0, trace_id: TRACE, service: 'q' }), log({ at: S, trace_id: TRACE, span_id: ids[0] as string, http: http({ duration_us: 500 }) }), log({ at: 2 * S, trace_id: TRACE, span_id: ids[0] as string })];
    const d1 = new SpanDeriver();
    const first = [...d1.push(recs[0] as LogRecord, 0), ...d1.push(recs[1] as LogRecord, 1)];
    expect(first.map((s) => s.span_id)).toEqual([ids[0]]);
    const cp = d1.checkpoint(2);
    expect(cp.offset).toBe(0);
    const d2 = new SpanDeriver({}, cp.resume);
    const rest = [...d2.push(recs[0] as LogRecord, 0), ...d2.push(recs[1] as LogRecord, 1), ...d2.push(recs[2] as LogRecord, 2), ...d2.drain()];
    expect(rest.map((s) => s.derivation)).toEqual(['correlation']);
    expect(d2.stats.absorbed).toBe(1);
  });

  test('max open groups: the idlest group is emitted early', () => {
    const d = new SpanDeriver({ maxOpenGroups: 2 });
    d.push(log({ at: 0, trace_id: 'a'.repeat(32) }), 0);
    d.push(log({ at: S, trace_id: 'b'.repeat(32) }), 1);
    const out = d.push(log({ at: 2 * S, trace_id: 'c'.repeat(32) }), 2);
    expect(out.map((s) => s.trace_id)).toEqual(['a'.repeat(32)]);
    expect([d.held, d.stats.overflow]).toEqual([2, 1]);
  });
});

describe('TraceAssembler', () => {
  const span = (p: Partial<Span> & { span_id: string; at: number; dur: number }): Span => {
    const { at, dur, ...rest } = p;
    return { trace_id: TRACE, parent_span_id: null, service: 'svc', operation: 'op', start: T0 + at, end: T0 + at + dur, duration_us: dur, status: 'OK', event_count: 1, derivation: 'ids', tenant: 't', ...rest };
  };
  const linked = [
    span({ span_id: 'r', at: 0, dur: 10 * S, service: 'gw', operation: 'GET /' }),
    span({ span_id: 'c1', at: S, dur: 2 * S, parent_span_id: 'r', service: 'orders' }),
    span({ span_id: 'c2', at: 4 * S, dur: 3 * S, parent_span_id: 'c1', service: 'db', status: 'ERROR' }),
  ];
  const expected = { trace_id: TRACE, root_service: 'gw', root_operation: 'GET /', start: T0, duration_us: 10 * S, span_count: 3, services: ['db', 'gw', 'orders'], error: true, tenant: 't' };

  test('linked trace: root is the parentless span; spans out of order give the same summary', () => {
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
      const a = new TraceAssembler({ inactivityTimeoutUs: 30 * S });
      const out = order.flatMap((i, k) => a.push(linked[i] as Span, k));
      expect(out).toEqual([]);
      expect(a.drain()).toEqual([expected]);
    }
  });

  test('completes after the inactivity timeout of event time', () => {
    const a = new TraceAssembler({ inactivityTimeoutUs: 30 * S });
    linked.forEach((s, i) => a.push(s, i));
    // The watermark is the smallest per-service progress: every service must move past it.
    const services = [...new Set(linked.map((s) => s.service))];
    const at = (sec: number) => services.flatMap((service, k) => a.push(span({ trace_id: 'b'.repeat(32), span_id: `${sec}-${k}`, service, at: sec * S, dur: 0 }), 10 + sec * 10 + k));
    expect(at(39)).toEqual([]);
    expect(at(40)).toEqual([expected]);
  });

  test('one service ahead of the others does not make their spans late', () => {
    const a = new TraceAssembler({ inactivityTimeoutUs: 30 * S });
    a.push(span({ trace_id: 'e'.repeat(32), span_id: 'slow0', service: 'slow', at: 0, dur: 0 }), 0);
    a.push(span({ trace_id: 'c'.repeat(32), span_id: 'fast', service: 'fast', at: 100 * S, dur: 0 }), 0);
    a.push(span({ trace_id: 'd'.repeat(32), span_id: 'slow1', service: 'slow', at: 1 * S, dur: 0 }), 1);
    a.push(span({ trace_id: 'd'.repeat(32), span_id: 'slow2', service: 'slow', at: 2 * S, dur: 0 }), 2);
    expect(a.stats.late).toBe(0);
    expect(a.drain().find((t) => t.trace_id === 'd'.repeat(32))?.span_count).toBe(2);
  });

  test('no parent links: earliest span names the root, duration is first start..last end', () => {
    const a = new TraceAssembler();
    a.push(span({ span_id: 'b', at: 2 * S, dur: 5 * S, service: 'late' }), 0);
    a.push(span({ span_id: 'a', at: S, dur: S, service: 'early', operation: 'first' }), 1);
    a.push(span({ span_id: 'a', at: S, dur: S, service: 'early', operation: 'first' }), 2);
    expect(a.drain()).toEqual([{ ...expected, root_service: 'early', root_operation: 'first', start: T0 + S, duration_us: 6 * S, span_count: 2, services: ['early', 'late'], error: false }]);
    expect(a.stats.duplicates).toBe(1);
  });

  test('linked trace without its root: root fields null', () => {
    const a = new TraceAssembler();
    a.push(span({ span_id: 'c', at: S, dur: S, parent_span_id: 'gone' }), 0);
    expect(a.drain()[0]).toMatchObject({ root_service: null, root_operation: null, span_count: 1 });
  });

  test('restart gives the same summaries, nothing twice', () => {
    const spans: Span[] = [];
    for (let k = 0; k < 20; k++) for (const s of linked) spans.push({ ...s, trace_id: k.toString(16).padStart(32, '0'), start: s.start + k * 8 * S, end: s.end + k * 8 * S });
    const runAll = (): unknown[] => {
      const a = new TraceAssembler({ inactivityTimeoutUs: 20 * S });
      return [...spans.flatMap((s, i) => a.push(s, i)), ...a.drain()];
    };
    const all = runAll();
    expect(all).toHaveLength(20);
    for (const cut of [5, 22, 41]) {
      const a = new TraceAssembler({ inactivityTimeoutUs: 20 * S });
      const before = spans.slice(0, cut).flatMap((s, i) => a.push(s, i));
      const cp = a.checkpoint(cut);
      const b = new TraceAssembler({ inactivityTimeoutUs: 20 * S }, cp.resume);
      const after = [...spans.slice(cp.offset).flatMap((s, i) => b.push(s, cp.offset + i)), ...b.drain()];
      expect([...before, ...after]).toEqual(all);
    }
  });
});

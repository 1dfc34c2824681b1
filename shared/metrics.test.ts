/** The service registry: prom-client underneath, the names and text the services always exported, and the series cap. */
import { MAX_SERIES, Registry, runnerMetrics } from './metrics.js';

/** Series lines of `name` (no comments). */
const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('exposition', () => {
  test('the runner vocabulary: names, types, help, sorted labels, histogram buckets', async () => {
    const registry = new Registry({ defaultMetrics: false });
    const m = runnerMetrics(registry);
    m.received.inc({ stage: 'collector' });
    m.received.inc({ stage: 'collector' }, 2);
    m.sent.inc({ stage: 'collector' }, 0);
    m.dropped.inc({ stage: 'collector', reason: 'empty' });
    m.failed.inc({ stage: 'collector', code: 'SLUICE_ERR_X' });
    m.dlq.inc({ stage: 'collector' });
    m.retries.inc({ op: 'produce' });
    m.batchSize.observe(3);
    m.batchSize.observe(700);
    m.commitLag.set(42, { stage: 'collector', partition: '3' });
    m.paused.inc({ stage: 'collector' });
    m.circuitOpen.set(0, { stage: 'sink-es' });
    const text = await registry.metrics();
    expect(text).toContain('# HELP sluice_records_received_total Records consumed from Kafka.\n# TYPE sluice_records_received_total counter\nsluice_records_received_total{stage="collector"} 3\n');
    expect(series(text, 'sluice_records_sent_total')).toEqual(['sluice_records_sent_total{stage="collector"} 0']);
    // Label keys in sorted order, whatever order the caller wrote them in (as before).
    expect(series(text, 'sluice_records_dropped_total')).toEqual(['sluice_records_dropped_total{reason="empty",stage="collector"} 1']);
    expect(series(text, 'sluice_records_failed_total')).toEqual(['sluice_records_failed_total{code="SLUICE_ERR_X",stage="collector"} 1']);
    expect(series(text, 'sluice_records_dlq_total')).toEqual(['sluice_records_dlq_total{stage="collector"} 1']);
    expect(series(text, 'sluice_retries_total')).toEqual(['sluice_retries_total{op="produce"} 1']);
    expect(series(text, 'sluice_commit_lag')).toEqual(['sluice_commit_lag{partition="3",stage="collector"} 42']);
    expect(series(text, 'sluice_backpressure_pauses_total')).toEqual(['sluice_backpressure_pauses_total{stage="collector"} 1']);
    expect(series(text, 'sluice_sink_circuit_open')).toEqual(['sluice_sink_circuit_open{stage="sink-es"} 0']);
    expect(text).toContain('# TYPE sluice_batch_size histogram');
    expect(text.split('\n').filter((l) => l.startsWith('sluice_batch_size'))).toEqual([
      'sluice_batch_size_bucket{le="1"} 0',
      'sluice_batch_size_bucket{le="10"} 1',
      'sluice_batch_size_bucket{le="100"} 1',
      'sluice_batch_size_bucket{le="500"} 1',
      'sluice_batch_size_bucket{le="1000"} 2',
      'sluice_batch_size_bucket{le="5000"} 2',
      'sluice_batch_size_bucket{le="10000"} 2',
      'sluice_batch_size_bucket{le="+Inf"} 2',
      'sluice_batch_size_sum 703',
      'sluice_batch_size_count 2',
    ]);
    expect(await m.received.get({ stage: 'collector' })).toBe(3);
    expect(await m.received.get({ stage: 'nope' })).toBe(0);
    expect(await m.received.total()).toBe(3);
    expect(await m.commitLag.get({ partition: '3', stage: 'collector' })).toBe(42);
  });

  test('label values are escaped', async () => {
    const registry = new Registry({ defaultMetrics: false });
    registry.counter('sluice_t_total', 'T.', ['path']).inc({ path: 'a"b\\c\nd' });
    expect(await registry.metrics()).toContain('sluice_t_total{path="a\\"b\\\\c\\nd"} 1');
  });

  test('an undeclared label is a programming error', () => {
    const c = runnerMetrics(new Registry({ defaultMetrics: false })).received;
    expect(() => c.inc({ stage: 'x', bogus: 'y' } as { stage: string })).toThrow(/bogus/);
  });

  test('default process and runtime metrics are on by default, and collected on scrape', async () => {
    const text = await new Registry().metrics();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds', 'nodejs_version_info']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(await new Registry({ defaultMetrics: false }).metrics()).not.toContain('process_');
  });

  test('many registries leave no handle or timer behind', async () => {
    const before = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 50; i++) await new Registry().metrics();
    // The event-loop-lag reading is taken in a setImmediate after the scrape; let it run.
    await new Promise((r) => setImmediate(r));
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(before);
  });
});

describe('series cap', () => {
  test(`a counter keeps ${MAX_SERIES} series and folds later ones into {overflow="true"}`, async () => {
    const registry = new Registry({ defaultMetrics: false });
    const c = registry.counter('sluice_capped_total', 'Capped.', ['service']);
    for (let i = 0; i < MAX_SERIES + 50; i++) c.inc({ service: `s${i}` });
    c.inc({ service: 's0' }, 2); // admitted earlier: still its own series
    c.inc({ service: `s${MAX_SERIES + 1}` }); // past the cap: overflow again
    const lines = series(await registry.metrics(), 'sluice_capped_total');
    expect(lines).toHaveLength(MAX_SERIES + 1);
    expect(lines).toContain('sluice_capped_total{service="s0"} 3');
    expect(lines).toContain(`sluice_capped_total{service="s${MAX_SERIES - 1}"} 1`);
    expect(lines).toContain('sluice_capped_total{overflow="true"} 51');
    expect(await c.get({ service: `s${MAX_SERIES}` })).toBe(0);
    expect(await c.total()).toBe(MAX_SERIES + 50 + 3);
  });

  test('a gauge keeps the first series and drops later ones', async () => {
    const registry = new Registry({ defaultMetrics: false, maxSeries: 2 });
    const g = registry.gauge('sluice_capped', 'Capped.', ['partition']);
    g.set(1, { partition: '0' });
    g.set(2, { partition: '1' });
    g.set(3, { partition: '2' });
    g.set(4, { partition: '0' });
    expect(series(await registry.metrics(), 'sluice_capped')).toEqual(['sluice_capped{partition="0"} 4', 'sluice_capped{partition="1"} 2']);
  });

  test('a series is its set of labels, whatever their order; a subset is another series', async () => {
    const registry = new Registry({ defaultMetrics: false, maxSeries: 2 });
    const c = registry.counter('sluice_s_total', 'S.', ['a', 'b']);
    c.inc({ a: 'x', b: 'y' });
    c.inc({ b: 'y', a: 'x' });
    c.inc({ a: 'x' });
    c.inc({ a: 'x', b: undefined });
    c.inc({ a: 'y', b: 'x' }); // a third series: past the cap of 2
    expect(series(await registry.metrics(), 'sluice_s_total')).toEqual(['sluice_s_total{a="x",b="y"} 2', 'sluice_s_total{a="x"} 2', 'sluice_s_total{overflow="true"} 1']);
  });

  test('each metric has its own cap', async () => {
    const registry = new Registry({ defaultMetrics: false, maxSeries: 1 });
    const a = registry.counter('sluice_a_total', 'A.', ['k']);
    const b = registry.counter('sluice_b_total', 'B.', ['k']);
    a.inc({ k: 'x' });
    b.inc({ k: 'y' });
    a.inc({ k: 'z' });
    expect(await a.get({ k: 'x' })).toBe(1);
    expect(await b.get({ k: 'y' })).toBe(1);
    expect(series(await registry.metrics(), 'sluice_a_total')).toEqual(['sluice_a_total{k="x"} 1', 'sluice_a_total{overflow="true"} 1']);
  });
});

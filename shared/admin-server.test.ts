import { startAdminServer } from './admin-server.js';
import { Registry, runnerMetrics } from './metrics.js';

test('serves /metrics, /healthz and /readyz on loopback', async () => {
  const registry = new Registry();
  registry.counter('sluice_test_total', 'A test counter.', ['stage']).inc({ stage: 'x' }, 3);
  let ready = false;
  const server = await startAdminServer({ host: '127.0.0.1', port: 0, registry, ready: () => ready });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('# TYPE sluice_test_total counter');
    expect(metrics).toContain('sluice_test_total{stage="x"} 3');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  } finally {
    await server.close();
  }
});

test('/metrics carries the runner vocabulary and the process and runtime metrics', async () => {
  const registry = new Registry();
  const m = runnerMetrics(registry);
  m.received.inc({ stage: 'normalizer' }, 5);
  m.sent.inc({ stage: 'normalizer' }, 4);
  m.failed.inc({ stage: 'normalizer', code: 'SLUICE_ERR_CODEC_DECODE' });
  m.batchSize.observe(5);
  m.circuitOpen.set(1, { stage: 'sink-es' });
  const server = await startAdminServer({ host: '127.0.0.1', port: 0, registry, ready: () => true });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    for (const line of [
      'sluice_records_received_total{stage="normalizer"} 5',
      'sluice_records_sent_total{stage="normalizer"} 4',
      'sluice_records_failed_total{code="SLUICE_ERR_CODEC_DECODE",stage="normalizer"} 1',
      'sluice_batch_size_bucket{le="10"} 1',
      'sluice_sink_circuit_open{stage="sink-es"} 1',
      '# TYPE sluice_records_dlq_total counter',
      '# TYPE sluice_commit_lag gauge',
      '# TYPE process_resident_memory_bytes gauge',
      '# TYPE process_cpu_seconds_total counter',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      '# TYPE nodejs_eventloop_lag_seconds gauge',
      '# TYPE nodejs_gc_duration_seconds histogram',
    ]) expect(text).toContain(line);
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+$/m);
  } finally {
    await server.close();
  }
});

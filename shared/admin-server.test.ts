import { adminExposureWarning, isLoopback, startAdminEndpoints, startAdminServer } from './admin-server.js';
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

test('/healthz fails once a runner stopped for good (the liveness probe restarts the pod)', async () => {
  let alive = true;
  const server = await startAdminServer({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: () => true, alive: () => alive });
  try {
    const url = `http://127.0.0.1:${server.port}/healthz`;
    expect((await fetch(url)).status).toBe(200);
    alive = false;
    const res = await fetch(url);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('failed\n');
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

test('loopback addresses are told from wider ones', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) expect([h, isLoopback(h)]).toEqual([h, true]);
  for (const h of ['0.0.0.0', '::', '', '10.0.0.5', '192.168.1.2', 'my-host', '128.0.0.1', '::ffff:10.0.0.1', '127.0.0.1.example.com']) expect([h, isLoopback(h)]).toEqual([h, false]);
});

test('the start-up warning names the address and says what is exposed, only when bound wider than loopback', () => {
  expect(adminExposureWarning('127.0.0.1', 9701)).toBeUndefined();
  expect(adminExposureWarning('::1', 9701)).toBeUndefined();
  const w = adminExposureWarning('0.0.0.0', 9701);
  expect(w).toContain('bound to 0.0.0.0:9701');
  expect(w).toContain('every network interface');
  expect(w).toContain('/metrics');
  expect(w).toContain('SLUICE_ADMIN_HOST=0.0.0.0');
  expect(adminExposureWarning('10.0.0.5', 9702)).toContain('reachable on 10.0.0.5');
});

test('a service\'s admin endpoints log a warning at start when bound wider than loopback, none on loopback', async () => {
  const lines: Array<{ level: string; msg: string }> = [];
  const log = { info: (_o: object, msg: string) => lines.push({ level: 'info', msg }), warn: (_o: object, msg: string) => lines.push({ level: 'warn', msg }) };
  const local = await startAdminEndpoints({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: () => true, log });
  await local.close();
  expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  const wide = await startAdminEndpoints({ host: '0.0.0.0', port: 0, registry: new Registry(), ready: () => true, log });
  await wide.close();
  const warns = lines.filter((l) => l.level === 'warn');
  expect(warns).toHaveLength(1);
  expect(warns[0]!.msg).toContain(`bound to 0.0.0.0:${wide.port}`);
});

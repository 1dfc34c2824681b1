import { startAdminServer } from './admin-server.js';
import { Registry } from './metrics.js';

test('serves /metrics, /healthz and /readyz on loopback', async () => {
  const registry = new Registry();
  registry.counter('sluice_test_total', 'A test counter.').inc({ stage: 'x' }, 3);
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

/**
 * Issue #12 (2), through the real stack and all four services, configured by one
 * sluice.yaml (SLUICE_CONFIG):
 * - routes: DEBUG lines are not stored (but still counted in the derived metrics);
 *   service `payments` goes to its own indices `<route>-<tenant>-<day>`; the rest to
 *   `logs-<tenant>-<day>`;
 * - tenants: an allow-list (a tenant not on it is dead-lettered with
 *   SLUICE_ERR_TENANT_NOT_ALLOWED) and a rate limit on one tenant (its lines over the
 *   bucket are dead-lettered with SLUICE_ERR_TENANT_RATE_LIMITED; the others' are not
 *   affected). Nothing is lost: every line is stored, dropped by a rule, or dead-lettered,
 *   and each decision is counted in /metrics.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { DeadLetter } from '../shared/records.js';
import { metricTotal, scrape, startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount } from '../scripts/lib/probes.js';
import { codecsFor, isolatedEnv, readTopic, runGroupOffsets, testLogDir, testRun, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('rte', () => procs);
const tenant = { a: `${runId}a`, limited: `${runId}b`, stranger: `${runId}x` };
const routeIndex = `${runId}pay`;

afterAll(async () => {
  for (const t of [tenant.a, tenant.limited]) {
    for (const p of ['logs', 'metrics', routeIndex]) await c.es.indices.delete({ index: `${p}-${t}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  }
}, 60_000);

test('routes drop, route and keep; tenants off the list or over their limit are dead-lettered; every line accounted for', async () => {
  const dir = testLogDir(runId);
  const config = join(dir, 'sluice.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    config,
    [
      'routes:',
      '  - name: no-debug',
      '    when: { level: DEBUG }',
      '    action: drop',
      '  - name: payments',
      '    when: { service: payments }',
      '    action: route',
      `    index: ${routeIndex}`,
      'tenants:',
      `  allow: [${tenant.a}, ${tenant.limited}]`,
      '  limits:',
      '    tenants:',
      `      ${tenant.limited}: { records_per_second: 1, burst_seconds: 5 }`,
      '',
    ].join('\n'),
  );
  const env = isolatedEnv(runId, { SLUICE_CONFIG: config, SLUICE_ENRICHER_IDLE_AFTER_MS: '1000', SLUICE_SINK_ES_MAX_AGE_MS: '300', SLUICE_SINK_PARQUET_MAX_AGE_MS: '1000', SLUICE_TOPIC_PARTITIONS: '1' });
  procs = await startServices({ env, logDir: dir });
  await waitReady(procs);

  const now = Date.now();
  const line = (service: string, level: string, i: number) => JSON.stringify({ time: new Date(now - 1000 + i).toISOString(), level, service, msg: `${service} ${level} ${i}` });
  const lines = {
    web: Array.from({ length: 30 }, (_, i) => line('web', 'info', i)),
    debug: Array.from({ length: 10 }, (_, i) => line('web', 'debug', 100 + i)),
    payments: Array.from({ length: 10 }, (_, i) => line('payments', 'info', 200 + i)),
    limited: Array.from({ length: 20 }, (_, i) => line('web', 'info', 300 + i)),
    stranger: Array.from({ length: 5 }, (_, i) => line('web', 'info', 400 + i)),
  };
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const msgs = (values: string[], t: string) => values.map((value) => ({ value, headers: { tenant: t } }));
  await producer.send({
    topic: topicName(runId, 'logs.raw'),
    acks: -1,
    messages: [...msgs([...lines.web, ...lines.debug, ...lines.payments], tenant.a), ...msgs(lines.limited, tenant.limited), ...msgs(lines.stranger, tenant.stranger)],
  });
  await producer.disconnect();

  const explain = () => runGroupOffsets(c.kafka, runId);
  // Dead letters: the stranger's 5, and the limited tenant's lines beyond its bucket (5 at once, then 1/s).
  const codecs = await codecsFor(runId);
  const collector = procs.find((p) => p.name === 'collector')!;
  const refused = await waitFor('tenant refusals counted', async () => metricTotal(await scrape(collector), 'sluice_tenant_refused_total'), (n) => n >= 5 + 10, 120_000, explain);
  const letters = await Promise.all((await readTopic(c.kafka, topicName(runId, 'logs.dlq'), refused)).map(async (m) => (await codecs.decode(m.value)) as DeadLetter));
  const notAllowed = letters.filter((l) => l.error_code === 'SLUICE_ERR_TENANT_NOT_ALLOWED');
  const limited = letters.filter((l) => l.error_code === 'SLUICE_ERR_TENANT_RATE_LIMITED');
  expect(notAllowed.map((l) => Buffer.from(l.original).toString()).sort()).toEqual([...lines.stranger].sort());
  expect(notAllowed[0]!.message).toBe(`tenant "${tenant.stranger}" is not in tenants.allow`);
  expect(limited.length).toBeGreaterThanOrEqual(10);
  expect(limited.length).toBeLessThanOrEqual(15);
  expect(letters).toHaveLength(notAllowed.length + limited.length);

  // Stored: tenant a's INFO lines of web in logs-*, payments in the route's indices, no DEBUG anywhere;
  // the limited tenant's admitted lines in logs-*.
  const admittedLimited = lines.limited.length - limited.length;
  await waitFor('web logs', () => esCount(c.es, `logs-${tenant.a}-*`), (n) => n >= 30, 120_000, explain);
  await waitFor('routed payments logs', () => esCount(c.es, `${routeIndex}-${tenant.a}-*`), (n) => n >= 10, 120_000, explain);
  await waitFor("the limited tenant's admitted logs", () => esCount(c.es, `logs-${tenant.limited}-*`), (n) => n >= admittedLimited, 120_000, explain);
  await c.es.indices.refresh({ index: `logs-${tenant.a}-*,${routeIndex}-${tenant.a}-*,logs-${tenant.limited}-*` });
  expect(await esCount(c.es, `logs-${tenant.a}-*`)).toBe(30);
  expect(await esCount(c.es, `${routeIndex}-${tenant.a}-*`)).toBe(10);
  expect(await esCount(c.es, `logs-${tenant.limited}-*`)).toBe(admittedLimited);
  const debugStored = await c.es.count({ index: `logs-*${runId}*,${routeIndex}-*`, query: { term: { 'log.level': 'DEBUG' } } });
  expect(debugStored.count).toBe(0);
  // The routed indices got Sluice's logs mapping (the sink installed the template for the route).
  const mapping = await c.es.indices.getMapping({ index: `${routeIndex}-${tenant.a}-*` });
  expect(Object.values(mapping)[0]!.mappings.properties?.['service']).toBeDefined();

  // The dropped DEBUG lines still count in the derived metrics: level windows of web.
  const debugWindows = await waitFor(
    'DEBUG metric windows',
    async () => {
      await c.es.indices.refresh({ index: `metrics-${tenant.a}-*`, allow_no_indices: true, ignore_unavailable: true });
      const r = await c.es.search({ index: `metrics-${tenant.a}-*`, size: 100, query: { term: { 'log.level': 'DEBUG' } }, allow_no_indices: true, ignore_unavailable: true });
      return r.hits.hits.reduce((n, h) => n + ((h._source as Record<string, number>)['sluice.window.count'] ?? 0), 0);
    },
    (n) => n >= 10,
    120_000,
    explain,
  );
  expect(debugWindows).toBe(10);

  // Every decision counted: the route rules in the enricher, the refusals in the collector.
  const enricher = await scrape(procs.find((p) => p.name === 'enricher')!);
  expect(enricher.get('sluice_route_decisions_total{action="drop",rule="no-debug"}')).toBe(10);
  expect(enricher.get('sluice_route_decisions_total{action="keep",rule="payments"}')).toBe(10);
  const col = await scrape(collector);
  expect(col.get(`sluice_tenant_refused_total{code="SLUICE_ERR_TENANT_NOT_ALLOWED",tenant="${tenant.stranger}"}`)).toBe(5);
  expect(col.get(`sluice_tenant_refused_total{code="SLUICE_ERR_TENANT_RATE_LIMITED",tenant="${tenant.limited}"}`)).toBe(limited.length);
}, 420_000);

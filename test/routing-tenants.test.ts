/**
 * Issue #12 (2), through the real stack and all four services, configured by one
 * sluice.yaml (SLUICE_CONFIG):
 * - routes: service web's DEBUG lines are sampled 1:10 (by event id; all still counted in
 *   the derived metrics); TRACE lines dropped; service `payments` goes to its own indices
 *   `<route>-<tenant>-<day>`, and so does every line of one tenant; the rest to
 *   `sluice-logs-<tenant>-<day>`. Elasticsearch and Parquet hold exactly what the rules keep;
 * - tenants: an allow-list (a tenant not on it is dead-lettered with
 *   SLUICE_ERR_TENANT_NOT_ALLOWED) and a rate limit on one tenant: its events over the
 *   bucket are slowed, not lost (the delay topic, one reserved slot each, at exactly its
 *   rate, released by the collector) and all stored in the end; the others' are not
 *   affected. Nothing is lost: every line is stored, dropped by a rule, or dead-lettered,
 *   and each decision is counted in /metrics.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { DuckDBInstance } from '@duckdb/node-api';
import { sampledIn } from '../shared/routing.js';
import type { DeadLetter } from '../shared/records.js';
import { metricTotal, scrape, startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount } from '../scripts/lib/probes.js';
import { codecsFor, downloadPrefix, endpoints, isolatedEnv, readTopic, runGroupOffsets, testLogDir, testRun, topicName, waitFor } from './helpers.js';
import { listObjects } from '../scripts/lib/probes.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('rte', () => procs);
const tenant = { a: `${runId}a`, limited: `${runId}b`, own: `${runId}c`, stranger: `${runId}x` };
const routeIndex = `${runId}pay`;
const ownIndex = `${runId}own`;

afterAll(async () => {
  for (const t of [tenant.a, tenant.limited, tenant.own]) {
    for (const p of ['logs', 'metrics', routeIndex, ownIndex]) await c.es.indices.delete({ index: `${p}-${t}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  }
}, 60_000);

test('routes drop, route and keep; a tenant off the list is dead-lettered, one over its limit slowed without loss; every line accounted for', async () => {
  const dir = testLogDir(runId);
  const config = join(dir, 'sluice.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    config,
    [
      'routes:',
      '  - name: web-debug',
      '    when: { service: web, level: DEBUG }',
      '    action: sample',
      '    rate: 0.1',
      '  - name: no-trace',
      '    when: { level: TRACE }',
      '    action: drop',
      '  - name: own-tenant',
      `    when: { tenant: ${tenant.own} }`,
      '    action: route',
      `    index: ${ownIndex}`,
      '  - name: payments',
      '    when: { service: payments }',
      '    action: route',
      `    index: ${routeIndex}`,
      'tenants:',
      `  allow: [${tenant.a}, ${tenant.limited}, ${tenant.own}]`,
      '  limits:',
      '    tenants:',
      `      ${tenant.limited}: { records_per_second: 2, burst_seconds: 5 }`,
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
    debug: Array.from({ length: 100 }, (_, i) => line('web', 'debug', 1000 + i)),
    trace: Array.from({ length: 10 }, (_, i) => line('web', 'trace', 2000 + i)),
    own: Array.from({ length: 12 }, (_, i) => line('api', 'info', 3000 + i)),
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
    messages: [...msgs([...lines.web, ...lines.debug, ...lines.trace, ...lines.payments], tenant.a), ...msgs(lines.own, tenant.own), ...msgs(lines.limited, tenant.limited), ...msgs(lines.stranger, tenant.stranger)],
  });
  await producer.disconnect();

  const explain = () => runGroupOffsets(c.kafka, runId);
  // Dead letters: the stranger's 5 only.
  const codecs = await codecsFor(runId);
  const collector = procs.find((p) => p.name === 'collector')!;
  const refused = await waitFor('tenant refusals counted', async () => metricTotal(await scrape(collector), 'sluice_tenant_refused_total'), (n) => n >= 5, 120_000, explain);
  expect(refused).toBe(5);
  const letters = await Promise.all((await readTopic(c.kafka, topicName(runId, 'logs.dlq'), refused)).map(async (m) => (await codecs.decode(m.value)) as DeadLetter));
  const notAllowed = letters.filter((l) => l.error_code === 'SLUICE_ERR_TENANT_NOT_ALLOWED');
  expect(notAllowed.map((l) => Buffer.from(l.original).toString()).sort()).toEqual([...lines.stranger].sort());
  expect(notAllowed[0]!.message).toBe(`tenant "${tenant.stranger}" is not in tenants.allow`);
  expect(letters).toHaveLength(notAllowed.length);
  expect(letters[0]!.origin_headers).toEqual({ tenant: tenant.stranger });

  // Stored: tenant a's web INFO lines and the sampled DEBUG ones in sluice-logs-*, payments in the route's
  // indices, no TRACE anywhere; tenant own's lines in its own prefix; all 20 of the limited tenant (slowed, not lost).
  const admittedLimited = lines.limited.length;
  const enricherProc = procs.find((p) => p.name === 'enricher')!;
  const decided = await waitFor('route decisions', async () => await scrape(enricherProc), (m) => (m.get('sluice_route_decisions_total{action="keep",rule="web-debug"}') ?? 0) + (m.get('sluice_route_decisions_total{action="drop",rule="web-debug"}') ?? 0) >= 100, 120_000, explain);
  const keptDebug = decided.get('sluice_route_decisions_total{action="keep",rule="web-debug"}') ?? 0;
  expect(keptDebug).toBeGreaterThan(0);
  expect(keptDebug).toBeLessThan(30); // about 10 of 100
  const inA = 30 + keptDebug;
  await waitFor('web logs', () => esCount(c.es, `sluice-logs-${tenant.a}-*`), (n) => n >= inA, 120_000, explain);
  await waitFor('routed payments logs', () => esCount(c.es, `${routeIndex}-${tenant.a}-*`), (n) => n >= 10, 120_000, explain);
  await waitFor("the own tenant's logs", () => esCount(c.es, `${ownIndex}-${tenant.own}-*`), (n) => n >= 12, 120_000, explain);
  await waitFor("the limited tenant's admitted logs", () => esCount(c.es, `sluice-logs-${tenant.limited}-*`), (n) => n >= admittedLimited, 120_000, explain);
  // The limited tenant: 10 at once (5 s of 2/s), the other 10 delayed, each with its own slot 500 ms after the last.
  const delayedCount = (await scrape(collector)).get(`sluice_tenant_delayed_total{tenant="${tenant.limited}"}`) ?? 0; // final: all 20 are stored
  expect(delayedCount).toBeGreaterThanOrEqual(9);
  expect(delayedCount).toBeLessThanOrEqual(10); // the bucket may refill by one while the 20 lines go through
  const delayed = await readTopic(c.kafka, topicName(runId, 'logs.collected.delayed'), delayedCount);
  expect(delayed).toHaveLength(delayedCount);
  const slots = delayed.map((m) => Number(m.headers['sluice-not-before']));
  // 500 ms apart (the slot is rounded up to the ms once, so a gap may be 1 ms off).
  expect(slots.slice(1).every((s, i) => Math.abs(s - slots[i]! - 500) <= 1)).toBe(true);
  expect(Math.abs(slots.at(-1)! - slots[0]! - (delayedCount - 1) * 500)).toBeLessThanOrEqual(1);

  await c.es.indices.refresh({ index: `sluice-logs-*${runId}*,${routeIndex}-*,${ownIndex}-*` });
  expect(await esCount(c.es, `sluice-logs-${tenant.a}-*`)).toBe(inA);
  expect(await esCount(c.es, `${routeIndex}-${tenant.a}-*`)).toBe(10);
  expect(await esCount(c.es, `${ownIndex}-${tenant.own}-*`)).toBe(12);
  expect(await esCount(c.es, `sluice-logs-${tenant.own}-*`)).toBe(0);
  expect(await esCount(c.es, `sluice-logs-${tenant.limited}-*`)).toBe(admittedLimited);
  const traceStored = await c.es.count({ index: `sluice-logs-*${runId}*,${routeIndex}-*,${ownIndex}-*`, query: { term: { 'log.level': 'TRACE' } } });
  expect(traceStored.count).toBe(0);
  // The sample is by event id: every kept DEBUG line is one the hash keeps.
  const debugHits = await c.es.search({ index: `sluice-logs-${tenant.a}-*`, size: 100, query: { term: { 'log.level': 'DEBUG' } } });
  const debugIds = debugHits.hits.hits.map((h) => (h._source as Record<string, string>)['event.id']!);
  expect(debugIds).toHaveLength(keptDebug);
  expect(debugIds.every((id) => sampledIn(id, 0.1))).toBe(true);
  // The routed indices got Sluice's logs mapping (the sink installed the template for the route).
  const mapping = await c.es.indices.getMapping({ index: `${routeIndex}-${tenant.a}-*` });
  expect(Object.values(mapping)[0]!.mappings.properties?.['service']).toBeDefined();

  // Parquet holds the same: per tenant and level, the rows equal what the rules keep.
  const stored = 30 + keptDebug + 10 + 12 + admittedLimited;
  await waitFor('Parquet rows', async () => (await listObjects(c.s3, endpoints.bucket, `${runId}/logs/`)).length, (n) => n > 0, 120_000, explain);
  const parquetRows = async () => {
    const { dir } = await downloadPrefix(c.s3, `${runId}/logs/`);
    try {
      const db = await (await DuckDBInstance.create(':memory:')).connect();
      const rows = (await db.runAndReadAll(`select tenant, level, count(*)::INTEGER from read_parquet('${dir}/**/*.parquet') group by all order by all`)).getRows();
      return rows.map(([t, l, n]) => `${String(t)}|${String(l)}|${Number(n)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const byTenantLevel = await waitFor('every stored line in Parquet', parquetRows, (r) => r.reduce((n, x) => n + Number(x.split('|')[2]), 0) >= stored, 120_000, explain);
  expect(byTenantLevel).toEqual(
    [`${tenant.a}|DEBUG|${keptDebug}`, `${tenant.a}|INFO|40`, `${tenant.limited}|INFO|${admittedLimited}`, `${tenant.own}|INFO|12`].sort(),
  );

  // The sampled and dropped lines still count in the derived metrics: level windows of web.
  const debugWindows = await waitFor(
    'DEBUG metric windows',
    async () => {
      await c.es.indices.refresh({ index: `sluice-metrics-${tenant.a}-*`, allow_no_indices: true, ignore_unavailable: true });
      const r = await c.es.search({ index: `sluice-metrics-${tenant.a}-*`, size: 100, query: { term: { 'log.level': 'DEBUG' } }, allow_no_indices: true, ignore_unavailable: true });
      return r.hits.hits.reduce((n, h) => n + ((h._source as Record<string, number>)['sluice.window.count'] ?? 0), 0);
    },
    (n) => n >= 100,
    120_000,
    explain,
  );
  expect(debugWindows).toBe(100);

  // Every decision counted: the route rules in the enricher, the refusals in the collector.
  const enricher = await scrape(enricherProc);
  expect(enricher.get('sluice_route_decisions_total{action="drop",rule="web-debug"}')).toBe(100 - keptDebug);
  expect(enricher.get('sluice_route_decisions_total{action="drop",rule="no-trace"}')).toBe(10);
  expect(enricher.get('sluice_route_decisions_total{action="keep",rule="own-tenant"}')).toBe(12);
  expect(enricher.get('sluice_route_decisions_total{action="keep",rule="payments"}')).toBe(10);
  const col = await scrape(collector);
  expect(col.get(`sluice_tenant_refused_total{code="SLUICE_ERR_TENANT_NOT_ALLOWED",tenant="${tenant.stranger}"}`)).toBe(5);
  expect(col.get(`sluice_tenant_refused_total{code="SLUICE_ERR_TENANT_RATE_LIMITED",tenant="${tenant.limited}"}`)).toBeUndefined();
  expect(col.get(`sluice_tenant_delayed_total{tenant="${tenant.limited}"}`)).toBe(delayedCount);
}, 420_000);

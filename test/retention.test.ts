/**
 * Retention against the real Elasticsearch and S3 server (services/sink/retention.ts):
 * old daily indices created from Sluice's templates and old Parquet partitions go; today's
 * stay, and so does an old index of another product that matches the prefix.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createLogger } from '../shared/logger.js';
import { loadEsTemplates, templatesFor } from '../services/sink/es-templates.js';
import { installEsTemplates } from '../services/sink/es-writer.js';
import { Retention } from '../services/sink/retention.js';
import { listObjects } from '../scripts/lib/probes.js';
import { clients, endpoints, newRunId } from './helpers.js';

const runId = newRunId('ret');
const c = clients('ret');
const prefix = `${runId}lg`;

afterAll(async () => {
  await c.es.indices.delete({ index: `${prefix}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  await c.es.indices.deleteIndexTemplate({ name: `sluice-${prefix}` }).catch(() => undefined);
  for (const o of await listObjects(c.s3, endpoints.bucket, `${runId}/`)) await c.s3.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: endpoints.bucket, Key: o.key }));
}, 60_000);

test('old Sluice indices and Parquet partitions are deleted; recent ones and foreign indices stay', async () => {
  await installEsTemplates(c.es, templatesFor(loadEsTemplates(prefix), 'logs'));
  const today = new Date().toISOString().slice(0, 10).replace(/-/g, '.');
  const old = '2020.01.01';
  await c.es.indices.create({ index: `${prefix}-acme-${old}` }); // from Sluice's template: _meta.managed_by sluice
  await c.es.indices.create({ index: `${prefix}-acme-${today}` });
  // Another product's index matching the prefix, without Sluice's template.
  await c.es.indices.deleteIndexTemplate({ name: `sluice-${prefix}` });
  await c.es.indices.create({ index: `${prefix}-foreign-${old}`, mappings: { _meta: { owner: 'someone else' } } });
  const day = new Date().toISOString().slice(0, 10);
  const keys = [`${runId}/logs/tenant=acme/dt=2020-01-01/hour=00/t+0+0+9.parquet`, `${runId}/logs/tenant=acme/dt=${day}/hour=00/t+0+10+19.parquet`, `${runId}/logs/_intents/t+0.json`];
  for (const Key of keys) await c.s3.send(new PutObjectCommand({ Bucket: endpoints.bucket, Key, Body: 'x' }));

  const counted: Record<string, number> = {};
  const r = new Retention({
    log: createLogger('ret', 'silent'),
    onDeleted: (what, n) => (counted[what] = (counted[what] ?? 0) + n),
    es: { client: c.es, prefixes: [prefix], days: 7 },
    s3: { client: c.s3, bucket: endpoints.bucket, prefixes: [`${runId}/logs/`], days: 7 },
  });
  const result = await r.runOnce();
  expect(result.indices).toEqual([`${prefix}-acme-${old}`]);
  expect(counted).toEqual({ index: 1, object: 1 });
  const left = Object.keys(await c.es.indices.get({ index: `${prefix}-*` })).sort();
  expect(left).toEqual([`${prefix}-acme-${today}`, `${prefix}-foreign-${old}`].sort());
  expect((await listObjects(c.s3, endpoints.bucket, `${runId}/`)).map((o) => o.key).sort()).toEqual([keys[1], keys[2]].sort());
  // A second run finds nothing more.
  expect(await r.runOnce()).toEqual({ indices: [], backingIndices: [], rolledOver: [], objects: 0 });
}, 120_000);

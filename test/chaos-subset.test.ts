/**
 * A fast subset of the fault matrix (`npm run chaos`, scripts/lib/chaos-cases.ts), run
 * with the same code on the real local stack: the Kafka broker stopped and started again
 * at 40 % of the lines (every transactional producer of the pipeline meets the
 * restarted coordinator: docs/reliability.md, "Found by the matrix"), and the run's log
 * indices made read-only for 30 s. Each case: 5,000 events,
 * then every one must be in Elasticsearch and Parquet exactly once and the derived metric
 * windows must sum exactly (the case's own checks), with no human in between. The full
 * matrix (every case, 100,000 events each) is a script; its table is in
 * docs/reliability.md.
 */
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { benchKafka } from '../scripts/lib/bench-common.js';
import { CASES, ES_URL, failures, runCase, S3_CONF, type ChaosOptions } from '../scripts/lib/chaos-cases.js';

const options: ChaosOptions = { events: 5_000, liveSeconds: 10, seed: 13, timeoutMs: 300_000, keep: false };
const { kafka } = benchKafka();
const es = createEsClient({ url: ES_URL, indexPrefix: 'sluice-logs' });
const s3 = createS3Client({ endpoint: S3_CONF.endpoint, region: 'us-east-1', accessKey: S3_CONF.accessKey, secretKey: S3_CONF.secretKey, forcePathStyle: true });

afterAll(async () => {
  await es.close();
});

test.each(['broker-restart', 'es-index-read-only'])('%s: nothing lost, nothing duplicated, metric sums exact, recovered alone', async (name) => {
  const c = CASES.find((x) => x.name === name)!;
  const r = await runCase(c, options, kafka, es, s3);
  expect(failures(r)).toEqual([]);
  expect(r.linesIn).toBe(options.events);
  expect(r.logsEs).toBe(options.events);
  expect([r.logsRows, r.logsDistinct]).toEqual([options.events, options.events]);
  expect(r.levelCountSum).toBe(options.events);
  expect(r.notes.join('; ')).toMatch(name === 'broker-restart' ? /kafka stopped at \d+ %.*kafka started again/ : /read-only at \d+ %.*writable again/);
}, 420_000);

/**
 * One whole-pipeline run on the local stack, as the end-to-end scripts drive it
 * (scripts/bench-e2e.ts, scripts/soak.ts): the stack's endpoints and clients, the
 * seeded live workload, counting what arrived (Elasticsearch, Parquet on S3) and
 * deleting everything of the run afterwards. Turning generator lines into Kafka messages
 * and producing them: scripts/lib/pipeline-check.ts (toKafka, produceAll).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../../services/sink/es-writer.js';
import { createS3Client } from '../../services/sink/object-store.js';
import type { KafkaClient } from '../../shared/kafka.js';
import { benchKafka, deleteRun, isolatedEnv } from './bench-common.js';
import { generate, type KafkaMessage } from './generator.js';
import { listObjects } from './probes.js';

export const ES_URL = process.env['SLUICE_ES_URL'] || 'http://127.0.0.1:9200';
export const BROKERS = process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092';
export const S3 = {
  endpoint: process.env['SLUICE_S3_ENDPOINT'] || 'http://127.0.0.1:9000',
  bucket: process.env['SLUICE_S3_BUCKET'] || 'sluice',
  accessKey: process.env['SLUICE_S3_ACCESS_KEY'] || 'sluice',
  secretKey: process.env['SLUICE_S3_SECRET_KEY'] || 'sluice-local-secret',
};
export type S3Client = ReturnType<typeof createS3Client>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Kafka, Elasticsearch and S3 clients of the local stack (or the SLUICE_* endpoints). */
export function stackClients(): { kafka: KafkaClient; es: Client; s3: S3Client } {
  const { kafka } = benchKafka();
  const es = createEsClient({ url: ES_URL, indexPrefix: 'logs' });
  const s3 = createS3Client({ endpoint: S3.endpoint, region: 'us-east-1', accessKey: S3.accessKey, secretKey: S3.secretKey, forcePathStyle: true });
  return { kafka, es, s3 };
}

/** Every consumer group of the four services, isolated to the run; S3 prefix `<run>`. */
export function runEnv(runId: string): NodeJS.ProcessEnv {
  return { ...isolatedEnv(runId, ['COLLECTOR', 'NORMALIZER', 'ENRICHER', 'ENRICHER_TRACES', 'SINK_ES', 'SINK_PARQUET']), SLUICE_S3_PREFIX: runId };
}

/** The Elasticsearch indices of a tenant's logs (daily indices `sluice-logs-<tenant>-YYYY.MM.DD`). */
export const logsIndex = (tenant: string): string => `sluice-logs-${tenant}-*`;

/**
 * `n` messages of the generator with event times in the minute from `startMs` (default:
 * the last minute; the generator's late lines are off: a live feed, not a backfill).
 */
export function workload(n: number, seed: number, startMs = Date.now() - 60_000): KafkaMessage[] {
  const seconds = 60;
  // About 14 lines per request in the generator's topology: ask for a third more, then cut.
  const rps = Math.ceil((n / seconds / 14) * 1.33);
  for (let scale = 1; ; scale *= 1.5) {
    const g = generate({ seed, rps: rps * scale, seconds, startMs, lateRate: 0 });
    if (g.messages.length >= n) return g.messages.slice(0, n);
  }
}

/** Searchable documents now: _count without a forced refresh. */
export async function searchable(es: Client, index: string): Promise<number> {
  try {
    return (await es.count({ index, allow_no_indices: true, ignore_unavailable: true })).count;
  } catch {
    return 0;
  }
}

/** Seconds from `t0` until `done` first held, polling every `everyMs`; NaN once `timeoutMs` from t0 passed. */
export async function secondsUntil(t0: number, done: () => Promise<boolean>, everyMs: number, timeoutMs: number): Promise<number> {
  while (Date.now() - t0 < timeoutMs) {
    if (await done()) return (Date.now() - t0) / 1000;
    await sleep(everyMs);
  }
  return NaN;
}

/** Count Parquet rows and distinct event ids under `prefix` with DuckDB (objects downloaded to a scratch dir). */
export async function parquetCounts(s3: S3Client, prefix: string, scratch: string): Promise<{ rows: number; distinct: number }> {
  mkdirSync(scratch, { recursive: true });
  const objects = (await listObjects(s3, S3.bucket, prefix)).filter((o) => o.key.endsWith('.parquet'));
  if (objects.length === 0) return { rows: 0, distinct: 0 };
  for (const [i, o] of objects.entries()) {
    const r = await s3.send(new GetObjectCommand({ Bucket: S3.bucket, Key: o.key }));
    writeFileSync(join(scratch, `${i}.parquet`), await r.Body!.transformToByteArray());
  }
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const rows = (await db.runAndReadAll(`select count(*)::BIGINT, count(distinct event_id)::BIGINT from read_parquet('${scratch}/*.parquet')`)).getRows()[0]!;
    return { rows: Number(rows[0]), distinct: Number(rows[1]) };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** Resident set of a process, MB: now (VmRSS) or its peak so far (VmHWM); NaN once it ended. */
export function rssMb(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${which}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Delete everything of a run: its topics and groups, the Elasticsearch indices of its
 * tenant (`sluice-<dataset>-<run>-*`, plus `extraIndices`) and its S3 objects under `<run>/`.
 */
export async function deleteRunEverywhere(runId: string, clients: { kafka: KafkaClient; es: Client; s3: S3Client }, extraIndices: readonly string[] = []): Promise<void> {
  await deleteRun(clients.kafka, runId);
  const indices = ['logs', 'metrics', 'spans', 'traces'].map((d) => `sluice-${d}-${runId}-*`).concat(extraIndices);
  await clients.es.indices.delete({ index: indices.join(','), allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  const objects = await listObjects(clients.s3, S3.bucket, `${runId}/`).catch(() => []);
  for (let i = 0; i < objects.length; i += 1000) {
    await clients.s3.send(new DeleteObjectsCommand({ Bucket: S3.bucket, Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: o.key })) } }));
  }
}

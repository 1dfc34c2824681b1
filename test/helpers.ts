/**
 * Test helpers for integration and end-to-end tests against the REAL local stack.
 * Every test run gets its own topics, consumer groups, tenant (hence Elasticsearch
 * indices `sluice-logs-<tenant>-*`) and S3 key prefix, and removes them afterwards.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { createKafka, type KafkaClient } from '../shared/kafka.js';
import { createRegistry } from '../shared/registry.js';
import { TopicCodecs } from '../shared/codec.js';
import { createLogger } from '../shared/logger.js';
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { deleteKafkaRun, listObjects } from '../scripts/lib/probes.js';
import { stopServices, type ServiceProcess } from '../scripts/lib/services.js';
import { repoRoot } from '../shared/schemas.js';

export const endpoints = {
  kafka: process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092',
  es: process.env['SLUICE_ES_URL'] || 'http://127.0.0.1:9200',
  s3: process.env['SLUICE_S3_ENDPOINT'] || 'http://127.0.0.1:9000',
  bucket: process.env['SLUICE_S3_BUCKET'] || 'sluice',
  s3AccessKey: process.env['SLUICE_S3_ACCESS_KEY'] || 'sluice',
  s3SecretKey: process.env['SLUICE_S3_SECRET_KEY'] || 'sluice-local-secret',
};

export function newRunId(label: string): string {
  return `${label}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

/** Environment for services isolated to one run: topics `<run>.<name>`, groups `<run>-<service>`, S3 prefix `<run>`. */
export function isolatedEnv(runId: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const topics = { RAW: 'logs.raw', COLLECTED: 'logs.collected', DELAYED: 'logs.collected.delayed', NORMALIZED: 'logs.normalized', ENRICHED: 'logs.enriched', METRICS: 'metrics.derived', SPANS: 'traces.spans', TRACES: 'traces.summaries', DLQ: 'logs.dlq' };
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_LOG_LEVEL: 'info', SLUICE_S3_PREFIX: runId };
  for (const [k, v] of Object.entries(topics)) env[`SLUICE_TOPIC_${k}`] = `${runId}.${v}`;
  for (const s of ['COLLECTOR', 'NORMALIZER', 'ENRICHER']) env[`SLUICE_${s}_GROUP`] = `${runId}-${s.toLowerCase()}`;
  env['SLUICE_ENRICHER_TRACES_GROUP'] = `${runId}-enricher-traces`;
  env['SLUICE_ENRICHER_UPSTREAM_GROUPS'] = `${runId}-collector,${runId}-normalizer`;
  env['SLUICE_SINK_ES_GROUP'] = `${runId}-sink-es`;
  env['SLUICE_SINK_PARQUET_GROUP'] = `${runId}-sink-parquet`;
  return { ...env, ...extra };
}

export function topicName(runId: string, base: string): string {
  return `${runId}.${base}`;
}

export function clients(label: string) {
  const log = createLogger(`test-${label}`, 'warn');
  const kafka: KafkaClient = createKafka({ brokers: endpoints.kafka.split(','), clientId: 'sluice-test', saslMechanism: '', saslUsername: undefined, saslPassword: undefined, ssl: false, topicPartitions: 3, topicReplication: 1, createTopics: true }, label, log);
  const es = createEsClient({ url: endpoints.es, indexPrefix: 'logs' });
  const s3 = createS3Client({ endpoint: endpoints.s3, region: 'us-east-1', accessKey: endpoints.s3AccessKey, secretKey: endpoints.s3SecretKey, forcePathStyle: true });
  return { kafka, es, s3, log };
}

/**
 * Download every object under `prefix` into a fresh temp dir (same relative keys); returns
 * the dir. An object listed but gone before its GET (a running sink deleted a superseded
 * object in between: NoSuchKey) is skipped: it is no longer in the store.
 */
export async function downloadPrefix(s3: ReturnType<typeof clients>['s3'], prefix: string): Promise<{ dir: string; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parquet-'));
  const files: string[] = [];
  for (const o of await listObjects(s3, endpoints.bucket, prefix)) {
    const r = await s3.send(new GetObjectCommand({ Bucket: endpoints.bucket, Key: o.key })).catch((err: unknown) => {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    });
    if (!r) continue;
    const bytes = await r.Body!.transformToByteArray();
    const file = join(dir, o.key.replace(/[^A-Za-z0-9._=-]+/g, '_'));
    writeFileSync(file, bytes);
    files.push(file);
  }
  return { dir, files };
}

export async function cleanup(c: ReturnType<typeof clients>, runId: string, tenant: string): Promise<void> {
  await deleteKafkaRun(c.kafka, runId);
  await c.es.indices.delete({ index: `sluice-logs-${tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  const objects = await listObjects(c.s3, endpoints.bucket, `${runId}/`);
  for (let i = 0; i < objects.length; i += 1000) {
    await c.s3.send(new DeleteObjectsCommand({ Bucket: endpoints.bucket, Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: o.key })) } }));
  }
}

/** Where the services of a test run write their logs: `.stack/logs/test/<run>`. */
export function testLogDir(runId: string): string {
  return join(repoRoot(), '.stack', 'logs', 'test', runId);
}

/**
 * The run of a test file: a new run id and clients (both named after `label`); after all
 * its tests, the services `procs()` then holds are stopped and the run's topics, groups,
 * `tenant`'s indices and objects removed (a failure to remove is a warning).
 */
export function testRun(label: string, procs: () => readonly ServiceProcess[], tenant?: string): { runId: string; c: ReturnType<typeof clients> } {
  const runId = newRunId(label);
  const c = clients(label);
  afterAll(async () => {
    await stopServices(procs());
    await cleanup(c, runId, tenant ?? runId).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
  }, 120_000);
  return { runId, c };
}

export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) {
      const why = explain ? `\n${await explain().catch((err: unknown) => `(no explanation: ${String(err)})`)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}${why}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    last = await probe();
  }
  return last;
}

export interface ReadMessage {
  key: Buffer | null;
  value: Buffer;
  partition: number;
  offset: string;
  /** Kafka headers as UTF-8 strings. */
  headers: Record<string, string>;
}

/** Read `count` messages from a topic (from the beginning) with a throwaway consumer group. */
export async function readTopic(kafka: KafkaClient, topic: string, count: number, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}` });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${got.length}/${count} messages from ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          got.push({ key: message.key, value: message.value ?? Buffer.alloc(0), partition, offset: message.offset, headers });
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/**
 * A reader that has joined its (throwaway) group before the caller goes on, so that
 * `until(n)` returns as soon as the n-th committed message is fetched, with no group join
 * in between (a join takes seconds under load; tests that time a quiet gap use this).
 */
export async function openReader(kafka: KafkaClient, topic: string): Promise<{ until: (n: number, timeoutMs: number) => Promise<void>; close: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}-${Math.random()}` });
  let n = 0;
  let wake: (() => void) | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        n += batch.messages.length;
        wake?.();
      },
    });
    await joined;
  } catch (err) {
    await consumer.disconnect();
    throw err;
  }
  const until = async (want: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (n < want) {
      if (Date.now() > deadline) throw new Error(`${topic}: ${n} of ${want} messages after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
  };
  return { until, close: () => consumer.disconnect() };
}

/**
 * The committed message values of a topic, read from the beginning with a throwaway
 * group until at least `expected` arrived and then nothing more for `idleMs` (so extra
 * messages are seen too); throws after `timeoutMs`.
 */
export async function readAll(kafka: KafkaClient, topic: string, opts: { expected?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<Buffer[]> {
  const { expected = 0, idleMs = 3000, timeoutMs = 240_000 } = opts;
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}-${Math.random()}` });
  const values: Buffer[] = [];
  let lastAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) values.push(m.value ?? Buffer.alloc(0));
        lastAt = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    lastAt = Date.now();
    while (values.length < expected || Date.now() - lastAt < idleMs) {
      if (Date.now() > deadline) throw new Error(`${topic}: ${values.length} of ${expected} messages after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** Count the committed messages of a topic by reading it (offsets would also count the transaction markers). */
export async function countMessages(kafka: KafkaClient, topic: string, idleMs = 3000): Promise<number> {
  return (await readAll(kafka, topic, { idleMs })).length;
}

/** The Avro codecs of one isolated run's topics (same registration the services do). */
export function codecsFor(runId: string): Promise<TopicCodecs> {
  const registry = createRegistry({ url: process.env['SLUICE_REGISTRY_URL'] || 'http://127.0.0.1:8081/apis/ccompat/v7' });
  const t = (b: string) => topicName(runId, b);
  return TopicCodecs.register(registry, {
    topicCollected: t('logs.collected'), topicNormalized: t('logs.normalized'), topicEnriched: t('logs.enriched'), topicMetrics: t('metrics.derived'),
    topicSpans: t('traces.spans'), topicTraces: t('traces.summaries'), topicDlq: t('logs.dlq'),
  });
}

/**
 * Where a run's records are: for every consumer group whose name starts with `runId`, its
 * committed offset and the end offset of each partition it reads (a test that times out
 * prints this: which stage, which partition stopped).
 */
export async function runGroupOffsets(kafka: KafkaClient, runId: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(runId)).sort();
    const lines: string[] = [];
    for (const groupId of groups) {
      const desc = (await admin.describeGroups([groupId])).groups[0];
      for (const t of await admin.fetchOffsets({ groupId })) {
        const ends = new Map((await admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, p.high]));
        const parts = t.partitions.sort((a, b) => a.partition - b.partition).map((p) => `p${p.partition} ${p.offset}/${ends.get(p.partition) ?? '?'}`);
        lines.push(`${groupId} (${desc?.state ?? '?'}, ${desc?.members.length ?? '?'} members) ${t.topic}: ${parts.join(', ')}`);
      }
    }
    return `committed/end offsets of the run's groups:\n${lines.join('\n')}`;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The fused collector + normalizer (bin/collector-normalizer.ts) writes what the two
 * services write through logs.collected: the same LogRecords, byte for byte, and the
 * same dead letters, on the same lines (multi-line events held across batches
 * included). Both shapes run on the MemoryRunner with the services' own bindings.
 */
import { loadConfig } from '../shared/config.js';
import { fuse, MemoryRunner, type AnyStageBinding, type MemoryRecord } from '../shared/runner/index.js';
import type { DeadLetter } from '../shared/records.js';
import type { TopicNames } from '../shared/schemas.js';
import { schema as collectorSchema, strictPrefixes as collectorPrefixes } from '../services/collector/config.js';
import { collectorStages } from '../services/collector/stages.js';
import { schema as normalizerSchema, strictPrefixes as normalizerPrefixes } from '../services/normalizer/config.js';
import { normalizerStages } from '../services/normalizer/stages.js';

const env = {};
const collector = loadConfig(collectorSchema, env, collectorPrefixes);
const normalizer = loadConfig(normalizerSchema, env, normalizerPrefixes);
const topics: TopicNames = {
  topicCollected: collector.topicCollected, topicNormalized: collector.topicNormalized, topicEnriched: collector.topicEnriched, topicMetrics: collector.topicMetrics,
  topicSpans: collector.topicSpans, topicTraces: collector.topicTraces, topicDlq: collector.topicDlq,
};

const lines = [
  '{"timestamp":"2026-12-02T10:00:00.123456Z","level":"info","service":"api","msg":"started","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}',
  '2026-12-02 10:00:01,250 ERROR [main] com.example.Api - request failed',
  'java.lang.IllegalStateException: boom',
  '\tat com.example.Api.handle(Api.java:42)',
  '\tat com.example.Api.main(Api.java:7)',
  'ts=2026-12-02T10:00:02Z level=warn msg="slow query" duration_ms=1200',
  '',
  '127.0.0.1 - - [02/Dec/2026:10:00:03 +0000] "GET /health HTTP/1.1" 200 2 "-" "curl/8.0"',
];

async function run(bindings: AnyStageBinding[]): Promise<{ normalized: unknown[]; letters: Array<Partial<DeadLetter>>; collected: number }> {
  const records: MemoryRecord[] = [];
  let now = Date.UTC(2026, 11, 2, 10, 0, 5);
  const runner = await MemoryRunner.create({ bindings, topics, clock: () => now, onRecord: (r) => void records.push(r) });
  // Two batches, the stack trace split across them.
  for (const [i, line] of lines.entries()) {
    runner.produce(collector.topicRaw, { key: 'app.log', value: Buffer.from(line), headers: { service: 'api', tenant: 'acme' }, timestampMs: now });
    if (i === 2) runner.pump();
  }
  runner.pump();
  now += 60_000;
  runner.drain();
  const of = (t: string) => records.filter((r) => r.topic === t);
  return {
    normalized: of(topics.topicNormalized).map((r) => runner.decode(r)),
    letters: of(topics.topicDlq).map((r) => runner.decode<DeadLetter>(r)).map((d) => ({ error_code: d.error_code, origin_topic: d.origin_topic, origin_offset: d.origin_offset })),
    collected: of(topics.topicCollected).length,
  };
}

test('collect + normalize fused: the same LogRecords and dead letters as the two services through logs.collected', async () => {
  const [collect] = collectorStages(collector, []);
  const [normalize] = normalizerStages(normalizer, []);
  const separate = await run([collect, normalize]);
  const [collect2] = collectorStages(collector, []);
  const [normalize2] = normalizerStages(normalizer, []);
  const fused = await run([fuse(collect2, normalize2)]);

  expect(separate.collected).toBeGreaterThan(0);
  expect(fused.collected).toBe(0); // the hop is gone
  expect(fused.normalized.length).toBe(4); // 8 lines: the error line and its 3 stack lines are one event, the empty line a dead letter
  expect(fused.normalized).toEqual(separate.normalized);
  expect(fused.letters).toEqual(separate.letters);
  expect(fused.letters.length).toBe(1);
});

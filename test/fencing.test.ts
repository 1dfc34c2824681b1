/**
 * Zombie fencing against the real Kafka: instance A stalls in the middle of a batch
 * (its decoder blocks, so it stops heartbeating), the group gives its partition to
 * instance B, B processes everything and commits; then A wakes up and tries to commit
 * its stale batch. A's transaction must fail as fenced, so the output holds every input
 * exactly once. (With one transactional id per process, A's late commit would go
 * through and the batch would be there twice.)
 */
import kafkajs from 'kafkajs';
import { PipelineRunner, rawBytes, type Decoder } from '../shared/runner/index.js';
import { createCollectStage } from '../services/collector/collect.js';
import { Registry, runnerMetrics } from '../shared/metrics.js';
import { clients, codecsFor, countMessages, newRunId, topicName, waitFor } from './helpers.js';
import { deleteKafkaRun } from '../scripts/lib/probes.js';

const { Partitioners } = kafkajs;
const runId = newRunId('fence');
const c = clients('fence');
const runners: Array<PipelineRunner<Buffer>> = [];

afterAll(async () => {
  for (const r of runners) await r.shutdown().catch(() => undefined);
  await deleteKafkaRun(c.kafka, runId).catch(() => undefined);
}, 60_000);

test('a stalled instance that lost its partition cannot commit its last batch', async () => {
  const N = 2000;
  const STALL_AT = '700';
  const raw = topicName(runId, 'logs.raw');
  const out = topicName(runId, 'logs.collected');
  const dlq = topicName(runId, 'logs.dlq');
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [raw, out, dlq].map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
  await admin.disconnect();
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: raw, acks: -1, messages: Array.from({ length: N }, (_, i) => ({ value: `line ${i}` })) });
  await producer.disconnect();

  const codecs = await codecsFor(runId);
  let stalled = false;
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  // A's decoder stops at one message until released, as a stuck instance would.
  const stallingDecoder: Decoder<Buffer> = async (bytes) => {
    if (bytes.toString() === `line ${STALL_AT}` && !stalled) {
      stalled = true;
      await released;
    }
    return bytes;
  };
  const make = (name: string, decode: Decoder<Buffer>) =>
    new PipelineRunner<Buffer>(
      {
        stageName: 'collector', kafka: c.kafka, groupId: `${runId}-collector`, inputTopic: raw, outputTopics: [out], dlqTopic: dlq, codecs, decode,
        metrics: runnerMetrics(new Registry()), log: c.log.child({ instance: name }), sessionTimeoutMs: 6000,
      },
      createCollectStage({ outputTopic: out, defaultTenant: runId, maxEventBytes: 1_048_576 }),
    );

  const a = make('A', stallingDecoder);
  runners.push(a);
  await a.start();
  await waitFor('instance A to stall mid-batch', async () => stalled, (s) => s, 60_000);

  const b = make('B', rawBytes);
  runners.push(b);
  await b.start();
  // B gets the partition once A's session expires, and processes every input.
  const committed = async () => {
    const adm = c.kafka.admin();
    await adm.connect();
    try {
      return Number((await adm.fetchOffsets({ groupId: `${runId}-collector`, topics: [raw] }))[0]!.partitions[0]!.offset);
    } finally {
      await adm.disconnect();
    }
  };
  await waitFor('instance B to commit every input', committed, (o) => o === N, 90_000);

  // A wakes up and tries to commit its stale batch: fenced.
  release();
  await new Promise((r) => setTimeout(r, 5000));
  expect(await countMessages(c.kafka, out)).toBe(N);
  expect(await committed()).toBe(N);
}, 180_000);

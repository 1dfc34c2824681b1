/**
 * Graceful shutdown against the real stack: SIGTERM while a stage is busy makes it
 * stop fetching, finish and produce the in-flight batch, commit, and exit 0. After a
 * restart the group resumes from the committed offsets: every input yields exactly one
 * output, none lost and none repeated.
 */
import kafkajs from 'kafkajs';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { countMessages, isolatedEnv, testLogDir, testRun, topicName, waitFor } from './helpers.js';
import { topicMessageCount } from '../scripts/lib/probes.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('stop', () => procs);
const env = isolatedEnv(runId);
const logDir = testLogDir(runId);

test('SIGTERM mid-stream commits what was produced; a restart loses and repeats nothing', async () => {
  const N = 100_000;
  // The backlog is written first (the collector creates the topics), so the
  // collector is certainly mid-stream when it gets SIGTERM.
  const admin0 = c.kafka.admin();
  await admin0.connect();
  await admin0.createTopics({ topics: [{ topic: topicName(runId, 'logs.raw'), numPartitions: 3 }], waitForLeaders: true });
  await admin0.disconnect();
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < N; i += 5000) {
    await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: Array.from({ length: 5000 }, (_, j) => ({ value: `line ${i + j}` })) });
  }
  await producer.disconnect();
  procs = await startServices({ env, logDir, names: ['collector'] });
  await waitReady(procs);

  // Stop while the collector is still working through the backlog.
  const out = topicName(runId, 'logs.collected');
  for (let i = 0; i < 600 && (await topicMessageCount(c.kafka, out)) === 0; i++) await new Promise((r) => setTimeout(r, 50)); // any offset, marker or record, means it started
  const [collector] = procs;
  collector!.child.kill('SIGTERM');
  expect(await collector!.exited).toBe(0);
  const afterStop = await countMessages(c.kafka, out);
  console.log(`stopped after ${afterStop} of ${N}`);
  expect(afterStop).toBeLessThan(N); // the stop really came mid-stream

  expect(afterStop).toBeGreaterThan(0);
  // Output and committed offset are one transaction: nothing was produced beyond the commit.
  const admin = c.kafka.admin();
  await admin.connect();
  const committed = (await admin.fetchOffsets({ groupId: `${runId}-collector`, topics: [topicName(runId, 'logs.raw')] }))[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  await admin.disconnect();
  expect(committed).toBe(afterStop); // input offsets are plain records (no transaction markers)

  // Restart: the rest is processed once.
  procs = await startServices({ env, logDir, names: ['collector'] });
  await waitReady(procs);
  await waitFor('the collector to commit every input', async () => {
    const a = c.kafka.admin();
    await a.connect();
    const o = (await a.fetchOffsets({ groupId: `${runId}-collector`, topics: [topicName(runId, 'logs.raw')] }))[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    await a.disconnect();
    return o;
  }, (n) => n >= N, 120_000);
  await stopServices(procs);
  // Exactly N committed outputs: a repeated batch would make more, a lost one fewer.
  expect(await countMessages(c.kafka, out)).toBe(N);
}, 300_000);

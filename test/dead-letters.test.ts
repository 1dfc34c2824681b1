/**
 * Poison input against the real stack: the stage dead-letters it with a classified
 * reason and the original bytes, and goes on with the next message.
 * - collector: an empty message -> SLUICE_ERR_INPUT_EMPTY;
 * - normalizer: bytes that are not registry-framed Avro -> SLUICE_ERR_CODEC_DECODE;
 * - collector: an event the broker refuses as too large for the output topic
 *   (max.message.bytes) -> SLUICE_ERR_KAFKA_PRODUCE, instead of retrying forever.
 */
import kafkajs from 'kafkajs';
import { TopicCodecs } from '../shared/codec.js';
import type { DeadLetter, LogRecord } from '../shared/records.js';
import { startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { codecsFor, isolatedEnv, readTopic, testLogDir, testRun, topicName } from './helpers.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('dlq', () => procs);
const env = isolatedEnv(runId);
let codecs: TopicCodecs;

beforeAll(async () => {
  // A small record limit on the collector's output topic, so one large line is refused.
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topicName(runId, 'logs.collected'), numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
  await admin.disconnect();
  procs = await startServices({ env, logDir: testLogDir(runId), names: ['collector', 'normalizer'] });
  await waitReady(procs);
  codecs = await codecsFor(runId);
}, 180_000);

test('poison input becomes a dead letter with its reason and bytes, and the stages go on', async () => {
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
  // One partition key per topic so the order of poison and good input is fixed.
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [{ key: 'k', value: '' }, { key: 'k', value: 'x'.repeat(30_000) }, { key: 'k', value: '{"msg":"after the poison ones","level":"info"}' }] });
  await producer.send({ topic: topicName(runId, 'logs.collected'), acks: -1, messages: [{ key: 'k', value: garbage }] });
  await producer.disconnect();

  const letters = await Promise.all((await readTopic(c.kafka, topicName(runId, 'logs.dlq'), 3)).map(async (m) => (await codecs.decode(m.value)) as DeadLetter));
  const byCode = Object.fromEntries(letters.map((l) => [l.error_code, l]));
  expect(byCode['SLUICE_ERR_INPUT_EMPTY']).toMatchObject({ stage: 'collector', origin_topic: topicName(runId, 'logs.raw'), origin_offset: 0 });
  expect(Buffer.from(byCode['SLUICE_ERR_INPUT_EMPTY']!.original)).toEqual(Buffer.alloc(0));
  expect(byCode['SLUICE_ERR_KAFKA_PRODUCE']).toMatchObject({ stage: 'collector', origin_offset: 1 });
  expect(byCode['SLUICE_ERR_KAFKA_PRODUCE']!.message).toMatch(/exceeds .*logs\.collected's max\.message\.bytes \(20000\)/);
  expect(Buffer.from(byCode['SLUICE_ERR_KAFKA_PRODUCE']!.original).toString()).toBe('x'.repeat(30_000));
  const byStage = Object.fromEntries(letters.filter((l) => l.stage === 'normalizer').map((l) => [l.stage, l]));
  expect(byStage['normalizer']).toMatchObject({ error_code: 'SLUICE_ERR_CODEC_DECODE', origin_topic: topicName(runId, 'logs.collected') });
  expect(Buffer.from(byStage['normalizer']!.original)).toEqual(garbage);
  expect(byStage['normalizer']!.message).toMatch(/magic byte/);

  // The good line after the poison one still went through both stages.
  const normalized = await readTopic(c.kafka, topicName(runId, 'logs.normalized'), 1);
  const record = (await codecs.decode(normalized[0]!.value)) as LogRecord;
  expect(record.message).toBe('after the poison ones');
  expect(record.level).toBe('INFO');
}, 300_000);

/**
 * Kafka over TLS against the local broker's secured listeners (scripts/stack.d/kafka.sh):
 * - SSL with client certificates required: the collector runs with SLUICE_KAFKA_CA_FILE,
 *   SLUICE_KAFKA_CERT_FILE and SLUICE_KAFKA_KEY_FILE and collects a line;
 * - SASL_SSL with SCRAM-SHA-512: the collector and the normalizer run with the CA file and
 *   SCRAM credentials and carry a line through both;
 * - without the CA file the broker's certificate is refused, and without a client
 *   certificate the mutual-TLS listener refuses the client.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { createKafka } from '../shared/kafka.js';
import { createLogger } from '../shared/logger.js';
import { repoRoot } from '../shared/schemas.js';
import { startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { isolatedEnv, readTopic, testLogDir, testRun, topicName } from './helpers.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('tls', () => procs);
const tls = join(process.env['SLUICE_STACK_DIR'] || join(repoRoot(), '.stack'), 'kafka', 'tls');
const sslPort = process.env['SLUICE_KAFKA_SSL_PORT'] || '9094';
const saslSslPort = process.env['SLUICE_KAFKA_SASL_SSL_PORT'] || '9095';
const scram = process.env['SLUICE_KAFKA_SCRAM_PASSWORD'] || 'sluice-local-scram';
const base = { clientId: 'sluice-test', saslMechanism: '', saslUsername: undefined, saslPassword: undefined, ssl: false, topicPartitions: 1, topicReplication: 1, createTopics: true };

async function canConnect(settings: Parameters<typeof createKafka>[0]): Promise<string> {
  const admin = createKafka(settings, 'tls-probe', createLogger('tls', 'silent')).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.listTopics();
    return 'connected';
  } catch (err) {
    return String((err as Error).message);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function produceRaw(line: string): Promise<void> {
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [{ value: line }] });
  await producer.disconnect();
}

test('without the CA the broker certificate is refused; without a client certificate mutual TLS refuses the client', async () => {
  expect(await canConnect({ ...base, brokers: [`127.0.0.1:${saslSslPort}`], ssl: true, saslMechanism: 'scram-sha-512', saslUsername: 'sluice', saslPassword: scram })).toMatch(/self.signed|unable to verify|certificate/i);
  expect(await canConnect({ ...base, brokers: [`127.0.0.1:${saslSslPort}`], caFile: join(tls, 'ca.pem'), saslMechanism: 'scram-sha-512', saslUsername: 'sluice', saslPassword: scram })).toBe('connected');
  expect(await canConnect({ ...base, brokers: [`127.0.0.1:${sslPort}`], caFile: join(tls, 'ca.pem') })).not.toBe('connected');
  expect(await canConnect({ ...base, brokers: [`127.0.0.1:${saslSslPort}`], caFile: join(tls, 'ca.pem'), saslMechanism: 'scram-sha-512', saslUsername: 'sluice', saslPassword: 'wrong' })).toMatch(/SASL|authentication/i);
}, 120_000);

test('the collector over mutual TLS and the collector and normalizer over SASL_SSL (SCRAM) carry a line', async () => {
  const mtls = isolatedEnv(`${runId}m`, { SLUICE_KAFKA_BROKERS: `127.0.0.1:${sslPort}`, SLUICE_KAFKA_CA_FILE: join(tls, 'ca.pem'), SLUICE_KAFKA_CERT_FILE: join(tls, 'client.pem'), SLUICE_KAFKA_KEY_FILE: join(tls, 'client.key') });
  const sasl = isolatedEnv(runId, { SLUICE_KAFKA_BROKERS: `127.0.0.1:${saslSslPort}`, SLUICE_KAFKA_CA_FILE: join(tls, 'ca.pem'), SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512', SLUICE_KAFKA_SASL_USERNAME: 'sluice', SLUICE_KAFKA_SASL_PASSWORD: scram });
  procs = [
    ...(await startServices({ env: mtls, logDir: testLogDir(`${runId}m`), names: ['collector'] })),
    ...(await startServices({ env: sasl, logDir: testLogDir(runId), names: ['collector', 'normalizer'] })),
  ];
  await waitReady(procs);
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: topicName(`${runId}m`, 'logs.raw'), acks: -1, messages: [{ value: '{"msg":"over mutual TLS","level":"info"}' }] });
  await producer.disconnect();
  await produceRaw('{"msg":"over SASL_SSL","level":"warn"}');
  expect(await readTopic(c.kafka, topicName(`${runId}m`, 'logs.collected'), 1)).toHaveLength(1);
  expect(await readTopic(c.kafka, topicName(runId, 'logs.normalized'), 1)).toHaveLength(1);
  // The SCRAM password is never in a service log.
  for (const p of procs) expect(readFileSync(p.logFile, 'utf8')).not.toContain(scram);
}, 240_000);

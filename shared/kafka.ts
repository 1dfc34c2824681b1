/**
 * Kafka clients (kafkajs) built from the common configuration, kafkajs's own logs
 * routed to pino, and topic creation at start.
 */
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient, KafkaConfig, logCreator, SASLOptions } from 'kafkajs';
import type { Logger } from './logger.js';
import type { ConfigOf } from './config.js';
import type { kafkaSchema } from './common-config.js';
import { applyKafkajsPatches } from './kafkajs-patches.js';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from './errors.js';

const { Kafka, logLevel } = kafkajs;
applyKafkajsPatches();
export type { KafkaClient };

type TlsFiles = 'caFile' | 'certFile' | 'keyFile' | 'keyPassword';
/** The Kafka settings (shared/common-config.ts); the TLS files may be left out. */
type KafkaSettings = Omit<ConfigOf<typeof kafkaSchema>, TlsFiles> & Partial<Pick<ConfigOf<typeof kafkaSchema>, TlsFiles>>;

/**
 * kafkajs's `ssl`: false, true (system CAs), or Node TLS options with the CA, client
 * certificate and key read from their files (any of them turns TLS on). A certificate
 * without its key (or the reverse) is a ConfigError.
 */
export function tlsOptions(s: Pick<KafkaSettings, 'ssl' | TlsFiles>): boolean | ConnectionOptions {
  if (!s.caFile && !s.certFile && !s.keyFile) return s.ssl;
  if (Boolean(s.certFile) !== Boolean(s.keyFile)) throw new ConfigError('SLUICE_KAFKA_CERT_FILE and SLUICE_KAFKA_KEY_FILE go together: set both or neither');
  const o: ConnectionOptions = {};
  if (s.caFile) o.ca = [readFileSync(s.caFile, 'utf8')];
  if (s.certFile) o.cert = readFileSync(s.certFile, 'utf8');
  if (s.keyFile) o.key = readFileSync(s.keyFile, 'utf8');
  if (s.keyPassword) o.passphrase = s.keyPassword;
  return o;
}

function pinoLogCreator(log: Logger): logCreator {
  return () => ({ level, log: entry }) => {
    const { message, ...rest } = entry;
    // kafkajs reports every retried request at ERROR; its own retries handle them, so
    // they are warnings to us. The runner logs what an operator must act on.
    if (level === logLevel.ERROR || level === logLevel.WARN) log.warn({ kafkajs: rest }, `kafkajs: ${message}`);
    else if (level === logLevel.INFO) log.debug({ kafkajs: rest }, `kafkajs: ${message}`);
  };
}

export function createKafka(settings: KafkaSettings, service: string, log: Logger): KafkaClient {
  const config: KafkaConfig = {
    clientId: `${settings.clientId}-${service}`,
    brokers: [...settings.brokers],
    ssl: tlsOptions(settings),
    logLevel: logLevel.INFO,
    logCreator: pinoLogCreator(log.child({ component: 'kafkajs' })),
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 },
  };
  if (settings.saslMechanism) {
    config.sasl = {
      mechanism: settings.saslMechanism,
      username: settings.saslUsername ?? '',
      password: settings.saslPassword ?? '',
    } as SASLOptions;
  }
  return new Kafka(config);
}

/**
 * Create the topics that do not exist yet. Existing topics keep their partition count
 * (growing it would move keys between partitions and break per-key ordering).
 */
export async function ensureTopics(kafka: KafkaClient, topics: readonly string[], partitions: number, replication: number, log: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: replication })),
    });
    log.info({ topics: missing, partitions, replication }, 'created topics');
  } finally {
    await admin.disconnect();
  }
}

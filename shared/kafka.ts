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

const { Kafka, logLevel } = kafkajs;
applyKafkajsPatches();
export type { KafkaClient };

type KafkaSettings = ConfigOf<typeof kafkaSchema>;

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
    ssl: settings.ssl,
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

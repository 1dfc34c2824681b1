/**
 * What every service does around its runner(s): logger, metrics, admin endpoints,
 * Kafka client, schema registration, topic creation, and the one shutdown order
 * (stop fetching -> drain -> flush -> commit -> close) under a deadline.
 *
 * It never reads the environment and never exits: each service's main.ts passes the
 * parsed configuration in and decides about the process.
 */
import { createLogger, type Logger } from './logger.js';
import { Registry, runnerMetrics, type RunnerMetrics } from './metrics.js';
import { startAdminEndpoints, type AdminServer } from './admin-server.js';
import { createKafka, ensureTopics, type KafkaClient } from './kafka.js';
import { createRegistry, registryOptions } from './registry.js';
import { TopicCodecs } from './codec.js';
import { redacted, type ConfigOf, type Schema } from './config.js';
import type { commonSchema } from './common-config.js';
import { errorMessage, SluiceError } from './errors.js';
import { withRetry } from './retry.js';
import { PipelineRunner, topicsOf, type AnyStageBinding, type StageBinding } from './runner/index.js';

export type CommonConfig = ConfigOf<typeof commonSchema>;

export interface Runnable {
  isReady(): boolean;
  /** False once the runnable stopped for good (default: alive). */
  isAlive?(): boolean;
  /** Resolves when the runnable stopped for good (a dead consumer). */
  readonly failed?: Promise<Error>;
  shutdown(): Promise<void>;
}

export interface ServiceContext {
  name: string;
  log: Logger;
  kafka: KafkaClient;
  codecs: TopicCodecs;
  metrics: RunnerMetrics;
  registry: Registry;
}

export interface RunningService {
  readonly adminPort: number;
  /** Idempotent; resolves when the shutdown order has run (or its deadline passed). */
  shutdown(reason: string): Promise<void>;
  /** Resolves when a runner stopped for good: main.ts shuts down and exits non-zero. */
  readonly failed: Promise<Error>;
}

export async function startService<S extends Schema>(opts: {
  name: string;
  schema: S;
  config: ConfigOf<S> & CommonConfig;
  adminPort: number;
  /** Topics this service reads or writes; created when missing. */
  topics: string[];
  /** The metrics registry (default: a new one). */
  registry?: Registry | undefined;
  start: (ctx: ServiceContext) => Promise<Runnable[]>;
}): Promise<RunningService> {
  const { name, config } = opts;
  const log = createLogger(name, config.logLevel);
  log.info({ config: redacted(opts.schema, config) }, `${name} starting`);
  const registry = opts.registry ?? new Registry();
  const metrics = runnerMetrics(registry);
  const runnables: Runnable[] = [];
  let ready = false;
  // Logs where it listens, and warns when that is wider than loopback.
  const admin: AdminServer = await startAdminEndpoints({
    host: config.adminHost,
    port: opts.adminPort,
    registry,
    ready: () => ready && runnables.every((r) => r.isReady()),
    alive: () => runnables.every((r) => r.isAlive?.() ?? true),
    log,
  });

  const kafka = createKafka(config, name, log);
  // The stack may still be starting: wait for Kafka and the registry rather than crash-loop.
  const untilUp = <T>(what: string, op: () => Promise<T>) =>
    withRetry(op, {
      // Anything unclassified may be the stack still starting; a classified permanent error
      // (a refused certificate or credential) will not heal by waiting.
      retryable: (err) => !(err instanceof SluiceError) || err.retryable,
      maxAttempts: 30,
      onRetry: (err, attempt) => log.warn({ attempt, err: errorMessage(err) }, `${what} not reachable yet; retrying`),
    });
  if (config.createTopics) {
    await untilUp('kafka', () => ensureTopics(kafka, opts.topics, config.topicPartitions, config.topicReplication, log));
  }
  const schemaRegistry = createRegistry(registryOptions(config));
  const codecs = await untilUp('schema registry', () => TopicCodecs.register(schemaRegistry, config));

  runnables.push(...(await opts.start({ name, log, kafka, codecs, metrics, registry })));
  ready = true;
  log.info(`${name} running`);

  let stopping: Promise<void> | undefined;
  // Promise.race of none never settles: a service without such runnables never fails this way.
  const failed = Promise.race(runnables.flatMap((r) => (r.failed ? [r.failed] : [])));
  return {
    adminPort: admin.port,
    failed,
    shutdown(reason: string) {
      stopping ??= (async () => {
        ready = false;
        log.info({ reason }, 'shutdown: stop fetching, drain, flush, commit, close');
        const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref());
        const work = Promise.allSettled(runnables.map((r) => r.shutdown())).then((results) => {
          for (const r of results) if (r.status === 'rejected') log.error({ err: errorMessage(r.reason) }, 'shutdown step failed');
          return 'done' as const;
        });
        const outcome = await Promise.race([work, deadline]);
        if (outcome === 'timeout') log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline passed; exiting with uncommitted work (it will be redelivered)');
        await admin.close();
        log.info({ received: await metrics.received.total(), sent: await metrics.sent.total(), dlq: await metrics.dlq.total() }, `${name} stopped`);
      })();
      return stopping;
    },
  };
}

/**
 * A Kafka -> Kafka service: its stages (services/<name>/stages.ts), each run by a
 * PipelineRunner of its own consumer group. Collector, normalizer and enricher are all
 * this shape.
 */
export function startPipelineService<S extends Schema>(opts: {
  name: string;
  schema: S;
  config: ConfigOf<S> & CommonConfig & { adminPort: number };
  stages: ReadonlyArray<AnyStageBinding>;
  /** The metrics registry, when a stage's observers already feed metrics of it. */
  registry?: Registry;
}): Promise<RunningService> {
  const { config } = opts;
  return startService({
    name: opts.name,
    schema: opts.schema,
    config,
    adminPort: config.adminPort,
    registry: opts.registry,
    topics: topicsOf(opts.stages, config.topicDlq),
    start: async (ctx) => {
      const runners: Runnable[] = [];
      for (const b of opts.stages as ReadonlyArray<StageBinding<unknown>>) {
        const runner = new PipelineRunner<unknown>(
          { stageName: b.name, kafka: ctx.kafka, groupId: b.groupId, inputTopic: b.inputTopic, outputTopics: b.outputTopics, upstream: b.upstream, dlqTopic: config.topicDlq, codecs: ctx.codecs, decode: b.decode, metrics: ctx.metrics, log: ctx.log },
          b.stage,
        );
        await runner.start();
        runners.push(runner);
      }
      return runners;
    },
  });
}

/**
 * What the benchmarks (scripts/bench-*.ts) share: their numeric options, figures, CPU
 * time and medians, and the frame of a through-Kafka part (an isolated run's client,
 * environment and backlog; skipped unless wanted) and of `main`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { createKafka, type KafkaClient } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { deleteKafkaRun } from './probes.js';
import { stackIsUp } from './stack.js';
import { repoRoot } from '../../shared/schemas.js';

/** The value of option `name` (`--rows 2000`) when it is a positive number; else `fallback`. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The word after option `name` (`--scenario backfill`); undefined when the option is absent. */
export function argString(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? '') : undefined;
}

/** A rate or count as printed: rounded, with thousands separators. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The middle value (the upper one of an even count); `xs` is left as it is. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** User + system CPU seconds of this process so far: per core, whatever else the machine does. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** USER_HZ on Linux: the unit of /proc/<pid>/stat CPU times. */
const HZ = 100;

/** A process's /proc/<pid>/stat fields after its name (index 0 = state), or null once it ended. */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU seconds of one process (all its threads) so far; NaN once it ended. */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / HZ : NaN;
}

/** CPU seconds used so far by every process of a process group (the stack starts each server with setsid). */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (f && Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / HZ;
}

/** The process group scripts/stack recorded for one of its servers (kafka, elasticsearch, ...), or 0. */
export function stackPgid(name: string): number {
  const f = join(repoRoot(), '.stack', 'run', `${name}.pid`);
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0;
}

/**
 * Environment for services isolated to one run, as test/helpers.ts isolatedEnv (not
 * imported: test/ is not compiled to dist/): topics `<run>.<name>`, and for each of
 * `groups` (COLLECTOR, ENRICHER_TRACES, ...) the group `<run>-<collector, enricher-traces, ...>`.
 */
export function isolatedEnv(runId: string, groups: readonly string[]): NodeJS.ProcessEnv {
  const topics = { RAW: 'logs.raw', COLLECTED: 'logs.collected', DELAYED: 'logs.collected.delayed', NORMALIZED: 'logs.normalized', ENRICHED: 'logs.enriched', METRICS: 'metrics.derived', SPANS: 'traces.spans', TRACES: 'traces.summaries', DLQ: 'logs.dlq' };
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_LOG_LEVEL: 'warn' };
  for (const [k, v] of Object.entries(topics)) env[`SLUICE_TOPIC_${k}`] = `${runId}.${v}`;
  for (const g of groups) env[`SLUICE_${g}_GROUP`] = `${runId}-${g.toLowerCase().replace(/_/g, '-')}`;
  // The enricher's idle check follows the run's collector and normalizer groups.
  env['SLUICE_ENRICHER_UPSTREAM_GROUPS'] = `${runId}-collector,${runId}-normalizer`;
  return env;
}

/** A Kafka client of the local stack (or $SLUICE_KAFKA_BROKERS), and its logger. */
export function benchKafka(): { kafka: KafkaClient; log: Logger } {
  const log = createLogger('bench', 'warn');
  const brokers = (process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');
  const kafka = createKafka({ brokers, clientId: 'sluice-bench', saslMechanism: '', saslUsername: undefined, saslPassword: undefined, ssl: false, topicPartitions: 3, topicReplication: 1, createTopics: true }, 'bench', log);
  return { kafka, log };
}

/** Produce messages 0 to n - 1 of `message` to `topic`, in order, 2000 per send (acks all). */
export async function produceAll(kafka: KafkaClient, topic: string, n: number, message: (i: number) => { key: string; value: Buffer }): Promise<void> {
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const batch = 2000;
    for (let i = 0; i < n; i += batch) {
      const messages = [];
      for (let j = i; j < Math.min(n, i + batch); j++) messages.push(message(j));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Delete a run's topics and groups; a failure is printed, not thrown. */
export function deleteRun(kafka: KafkaClient, runId: string): Promise<void> {
  return deleteKafkaRun(kafka, runId).catch((err: unknown) => console.error(`cleanup of ${runId}.* failed: ${String(err)}`));
}

/** The through-Kafka part, when wanted: with --kafka, or when `scripts/stack status` exits 0 and --no-kafka is not given. */
export async function throughKafkaIfWanted(part: () => Promise<void>): Promise<void> {
  const wantKafka = process.argv.includes('--kafka') || (!process.argv.includes('--no-kafka') && stackIsUp());
  if (wantKafka) await part();
  else console.log('\n(through-Kafka part skipped: `scripts/stack status` is not up; pass --kafka to force it)');
}

/** Run a benchmark's `main`; an error is printed and makes the exit code 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

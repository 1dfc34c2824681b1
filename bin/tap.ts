/**
 * `sluice tap STAGE|TOPIC`: live records of one of the pipeline's topics, decoded, filtered
 * by the same field tests as sluice.yaml routes, printed as NDJSON or a compact table.
 *
 * Read-only and bounded: it reads with a consumer group of its own (`sluice-tap-<host>-
 * <pid>-<time>`, deleted when it stops), never commits offsets, so it cannot move any of
 * the pipeline's groups; it stops after --limit matching records or --timeout seconds.
 * Avro values (Confluent framing) are decoded with the writer's schema from the registry;
 * other values (logs.raw) are shown as text, with the Kafka headers.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type avro from 'avsc';
import type { KafkaClient } from '../shared/kafka.js';
import type { SchemaRegistryPort } from '../shared/registry.js';
import { compileWhen, type FieldTest } from '../shared/routing.js';
import { ErrorCodes, SluiceError } from '../shared/errors.js';

/** Stage names a user types, and the topic setting each reads. */
export const TAP_STAGES = {
  raw: 'topicRaw',
  collected: 'topicCollected',
  normalized: 'topicNormalized',
  enriched: 'topicEnriched',
  metrics: 'topicMetrics',
  spans: 'topicSpans',
  traces: 'topicTraces',
  dlq: 'topicDlq',
} as const;

export interface TapOptions {
  where?: string[];
  limit: string;
  timeout: string;
  format: string;
  fromBeginning?: boolean;
}

export const TAP_HELP = `
STAGE is one of ${Object.keys(TAP_STAGES).join(', ')}
(the topic that stage's records are on, from the same settings as the services), or a
topic name. --where FIELD=V1,V2 keeps records
whose field is one of the values; --where FIELD~REGEX those whose field matches (bounded
regex); several --where must all hold. FIELD is a dotted path into the decoded record
(service, level, tenant, message, http.status, attributes.<key>, labels.<key>; on
logs.raw: tenant, service, format from the headers and message, the line).
Reads with a group of its own, never commits, deletes the group when it stops.

Examples:
  sluice tap enriched --where level=ERROR,FATAL --where service=checkout
  sluice tap raw --where tenant=acme --format table --limit 20
  sluice tap dlq --from-beginning --timeout 10
  sluice tap --topic logs.normalized --where level=ERROR --limit 5`;

/** `--where` flags to route-style field tests; throws Error with the flag's problem. */
export function parseWhere(flags: readonly string[]): Record<string, FieldTest> {
  const when: Record<string, FieldTest> = {};
  for (const f of flags) {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)(=|~)(.*)$/.exec(f);
    if (!m) throw new Error(`--where ${JSON.stringify(f)}: expected FIELD=VALUE[,VALUE...] or FIELD~REGEX`);
    const [, field, op, rest] = m as unknown as [string, string, string, string];
    if (field in when) throw new Error(`--where: ${field} is given twice`);
    when[field] = op === '~' ? { match: rest } : rest.split(',');
  }
  return when;
}

export interface Tapped {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  headers?: Record<string, string>;
  value: unknown;
}

/** The compact table line of a record: LogRecords as time, level, service, tenant, message; others as JSON. */
export function tableLine(t: Tapped, width = 160): string {
  const v = t.value as Record<string, unknown>;
  const cut = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s);
  if (v && typeof v === 'object' && typeof v['message'] === 'string' && typeof v['level'] === 'string') {
    const ts = typeof v['timestamp'] === 'number' ? new Date(Math.floor((v['timestamp'] as number) / 1000)).toISOString() : String(v['timestamp'] ?? '');
    return cut(`${ts} ${String(v['level']).padEnd(5)} ${String(v['service'] ?? '-')} [${String(v['tenant'] ?? '-')}] ${(v['message'] as string).replace(/\n/g, '⏎')}`);
  }
  return cut(`${t.partition}/${t.offset} ${JSON.stringify(v)}`);
}

/** JSON-safe: Buffers as base64, bigints as strings. */
function jsonSafe(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('base64');
  return typeof v === 'bigint' ? v.toString() : v;
}

export function ndjsonLine(t: Tapped): string {
  return JSON.stringify(t, jsonSafe);
}

/**
 * Tap `topic` until `limit` records matched, `timeoutMs` passed (0: no timeout) or
 * `signal` aborts; each match goes to `out`. Returns how many were read and matched.
 * A registry that refuses the certificate or the credentials (SLUICE_ERR_REGISTRY_TLS /
 * _AUTH) ends the tap with that error at once instead of kafkajs retrying the batch.
 */
export async function tap(opts: {
  kafka: KafkaClient;
  registry: Pick<SchemaRegistryPort, 'avroType'>;
  topic: string;
  when: Record<string, FieldTest>;
  limit: number;
  timeoutMs: number;
  fromBeginning: boolean;
  out: (t: Tapped) => void | Promise<void>;
  signal?: AbortSignal;
}): Promise<{ read: number; matched: number }> {
  const matches = compileWhen(opts.when);
  const types = new Map<number, avro.Type>();
  const groupId = `sluice-tap-${hostname()}-${process.pid}-${Date.now()}`;
  const consumer = opts.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  let read = 0;
  let matched = 0;
  let fatal: SluiceError | undefined;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const timer = opts.timeoutMs > 0 ? setTimeout(finish, opts.timeoutMs) : undefined;
  opts.signal?.addEventListener('abort', finish, { once: true });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: opts.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (matched >= opts.limit) return;
          read++;
          const raw = m.value ?? Buffer.alloc(0);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
          let value: unknown;
          let subject: object;
          if (raw.length >= 5 && raw[0] === 0) {
            const id = raw.readInt32BE(1);
            let type = types.get(id);
            if (!type) {
              try {
                types.set(id, (type = await opts.registry.avroType(id)));
              } catch (err) {
                if (err instanceof SluiceError && (err.code === ErrorCodes.registryTls || err.code === ErrorCodes.registryAuth)) {
                  fatal = err;
                  finish();
                  return;
                }
                throw err;
              }
            }
            value = type.fromBuffer(raw.subarray(5));
            subject = value as object;
          } else {
            value = raw.toString('utf8');
            subject = { tenant: headers['tenant'], service: headers['service'], format: headers['format'], message: value };
          }
          if (!matches(subject)) continue;
          matched++;
          await opts.out({ topic: batch.topic, partition: batch.partition, offset: m.offset, timestamp: new Date(Number(m.timestamp)).toISOString(), ...(typeof value === 'string' ? { headers } : {}), value });
          if (matched >= opts.limit) finish();
        }
      },
    });
    await done;
    if (fatal) throw fatal;
  } finally {
    if (timer) clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const admin = opts.kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return { read, matched };
}

/** Number flags of `sluice tap`, or a usage error. */
export function tapNumbers(opts: TapOptions, cmd: Command): { limit: number; timeoutMs: number } {
  const usage = (text: string): never => cmd.error(text, { exitCode: 2, code: 'sluice.usage' });
  const limit = Number(opts.limit);
  if (!/^\d+$/.test(opts.limit) || limit < 1 || limit > 1_000_000) usage(`sluice tap: --limit must be a whole number from 1 to 1000000, got ${JSON.stringify(opts.limit)}`);
  const timeout = Number(opts.timeout);
  if (!/^\d+$/.test(opts.timeout) || timeout > 86_400) usage(`sluice tap: --timeout must be whole seconds from 0 (none) to 86400, got ${JSON.stringify(opts.timeout)}`);
  if (opts.format !== 'ndjson' && opts.format !== 'table') usage(`sluice tap: --format must be ndjson or table, got ${JSON.stringify(opts.format)}`);
  return { limit, timeoutMs: timeout * 1000 };
}


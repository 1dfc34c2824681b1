/**
 * `sluice dlq` against the real stack: the real collector and normalizer dead-letter
 * an empty message and a non-Avro message into this run's DLQ topic; the built CLI
 * lists them (NDJSON) and replays the normalizer's one to its origin topic, once, with
 * the `sluice-replayed-from` header pointing back at the dead letter; the collector's one
 * (a raw line sent with tenant, service and format headers) goes back to logs.raw with
 * those headers restored, so it lands in its own tenant again.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { DeadLetterLine } from '../shared/dlq.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { cleanup, clients, isolatedEnv, newRunId, readTopic, topicName } from './helpers.js';

const { Partitioners } = kafkajs;
const runId = newRunId('dlqcli');
const c = clients('dlqcli');
const env = isolatedEnv(runId);
const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');
const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
let procs: ServiceProcess[] = [];
const originHeaders = { tenant: 'acme-dlq', service: 'billing', format: 'json' };

async function sluice(args: string[], extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`sluice ${args.join(' ')} exited ${String(e.code)}: ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

beforeAll(async () => {
  procs = await startServices({ env, logDir: join(repoRoot(), '.stack', 'logs', 'test', runId), names: ['collector', 'normalizer'] });
  await waitReady(procs);
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [{ key: 'k', value: '', headers: originHeaders }] });
  await producer.send({ topic: topicName(runId, 'logs.collected'), acks: -1, messages: [{ key: 'k', value: garbage }] });
  await producer.disconnect();
  // Both dead letters are in before the CLI runs (it reads up to the end at its start).
  await readTopic(c.kafka, topicName(runId, 'logs.dlq'), 2);
  // Stop the stages: the replayed garbage must stay in logs.collected for the assertion, not become a new dead letter meanwhile.
  await stopServices(procs);
  procs = [];
}, 240_000);

afterAll(async () => {
  await stopServices(procs);
  await cleanup(c, runId, runId).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
}, 120_000);

let lines: DeadLetterLine[] = [];

test('dlq list --json prints one line per dead letter and the table by stage and code', async () => {
  const { stdout, stderr } = await sluice(['dlq', 'list', '--json', '--with-original']);
  lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as DeadLetterLine);
  const counts: Record<string, number> = {};
  for (const l of lines) counts[`${l.stage}/${l.error_code}`] = (counts[`${l.stage}/${l.error_code}`] ?? 0) + 1;
  expect(counts).toEqual({ 'collector/SLUICE_ERR_INPUT_EMPTY': 1, 'normalizer/SLUICE_ERR_CODEC_DECODE': 1 });
  const normalizer = lines.find((l) => l.stage === 'normalizer')!;
  expect(normalizer).toMatchObject({ dlq_topic: topicName(runId, 'logs.dlq'), origin_topic: topicName(runId, 'logs.collected'), origin_key_base64: Buffer.from('k').toString('base64'), original_size: garbage.length, original_truncated: false, original_base64: garbage.toString('base64') });
  expect(normalizer.origin_headers).toEqual({});
  expect(lines.find((l) => l.stage === 'collector')!.origin_headers).toEqual(originHeaders);
  expect(normalizer.failed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  // The table goes to stderr with --json, so stdout stays NDJSON.
  expect(stderr).toMatch(/collector\s+SLUICE_ERR_INPUT_EMPTY\s+1\s/);
  expect(stderr).toMatch(/normalizer\s+SLUICE_ERR_CODEC_DECODE\s+1\s/);

  const filtered = await sluice(['dlq', 'list', '--stage', 'collector']);
  expect(filtered.stdout).toMatch(/collector\s+SLUICE_ERR_INPUT_EMPTY\s+1\s.*empty message/);
  expect(filtered.stdout).not.toContain('normalizer');
  expect(filtered.stdout).toContain('1 dead letters matched of 2 read');
}, 180_000);

test('dlq list on a missing topic says so and succeeds', async () => {
  const { stdout, stderr } = await sluice(['dlq', 'list', '--json'], { SLUICE_TOPIC_DLQ: topicName(runId, 'no-such-dlq') });
  expect(stdout).toBe('');
  expect(stderr).toMatch(/does not exist/);
}, 120_000);

test('dlq replay sends the chosen originals back once, traceable by header', async () => {
  const dryRun = await sluice(['dlq', 'replay', '--stage', 'normalizer', '--code', 'codec_decode', '--dry-run']);
  expect(dryRun.stdout).toContain(`would replay 1 to ${topicName(runId, 'logs.collected')}`);

  const { stdout } = await sluice(['dlq', 'replay', '--stage', 'normalizer', '--code', 'SLUICE_ERR_CODEC_DECODE']);
  expect(stdout.trim()).toBe(`replayed 1 to ${topicName(runId, 'logs.collected')}`);

  const letter = lines.find((l) => l.stage === 'normalizer')!;
  const collected = await readTopic(c.kafka, topicName(runId, 'logs.collected'), 2);
  const replayed = collected.filter((m) => m.headers['sluice-replayed-from'] !== undefined);
  expect(replayed).toHaveLength(1);
  expect(replayed[0]!.value).toEqual(garbage);
  expect(replayed[0]!.key?.toString()).toBe('k');
  expect(replayed[0]!.headers['sluice-replayed-from']).toBe(`${letter.dlq_topic}/${letter.dlq_partition}/${letter.dlq_offset}`);
  // Nothing else arrived: the original garbage plus exactly one replay (plain produces, so offsets count messages).
  expect(collected.filter((m) => m.value.equals(garbage))).toHaveLength(2);
  const admin = c.kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topicName(runId, 'logs.collected'));
  await admin.disconnect();
  expect(offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)).toBe(2);
}, 180_000);

test('dlq replay restores the original tenant, service and format headers', async () => {
  const { stdout } = await sluice(['dlq', 'replay', '--stage', 'collector', '--code', 'INPUT_EMPTY']);
  expect(stdout.trim()).toBe(`replayed 1 to ${topicName(runId, 'logs.raw')}`);
  const letter = lines.find((l) => l.stage === 'collector')!;
  const raw = await readTopic(c.kafka, topicName(runId, 'logs.raw'), 2);
  const replayed = raw.filter((m) => m.headers['sluice-replayed-from'] !== undefined);
  expect(replayed).toHaveLength(1);
  expect(replayed[0]!.headers).toEqual({ ...originHeaders, 'sluice-replayed-from': `${letter.dlq_topic}/${letter.dlq_partition}/${letter.dlq_offset}` });
  expect(replayed[0]!.key?.toString()).toBe('k');
}, 180_000);

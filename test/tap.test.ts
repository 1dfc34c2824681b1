/**
 * Issue #12 (3): `sluice tap` against the real stack. Avro records of a stage's topic are
 * decoded and filtered by the same field tests as routes; raw lines shown with their
 * headers; the tap is read-only (its own group, no committed offsets, the group deleted
 * when it stops) and bounded (--limit, --timeout).
 */
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import { logRecord } from '../shared/testing/records.js';
import type { LogRecord } from '../shared/records.js';
import { codecsFor, isolatedEnv, testRun, topicName } from './helpers.js';

const { Partitioners } = kafkajs;
const { runId, c } = testRun('tap', () => []);
const env = isolatedEnv(runId);
const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');

function sluice(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

async function groupsOfTap(): Promise<string[]> {
  const admin = c.kafka.admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith('sluice-tap-'));
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: ['logs.normalized', 'logs.raw'].map((t) => ({ topic: topicName(runId, t), numPartitions: 2 })) });
  await admin.disconnect();
  const codecs = await codecsFor(runId);
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const recs: LogRecord[] = [
    logRecord({ event_id: 'e1', level: 'INFO', service: 'web', message: 'ok', tenant: 'acme' }),
    logRecord({ event_id: 'e2', level: 'ERROR', service: 'web', message: 'payment failed: card declined', tenant: 'acme' }),
    logRecord({ event_id: 'e3', level: 'ERROR', service: 'db', message: 'deadlock', tenant: 'globex' }),
  ];
  await producer.send({ topic: topicName(runId, 'logs.normalized'), acks: -1, messages: recs.map((r) => ({ key: r.service, value: codecs.encode(topicName(runId, 'logs.normalized'), r) })) });
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [{ value: 'plain line one', headers: { tenant: 'acme' } }, { value: 'plain line two', headers: { tenant: 'globex' } }] });
  await producer.disconnect();
}, 60_000);

test('decoded LogRecords, filtered by field tests, bounded by --limit; read-only', async () => {
  const r = await sluice(['tap', '--topic', topicName(runId, 'logs.normalized'), '--from-beginning', '--where', 'level=ERROR', '--where', 'message~card|deadlock', '--limit', '5', '--timeout', '6']);
  expect(r.status).toBe(0);
  const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; value: LogRecord });
  expect(got.map((g) => g.value.event_id).sort()).toEqual(['e2', 'e3']);
  expect(got[0]!.topic).toBe(topicName(runId, 'logs.normalized'));
  expect(r.stderr).toContain(`2 matched of 3 read from ${topicName(runId, 'logs.normalized')}`);

  const one = await sluice(['tap', 'normalized', '--from-beginning', '--where', 'tenant=globex', '--format', 'table', '--limit', '1', '--timeout', '15']);
  expect(one.stdout.trim().split('\n')).toHaveLength(1);
  expect(one.stdout).toMatch(/ERROR db \[globex\] deadlock$/m);

  // No group left behind (a tap never commits: its group holds no offsets while it runs, and is deleted after).
  expect(await groupsOfTap()).toEqual([]);
}, 90_000);

test('raw lines with their headers, filtered on the tenant header', async () => {
  const r = await sluice(['tap', topicName(runId, 'logs.raw'), '--from-beginning', '--where', 'tenant=globex', '--limit', '1', '--timeout', '15']);
  expect(r.status).toBe(0);
  const line = JSON.parse(r.stdout.trim()) as { headers: Record<string, string>; value: string };
  expect(line).toMatchObject({ headers: { tenant: 'globex' }, value: 'plain line two' });
}, 60_000);

test('an unknown stage and a bad --where are refused', async () => {
  const none = await sluice(['tap', 'nosuch', '--timeout', '1']);
  expect([none.status, none.stderr]).toEqual([1, expect.stringContaining('sluice tap: no topic nosuch')]);
  const bad = await sluice(['tap', 'raw', '--where', 'level']);
  expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('--where "level": expected FIELD=VALUE')]);
  const both = await sluice(['tap', 'raw', '--topic', 'x']);
  expect([both.status, both.stderr]).toEqual([2, expect.stringContaining('give a STAGE or --topic NAME')]);
}, 30_000);

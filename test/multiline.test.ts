/**
 * Multi-line events across Kafka messages, against the real stack: a shipper sends stack
 * traces one line per message, two streams interleaved. The collector merges each trace
 * into one event, and a SIGKILL while traces are half-read (held in memory) loses and
 * repeats nothing: the committed checkpoint lets the restarted collector rebuild them.
 */
import kafkajs from 'kafkajs';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { codecsFor, countMessages, isolatedEnv, readTopic, testLogDir, testRun, topicName, waitFor } from './helpers.js';
import type { RawEvent } from '../shared/records.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('mline', () => procs);
const logDir = testLogDir(runId);

/** Events of one stream: a log line, sometimes followed by a Java trace. Every line unique. */
function eventsOf(host: string, n: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const lines = [`2024-11-21 10:00:${String(i % 60).padStart(2, '0')},123 ERROR [main] ${host} request ${i} failed`];
    if (i % 3 !== 2) {
      lines.push(`java.lang.IllegalStateException: ${host} boom ${i}`);
      for (let f = 0; f < 1 + (i % 5); f++) lines.push(`\tat com.acme.${host}.Handler.step${f}(Handler.java:${i})`);
      if (i % 4 === 0) lines.push(`Caused by: java.io.IOException: ${host} closed ${i}`, `\t... ${i % 7} more`);
    }
    out.push(lines);
  }
  return out;
}

async function committed(group: string, topic: string): Promise<{ offset: number; metadata: string | null }> {
  const admin = c.kafka.admin();
  await admin.connect();
  try {
    const p = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions[0]!;
    return { offset: Number(p.offset), metadata: p.metadata ?? null };
  } finally {
    await admin.disconnect();
  }
}

test('traces sent one line per message merge into one event each; SIGKILL mid-trace loses and repeats nothing', async () => {
  const raw = topicName(runId, 'logs.raw');
  const group = `${runId}-collector`;
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: raw, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  // Two hosts, interleaved line by line; each host's lines keep their order.
  const streams = { 'host-a': eventsOf('host-a', 60), 'host-b': eventsOf('host-b', 45) };
  const queues = Object.entries(streams).map(([host, events]) => ({ host, lines: events.flat() }));
  const messages: Array<{ key: string; value: string }> = [];
  for (let i = 0; queues.some((q) => q.lines.length > 0); i++) {
    const q = queues[i % 3 === 2 ? 1 : 0]!.lines.length > 0 ? queues[i % 3 === 2 ? 1 : 0]! : queues.find((x) => x.lines.length > 0)!;
    messages.push({ key: q.host, value: q.lines.shift()! });
  }
  // Cut in the middle of a trace of each host: the first part is read before the kill.
  const nextOfStream = (i: number) => messages.slice(i + 1).find((m) => m.key === messages[i]!.key);
  const last = messages.findIndex((m, i) => i > messages.length / 2 && m.value.startsWith('\tat') && nextOfStream(i)?.value.startsWith('\tat'));
  const cut = last + 1;
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: raw, acks: -1, messages: messages.slice(0, cut) });

  // A long timeout: the last events stay held until the kill.
  const env = isolatedEnv(runId, { SLUICE_COLLECTOR_MULTILINE_TIMEOUT_MS: '600000' });
  procs = await startServices({ env, logDir, names: ['collector'] });
  await waitReady(procs);
  const before = await waitFor('the collector to read the first part', () => committed(group, raw), (o) => o.metadata !== null && o.offset > 0, 60_000);
  // The checkpoint holds the offset of the oldest held event, below what was read.
  expect(before.offset).toBeLessThan(cut);
  expect(before.metadata).toMatch(/^ml1;\d+;/);
  procs[0]!.child.kill('SIGKILL');
  await procs[0]!.exited;

  await producer.send({ topic: raw, acks: -1, messages: messages.slice(cut) });
  await producer.disconnect();
  procs = await startServices({ env: { ...env, SLUICE_COLLECTOR_MULTILINE_TIMEOUT_MS: '300' }, logDir, names: ['collector'] });
  await waitReady(procs);
  await waitFor('the collector to commit every message', () => committed(group, raw), (o) => o.offset === messages.length && o.metadata === null, 60_000);
  await stopServices(procs);

  const expected = Object.values(streams).flat().map((lines) => lines.join('\n'));
  const codecs = await codecsFor(runId);
  const got = (await readTopic(c.kafka, topicName(runId, 'logs.collected'), expected.length)).map((m) => codecs.decode(m.value) as RawEvent);
  expect(got.map((e) => e.body).sort()).toEqual(expected.sort());
  // Nothing beyond the expected events (read_committed: aborted writes are invisible).
  expect(await countMessages(c.kafka, topicName(runId, 'logs.collected'))).toBe(expected.length);
  expect(new Set(got.map((e) => e.event_id)).size).toBe(expected.length);
  // The event that spans the kill holds lines sent before and after it.
  const spanning = got.find((e) => e.body.split('\n').includes(messages[last]!.value));
  expect(spanning?.body.split('\n')).toContain(nextOfStream(last)!.value);
}, 240_000);

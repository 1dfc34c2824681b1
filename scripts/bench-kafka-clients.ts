/**
 * `npm run bench:kafka-clients`: the Kafka client, chosen by measurement (issue #11).
 *
 * kafkajs (what Sluice runs on) against @platformatic/kafka, on the same workload in
 * the same run. The clients alternate (A B, then B A, ...) over --rounds rounds; each
 * client's round runs on fresh topics `kbench<id>.in` / `kbench<id>.out` (3 partitions,
 * deleted with the round's consumer groups afterwards):
 *
 * 1. produce: --records JSON log lines of 300 bytes to the input topic, 2000 per
 *    awaited send, acks=all. Records/s from the first send to the last acknowledgement.
 * 2. exactly once, as shared/runner/pipeline-runner.ts does it: a consumer group reads
 *    the input; per fetched batch and partition, that partition's transactional producer
 *    (idempotent, transactional id `<group>-<topic>-<partition>`, initialized when the
 *    partition is first seen, which fences any previous owner) sends one record per input
 *    (the value uppercased, same key) to the output topic, adds the consumer offset to
 *    the transaction (kafkajs `sendOffsets`, @platformatic/kafka `addConsumer` +
 *    `addOffset`) and commits. Records/s and CPU seconds of this process per 1000
 *    records, from the first fetched batch to the commit of the last record (the group
 *    join is left out); records per transaction, to show the batches were alike.
 * 3. fencing: producer A opens a transaction and sends one record to the output topic;
 *    producer B with the same transactional id initializes. A's commit must then fail as
 *    fenced (INVALID_PRODUCER_EPOCH or PRODUCER_FENCED) and its record stay invisible.
 * 4. verification, by one reader for both clients (a kafkajs read_committed consumer):
 *    the output holds exactly --records records, one per input sequence number, so
 *    nothing was lost or duplicated and the fenced record of step 3 is not seen.
 *
 * Both consumers fetch at most 1 MiB per partition and 10 MiB per request (kafkajs's
 * defaults), so their batches, and so their transactions, are comparable. Prints each
 * round, then the medians per client. @confluentinc/kafka-javascript is not measured: it
 * does not install from the npm registry on a fresh machine (docs/benchmarks.md).
 *
 *   npm run bench:kafka-clients [-- --records 100000] [-- --rounds 3]
 */
import { cpus } from 'node:os';
import kafkajs from 'kafkajs';
import type { Producer as KafkajsProducer } from 'kafkajs';
import { Consumer, findErrorBy, MessagesStreamFallbackModes, MessagesStreamModes, Producer as PlatformaticProducer, type Message, type MessagesStream } from '@platformatic/kafka';
import { ensureTopics, type KafkaClient } from '../shared/kafka.js';
import type { Logger } from '../shared/logger.js';
import { arg, benchKafka, cpuSeconds, deleteRun, fmt, median, runMain } from './lib/bench-common.js';

const RECORDS = arg('--records', 100_000);
const ROUNDS = arg('--rounds', 3);
const RECORD_BYTES = 300;
const SEND_BATCH = 2000;
const FETCH_PARTITION_BYTES = 1 << 20;
const FETCH_BYTES = 10 << 20;
const PARTITIONS = 3;
const BROKERS = (process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');

/** One input record: key and value, as both clients send them. */
interface Input {
  key: Buffer;
  value: Buffer;
}

/** A round's topics and names, derived from its run id (`kbench<id>`). */
interface Run {
  input: string;
  output: string;
  group: string;
  fenceId: string;
}

interface EosResult {
  seconds: number;
  cpu: number;
  transactions: number;
}

interface FenceResult {
  fenced: boolean;
  /** What A's commit failed with (or that it succeeded), and what else the client showed. */
  detail: string;
}

/** What the workload needs of a client; each method connects and disconnects its own clients. */
interface ClientUnderTest {
  name: string;
  /** Produce `records` to `topic`, SEND_BATCH per awaited send, acks=all; the seconds spent sending. */
  produce(topic: string, records: readonly Input[]): Promise<number>;
  /** Step 2 of the file comment, until `n` input records are committed. */
  exactlyOnce(run: Run, n: number): Promise<EosResult>;
  /** Step 3 of the file comment. */
  fencing(run: Run): Promise<FenceResult>;
}

/** Wall and CPU seconds since `start` was called. */
function stopwatch(): { start(): void; read(): { seconds: number; cpu: number } } {
  let t0 = 0n;
  let c0 = 0;
  return {
    start() {
      if (t0 !== 0n) return;
      t0 = process.hrtime.bigint();
      c0 = cpuSeconds();
    },
    read: () => ({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSeconds() - c0 }),
  };
}

/**
 * A promise with its resolve and reject (Promise.withResolvers, which ES2022's types
 * lack); a rejection before anyone awaits it is not reported as unhandled.
 */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Input record `i`: a JSON log line padded to RECORD_BYTES, carrying its sequence number. */
function inputRecord(i: number): Input {
  const line = { seq: i, ts: new Date(Date.UTC(2026, 11, 2) + i * 7).toISOString(), level: ['info', 'warn', 'error', 'debug'][i % 4], service: `checkout-${i % 7}`, host: `web-${String(i % 20).padStart(2, '0')}`, msg: `GET /api/orders/${i} 200 ${i % 900}ms user=u${i % 1000}`, pad: '' };
  line.pad = 'x'.repeat(Math.max(0, RECORD_BYTES - JSON.stringify(line).length));
  return { key: Buffer.from(`k${i}`), value: Buffer.from(JSON.stringify(line)) };
}

/** The transformation of the exactly-once step. */
const transform = (value: Buffer): Buffer => Buffer.from(value.toString('utf8').toUpperCase());

/** The sequence number in an output value (`"SEQ":123`), if any. */
function sequenceOf(value: Buffer | null): number | undefined {
  const m = value ? /"SEQ":(\d+)/.exec(value.toString('utf8')) : null;
  return m ? Number(m[1]) : undefined;
}

/** The fenced record of step 3 (no sequence number). */
const fencedRecord = (): Input => ({ key: Buffer.from('fenced'), value: Buffer.from('{"FENCED":TRUE}') });

/** A kafkajs error, or one it wraps, says the producer was fenced (as pipeline-runner.ts tells). */
function kafkajsFenced(err: unknown): boolean {
  for (let e = err as { type?: string; code?: number; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.code === 47 || e.code === 90) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/** kafkajs, configured as the pipeline runners configure it (shared/runner/). */
function kafkajsClient(kafka: KafkaClient): ClientUnderTest {
  const transactional = (transactionalId: string): KafkajsProducer =>
    kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner, transactionalId, idempotent: true, maxInFlightRequests: 1 });
  return {
    name: 'kafkajs',

    async produce(topic, records) {
      const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
      await producer.connect();
      try {
        const clock = stopwatch();
        clock.start();
        for (let i = 0; i < records.length; i += SEND_BATCH) await producer.send({ topic, acks: -1, messages: records.slice(i, i + SEND_BATCH) });
        return clock.read().seconds;
      } finally {
        await producer.disconnect();
      }
    },

    async exactlyOnce({ input, output, group }, n) {
      const producers = new Map<number, KafkajsProducer>();
      const producerFor = async (partition: number): Promise<KafkajsProducer> => {
        let producer = producers.get(partition);
        if (producer) return producer;
        producer = transactional(`${group}-${input}-${partition}`);
        await producer.connect();
        // InitProducerId happens at the first transaction: an empty one initializes now.
        await (await producer.transaction()).abort();
        producers.set(partition, producer);
        return producer;
      };
      const clock = stopwatch();
      let committed = 0;
      let transactions = 0;
      const done = deferred();
      const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false, maxBytesPerPartition: FETCH_PARTITION_BYTES, maxBytes: FETCH_BYTES });
      consumer.on(consumer.events.CRASH, (e) => done.reject(e.payload.error));
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [input], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: async ({ batch, resolveOffset }) => {
            const last = batch.messages[batch.messages.length - 1];
            if (!last) return;
            clock.start();
            const producer = await producerFor(batch.partition);
            const txn = await producer.transaction();
            try {
              await txn.send({ topic: output, acks: -1, messages: batch.messages.map((m) => ({ key: m.key, value: transform(m.value ?? Buffer.alloc(0)) })) });
              await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }] }] });
              await txn.commit();
            } catch (err) {
              await txn.abort().catch(() => undefined);
              done.reject(err); // a failed transaction ends the benchmark (kafkajs would retry the batch)
              throw err;
            }
            resolveOffset(last.offset);
            transactions++;
            committed += batch.messages.length;
            if (committed >= n) done.resolve();
          },
        });
        await done.promise;
        return { ...clock.read(), transactions };
      } finally {
        await consumer.disconnect();
        for (const p of producers.values()) await p.disconnect();
      }
    },

    async fencing({ output, fenceId }) {
      const a = transactional(fenceId);
      const b = transactional(fenceId);
      await a.connect();
      await b.connect();
      try {
        const txn = await a.transaction();
        await txn.send({ topic: output, acks: -1, messages: [fencedRecord()] });
        await (await b.transaction()).abort(); // B's InitProducerId aborts A's transaction and bumps the epoch
        try {
          await txn.commit();
          return { fenced: false, detail: 'commit succeeded' };
        } catch (err) {
          return { fenced: kafkajsFenced(err), detail: (err as { type?: string }).type ?? String(err) };
        }
      } finally {
        await a.disconnect();
        await b.disconnect();
      }
    },
  };
}

/**
 * Batches from a @platformatic/kafka stream: each call returns the messages the stream
 * holds now (what its fetches since the last call returned), waiting for the next fetch
 * when it holds none. The stream fetches only while it has a 'readable' listener (without
 * one it counts as unread and stops), so one stays attached for the stream's life.
 */
function batchesOf(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): () => Promise<Message[]> {
  let wake: (() => void) | undefined;
  let failure: unknown;
  stream.on('readable', () => wake?.());
  stream.on('error', (err) => {
    failure = err;
    wake?.();
  });
  return async () => {
    for (;;) {
      if (failure !== undefined) throw failure;
      const out: Message[] = [];
      for (let m = stream.read() as Message | null; m !== null; m = stream.read() as Message | null) out.push(m);
      if (out.length > 0) return out;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
}

/**
 * The error `err` is, or wraps, that names a fencing: A's commit fails with
 * INVALID_PRODUCER_EPOCH or PRODUCER_FENCED, and so does a refused InitProducerId.
 */
function platformaticFence(err: unknown): string | null {
  const e = err instanceof Error ? (findErrorBy(err, 'apiId', 'INVALID_PRODUCER_EPOCH') ?? findErrorBy(err, 'apiId', 'PRODUCER_FENCED')) : null;
  return e ? String(e['apiId']) : null;
}

/**
 * How a @platformatic/kafka producer must begin its first transaction. By default
 * (2.12.1) its InitProducerId carries producer id 0 and epoch 0 instead of -1/-1, which
 * the broker reads as "bump the epoch of producer 0" (KIP-360): for a transactional id
 * used before, by another process or producer object, it answers PRODUCER_FENCED, so a
 * new owner of a partition could not take over. -1/-1 asks for a plain initialization.
 */
const TAKE_OVER = { producerId: -1n, producerEpoch: -1 };

/** @platformatic/kafka, with its defaults except the fetch sizes (see the file comment) and TAKE_OVER. */
function platformaticClient(): ClientUnderTest {
  const clientId = 'sluice-bench';
  const transactional = (transactionalId: string): PlatformaticProducer => new PlatformaticProducer({ clientId, bootstrapBrokers: BROKERS, transactionalId, idempotent: true });
  return {
    name: '@platformatic/kafka',

    async produce(topic, records) {
      const producer = new PlatformaticProducer({ clientId, bootstrapBrokers: BROKERS, acks: -1 });
      try {
        await producer.metadata({ topics: [topic] }); // connect before the clock starts, as kafkajs's connect()
        const clock = stopwatch();
        clock.start();
        for (let i = 0; i < records.length; i += SEND_BATCH) await producer.send({ messages: records.slice(i, i + SEND_BATCH).map((r) => ({ topic, key: r.key, value: r.value })) });
        return clock.read().seconds;
      } finally {
        await producer.close();
      }
    },

    async exactlyOnce({ input, output, group }, n) {
      const producers = new Map<number, PlatformaticProducer>();
      const producerFor = async (partition: number): Promise<PlatformaticProducer> => {
        let producer = producers.get(partition);
        if (producer) return producer;
        producer = transactional(`${group}-${input}-${partition}`);
        // InitProducerId happens when the first transaction begins; an empty one is cancelled
        // locally (an EndTxn without partitions would be refused by the broker).
        await (await producer.beginTransaction(TAKE_OVER)).cancel();
        producers.set(partition, producer);
        return producer;
      };
      const consumer = new Consumer({ clientId, bootstrapBrokers: BROKERS, groupId: group, autocommit: false, maxBytesPerPartition: FETCH_PARTITION_BYTES, maxBytes: FETCH_BYTES });
      const clock = stopwatch();
      let committed = 0;
      let transactions = 0;
      try {
        const stream = await consumer.consume({ topics: [input], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST });
        const nextBatch = batchesOf(stream);
        while (committed < n) {
          const messages = await nextBatch();
          clock.start();
          const byPartition = new Map<number, Message[]>();
          for (const m of messages) {
            const batch = byPartition.get(m.partition);
            if (batch) batch.push(m);
            else byPartition.set(m.partition, [m]);
          }
          for (const [partition, batch] of byPartition) {
            const producer = await producerFor(partition);
            const txn = await producer.beginTransaction();
            try {
              await txn.send({ messages: batch.map((m) => ({ topic: output, key: m.key, value: transform(m.value) })) });
              await txn.addConsumer(consumer);
              await txn.addOffset(batch[batch.length - 1]!); // commits its offset + 1, with the group's generation and member id
              await txn.commit();
            } catch (err) {
              await txn.abort().catch(() => undefined);
              throw err;
            }
            transactions++;
            committed += batch.length;
          }
        }
        const result = { ...clock.read(), transactions };
        await stream.close();
        return result;
      } finally {
        await consumer.close(true);
        for (const p of producers.values()) await p.close();
      }
    },

    async fencing({ output, fenceId }) {
      const a = transactional(fenceId);
      const plain = transactional(fenceId);
      const b = transactional(fenceId);
      try {
        const txn = await a.beginTransaction(TAKE_OVER);
        await txn.send({ messages: [{ topic: output, ...fencedRecord() }] });
        // First with the default initialization, to record what it does (see TAKE_OVER).
        const byDefault = await plain.beginTransaction().then((t) => t.cancel().then(() => 'initialized'), (err: unknown) => `refused: ${platformaticFence(err) ?? String(err)}`);
        await (await b.beginTransaction(TAKE_OVER)).cancel(); // B's InitProducerId aborts A's transaction and bumps the epoch
        const note = `; a second producer's default init: ${byDefault}`;
        try {
          await txn.commit();
          return { fenced: false, detail: `commit succeeded${note}` };
        } catch (err) {
          const fence = platformaticFence(err);
          return { fenced: fence !== null, detail: `${fence ?? String(err)}${note}` };
        }
      } finally {
        await a.close(true);
        await plain.close(true);
        await b.close();
      }
    },
  };
}

/**
 * Step 4: the output as a kafkajs read_committed consumer sees it, read until every
 * partition is read to its end (kafkajs's offsetLag counts the transaction markers, so
 * 0 means fully read): the records, and the distinct sequence numbers below `n` among them.
 */
async function readCommitted(kafka: KafkaClient, topic: string, groupId: string, n: number): Promise<{ records: number; distinct: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const pending = new Set((await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect())).filter((p) => Number(p.high) > 0).map((p) => p.partition));
  const seen = new Uint8Array(n);
  let records = 0;
  let distinct = 0;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
  const done = deferred();
  if (pending.size === 0) done.resolve();
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.offsetLag === '0') pending.delete(e.payload.partition);
    if (pending.size === 0) done.resolve();
  });
  consumer.on(consumer.events.CRASH, (e) => done.reject(e.payload.error));
  const timeout = setTimeout(() => done.reject(new Error(`${topic}: not read to its end within 120 s`)), 120_000);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          records++;
          const s = sequenceOf(m.value);
          if (s !== undefined && s < n && seen[s] === 0) {
            seen[s] = 1;
            distinct++;
          }
        }
      },
    });
    await done.promise;
    return { records, distinct };
  } finally {
    clearTimeout(timeout);
    await consumer.disconnect();
  }
}

interface RoundResult {
  produceRate: number;
  eosRate: number;
  cpuPer1k: number;
  perTransaction: number;
  outputOk: boolean;
  fenced: boolean;
}

/** One client's round, on its own topics and groups, deleted afterwards. */
async function round(kafka: KafkaClient, log: Logger, client: ClientUnderTest, runId: string, records: readonly Input[]): Promise<RoundResult> {
  const n = records.length;
  const run: Run = { input: `${runId}.in`, output: `${runId}.out`, group: `${runId}-eos`, fenceId: `${runId}-fence` };
  await ensureTopics(kafka, [run.input, run.output], PARTITIONS, 1, log);
  try {
    const produceSeconds = await client.produce(run.input, records);
    const eos = await client.exactlyOnce(run, n);
    const fence = await client.fencing(run);
    const out = await readCommitted(kafka, run.output, `${runId}-verify`, n);
    const r: RoundResult = {
      produceRate: n / produceSeconds,
      eosRate: n / eos.seconds,
      cpuPer1k: eos.cpu / (n / 1000),
      perTransaction: n / eos.transactions,
      outputOk: out.records === n && out.distinct === n,
      fenced: fence.fenced,
    };
    console.log(`- ${client.name}: produce ${fmt(r.produceRate)} rec/s; exactly once ${fmt(r.eosRate)} rec/s, ${r.cpuPer1k.toFixed(3)} CPU s/1k, ${fmt(r.perTransaction)} records/transaction; output ${fmt(out.records)} records, ${fmt(out.distinct)} distinct of ${fmt(n)}: ${r.outputOk ? 'ok' : 'WRONG'}; fenced: ${fence.fenced ? 'yes' : 'NO'} (${fence.detail})`);
    return r;
  } finally {
    await deleteRun(kafka, runId);
  }
}

async function main(): Promise<void> {
  const { kafka, log } = benchKafka();
  const clients = [kafkajsClient(kafka), platformaticClient()];
  const records = Array.from({ length: RECORDS }, (_, i) => inputRecord(i));
  const results = new Map<string, RoundResult[]>(clients.map((c) => [c.name, []]));
  const stamp = Date.now().toString(36);
  console.log(`## bench-kafka-clients\n\n${fmt(RECORDS)} records of ${RECORD_BYTES} bytes, ${PARTITIONS} partitions, brokers ${BROKERS.join(',')}. Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}; ${ROUNDS} rounds, clients alternating.`);
  for (let r = 1; r <= ROUNDS; r++) {
    console.log(`\nround ${r}:`);
    const order = r % 2 === 1 ? clients : [...clients].reverse();
    for (const client of order) {
      const runId = `kbench${stamp}r${r}${clients.indexOf(client)}`;
      results.get(client.name)!.push(await round(kafka, log, client, runId, records));
    }
  }
  console.log(`\nMedians of ${ROUNDS} rounds:\n`);
  console.log('| client | produce rec/s | exactly-once rec/s | CPU s per 1k records | records per transaction | output exactly N | fencing |');
  console.log('|---|---:|---:|---:|---:|---|---|');
  for (const client of clients) {
    const rs = results.get(client.name)!;
    const all = (ok: (x: RoundResult) => boolean): string => `${rs.every(ok) ? 'yes' : 'NO'} (${rs.filter(ok).length}/${rs.length})`;
    console.log(`| ${client.name} | ${fmt(median(rs.map((x) => x.produceRate)))} | ${fmt(median(rs.map((x) => x.eosRate)))} | ${median(rs.map((x) => x.cpuPer1k)).toFixed(3)} | ${fmt(median(rs.map((x) => x.perTransaction)))} | ${all((x) => x.outputOk)} | ${all((x) => x.fenced)} |`);
  }
}

runMain(main);

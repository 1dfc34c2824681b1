/**
 * `npm run bench:e2e`: the whole pipeline on the local stack, side by side with rsyslog
 * on the same lines in the same run (issue #11).
 *
 * Per run:
 * 1. Sluice, throughput. The four services start (dist/, isolated topics, groups, tenant
 *    and S3 prefix), then --events lines of the seeded generator (scripts/lib/generator.ts:
 *    JSON, logfmt, access lines, stack traces, several lines per span; event times of the
 *    last minute) are produced to the run's logs.raw as fast as one producer goes. The
 *    clock starts at the first send; "searchable" is the first poll (every 250 ms, no
 *    forced refresh) at which Elasticsearch's _count of the tenant's indices reaches the
 *    event count; "Parquet" is the first poll at which the sink's
 *    sluice_records_sent_total{stage="sink-parquet"} (rows durable in S3) does. Afterwards
 *    both are counted exactly: Elasticsearch by _count after a refresh (the document id is
 *    the event id, so a duplicate cannot hide), Parquet by DuckDB over the downloaded
 *    objects (rows and distinct event ids).
 * 2. Sluice, latency: for --latency-seconds the same mix at half the rate step 1 reached,
 *    with 10 probe lines a second; each probe's produce→searchable time is the first
 *    poll (every 100 ms) that finds it.
 * 3. CPU and memory: CPU seconds of each service (/proc/<pid>/stat) over step 1 per
 *    1,000 events, and Kafka's and Elasticsearch's for context; peak RSS (VmHWM) of each
 *    service over steps 1 and 2.
 * 4. rsyslog (Debian's 8.2302, fetched by scripts/rsyslog-shipper if not installed):
 *    imkafka → mmjsonparse → omelasticsearch in bulk mode, its own index with Sluice's
 *    index settings, the same lines on a topic of their own with the same partitions.
 *    Started and joined before its clock starts, timed like step 1.
 * Everything of the run (topics, groups, indices, objects) is deleted at the end.
 *
 *   npm run bench:e2e [-- --events 100000] [-- --runs 1] [-- --latency-seconds 20]
 *                     [-- --no-peer] [-- --no-latency] [-- --keep-logs]
 *                     [-- --service-node-options '--max-old-space-size=96']
 *                     [-- --fused]   # collector + normalizer in one process (bin/collector-normalizer.ts)
 *
 * Service logs go to .stack/logs/bench-e2e/<run>/. Needs the local stack (`npm run stack up`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { repoRoot } from '../shared/schemas.js';
import type { KafkaClient } from '../shared/kafka.js';
import { arg, argString, fmt, groupCpuSeconds, median, processCpuSeconds, runMain, stackPgid } from './lib/bench-common.js';
import type { KafkaMessage } from './lib/generator.js';
import {
  BROKERS, ES_URL, deleteRunEverywhere, logsIndex, parquetCounts, rssMb, runEnv, searchable, secondsUntil, sleep, stackClients, workload, type S3Client,
} from './lib/pipeline-run.js';
import { produceAll, toKafka } from './lib/pipeline-check.js';
import { metricTotal, scrape, startServices, stopServices, waitReady, SERVICE_NAMES, type ServiceName, type ServiceProcess } from './lib/services.js';
import { stackIsUp } from './lib/stack.js';

const EVENTS = arg('--events', 100_000);
const RUNS = arg('--runs', 1);
const LATENCY_SECONDS = arg('--latency-seconds', 20);
const TIMEOUT_MS = arg('--timeout-seconds', 600) * 1000;
const PEER = !process.argv.includes('--no-peer');
const LATENCY = !process.argv.includes('--no-latency');
/** Collector and normalizer as one process (bin/collector-normalizer.ts) instead of two. */
const FUSED = process.argv.includes('--fused');
const PROCESSES: readonly ServiceName[] = FUSED ? ['collector-normalizer', 'enricher', 'sink'] : SERVICE_NAMES;
const SEED = arg('--seed', 2026);
/** NODE_OPTIONS for the four services only (e.g. a heap limit), not for this process. */
const SERVICE_NODE_OPTIONS = argString('--service-node-options');
const PARTITIONS = 3;
const say = (s: string) => process.stdout.write(`[bench:e2e] ${s}\n`);

interface Clock {
  /** Seconds from t0 until `done` first held, polling every `everyMs`; NaN on timeout. */
  until(done: () => Promise<boolean>, everyMs: number): Promise<number>;
}
const clockFrom = (t0: number): Clock => ({ until: (done, everyMs) => secondsUntil(t0, done, everyMs, TIMEOUT_MS) });

interface SluiceResult {
  /** Per stage, seconds from the first send until it had read half and all of the events. */
  stages: Array<{ stage: string; half: number; all: number }>;
  esSeconds: number;
  /** Events produced in all (the throughput step's and the latency step's). */
  expected: number;
  parquetSeconds: number;
  esCount: number;
  parquetRows: number;
  parquetDistinct: number;
  cpuPer1k: Partial<Record<ServiceName, number>> & Record<'kafka' | 'elasticsearch', number>;
  peakRssMb: Partial<Record<ServiceName, number>>;
  latencyP50: number;
  latencyP99: number;
  latencyRate: number;
  latencyProbes: number;
}

async function runSluice(runId: string, lines: KafkaMessage[], kafka: KafkaClient, es: Client, s3: S3Client): Promise<SluiceResult> {
  const tenant = runId;
  const env = runEnv(runId);
  if (SERVICE_NODE_OPTIONS !== undefined) env['NODE_OPTIONS'] = SERVICE_NODE_OPTIONS;
  const logDir = join(repoRoot(), '.stack', 'logs', 'bench-e2e', runId);
  const procs = await startServices({ env, logDir, names: PROCESSES });
  try {
    await waitReady(procs);
    say(`services ready (logs in ${logDir}); producing ${fmt(lines.length)} lines`);
    const messages = lines.map((m) => toKafka(m, tenant));
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    const sink = procs.find((p) => p.name === 'sink')!;
    const pids = Object.fromEntries(procs.map((p) => [p.name, p.child.pid!])) as Record<ServiceName, number>;
    const stackGroups = { kafka: stackPgid('kafka'), elasticsearch: stackPgid('elasticsearch') };
    const cpu0 = { ...Object.fromEntries(procs.map((p) => [p.name, processCpuSeconds(p.child.pid!)])), kafka: groupCpuSeconds(stackGroups.kafka), elasticsearch: groupCpuSeconds(stackGroups.elasticsearch) };

    const t0 = Date.now();
    const sent = produceAll(producer, `${runId}.logs.raw`, messages);
    const clock = clockFrom(t0);
    const index = logsIndex(tenant);
    const parquetRowsNow = async () => metricTotal(await scrape(sink), 'sluice_records_sent_total{stage="sink-parquet"}');
    const timeline = stageTimeline(procs, t0, lines.length);
    const [esSeconds, parquetSeconds] = await Promise.all([
      clock.until(async () => (await searchable(es, index)) >= lines.length, 250),
      clock.until(async () => (await parquetRowsNow()) >= lines.length, 250),
      sent,
    ]);
    const stages = await timeline.stop();
    const cpu1 = { ...Object.fromEntries(procs.map((p) => [p.name, processCpuSeconds(p.child.pid!)])), kafka: groupCpuSeconds(stackGroups.kafka), elasticsearch: groupCpuSeconds(stackGroups.elasticsearch) };
    const cpuPer1k = Object.fromEntries(Object.keys(cpu1).map((k) => [k, ((cpu1 as Record<string, number>)[k]! - (cpu0 as Record<string, number>)[k]!) / (lines.length / 1000)])) as SluiceResult['cpuPer1k'];
    say(`searchable ${esSeconds.toFixed(1)} s, Parquet ${parquetSeconds.toFixed(1)} s`);

    let latency = { p50: NaN, p99: NaN, rate: 0, probes: 0, produced: 0 };
    if (LATENCY && Number.isFinite(esSeconds)) latency = await measureLatency(runId, tenant, lines, producer, es, lines.length / esSeconds / 2);
    await producer.disconnect();
    const peakRss = Object.fromEntries(PROCESSES.map((n) => [n, rssMb(pids[n], 'VmHWM')])) as SluiceResult['peakRssMb'];

    // Stopped in pipeline order, each service drains, flushes and commits: the counts are final.
    await stopServices(procs);
    await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
    const esTotal = await searchable(es, index);
    const pq = await parquetCounts(s3, `${runId}/logs/`, join(logDir, 'parquet'));
    rmSync(join(logDir, 'parquet'), { recursive: true, force: true });
    return {
      stages, esSeconds, parquetSeconds, expected: lines.length + latency.produced, esCount: esTotal, parquetRows: pq.rows, parquetDistinct: pq.distinct, cpuPer1k, peakRssMb: peakRss,
      latencyP50: latency.p50, latencyP99: latency.p99, latencyRate: latency.rate, latencyProbes: latency.probes,
    };
  } finally {
    await stopServices(procs);
  }
}

/** The stages whose input counts tell where the time goes, in pipeline order. */
const TIMELINE_STAGES: Array<{ service: ServiceName; stage: string }> = [
  ...(FUSED
    ? [{ service: 'collector-normalizer' as const, stage: 'collector+normalizer' }]
    : [{ service: 'collector' as const, stage: 'collector' }, { service: 'normalizer' as const, stage: 'normalizer' }]),
  { service: 'enricher', stage: 'enricher' }, { service: 'sink', stage: 'sink-es' }, { service: 'sink', stage: 'sink-parquet' },
];

/**
 * Every second, each stage's sluice_records_received_total: when it had read half and all
 * of `n` events (seconds from t0). The stage that reaches "all" much later than the one
 * before it is where the events wait.
 */
function stageTimeline(procs: readonly ServiceProcess[], t0: number, n: number): { stop(): Promise<SluiceResult['stages']> } {
  const reached = new Map<string, { half: number; all: number }>(TIMELINE_STAGES.map((s) => [s.stage, { half: NaN, all: NaN }]));
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = (Date.now() - t0) / 1000;
      const scraped = new Map<ServiceName, Map<string, number>>();
      for (const p of procs) scraped.set(p.name, await scrape(p));
      for (const s of TIMELINE_STAGES) {
        const v = metricTotal(scraped.get(s.service)!, `sluice_records_received_total{stage="${s.stage}"}`);
        const r = reached.get(s.stage)!;
        if (Number.isNaN(r.half) && v >= n / 2) r.half = t;
        if (Number.isNaN(r.all) && v >= n) r.all = t;
      }
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return TIMELINE_STAGES.map((s) => ({ stage: s.stage, ...reached.get(s.stage)! }));
    },
  };
}

/**
 * Produce the mix at `rate` lines/s for LATENCY_SECONDS in 100 ms ticks, each tick
 * carrying one probe line (JSON, service `latency-probe`, its sequence number); poll
 * Elasticsearch every 100 ms for probes not seen yet. Returns p50/p99 seconds.
 */
async function measureLatency(runId: string, tenant: string, lines: KafkaMessage[], producer: kafkajs.Producer, es: Client, rate: number): Promise<{ p50: number; p99: number; rate: number; probes: number; produced: number }> {
  say(`latency: ${fmt(rate)} lines/s for ${LATENCY_SECONDS} s`);
  const sentAt = new Map<number, number>();
  const seenAfter = new Map<number, number>();
  /** Seconds from the send to the collector's clock (`event.ingested`, the record's observed_at). */
  const collectedAfter = new Map<number, number>();
  const perTick = Math.max(1, Math.round(rate / 10));
  let produced = 0;
  let next = 0;
  let producing = true;
  let lastSend = Date.now();
  const poller = (async () => {
    while (producing || seenAfter.size < sentAt.size) {
      const res = await es.search({ index: logsIndex(tenant), size: 10_000, _source: ['attributes.probe_seq', 'event.ingested'], query: { term: { 'service.name': 'latency-probe' } } }).catch(() => undefined);
      const now = Date.now();
      for (const h of res?.hits.hits ?? []) {
        const src = h._source as Record<string, unknown>;
        const seq = Number(src['attributes.probe_seq']);
        if (seenAfter.has(seq) || !sentAt.has(seq)) continue;
        seenAfter.set(seq, (now - sentAt.get(seq)!) / 1000);
        const ingested = Date.parse(String(src['event.ingested']));
        if (Number.isFinite(ingested)) collectedAfter.set(seq, (ingested - sentAt.get(seq)!) / 1000);
      }
      if (!producing && Date.now() - lastSend > 60_000) break;
      await sleep(100);
    }
  })();
  const end = Date.now() + LATENCY_SECONDS * 1000;
  for (let tick = 0; Date.now() < end; tick++) {
    const tickStart = Date.now();
    const batch: kafkajs.Message[] = [];
    for (let i = 0; i < perTick - 1; i++) batch.push(toKafka(lines[next++ % lines.length]!, tenant));
    const probe = { timestamp: new Date().toISOString(), level: 'info', service: 'latency-probe', msg: `probe ${tick}`, probe_seq: tick };
    batch.push({ key: 'latency-probe', value: JSON.stringify(probe), headers: { tenant, service: 'latency-probe' } });
    sentAt.set(tick, tickStart);
    produced += batch.length;
    await producer.send({ topic: `${runId}.logs.raw`, acks: -1, messages: batch });
    lastSend = Date.now();
    await sleep(Math.max(0, 100 - (Date.now() - tickStart)));
  }
  producing = false;
  await poller;
  const quantile = (m: Map<number, number>, p: number) => {
    const xs = [...m.values()].sort((a, b) => a - b);
    return xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
  };
  if (seenAfter.size < sentAt.size) say(`latency: ${sentAt.size - seenAfter.size} of ${sentAt.size} probes never searchable within 60 s`);
  // Where the time goes: send -> collected (collector's clock), collected -> searchable.
  const rest = new Map([...seenAfter].filter(([k]) => collectedAfter.has(k)).map(([k, v]) => [k, v - collectedAfter.get(k)!]));
  say(`latency: send→collected p50/p99 ${quantile(collectedAfter, 0.5).toFixed(2)}/${quantile(collectedAfter, 0.99).toFixed(2)} s, collected→searchable ${quantile(rest, 0.5).toFixed(2)}/${quantile(rest, 0.99).toFixed(2)} s`);
  return { p50: quantile(seenAfter, 0.5), p99: quantile(seenAfter, 0.99), rate, probes: seenAfter.size, produced };
}

interface PeerResult {
  esSeconds: number;
  esCount: number;
  cpuPer1k: number;
  /** Elasticsearch's CPU over the same span, per 1,000 events. */
  esCpuPer1k: number;
  peakRssMb: number;
  version: string;
}

/** rsyslogd, its module directory and library path (scripts/rsyslog-shipper env; fetches the packages once). */
function rsyslogBinary(): { rsyslogd: string; moddir: string; libs: string } {
  const r = spawnSync('bash', [join(repoRoot(), 'scripts', 'rsyslog-shipper'), 'env'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('scripts/rsyslog-shipper env failed');
  const kv = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { rsyslogd: kv['rsyslogd']!, moddir: kv['moddir']!, libs: kv['libs'] ?? '' };
}

/**
 * The peer's configuration: JSON lines parsed by mmjsonparse and indexed as parsed,
 * other lines indexed as their message (the raw Kafka value); bulk mode, 2,000 documents per bulk request
 * (the same as Sluice's SLUICE_SINK_ES_MAX_DOCS).
 */
function rsyslogConf(o: { moddir: string; workDir: string; topic: string; group: string; index: string }): string {
  const es = (template: string) =>
    `action(type="omelasticsearch" server="127.0.0.1" serverport="${new URL(ES_URL).port || 9200}" searchIndex="${o.index}" template="${template}" bulkmode="on" esVersion.major="8" maxbytes="5m" errorfile="${o.workDir}/es-errors.json"
           queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="2000" action.resumeRetryCount="-1")`;
  return `global(workDirectory="${o.workDir}" maxMessageSize="64k")
module(load="${o.moddir}/imkafka.so")
module(load="${o.moddir}/mmjsonparse.so")
module(load="${o.moddir}/omelasticsearch.so")
template(name="peer_json" type="list") { property(name="$!all-json") }
template(name="peer_plain" type="list" option.jsonf="on") { property(outname="message" name="rawmsg" format="jsonf") }
ruleset(name="peer") {
  action(type="mmjsonparse" cookie="" useRawMsg="on")
  if $parsesuccess == "OK" then { ${es('peer_json')} } else { ${es('peer_plain')} }
}
# rsyslog's own messages (errors included), for a look when the peer's count stays short.
*.* action(type="omfile" file="${o.workDir}/rsyslogd.log")
input(type="imkafka" topic="${o.topic}" broker=[${BROKERS.split(',').map((b) => `"${b}"`).join(',')}] consumergroup="${o.group}" confParam=["auto.offset.reset=earliest"] ruleset="peer")
`;
}

async function runPeer(runId: string, lines: KafkaMessage[], kafka: KafkaClient, es: Client): Promise<PeerResult> {
  const bin = rsyslogBinary();
  const topic = `${runId}.peer`;
  const group = `${runId}-rsyslog`;
  const index = `rsyslog-${runId}`;
  const workDir = join(repoRoot(), '.stack', 'logs', 'bench-e2e', runId, 'rsyslog');
  mkdirSync(workDir, { recursive: true });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  const settings = JSON.parse(readFileSync(join(repoRoot(), 'schemas', 'elasticsearch', 'sluice-settings.component.json'), 'utf8')) as { template: { settings: Record<string, unknown> } };
  // Sluice's index settings; and, as operators of a schemaless index do, a value that does
  // not fit the field's dynamic mapping (pino's numeric `level` after a text one) is
  // ignored rather than failing its document, and dotted names stay flat (`service` text
  // in one format, `service.name` in another).
  const index_ = settings.template.settings['index'] as Record<string, unknown>;
  await es.indices.create({ index, settings: { index: { ...index_, mapping: { ...(index_['mapping'] as object), ignore_malformed: true } } }, mappings: { subobjects: false } });
  const conf = join(workDir, 'rsyslog.conf');
  writeFileSync(conf, rsyslogConf({ moddir: bin.moddir, workDir, topic, group, index }));
  const env = { ...process.env, LD_LIBRARY_PATH: bin.libs };
  const check = spawnSync(bin.rsyslogd, ['-N1', '-M', bin.moddir, '-f', conf], { env, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`rsyslog rejected its configuration:\n${check.stdout}${check.stderr}`);
  const version = /rsyslogd\s+([\d.]+)/.exec(spawnSync(bin.rsyslogd, ['-v'], { env, encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const child: ChildProcess = spawn(bin.rsyslogd, ['-n', '-M', bin.moddir, '-f', conf, '-i', join(workDir, 'rsyslogd.pid')], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    // Joined: the group is Stable with a member (imkafka subscribes at start).
    for (let i = 0; i < 120; i++) {
      const d = await admin.describeGroups([group]);
      if (d.groups[0]?.state === 'Stable' && d.groups[0].members.length > 0) break;
      await sleep(250);
    }
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    const messages = lines.map((m) => ({ key: m.key, value: m.value }));
    const esGroup = stackPgid('elasticsearch');
    const cpu0 = processCpuSeconds(child.pid!);
    const es0 = groupCpuSeconds(esGroup);
    const t0 = Date.now();
    const sent = produceAll(producer, topic, messages);
    const [esSeconds] = await Promise.all([clockFrom(t0).until(async () => (await searchable(es, index)) >= lines.length, 250), sent]);
    const cpu = processCpuSeconds(child.pid!) - cpu0;
    const esCpu = groupCpuSeconds(esGroup) - es0;
    await producer.disconnect();
    await es.indices.refresh({ index });
    return { esSeconds, esCount: await searchable(es, index), cpuPer1k: cpu / (lines.length / 1000), esCpuPer1k: esCpu / (lines.length / 1000), peakRssMb: rssMb(child.pid!, 'VmHWM'), version };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await admin.disconnect();
  }
}

async function cleanup(runId: string, clients: ReturnType<typeof stackClients>): Promise<void> {
  await deleteRunEverywhere(runId, clients, [`rsyslog-${runId}`]);
  if (!process.argv.includes('--keep-logs')) rmSync(join(repoRoot(), '.stack', 'logs', 'bench-e2e', runId), { recursive: true, force: true });
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

async function main(): Promise<void> {
  if (!stackIsUp()) throw new Error('the local stack is not up: run `npm run stack up` first');
  const clients = stackClients();
  const { kafka, es, s3 } = clients;
  const lines = workload(EVENTS, SEED);
  const bytes = lines.reduce((n, m) => n + Buffer.byteLength(m.value), 0);
  say(`${fmt(lines.length)} lines, ${fmt(bytes / lines.length)} bytes on average; ${RUNS} run(s)${PEER ? ', rsyslog beside' : ''}`);
  const rows: Array<{ s: SluiceResult; p: PeerResult | undefined }> = [];
  for (let r = 0; r < RUNS; r++) {
    const runId = `e2e${Date.now().toString(36)}`;
    try {
      const s = await runSluice(runId, lines, kafka, es, s3);
      const p = PEER ? await runPeer(runId, lines, kafka, es) : undefined;
      rows.push({ s, p });
      printRun(r + 1, lines.length, s, p);
    } finally {
      await cleanup(runId, clients);
    }
  }
  if (rows.length > 1) {
    const med = (f: (x: { s: SluiceResult; p: PeerResult | undefined }) => number) => median(rows.map(f));
    say(`median of ${rows.length}: searchable ${f1(med((x) => x.s.esSeconds))} s (${fmt(lines.length / med((x) => x.s.esSeconds))}/s), Parquet ${f1(med((x) => x.s.parquetSeconds))} s` +
      (PEER ? `, rsyslog ${f1(med((x) => x.p!.esSeconds))} s, ratio ${f2(med((x) => x.p!.esSeconds / x.s.esSeconds))}×` : ''));
  }
  const failed = rows.some(({ s, p }) => s.esCount !== s.expected || s.parquetRows !== s.expected || s.parquetDistinct !== s.expected || (p && p.esCount !== lines.length));
  if (failed) {
    console.error('[bench:e2e] counts differ from the events produced (see the table)');
    process.exitCode = 1;
  }
}

function printRun(run: number, n: number, s: SluiceResult, p: PeerResult | undefined): void {
  const core = PROCESSES.reduce((t, k) => t + s.cpuPer1k[k]!, 0);
  const out = [
    `\n### Run ${run}: ${fmt(n)} events`,
    '',
    '| | Sluice | rsyslog' + (p ? ` ${p.version}` : '') + ' |',
    '|---|---:|---:|',
    `| all searchable in Elasticsearch | ${f1(s.esSeconds)} s (${fmt(n / s.esSeconds)}/s) | ${p ? `${f1(p.esSeconds)} s (${fmt(n / p.esSeconds)}/s)` : 'not run'} |`,
    `| ratio Sluice / rsyslog (events/s into Elasticsearch) | ${p ? `${f2(p.esSeconds / s.esSeconds)}×` : ''} | |`,
    `| all in Parquet on S3 | ${f1(s.parquetSeconds)} s (${fmt(n / s.parquetSeconds)}/s) | — |`,
    `| counted at the end, of ${fmt(s.expected)} produced: Elasticsearch / Parquet rows / distinct ids | ${fmt(s.esCount)} / ${fmt(s.parquetRows)} / ${fmt(s.parquetDistinct)} | ${p ? `${fmt(p.esCount)} of ${fmt(n)}` : ''} |`,
    `| core-µs per event, services (${PROCESSES.join(' + ')}) | ${f1(core * 1000)} (${PROCESSES.map((k) => f1(s.cpuPer1k[k]! * 1000)).join(' + ')}) | ${p ? f1(p.cpuPer1k * 1000) : ''} |`,
    `| core-µs per event, Kafka / Elasticsearch | ${f1(s.cpuPer1k.kafka * 1000)} / ${f1(s.cpuPer1k.elasticsearch * 1000)} | ${p ? `— / ${f1(p.esCpuPer1k * 1000)}` : ''} |`,
    `| peak RSS, MB (${PROCESSES.join(' / ')}) | ${PROCESSES.map((k) => fmt(s.peakRssMb[k]!)).join(' / ')} | ${p ? fmt(p.peakRssMb) : ''} |`,
    `| read half / all of the events, s from the first send: ${s.stages.map((x) => x.stage).join(' / ')} | ${s.stages.map((x) => `${f1(x.half)}/${f1(x.all)}`).join(' · ')} | |`,
    `| produce→searchable p50 / p99 at ${fmt(s.latencyRate)}/s (${s.latencyProbes} probes) | ${f2(s.latencyP50)} s / ${f2(s.latencyP99)} s | |`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

runMain(main);

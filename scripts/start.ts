/**
 * `npm start`: the whole pipeline on this machine with no configuration.
 *
 * 1. Brings the local stack up (scripts/stack up) unless external endpoints are set.
 * 2. Starts collector, normalizer, enricher and sink; waits until each is ready.
 * 3. Ships the bundled sample (samples/sample.log, plus one empty message that shows
 *    the dead-letter path) to logs.raw.
 * 4. Prints progress until the sample has reached Elasticsearch and Parquet, then a
 *    summary; keeps running (ship more with kcat or any producer) until Ctrl-C.
 * 5. Ctrl-C: stops the services in pipeline order (each drains, flushes and commits),
 *    then the stack if this command started it. Nothing is left running.
 */
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { join } from 'node:path';
import { loadConfig } from '../shared/config.js';
import { commonSchema } from '../shared/common-config.js';
import { createKafka } from '../shared/kafka.js';
import { createLogger } from '../shared/logger.js';
import { repoRoot } from '../shared/schemas.js';
import { schema as sinkSchema } from '../services/sink/config.js';
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { externalEndpointsConfigured, stack, stackIsUp } from './lib/stack.js';
import { metricTotal, scrape, startServices, stopServices, waitReady, type ServiceProcess } from './lib/services.js';
import { esCount, listObjects } from './lib/probes.js';

const say = (s: string) => process.stdout.write(`[sluice] ${s}\n`);

let startedStack = false;
let procs: ServiceProcess[] = [];
let shuttingDown = false;

async function shutdown(why: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say(`${why}: stopping services (each drains, flushes and commits)...`);
  await stopServices(procs);
  if (startedStack) {
    say('stopping the local stack this command started');
    await stack('down').catch((err: unknown) => say(`stack down failed: ${String(err)}`));
  }
  say('stopped; nothing left running');
}

async function main(): Promise<void> {
  const root = repoRoot();
  const common = loadConfig(commonSchema, process.env);
  const sink = loadConfig(sinkSchema, process.env);
  // A closed terminal or pipe must not cut the shutdown short: writes to it fail
  // quietly, and SIGHUP shuts down like Ctrl-C.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  process.on('SIGHUP', () => void shutdown('SIGHUP').then(() => process.exit(0)));
  process.on('SIGINT', () => void shutdown('Ctrl-C').then(() => process.exit(0)));
  process.on('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)));

  if (externalEndpointsConfigured()) {
    say('external endpoints configured: not starting the local stack');
  } else if (stackIsUp()) {
    say('local stack already running (scripts/stack status); using it');
  } else {
    say('starting the local stack: Kafka, schema registry, Elasticsearch, S3 (first run downloads them, a few minutes)');
    await stack('up');
    startedStack = true;
  }

  const logDir = join(root, '.stack', 'logs');
  say(`starting collector, normalizer, enricher, sink (logs: ${logDir}/<service>.log)`);
  procs = await startServices({ env: { SLUICE_SINK_PARQUET_MAX_AGE_MS: '5000', ...process.env }, logDir });
  procs.forEach((p) => p.exited.then((code) => !shuttingDown && say(`${p.name} exited unexpectedly (code ${code}); see ${p.logFile}`)));
  await waitReady(procs);
  for (const p of procs) say(`  ${p.name.padEnd(10)} ready   admin http://127.0.0.1:${p.adminPort}/metrics`);

  const log = createLogger('sluice-start', 'warn');
  const kafka = createKafka(common, 'start', log);
  const es = createEsClient({ url: sink.esUrl, username: sink.esUsername, password: sink.esPassword, apiKey: sink.esApiKey, caFile: sink.esCaFile, indexPrefix: sink.esIndexPrefix });
  const s3 = createS3Client({ endpoint: sink.s3Endpoint, region: sink.s3Region, accessKey: sink.s3AccessKey, secretKey: sink.s3SecretKey, credentials: sink.s3Credentials as 'static' | 'chain', forcePathStyle: sink.s3ForcePathStyle });
  const esIndex = `${sink.esIndexPrefix}-*`;
  const s3Prefix = sink.s3Prefix ? `${sink.s3Prefix}/` : '';
  const docsBefore = await esCount(es, esIndex);

  const lines = readFileSync(join(root, 'samples', 'sample.log'), 'utf8').split('\n').filter((l) => l.length > 0);
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({
    topic: common.topicRaw,
    acks: -1,
    messages: [...lines.map((value) => ({ value })), { value: '' }],
  });
  await producer.disconnect();
  const shipped = lines.length + 1;
  say(`shipped ${shipped} messages to ${common.topicRaw} (${lines.length} sample lines in six formats + 1 empty message, which must become a dead letter)`);

  const byName = (n: string) => procs.find((p) => p.name === n)!;
  const stageCounts = async () => {
    const [c, n, e, s] = await Promise.all(['collector', 'normalizer', 'enricher', 'sink'].map((x) => scrape(byName(x))));
    return {
      collector: metricTotal(c!, 'sluice_records_sent_total'),
      normalizer: metricTotal(n!, 'sluice_records_sent_total'),
      // The enricher's first runner sends enriched logs, metric windows and spans; its second, trace summaries.
      enricher: e!.get('sluice_records_sent_total{stage="enricher"}') ?? 0,
      es: s!.get('sluice_records_sent_total{stage="sink-es"}') ?? 0,
      parquetRows: s!.get('sluice_parquet_rows_total{dataset="logs"}') ?? 0,
      derived: ['metrics', 'spans', 'traces'].map((d) => s!.get(`sluice_records_sent_total{stage="sink-es-${d}"}`) ?? 0),
      dlq: [c, n, e, s].reduce((t, m) => t + metricTotal(m!, 'sluice_records_dlq_total'), 0),
    };
  };
  const expected = lines.length;
  const deadline = Date.now() + 180_000;
  let counts = await stageCounts();
  while (!shuttingDown && (counts.es < expected || counts.parquetRows < expected) && Date.now() < deadline) {
    say(`progress: collected ${counts.collector}, normalized ${counts.normalizer}, enriched ${counts.enricher}, indexed ${counts.es}, parquet rows ${counts.parquetRows}, dead letters ${counts.dlq}`);
    await new Promise((r) => setTimeout(r, 2000));
    counts = await stageCounts();
  }
  if (shuttingDown) return;
  const docs = await esCount(es, esIndex);
  const objects = (await listObjects(s3, sink.s3Bucket, s3Prefix)).filter((o) => o.key.endsWith('.parquet'));
  const complete = counts.es >= expected && counts.parquetRows >= expected;
  const rows: Array<[string, string]> = [
    ['messages shipped to ' + common.topicRaw, String(shipped)],
    ['collector   events out', String(counts.collector)],
    ['normalizer  records out', String(counts.normalizer)],
    ['enricher    records out (logs, metric windows, spans)', String(counts.enricher)],
    ['sink        documents indexed', String(counts.es)],
    ['sink        Parquet rows written (logs)', String(counts.parquetRows)],
    ['sink        metric windows, spans, traces indexed', counts.derived.join(', ')],
    [`Elasticsearch documents in ${esIndex}`, `${docs} (this run: ${docs - docsBefore})`],
    [`Parquet objects in s3://${sink.s3Bucket}/${s3Prefix}`, String(objects.length)],
    [`dead letters sent to ${common.topicDlq}`, String(counts.dlq)],
  ];
  say(complete ? 'summary: the sample went through every stage' : 'summary (INCOMPLETE: not every record arrived within 3 minutes; see the service logs)');
  for (const [k, v] of rows) process.stdout.write(`    ${k.padEnd(52)} ${v}\n`);
  say(`Elasticsearch: ${sink.esUrl}/${esIndex}/_search   Parquet: s3://${sink.s3Bucket}/${s3Prefix}logs/   (credentials: see README)`);
  say('running; produce more lines to logs.raw, or press Ctrl-C to stop everything');
}

main().catch((err: unknown) => {
  process.stderr.write(`[sluice] start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void shutdown('start failed').then(() => process.exit(1));
});

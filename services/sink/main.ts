/**
 * Sink process: each dataset's topic -> Elasticsearch and -> Parquet on S3.
 *
 *   dataset  topic (default)    Elasticsearch (default prefix)             Parquet key
 *   logs     logs.enriched      SLUICE_ES_INDEX_PREFIX (sluice-logs)       <prefix>/logs/...
 *   metrics  metrics.derived    SLUICE_ES_METRICS_PREFIX (sluice-metrics)  <prefix>/metrics/...
 *   spans    traces.spans       SLUICE_ES_SPANS_PREFIX (sluice-spans)      <prefix>/spans/...
 *   traces   traces.summaries   SLUICE_ES_TRACES_PREFIX (sluice-traces)    <prefix>/traces/...
 *
 * Elasticsearch names are `<prefix>-<tenant>-YYYY.MM.DD`, or data streams
 * `<prefix>-<tenant>` (SLUICE_ES_WRITE_MODE; es-writer.ts).
 *
 * Every (writer, dataset) pair is its own SinkRunner and consumer group: logs keep the
 * configured groups (SLUICE_SINK_ES_GROUP, SLUICE_SINK_PARQUET_GROUP), the others use
 * `<group>-<dataset>`. A bulkhead: one store, or one dataset, being slow or down never
 * stalls another. The only file here that reads the environment.
 */
import { loadServiceConfig } from '../../shared/config-file.js';
import { stackVariables } from '../../shared/common-config.js';
import { ConfigError } from '../../shared/errors.js';
import { startService, type Runnable } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { BufferBudget, SinkRunner, avro, type BatchPolicy, type SinkWriter } from '../../shared/runner/index.js';
import type { Logger } from '../../shared/logger.js';
import { schema, strictPrefixes } from './config.js';
import { logsDataset, metricsDataset, spansDataset, tracesDataset, type EsDataset } from './es-document.js';
import { createEsClient, createEsWriter } from './es-writer.js';
import type { EsWriteModeSetting } from './es-capabilities.js';
import { createObjectStore, createS3Client } from './object-store.js';
import { Retention } from './retention.js';
import { createWasmParquetEncoder, type WasmEncoderOptions } from './parquet-encoder-wasm.js';
import { logsParquet, metricsParquet, spansParquet, tracesParquet, type ParquetDataset, type ParquetDatasetName } from './parquet-row.js';
import { createParquetWriter } from './parquet-writer.js';

/** One row of the table above. */
interface Dataset<T> {
  name: ParquetDatasetName;
  topic: string;
  esIndexPrefix: string;
  es: EsDataset<T>;
  parquet: ParquetDataset<T>;
}

const WRITERS = ['es', 'parquet'];
const DATASETS: readonly ParquetDatasetName[] = ['logs', 'metrics', 'spans', 'traces'];

runMain(async () => {
  const { config, file } = loadServiceConfig(schema, process.env, strictPrefixes, stackVariables);
  const badWriters = config.writers.filter((w) => !WRITERS.includes(w));
  if (badWriters.length > 0 || config.writers.length === 0) throw new ConfigError(`SLUICE_SINK_WRITERS must list es and/or parquet, got: ${config.writers.join(',')}`);
  const badDatasets = config.datasets.filter((d) => !(DATASETS as readonly string[]).includes(d));
  if (badDatasets.length > 0 || config.datasets.length === 0) throw new ConfigError(`SLUICE_SINK_DATASETS must list some of ${DATASETS.join(', ')}, got: ${config.datasets.join(',')}`);

  const table = [
    { name: 'logs', topic: config.topicEnriched, esIndexPrefix: config.esIndexPrefix, es: logsDataset, parquet: logsParquet },
    { name: 'metrics', topic: config.topicMetrics, esIndexPrefix: config.esMetricsPrefix, es: metricsDataset, parquet: metricsParquet },
    { name: 'spans', topic: config.topicSpans, esIndexPrefix: config.esSpansPrefix, es: spansDataset, parquet: spansParquet },
    { name: 'traces', topic: config.topicTraces, esIndexPrefix: config.esTracesPrefix, es: tracesDataset, parquet: tracesParquet },
  ].filter((d) => config.datasets.includes(d.name)) as Dataset<unknown>[];
  /** Logs keep the configured group and stage names; the other datasets append their name. */
  const suffixed = (base: string, d: Dataset<unknown>) => (d.name === 'logs' ? base : `${base}-${d.name}`);

  return startService({
    name: 'sink',
    schema,
    config,
    adminPort: config.adminPort,
    topics: [...table.map((d) => d.topic), config.topicDlq],
    start: async (ctx) => {
      const runners: Runnable[] = [];
      const budget = new BufferBudget(config.bufferMaxBytes);
      const run = async <T>(d: Dataset<T>, stageName: string, groupId: string, writer: SinkWriter<T>, policy: BatchPolicy, log: Logger) => {
        const runner = new SinkRunner<T>(
          { kafka: ctx.kafka, inputTopic: d.topic, dlqTopic: config.topicDlq, codecs: ctx.codecs, decode: avro<T>(), metrics: ctx.metrics, stageName, groupId, log },
          writer,
          policy,
          budget,
        );
        await runner.start();
        runners.push(runner);
      };
      const esPolicy: BatchPolicy = { maxRecords: config.esMaxDocs, maxBytes: config.esMaxBytes, maxAgeMs: config.esMaxAgeMs, caughtUpMinRecords: config.esCaughtUpDocs };
      const parquetPolicy: BatchPolicy = { maxRecords: config.parquetMaxRows, maxBytes: config.parquetMaxBytes, maxAgeMs: config.parquetMaxAgeMs, caughtUpMinRecords: config.parquetCaughtUpRows };
      const encoder = createWasmParquetEncoder({ rowGroupSize: config.parquetRowGroupSize, compression: config.parquetCompression as WasmEncoderOptions['compression'] });
      const objects = ctx.registry.counter('sluice_parquet_objects_total', 'Parquet objects written, by dataset.', ['dataset']);
      const rows = ctx.registry.counter('sluice_parquet_rows_total', 'Rows written to Parquet objects, by dataset.', ['dataset']);
      const stale = ctx.registry.counter('sluice_parquet_stale_objects_deleted_total', 'Objects of an uncommitted batch (an earlier owner crashed) deleted before its events were written again, by dataset.', ['dataset']);

      for (const d of table) {
        if (config.writers.includes('es')) {
          const log = ctx.log.child({ writer: 'es', dataset: d.name });
          // Each writer owns (and closes) its client.
          const client = createEsClient({ url: config.esUrl, username: config.esUsername, password: config.esPassword, apiKey: config.esApiKey, caFile: config.esCaFile, indexPrefix: d.esIndexPrefix });
          const writer = createEsWriter({ client, indexPrefix: d.esIndexPrefix, writeMode: config.esWriteMode as EsWriteModeSetting, dataset: d.es, log, routePrefixes: file.routes.indexPrefixes });
          await run(d, suffixed('sink-es', d), suffixed(config.esGroupId, d), writer, esPolicy, log);
        }
        if (config.writers.includes('parquet')) {
          const log = ctx.log.child({ writer: 'parquet', dataset: d.name });
          const labels = { dataset: d.name };
          // Each writer owns (and closes) its object store.
          const store = createObjectStore({ endpoint: config.s3Endpoint, region: config.s3Region, bucket: config.s3Bucket, accessKey: config.s3AccessKey, secretKey: config.s3SecretKey, credentials: config.s3Credentials as 'static' | 'chain', forcePathStyle: config.s3ForcePathStyle });
          const writer = createParquetWriter({
            store,
            encoder,
            prefix: config.s3Prefix,
            dataset: d.parquet,
            onObject: (_key, n) => {
              objects.inc(labels);
              rows.inc(labels, n);
            },
            onStaleObject: (key) => {
              stale.inc(labels);
              log.info({ key }, 'deleted an object of an uncommitted batch; its records are being written again');
            },
          });
          await run(d, suffixed('sink-parquet', d), suffixed(config.parquetGroupId, d), writer, parquetPolicy, log);
        }
      }
      // Retention: its own clients (closed with it); one pass now, then hourly.
      const deleted = ctx.registry.counter('sluice_retention_deleted_total', 'Elasticsearch indices and Parquet objects deleted by retention (SLUICE_SINK_*_RETENTION_DAYS).', ['what']);
      const esOn = config.writers.includes('es') && config.esRetentionDays > 0;
      const s3On = config.writers.includes('parquet') && config.parquetRetentionDays > 0;
      const esClient = esOn ? createEsClient({ url: config.esUrl, username: config.esUsername, password: config.esPassword, apiKey: config.esApiKey, caFile: config.esCaFile, indexPrefix: config.esIndexPrefix }) : undefined;
      const s3Client = s3On ? createS3Client({ endpoint: config.s3Endpoint, region: config.s3Region, accessKey: config.s3AccessKey, secretKey: config.s3SecretKey, credentials: config.s3Credentials as 'static' | 'chain', forcePathStyle: config.s3ForcePathStyle }) : undefined;
      const retention = new Retention({
        log: ctx.log.child({ component: 'retention' }),
        onDeleted: (what, n) => deleted.inc({ what }, n),
        ...(esClient ? { es: { client: esClient, prefixes: [...new Set([...table.map((d) => d.esIndexPrefix), ...(config.datasets.includes('logs') ? file.routes.indexPrefixes : [])])], days: config.esRetentionDays } } : {}),
        ...(s3Client ? { s3: { client: s3Client, bucket: config.s3Bucket, prefixes: table.map((d) => [config.s3Prefix, d.name, ''].filter((x, i) => i > 0 || x.length > 0).join('/')), days: config.parquetRetentionDays } } : {}),
      });
      retention.start();
      runners.push({
        isReady: () => true,
        shutdown: async () => {
          await retention.stop();
          await esClient?.close();
          s3Client?.destroy();
        },
      });
      return runners;
    },
  });
});

/**
 * Sink process: logs.enriched -> Elasticsearch and -> Parquet on S3, as two consumer
 * groups (a bulkhead: one writer being down never stalls the other). The only file
 * here that reads the environment.
 */
import { loadConfig } from '../../shared/config.js';
import { stackVariables } from '../../shared/common-config.js';
import { ConfigError } from '../../shared/errors.js';
import { startService, type Runnable } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { SinkRunner, avro, type BatchPolicy, type SinkWriter } from '../../shared/runner.js';
import type { Logger } from '../../shared/logger.js';
import type { LogRecord } from '../../shared/records.js';
import { schema, strictPrefixes } from './config.js';
import { createEsClient, createEsWriter } from './es-writer.js';
import { createObjectStore } from './object-store.js';
import { createWasmParquetEncoder, type WasmEncoderOptions } from './parquet-encoder-wasm.js';
import { createParquetWriter } from './parquet-writer.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes, stackVariables);
  const unknown = config.writers.filter((w) => w !== 'es' && w !== 'parquet');
  if (unknown.length > 0 || config.writers.length === 0) throw new ConfigError(`SLUICE_SINK_WRITERS must list es and/or parquet, got: ${config.writers.join(',')}`);
  return startService({
    name: 'sink',
    schema,
    config,
    adminPort: config.adminPort,
    topics: [config.topicEnriched, config.topicDlq],
    start: async (ctx) => {
      const runners: Runnable[] = [];
      /** One consumer group per writer: a bulkhead between the stores. */
      const run = async (stageName: string, groupId: string, writer: SinkWriter<LogRecord>, policy: BatchPolicy, log: Logger) => {
        const runner = new SinkRunner<LogRecord>(
          { kafka: ctx.kafka, inputTopic: config.topicEnriched, dlqTopic: config.topicDlq, codecs: ctx.codecs, decode: avro<LogRecord>(), metrics: ctx.metrics, stageName, groupId, log },
          writer,
          policy,
        );
        await runner.start();
        runners.push(runner);
      };
      if (config.writers.includes('es')) {
        const log = ctx.log.child({ writer: 'es' });
        const client = createEsClient({ url: config.esUrl, username: config.esUsername, password: config.esPassword, apiKey: config.esApiKey, caFile: config.esCaFile, indexPrefix: config.esIndexPrefix });
        const writer = createEsWriter({ client, indexPrefix: config.esIndexPrefix, log });
        await run('sink-es', config.esGroupId, writer, { maxRecords: config.esMaxDocs, maxBytes: config.esMaxBytes, maxAgeMs: config.esMaxAgeMs }, log);
      }
      if (config.writers.includes('parquet')) {
        const log = ctx.log.child({ writer: 'parquet' });
        const store = createObjectStore({ endpoint: config.s3Endpoint, region: config.s3Region, bucket: config.s3Bucket, accessKey: config.s3AccessKey, secretKey: config.s3SecretKey, forcePathStyle: config.s3ForcePathStyle });
        const encoder = createWasmParquetEncoder({ rowGroupSize: config.parquetRowGroupSize, compression: config.parquetCompression as WasmEncoderOptions['compression'] });
        const objects = ctx.registry.counter('sluice_parquet_objects_total', 'Parquet objects written.');
        const rows = ctx.registry.counter('sluice_parquet_rows_total', 'Rows written to Parquet objects.');
        const stale = ctx.registry.counter('sluice_parquet_stale_objects_deleted_total', 'Objects of an uncommitted batch (an earlier owner crashed) deleted before its events were written again.');
        const writer = createParquetWriter({
          store,
          encoder,
          prefix: config.s3Prefix,
          onObject: (_key, n) => {
            objects.inc();
            rows.inc({}, n);
          },
          onStaleObject: (key) => {
            stale.inc();
            log.info({ key }, 'deleted an object of an uncommitted batch; its events are being written again');
          },
        });
        await run('sink-parquet', config.parquetGroupId, writer, { maxRecords: config.parquetMaxRows, maxBytes: config.parquetMaxBytes, maxAgeMs: config.parquetMaxAgeMs }, log);
      }
      return runners;
    },
  });
});

/**
 * The Parquet writer (its own consumer group). Each flushed batch of one Kafka
 * partition becomes one object per Hive partition (event time):
 *
 *   <prefix>/logs/tenant=<t>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>+<last>.parquet
 *
 * The key derives only from (dataset, topic, partition, first offset, last offset), so
 * a batch rewritten after a crash replaces its object instead of duplicating rows.
 * Offsets are zero-padded to 20 digits so keys sort in offset order.
 */
import type { SinkBatch, SinkFailure, SinkWriter } from '../../shared/runner.js';
import type { LogRecord } from '../../shared/records.js';
import { classify, ErrorCodes, SluiceError } from '../../shared/errors.js';
import type { ObjectStore } from './object-store.js';
import type { ParquetEncoder } from './parquet-encoder.js';
import { logColumns, partitionPath, toParquetRow, type Row } from './parquet-row.js';

const pad = (offset: string) => offset.padStart(20, '0');

export function objectKey(prefix: string, dataset: string, hivePath: string, batch: Pick<SinkBatch<unknown>, 'topic' | 'partition' | 'firstOffset' | 'lastOffset'>): string {
  const file = `${batch.topic}+${batch.partition}+${pad(batch.firstOffset)}+${pad(batch.lastOffset)}.parquet`;
  return [prefix, dataset, hivePath, file].filter((p) => p.length > 0).join('/');
}

export function createParquetWriter(opts: { store: ObjectStore; encoder: ParquetEncoder; prefix: string; onObject?: (key: string, rows: number) => void }): SinkWriter<LogRecord> {
  return {
    name: 'parquet',
    async start() {},
    async write(batch: SinkBatch<LogRecord>): Promise<SinkFailure<LogRecord>[]> {
      const groups = new Map<string, Row[]>();
      for (const item of batch.items) {
        const path = partitionPath(item.value);
        let rows = groups.get(path);
        if (!rows) groups.set(path, (rows = []));
        rows.push(toParquetRow(item.value));
      }
      for (const [path, rows] of groups) {
        let body: Buffer;
        try {
          body = await opts.encoder.encode(logColumns, rows);
        } catch (err) {
          throw err instanceof SluiceError ? err : classify(err, ErrorCodes.parquetEncode);
        }
        const key = objectKey(opts.prefix, 'logs', path, batch);
        await opts.store.put(key, body, 'application/vnd.apache.parquet');
        opts.onObject?.(key, rows.length);
      }
      return [];
    },
    async close() {
      opts.store.close();
    },
  };
}

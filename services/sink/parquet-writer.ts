/**
 * The Parquet writer of one dataset (logs, metrics, spans or traces; parquet-row.ts),
 * each its own consumer group. Each flushed batch of one Kafka partition becomes one
 * object per Hive partition (the dataset's event time: a log's timestamp, a window's
 * start, a span's or trace's start):
 *
 *   <prefix>/<dataset>/tenant=<t>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>+<last>.parquet
 *
 * The key derives only from (dataset, topic, partition, first offset, last offset), so
 * a batch rewritten after a crash replaces its object instead of duplicating rows.
 * Offsets are zero-padded to 20 digits so keys sort in offset order.
 *
 * A batch rewritten after a crash or a rebalance need not have the same boundaries (an
 * age-based rotation cuts elsewhere), so its keys can differ from the objects the crashed
 * owner left behind. Before writing, the writer therefore records an intent per Kafka
 * partition, `<prefix>/_sluice/intents/<dataset>/<topic>+<partition>.json` = the offsets
 * and keys it is about to write. Batches of a partition are written one at a time, each
 * committed before the next, so only the latest intent can be uncommitted: when a new
 * batch starts at or before that intent's last offset, the intent's objects were never
 * committed, and the ones the new batch does not overwrite are deleted first. So no two
 * objects ever hold the same event.
 */
import type { SinkBatch, SinkFailure, SinkWriter } from '../../shared/runner/index.js';
import type { LogRecord } from '../../shared/records.js';
import { classify, ErrorCodes, SluiceError } from '../../shared/errors.js';
import type { ObjectStore } from './object-store.js';
import type { ParquetEncoder } from './parquet-encoder.js';
import { logsParquet, partitionPath, type ParquetDataset, type Row } from './parquet-row.js';

const pad = (offset: string) => offset.padStart(20, '0');

export function objectKey(prefix: string, dataset: string, hivePath: string, batch: Pick<SinkBatch<unknown>, 'topic' | 'partition' | 'firstOffset' | 'lastOffset'>): string {
  const file = `${batch.topic}+${batch.partition}+${pad(batch.firstOffset)}+${pad(batch.lastOffset)}.parquet`;
  return [prefix, dataset, hivePath, file].filter((p) => p.length > 0).join('/');
}

interface Intent {
  firstOffset: string;
  lastOffset: string;
  keys: string[];
}

export function intentKey(prefix: string, dataset: string, topic: string, partition: number): string {
  return [prefix, '_sluice', 'intents', dataset, `${topic}+${partition}.json`].filter((p) => p.length > 0).join('/');
}

function parseIntent(body: Buffer | null): Intent | null {
  if (!body) return null;
  try {
    const v = JSON.parse(body.toString('utf8')) as Partial<Intent>;
    if (typeof v.firstOffset === 'string' && typeof v.lastOffset === 'string' && Array.isArray(v.keys)) return { firstOffset: v.firstOffset, lastOffset: v.lastOffset, keys: v.keys.filter((k) => typeof k === 'string') };
  } catch {
    // A damaged intent names nothing to clean up.
  }
  return null;
}

export interface ParquetWriterOptions<T> {
  /** Owned by the writer: closed by `close()`, so give each writer its own. */
  store: ObjectStore;
  encoder: ParquetEncoder;
  /** Key prefix inside the bucket, no trailing slash; '' for none. */
  prefix: string;
  /** What is written; logs (LogRecord) by default. */
  dataset?: ParquetDataset<T>;
  onObject?: (key: string, rows: number) => void;
  onStaleObject?: (key: string) => void;
}

export function createParquetWriter<T = LogRecord>(opts: ParquetWriterOptions<T>): SinkWriter<T> {
  const ds = (opts.dataset ?? logsParquet) as ParquetDataset<T>;
  const dataset = ds.name;
  /** The last intent written per partition by this process (read from S3 the first time). */
  const intents = new Map<string, Intent | null>();
  return {
    name: dataset === 'logs' ? 'parquet' : `parquet ${dataset}`,
    async start() {},
    async write(batch: SinkBatch<T>): Promise<SinkFailure<T>[]> {
      const groups = new Map<string, Row[]>();
      for (const item of batch.items) {
        const path = partitionPath({ tenant: ds.tenant(item.value), timestamp: ds.time(item.value) });
        let rows = groups.get(path);
        if (!rows) groups.set(path, (rows = []));
        rows.push(ds.toRow(item.value));
      }
      const keys = [...groups.keys()].map((path) => objectKey(opts.prefix, dataset, path, batch));
      const tp = `${batch.topic}+${batch.partition}`;
      const iKey = intentKey(opts.prefix, dataset, batch.topic, batch.partition);
      if (!intents.has(tp)) intents.set(tp, parseIntent(await opts.store.get(iKey)));
      const previous = intents.get(tp) ?? null;
      // Stale objects go first: a crash before the new intent is written leaves the old
      // intent in place, naming them again (deleting twice is harmless).
      if (previous && BigInt(previous.lastOffset) >= BigInt(batch.firstOffset)) {
        for (const stale of previous.keys.filter((k) => !keys.includes(k))) {
          await opts.store.delete(stale);
          opts.onStaleObject?.(stale);
        }
      }
      const next: Intent = { firstOffset: batch.firstOffset, lastOffset: batch.lastOffset, keys };
      await opts.store.put(iKey, Buffer.from(JSON.stringify(next)), 'application/json');
      intents.set(tp, next);
      for (const [path, rows] of groups) {
        let body: Buffer;
        try {
          body = await opts.encoder.encode(ds.columns, rows);
        } catch (err) {
          throw err instanceof SluiceError ? err : classify(err, ErrorCodes.parquetEncode);
        }
        const key = objectKey(opts.prefix, dataset, path, batch);
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

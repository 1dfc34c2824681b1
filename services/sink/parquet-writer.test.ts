import { createParquetWriter, intentKey } from './parquet-writer.js';
import type { ObjectStore } from './object-store.js';
import type { ParquetEncoder } from './parquet-encoder.js';
import type { SinkBatch } from '../../shared/runner/index.js';
import type { LogRecord } from '../../shared/records.js';

/** The object-store port in memory: the S3 server itself is exercised by the integration tests. */
function memoryStore(): ObjectStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  return {
    objects,
    async put(key, body) {
      objects.set(key, body);
    },
    async get(key) {
      return objects.get(key) ?? null;
    },
    async delete(key) {
      objects.delete(key);
    },
    close() {},
  };
}
const encoder: ParquetEncoder = { encode: async (_c, rows) => Buffer.from(JSON.stringify(rows.length)) };

const hour = (h: number) => Date.UTC(2026, 2, 1, h, 30) * 1000;
function batch(first: number, last: number, hourOf: (offset: number) => number): SinkBatch<LogRecord> {
  const items = [];
  for (let o = first; o <= last; o++) {
    const value = {
      event_id: `e${o}`, timestamp: hour(hourOf(o)), timestamp_source: 'event', observed_at: 0, level: 'INFO', severity_number: 9, message: 'm', service: null, host: null, tenant: 't', environment: null,
      source: { format: 'text', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: o }, trace_id: null, span_id: null, parent_span_id: null, ids: {}, http: null, error: null, attributes: {}, labels: {}, flags: [],
    } as LogRecord;
    items.push({ value, raw: Buffer.alloc(0), envelope: { topic: 'logs.enriched', partition: 4, offset: String(o), timestampMs: 0, key: null, headers: {} } });
  }
  return { topic: 'logs.enriched', partition: 4, firstOffset: String(first), lastOffset: String(last), items };
}
const dataKeys = (s: { objects: Map<string, Buffer> }) => [...s.objects.keys()].filter((k) => k.endsWith('.parquet')).sort();

describe('Parquet writer: no two objects hold the same event', () => {
  test('a batch rewritten with other boundaries (after a crash) replaces the uncommitted objects', async () => {
    const store = memoryStore();
    // First owner writes offsets 100-199 (two hours) and dies before committing.
    await createParquetWriter({ store, encoder, prefix: 'p' }).write(batch(100, 199, (o) => (o < 150 ? 10 : 11)));
    expect(dataKeys(store)).toHaveLength(2);
    expect(JSON.parse(store.objects.get(intentKey('p', 'logs', 'logs.enriched', 4))!.toString()).lastOffset).toBe('199');
    // The next owner resumes at 100 and cuts its batch at 130 (age-based rotation).
    const stale: string[] = [];
    const w = createParquetWriter({ store, encoder, prefix: 'p', onStaleObject: (k) => stale.push(k) });
    await w.write(batch(100, 130, () => 10));
    expect(stale).toHaveLength(2);
    expect(dataKeys(store)).toEqual(['p/logs/tenant=t/dt=2026-03-01/hour=10/logs.enriched+4+00000000000000000100+00000000000000000130.parquet']);
    // Committed, then the next batch: nothing is deleted any more.
    await w.write(batch(131, 199, () => 11));
    expect(stale).toHaveLength(2);
    expect(dataKeys(store)).toHaveLength(2);
  });

  test('a batch after a committed one leaves earlier objects alone, also for a new owner', async () => {
    const store = memoryStore();
    await createParquetWriter({ store, encoder, prefix: '' }).write(batch(0, 9, () => 1));
    await createParquetWriter({ store, encoder, prefix: '' }).write(batch(10, 19, () => 1));
    expect(dataKeys(store)).toHaveLength(2);
  });

  test('the same batch written twice keeps one object', async () => {
    const store = memoryStore();
    const w = createParquetWriter({ store, encoder, prefix: 'p' });
    await w.write(batch(5, 9, () => 2));
    await w.write(batch(5, 9, () => 2));
    expect(dataKeys(store)).toHaveLength(1);
  });
});

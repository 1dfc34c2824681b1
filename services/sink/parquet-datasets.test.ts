/**
 * The Parquet datasets (parquet-row.ts) against their Avro schemas, the writer's keys
 * per dataset, what a reader sees in each dataset's files, and schema evolution.
 */
import { spawnSync } from 'node:child_process';
import { loadSchema } from '../../shared/schemas.js';
import type { LogRecord, MetricWindow, RecordName, Span, TraceSummary } from '../../shared/records.js';
import type { SinkBatch } from '../../shared/runner/index.js';
import { createWasmParquetEncoder } from './parquet-encoder-wasm.js';
import { logsParquet, metricsParquet, spansParquet, tracesParquet, type Column, type ColumnType, type ParquetDataset } from './parquet-row.js';
import { createParquetWriter, intentKey } from './parquet-writer.js';
import type { ObjectStore } from './object-store.js';
import { duckdbScratch } from './testing.js';

type AvroType = string | { type: string; logicalType?: string; fields?: AvroField[]; items?: AvroType; values?: AvroType } | AvroType[];
interface AvroField {
  name: string;
  type: AvroType;
}

function primitive(t: AvroType): ColumnType {
  if (typeof t === 'object' && !Array.isArray(t) && t.logicalType === 'timestamp-micros') return 'TIMESTAMP_MICROS';
  const name = typeof t === 'string' ? t : Array.isArray(t) ? 'union' : t.type;
  const map: Record<string, ColumnType> = { string: 'UTF8', int: 'INT32', long: 'INT64', boolean: 'BOOLEAN', bytes: 'BYTE_ARRAY' };
  const c = map[name];
  if (!c) throw new Error(`no Parquet column type for Avro ${JSON.stringify(t)}`);
  return c;
}

/**
 * The columns an Avro record must become, by the rules in parquet-row.ts: a nested
 * record -> `<field>_<child>` columns (nullable when either is), a map -> JSON text, an
 * array -> a LIST of its item type (or JSON text where `jsonArrays` says so: the
 * logs dataset's `flags`), any other type -> its Parquet type.
 */
function columnsFromAvro(name: RecordName, jsonArrays: readonly string[] = []): Column[] {
  const out: Column[] = [];
  const walk = (fields: AvroField[], prefix: string, parentNullable: boolean) => {
    for (const f of fields) {
      const union = Array.isArray(f.type) ? f.type : null;
      const nullable = parentNullable || (union?.includes('null') ?? false);
      const t = union ? union.find((x) => x !== 'null')! : f.type;
      const col = `${prefix}${f.name}`;
      if (typeof t === 'object' && !Array.isArray(t) && t.type === 'record') walk(t.fields!, `${col}_`, nullable);
      else if (typeof t === 'object' && !Array.isArray(t) && t.type === 'map') out.push({ name: col, type: 'UTF8', optional: nullable });
      else if (typeof t === 'object' && !Array.isArray(t) && t.type === 'array') {
        out.push(jsonArrays.includes(col) ? { name: col, type: 'UTF8', optional: nullable } : { name: col, type: primitive(t.items!), optional: nullable, list: true });
      } else out.push({ name: col, type: primitive(t), optional: nullable });
    }
  };
  walk(loadSchema(name).fields as unknown as AvroField[], '', false);
  return out;
}

const ts = Date.UTC(2026, 2, 1, 23, 59, 59) * 1000 + 123_456;
const log: LogRecord = {
  event_id: '01KAXYZ', timestamp: ts, timestamp_source: 'event', observed_at: ts + 5, level: 'INFO', severity_number: 9, message: 'm', service: 'api', host: null,
  tenant: 'acme', environment: null, source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: 1 },
  trace_id: null, span_id: null, parent_span_id: null, ids: {}, http: null, error: null, attributes: {}, labels: {}, flags: [],
};
const metric: MetricWindow = {
  window_id: 'w1', series: { service: 'api', route: '/x/:id', method: 'GET', status_class: '2xx', level: null }, window_start: ts, window_end: ts + 10_000_000,
  count: 10, error_count: 1, duration_sum_us: 12_345, bucket_bounds_us: [1000, 10_000], bucket_counts: [3, 5, 2], p50_us: 900, p90_us: null, p99_us: 9_000,
  exemplar_trace_id: 'a'.repeat(32), exemplar_event_id: null, late_count: 2, tenant: 'Acme Corp', sketch: Buffer.from([1, 0, 255, 7]),
};
const span: Span = { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: null, service: 'api', operation: 'GET /x/:id', start: ts, end: ts + 1500, duration_us: 1500, status: 'ERROR', event_count: 2, derivation: 'ids', tenant: 'acme' };
const trace: TraceSummary = { trace_id: 'a'.repeat(32), root_service: 'api', root_operation: null, start: ts, duration_us: 1500, span_count: 2, services: ['api', 'db'], error: true, tenant: 'acme' };

const cases = [
  ['logs', 'LogRecord', logsParquet, log, ['flags']],
  ['metrics', 'MetricWindow', metricsParquet, metric, []],
  ['spans', 'Span', spansParquet, span, []],
  ['traces', 'TraceSummary', tracesParquet, trace, []],
] as const;

describe.each(cases)('Parquet dataset %s', (name, record, dataset, sample, jsonArrays) => {
  const ds = dataset as ParquetDataset<unknown>;
  test(`every ${record} field is a column of the right type and nullability, and nothing else`, () => {
    expect(ds.name).toBe(name);
    expect(ds.columns.map((c) => ({ ...c }))).toEqual(columnsFromAvro(record, jsonArrays));
  });

  test('a row has exactly the declared columns', () => {
    expect(Object.keys(ds.toRow(sample)).sort()).toEqual(ds.columns.map((c) => c.name).sort());
  });

  test('Hive partition by its event time, object and intent keys by dataset', async () => {
    const objects = new Map<string, Buffer>();
    const store: ObjectStore = { put: async (k, b) => void objects.set(k, b), get: async (k) => objects.get(k) ?? null, delete: async (k) => void objects.delete(k), close() {} };
    const batch: SinkBatch<unknown> = { topic: 't', partition: 1, firstOffset: '7', lastOffset: '7', items: [{ value: sample, raw: Buffer.alloc(0), envelope: { topic: 't', partition: 1, offset: '7', timestampMs: 0, key: null, headers: {} } }] };
    await createParquetWriter({ store, encoder: { encode: async () => Buffer.from('x') }, prefix: 'p', dataset: ds }).write(batch);
    const tenant = encodeURIComponent(ds.tenant(sample));
    expect(ds.time(sample)).toBe(ts);
    expect([...objects.keys()].sort()).toEqual([intentKey('p', name, 't', 1), `p/${name}/tenant=${tenant}/dt=2026-03-01/hour=23/t+1+00000000000000000007+00000000000000000007.parquet`].sort());
    expect(intentKey('p', name, 't', 1)).toBe(`p/_sluice/intents/${name}/t+1.json`);
  });
});

describe('Parquet files of the derived datasets, as DuckDB and pyarrow read them', () => {
  const encoder = createWasmParquetEncoder({ rowGroupSize: 1000, compression: 'ZSTD' });
  const scratch = duckdbScratch('sluice-parquet-datasets-');
  const all = async (sql: string) => (await scratch.rows(sql)).map((r) => r.map((v) => (typeof v === 'bigint' ? Number(v) : v)));
  async function file(name: string, columns: readonly Column[], rows: Parameters<typeof encoder.encode>[1]): Promise<string> {
    return scratch.file(name, await encoder.encode(columns, rows));
  }
  const types = async (path: string) => Object.fromEntries((await all(`select column_name, column_type from (describe select * from read_parquet('${path}'))`)) as [string, string][]);

  test('metrics: histogram arrays are BIGINT lists, windows are UTC timestamps, nulls stay null', async () => {
    const path = await file('metrics.parquet', metricsParquet.columns, [metricsParquet.toRow(metric), metricsParquet.toRow({ ...metric, window_id: 'w2', bucket_bounds_us: [], bucket_counts: [], p99_us: null })]);
    expect(await types(path)).toMatchObject({ window_start: 'TIMESTAMP WITH TIME ZONE', window_end: 'TIMESTAMP WITH TIME ZONE', bucket_bounds_us: 'BIGINT[]', bucket_counts: 'BIGINT[]', count: 'BIGINT', series_route: 'VARCHAR' });
    expect(await all(`select window_id, epoch_us(window_start)::BIGINT, bucket_counts[2], len(bucket_bounds_us), p99_us, series_level from read_parquet('${path}') order by window_id`)).toEqual([
      ['w1', ts, 5, 2, 9000, null],
      ['w2', ts, null, 0, null, null],
    ]);
  });

  test('metrics: the sketch is a BLOB holding the exact bytes; null when the window has none (or predates the field)', async () => {
    const { sketch: _s, ...older } = metric;
    const path = await file('metrics-sketch.parquet', metricsParquet.columns, [metricsParquet.toRow(metric), metricsParquet.toRow({ ...metric, window_id: 'w2', sketch: null }), metricsParquet.toRow({ ...older, window_id: 'w3' })]);
    expect(await types(path)).toMatchObject({ sketch: 'BLOB' });
    const rows = await all(`select window_id, hex(sketch), octet_length(sketch) from read_parquet('${path}') order by window_id`);
    expect(rows).toEqual([
      ['w1', '0100FF07', 4],
      ['w2', null, null],
      ['w3', null, null],
    ]);
  });

  test('spans: start and end are UTC timestamps to the microsecond', async () => {
    const path = await file('spans.parquet', spansParquet.columns, [spansParquet.toRow(span)]);
    expect(await types(path)).toMatchObject({ start: 'TIMESTAMP WITH TIME ZONE', end: 'TIMESTAMP WITH TIME ZONE', event_count: 'INTEGER', parent_span_id: 'VARCHAR' });
    expect(await all(`select epoch_us("start")::BIGINT, epoch_us("end")::BIGINT, parent_span_id, status from read_parquet('${path}')`)).toEqual([[ts, ts + 1500, null, 'ERROR']]);
  });

  test('traces: services is a VARCHAR list, error a BOOLEAN', async () => {
    const path = await file('traces.parquet', tracesParquet.columns, [tracesParquet.toRow(trace), tracesParquet.toRow({ ...trace, trace_id: 'c'.repeat(32), services: ['web'], error: false })]);
    expect(await types(path)).toMatchObject({ start: 'TIMESTAMP WITH TIME ZONE', services: 'VARCHAR[]', error: 'BOOLEAN' });
    expect(await all(`select trace_id, list_contains(services, 'db'), error from read_parquet('${path}') order by trace_id`)).toEqual([
      ['a'.repeat(32), true, true],
      ['c'.repeat(32), false, false],
    ]);
    // The standard 3-level LIST: `services` (LIST) { repeated group list { required element } }.
    expect(await all(`select name, repetition_type, converted_type from parquet_schema('${path}') where name in ('services', 'list', 'element')`)).toEqual([
      ['services', 'REQUIRED', 'LIST'],
      ['list', 'REPEATED', null],
      ['element', 'REQUIRED', 'UTF8'],
    ]);
  });

  /**
   * Schema evolution: a newer writer adds an optional column (a new optional Avro field,
   * BACKWARD compatible). Files written before and after sit side by side in one
   * dataset and must read together:
   * - DuckDB: `read_parquet([...], union_by_name = true)` (old rows get NULL);
   * - pyarrow: `pyarrow.dataset.dataset(files, schema=<the newer schema>)` reads every
   *   file against one unified schema (`pa.unify_schemas` of the file schemas), old
   *   rows null in the new column. Without `schema=` the dataset takes the first file's
   *   schema and would drop the new column.
   */
  test('a new optional field keeps old and new files readable together', async () => {
    const newer: Column[] = [...metricsParquet.columns, { name: 'p999_us', type: 'INT64', optional: true }];
    const oldFile = await file('old.parquet', metricsParquet.columns, [metricsParquet.toRow(metric), metricsParquet.toRow({ ...metric, window_id: 'w2' })]);
    const newFile = await file('new.parquet', newer, [{ ...metricsParquet.toRow({ ...metric, window_id: 'w3' }), p999_us: 9_900 }, { ...metricsParquet.toRow({ ...metric, window_id: 'w4' }), p999_us: null }]);
    const rows = await all(`select window_id, p999_us, count, epoch_us(window_start)::BIGINT from read_parquet(['${oldFile}', '${newFile}'], union_by_name = true) order by window_id`);
    expect(rows).toEqual([
      ['w1', null, 10, ts],
      ['w2', null, 10, ts],
      ['w3', 9900, 10, ts],
      ['w4', null, 10, ts],
    ]);

    const py = spawnSync(process.env['SLUICE_PYTHON'] ?? 'python3', ['-c', PYARROW_UNIFIED, oldFile, newFile], { encoding: 'utf8', timeout: 60_000 });
    if (py.status === 3) {
      console.warn('pyarrow is not installed (pip install pyarrow): its half of the schema evolution check was skipped');
      return;
    }
    expect(py.stderr).toBe('');
    expect(JSON.parse(py.stdout)).toEqual({ rows: 4, columns: newer.length, p999_us: [null, null, 9900, null], window_start: 'timestamp[us, tz=UTC]' });
  }, 60_000);
});

const PYARROW_UNIFIED = `
import json, sys
try:
    import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
except ImportError:
    sys.exit(3)
files = sys.argv[1:]
schema = pa.unify_schemas([pq.read_schema(f) for f in files])
t = ds.dataset(files, schema=schema, format="parquet").to_table().sort_by("window_id")
print(json.dumps({"rows": t.num_rows, "columns": t.num_columns, "p999_us": t.column("p999_us").to_pylist(), "window_start": str(t.schema.field("window_start").type)}))
`;

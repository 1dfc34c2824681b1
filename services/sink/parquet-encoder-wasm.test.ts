import { createWasmParquetEncoder } from './parquet-encoder-wasm.js';
import { logColumns, toParquetRow, type Row } from './parquet-row.js';
import { duckdbScratch, sinkRecord, ts } from './testing.js';

const base = sinkRecord();

/** Five rows: nulls in optional columns, non-ASCII text, a pre-1970 timestamp and a large offset. */
function rows(): Row[] {
  return [
    toParquetRow(base),
    toParquetRow({ ...base, event_id: '01KAXZ0', timestamp: ts + 1, message: 'naïve — 日本語 ✓', http: null, service: null }),
    toParquetRow({ ...base, event_id: '01KAXZ1', timestamp: -1_000_001, timestamp_source: 'ingest', trace_id: null, span_id: null }),
    toParquetRow({ ...base, event_id: '01KAXZ2', source: { ...base.source, offset: 2 ** 53 - 1 } }),
    toParquetRow({ ...base, event_id: '01KAXZ3', message: '' }),
  ];
}

describe('parquet-wasm encoder', () => {
  const scratch = duckdbScratch('sluice-parquet-wasm-');
  async function written(name: string, compression: 'ZSTD' | 'SNAPPY', rowGroupSize: number): Promise<string> {
    return scratch.file(name, await createWasmParquetEncoder({ rowGroupSize, compression }).encode(logColumns, rows()));
  }
  const all = scratch.rows;

  test('DuckDB reads every row and value back', async () => {
    const file = await written('values.parquet', 'ZSTD', 1000);
    const got = await all(`select event_id, epoch_us("timestamp")::BIGINT, message, service, http_status, source_offset, trace_id, attributes from read_parquet('${file}') order by event_id`);
    expect(got.map((r) => r.map((v) => (typeof v === 'bigint' ? Number(v) : v)))).toEqual([
      ['01KAXYZ', ts, 'boom', 'api', 503, 42, 'a'.repeat(32), '{"a.b":"1"}'],
      ['01KAXZ0', ts + 1, 'naïve — 日本語 ✓', null, null, 42, 'a'.repeat(32), '{"a.b":"1"}'],
      ['01KAXZ1', -1_000_001, 'boom', 'api', 503, 42, null, '{"a.b":"1"}'],
      ['01KAXZ2', ts, 'boom', 'api', 503, 2 ** 53 - 1, 'a'.repeat(32), '{"a.b":"1"}'],
      ['01KAXZ3', ts, '', 'api', 503, 42, 'a'.repeat(32), '{"a.b":"1"}'],
    ]);
  });

  test('timestamp is TIMESTAMP(MICROS, isAdjustedToUTC=true), not INT96 or nanoseconds', async () => {
    const file = await written('types.parquet', 'SNAPPY', 1000);
    const [[type] = []] = await all(`select column_type from (describe select * from read_parquet('${file}')) where column_name = 'timestamp'`);
    expect(type).toBe('TIMESTAMP WITH TIME ZONE');
    const [[physical, converted, logical] = []] = await all(`select type, converted_type, logical_type from parquet_schema('${file}') where name = 'timestamp'`);
    expect([physical, converted]).toEqual(['INT64', 'TIMESTAMP_MICROS']);
    expect(String(logical)).toContain('isAdjustedToUTC=1');
    expect(String(logical)).toContain('MICROS=MicroSeconds()');
  });

  test('columns keep their declared types and nullability', async () => {
    const file = await written('schema.parquet', 'SNAPPY', 1000);
    const schema = await all(`select name, type, repetition_type from parquet_schema('${file}') where name <> 'arrow_schema' and num_children is null`);
    const physical = { UTF8: 'BYTE_ARRAY', INT32: 'INT32', INT64: 'INT64', TIMESTAMP_MICROS: 'INT64', BOOLEAN: 'BOOLEAN', BYTE_ARRAY: 'BYTE_ARRAY' } as const;
    expect(schema).toEqual(logColumns.map((c) => [c.name, physical[c.type], c.optional ? 'OPTIONAL' : 'REQUIRED']));
  });

  test('page compression and row-group size are the ones asked for', async () => {
    for (const codec of ['ZSTD', 'SNAPPY'] as const) {
      const file = await written(`rg-${codec}.parquet`, codec, 2);
      const [[groups, codecs] = []] = await all(`select count(distinct row_group_id)::INTEGER, string_agg(distinct compression, ',') from parquet_metadata('${file}')`);
      expect([groups, codecs]).toEqual([3, codec]);
    }
  });

  test('a null in a required column is an error, not a silent default', async () => {
    const bad = { ...rows()[0]!, tenant: null };
    await expect(createWasmParquetEncoder({ rowGroupSize: 10, compression: 'ZSTD' }).encode(logColumns, [bad])).rejects.toThrow(/tenant is required/);
  });
});

/**
 * Candidate ParquetEncoder on parquet-wasm (the Rust `parquet` crate compiled to
 * WebAssembly) fed through apache-arrow (issue #4 item 4; docs/parquet-libraries.md has
 * the measurements). Same interface as ./parquet-encoder.ts.
 *
 * Rows are turned into Arrow columns directly (offsets + UTF-8 bytes, BigInt64Array,
 * validity bitmaps), shipped to WebAssembly as one Arrow IPC stream and written by the
 * Rust writer. What lands in the file:
 * - TIMESTAMP_MICROS columns: INT64 with LogicalType TIMESTAMP(isAdjustedToUTC=true,
 *   unit=MICROS) plus the legacy ConvertedType TIMESTAMP_MICROS, from the Arrow type
 *   timestamp[us, tz=UTC];
 * - page compression ZSTD (default level), SNAPPY, GZIP or none, for every column;
 * - at most `rowGroupSize` rows per row group; dictionary encoding where it pays
 *   (the writer's default), page statistics; an `ARROW:schema` footer entry.
 */
import { Field, Int32, Int64, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, Timestamp, TimeUnit, Utf8, type Data, type DataType } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import type { ParquetEncoder } from './parquet-encoder.js';
import type { Column, Row } from './parquet-row.js';

export interface WasmEncoderOptions {
  /** Maximum rows per row group. */
  rowGroupSize: number;
  compression: 'ZSTD' | 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';
}

const codecs: Record<WasmEncoderOptions['compression'], Compression> = {
  ZSTD: Compression.ZSTD,
  SNAPPY: Compression.SNAPPY,
  GZIP: Compression.GZIP,
  UNCOMPRESSED: Compression.UNCOMPRESSED,
};

function arrowType(c: Column): DataType {
  switch (c.type) {
    case 'UTF8':
      return new Utf8();
    case 'INT32':
      return new Int32();
    case 'INT64':
      return new Int64();
    case 'TIMESTAMP_MICROS':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
  }
}

/** Validity bitmap (bit set = value present) and null count; throws on a null in a required column. */
function validity(c: Column, rows: readonly Row[]): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((rows.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v === null || v === undefined) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  if (nulls > 0 && !c.optional) throw new Error(`Parquet column ${c.name} is required but ${nulls} row(s) have no value`);
  return { bitmap, nulls };
}

function utf8Data(c: Column, rows: readonly Row[]): Data {
  const { bitmap, nulls } = validity(c, rows);
  const offsets = new Int32Array(rows.length + 1);
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v !== null && v !== undefined) total += Buffer.byteLength(String(v), 'utf8');
    offsets[i + 1] = total;
  }
  // Arrow's 32-bit offsets cap one column of one batch at 2 GiB; the sink's batches are far smaller.
  if (total > 0x7fffffff) throw new Error(`Parquet column ${c.name} holds more than 2 GiB of text in one batch`);
  const bytes = Buffer.allocUnsafe(total);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v !== null && v !== undefined) bytes.write(String(v), offsets[i]!, 'utf8');
  }
  return makeData({ type: new Utf8(), length: rows.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, valueOffsets: offsets, data: bytes });
}

function int32Data(c: Column, rows: readonly Row[]): Data {
  const { bitmap, nulls } = validity(c, rows);
  const values = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v !== null && v !== undefined) values[i] = Number(v);
  }
  return makeData({ type: new Int32(), length: rows.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: values });
}

function int64Values(c: Column, rows: readonly Row[]): { values: BigInt64Array; bitmap: Uint8Array; nulls: number } {
  const { bitmap, nulls } = validity(c, rows);
  const values = new BigInt64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    // Values are integers below 2^53 (microseconds, offsets, byte counts); BigInt throws on a fraction.
    if (v !== null && v !== undefined) values[i] = BigInt(v);
  }
  return { values, bitmap, nulls };
}

function columnData(c: Column, rows: readonly Row[]): Data {
  switch (c.type) {
    case 'UTF8':
      return utf8Data(c, rows);
    case 'INT32':
      return int32Data(c, rows);
    case 'INT64': {
      const { values, bitmap, nulls } = int64Values(c, rows);
      return makeData({ type: new Int64(), length: rows.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: values });
    }
    case 'TIMESTAMP_MICROS': {
      const { values, bitmap, nulls } = int64Values(c, rows);
      return makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length: rows.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: values });
    }
  }
}

/** Rows as one Arrow IPC stream (exported for the benchmark, which times this step apart). */
export function toArrowIpc(columns: readonly Column[], rows: readonly Row[]): Uint8Array {
  const schema = new Schema(columns.map((c) => new Field(c.name, arrowType(c), c.optional)));
  const children = columns.map((c) => columnData(c, rows));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, [batch]), 'stream');
}

export function createWasmParquetEncoder(opts: WasmEncoderOptions): ParquetEncoder {
  return {
    async encode(columns, rows) {
      const ipc = toArrowIpc(columns, rows);
      // Both objects are consumed (freed) by writeParquet.
      const table = WasmTable.fromIPCStream(ipc);
      const props = new WriterPropertiesBuilder().setCompression(codecs[opts.compression]).setMaxRowGroupSize(opts.rowGroupSize).setCreatedBy('sluice (parquet-wasm)').build();
      const bytes = writeParquet(table, props);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}

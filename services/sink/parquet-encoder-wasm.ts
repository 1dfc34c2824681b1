/**
 * Candidate ParquetEncoder on parquet-wasm (the Rust `parquet` crate compiled to
 * WebAssembly) fed through apache-arrow (issue #4 item 4; docs/parquet-libraries.md has
 * the measurements). Same interface as ./parquet-encoder.ts.
 *
 * Rows are turned into Arrow columns directly (offsets + UTF-8 bytes, BigInt64Array,
 * validity bitmaps), shipped to WebAssembly as one Arrow IPC stream and written by the
 * Rust writer. What lands in the file:
 * - BOOLEAN columns: Parquet BOOLEAN; BYTE_ARRAY columns: Parquet BYTE_ARRAY without a
 *   logical type (Arrow binary); list columns: a standard 3-level LIST of required
 *   elements named `element` (Arrow list<element: T not null>);
 * - TIMESTAMP_MICROS columns: INT64 with LogicalType TIMESTAMP(isAdjustedToUTC=true,
 *   unit=MICROS) plus the legacy ConvertedType TIMESTAMP_MICROS, from the Arrow type
 *   timestamp[us, tz=UTC];
 * - page compression ZSTD (default level), SNAPPY, GZIP or none, for every column;
 * - at most `rowGroupSize` rows per row group; dictionary encoding where it pays
 *   (the writer's default), page statistics; an `ARROW:schema` footer entry.
 */
import { Binary, Bool, Field, Int32, Int64, List, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, Timestamp, TimeUnit, Utf8, type Data, type DataType } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import type { ParquetEncoder } from './parquet-encoder.js';
import type { Column, ColumnType, Row } from './parquet-row.js';

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

function scalarType(t: ColumnType): DataType {
  switch (t) {
    case 'UTF8':
      return new Utf8();
    case 'INT32':
      return new Int32();
    case 'INT64':
      return new Int64();
    case 'BOOLEAN':
      return new Bool();
    case 'TIMESTAMP_MICROS':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
    case 'BYTE_ARRAY':
      return new Binary();
  }
}

/** A LIST's element field: named `element`, as the Parquet LIST spec names it; never null. */
const elementField = (c: Column) => new Field('element', scalarType(c.type), false);

function arrowType(c: Column): DataType {
  return c.list ? new List(elementField(c)) : scalarType(c.type);
}

/** One column's values: a name for errors, whether null is allowed, and the values. */
interface Values {
  name: string;
  optional: boolean;
  values: readonly unknown[];
}

/** Validity bitmap (bit set = value present) and null count; throws on a null in a required column. */
function validity(v: Values): { bitmap: Uint8Array; nulls: number } {
  const n = v.values.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const x = v.values[i];
    if (x === null || x === undefined) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  if (nulls > 0 && !v.optional) throw new Error(`Parquet column ${v.name} is required but ${nulls} row(s) have no value`);
  return { bitmap, nulls };
}

const present = (x: unknown) => x !== null && x !== undefined;

/**
 * A variable-width column (Arrow 32-bit offsets into one data buffer): the `size` in bytes
 * of every present value first (it throws on a value of the wrong kind), then each value
 * written at its offset into `alloc(total)`; the values fill every byte of it.
 */
function variableWidthData<B extends Uint8Array>(v: Values, type: Utf8 | Binary, what: string, size: (x: unknown, row: number) => number, alloc: (total: number) => B, write: (into: B, x: unknown, at: number) => void): Data {
  const { bitmap, nulls } = validity(v);
  const n = v.values.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const x = v.values[i];
    if (present(x)) total += size(x, i);
    offsets[i + 1] = total;
  }
  // Arrow's 32-bit offsets cap one column of one batch at 2 GiB; the sink's batches are far smaller.
  if (total > 0x7fffffff) throw new Error(`Parquet column ${v.name} holds more than 2 GiB${what} in one batch`);
  const bytes = alloc(total);
  for (let i = 0; i < n; i++) {
    const x = v.values[i];
    if (present(x)) write(bytes, x, offsets[i]!);
  }
  // makeData's overloads are one per type; Utf8 and Binary take the same props.
  return makeData({ type: type as Utf8, length: n, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, valueOffsets: offsets, data: bytes });
}

function utf8Data(v: Values): Data {
  return variableWidthData(v, new Utf8(), ' of text', (x) => Buffer.byteLength(String(x), 'utf8'), (total) => Buffer.allocUnsafe(total), (into, x, at) => void into.write(String(x), at, 'utf8'));
}

function binaryData(v: Values): Data {
  const size = (x: unknown, row: number): number => {
    if (!(x instanceof Uint8Array)) throw new Error(`Parquet column ${v.name} is binary but row ${row} holds ${typeof x}`);
    return x.byteLength;
  };
  return variableWidthData(v, new Binary(), '', size, (total) => new Uint8Array(total), (into, x, at) => into.set(x as Uint8Array, at));
}

function int32Data(v: Values): Data {
  const { bitmap, nulls } = validity(v);
  const values = new Int32Array(v.values.length);
  v.values.forEach((x, i) => {
    if (present(x)) values[i] = Number(x);
  });
  return makeData({ type: new Int32(), length: values.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: values });
}

function boolData(v: Values): Data {
  const { bitmap, nulls } = validity(v);
  const bits = new Uint8Array((v.values.length + 7) >> 3);
  v.values.forEach((x, i) => {
    if (x === true) bits[i >> 3]! |= 1 << (i & 7);
  });
  return makeData({ type: new Bool(), length: v.values.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: bits });
}

function int64Data(v: Values, timestamp: boolean): Data {
  const { bitmap, nulls } = validity(v);
  const values = new BigInt64Array(v.values.length);
  v.values.forEach((x, i) => {
    // Values are integers below 2^53 (microseconds, offsets, byte counts); BigInt throws on a fraction.
    if (present(x)) values[i] = BigInt(x as number);
  });
  const common = { length: values.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data: values };
  return timestamp ? makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), ...common }) : makeData({ type: new Int64(), ...common });
}

function scalarData(t: ColumnType, v: Values): Data {
  switch (t) {
    case 'UTF8':
      return utf8Data(v);
    case 'INT32':
      return int32Data(v);
    case 'INT64':
      return int64Data(v, false);
    case 'BOOLEAN':
      return boolData(v);
    case 'TIMESTAMP_MICROS':
      return int64Data(v, true);
    case 'BYTE_ARRAY':
      return binaryData(v);
  }
}

/** A LIST column: offsets into one child array holding every row's elements in order. */
function listData(c: Column, v: Values): Data {
  const { bitmap, nulls } = validity(v);
  const n = v.values.length;
  const offsets = new Int32Array(n + 1);
  const elements: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const x = v.values[i];
    if (present(x)) {
      if (!Array.isArray(x)) throw new Error(`Parquet column ${c.name} is a list but row ${i} holds ${typeof x}`);
      for (const e of x as unknown[]) elements.push(e);
    }
    offsets[i + 1] = elements.length;
  }
  const child = scalarData(c.type, { name: `${c.name}.element`, optional: false, values: elements });
  return makeData({ type: new List(elementField(c)), length: n, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, valueOffsets: offsets, child });
}

function columnData(c: Column, rows: readonly Row[]): Data {
  const v: Values = { name: c.name, optional: c.optional, values: rows.map((r) => r[c.name]) };
  return c.list ? listData(c, v) : scalarData(c.type, v);
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

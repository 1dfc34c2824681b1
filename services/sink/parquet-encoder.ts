/**
 * The Parquet library behind one small interface: `ParquetEncoder`.
 *
 * The sink uses parquet-wasm (./parquet-encoder-wasm.ts), chosen by measurement
 * (docs/parquet-libraries.md: about 7x the rows/s, ZSTD, a real TIMESTAMP(MICROS, UTC)).
 * This parquetjs-lite implementation, the library the product owner named, stays for
 * `npm run bench:parquet-libs`: SNAPPY pages, a set row-group size, INT64
 * TIMESTAMP_MICROS (legacy converted type only; DuckDB reads it without a zone).
 */
import { Writable } from 'node:stream';
import parquet from 'parquetjs-lite';
import type { Column, Row } from './parquet-row.js';

export interface ParquetEncoder {
  /** Encode rows (all with the given columns) to one complete Parquet file in memory. */
  encode(columns: readonly Column[], rows: readonly Row[]): Promise<Buffer>;
}

export interface EncoderOptions {
  rowGroupSize: number;
  compression: 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';
}

class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
}

export function createParquetEncoder(opts: EncoderOptions): ParquetEncoder {
  return {
    async encode(columns, rows) {
      const fields: Record<string, { type: string; optional?: boolean; repeated?: boolean; compression: string }> = {};
      // parquetjs-lite has no LIST annotation: an Avro array becomes a bare repeated field (the legacy 1-level shape).
      for (const c of columns) fields[c.name] = c.list ? { type: c.type, repeated: true, compression: opts.compression } : { type: c.type, optional: c.optional, compression: opts.compression };
      const schema = new parquet.ParquetSchema(fields);
      const out = new Collector();
      const writer = await parquet.ParquetWriter.openStream(schema, out, { rowGroupSize: opts.rowGroupSize });
      for (const row of rows) {
        // parquetjs-lite treats null as "missing": drop null keys so optional columns stay null.
        const clean: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(row)) if (v !== null) clean[k] = v;
        await writer.appendRow(clean);
      }
      await writer.close();
      return Buffer.concat(out.chunks);
    },
  };
}

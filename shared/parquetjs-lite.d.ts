// parquetjs-lite ships no type declarations; this declares the part Sluice uses.
declare module 'parquetjs-lite' {
  import type { Writable } from 'node:stream';
  export class ParquetSchema {
    constructor(fields: Record<string, unknown>);
  }
  export class ParquetWriter {
    static openStream(schema: ParquetSchema, out: Writable, opts?: { rowGroupSize?: number; pageSize?: number }): Promise<ParquetWriter>;
    appendRow(row: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
  }
  const parquet: { ParquetSchema: typeof ParquetSchema; ParquetWriter: typeof ParquetWriter };
  export default parquet;
}

/**
 * Which Parquet library should the sink use (issue #4 item 4)? Measures, for each
 * candidate behind the sink's ParquetEncoder interface:
 *
 * - rows/s: encode only (LogRecord rows already flattened by parquet-row.ts, Parquet
 *   bytes in memory out), single thread, one warm-up run, median of ROUNDS runs; a run
 *   encodes all N rows as files of --file-rows rows (the sink's rotation, 100,000) with
 *   --row-group rows per row group (the sink's default, 50,000);
 * - bytes/row of the files, next to the raw log line and the NDJSON row it came from;
 * - what readers see: DuckDB (@duckdb/node-api) and pyarrow (python3) read every file
 *   back; row count, the timestamp column's type, its footer types (ConvertedType and
 *   LogicalType, isAdjustedToUTC), codec and row groups, and that the sum of the
 *   timestamps' microseconds equals the input's.
 *
 * Rows come from the real collect + normalize stages over the corpus that
 * bench-normalize reads ($SLUICE_CORPUS_DIR or ../shared/corpus, else samples/sample.log),
 * each line carrying its system as the `service` header; the records are cycled to N
 * rows with unique event ids, offsets and observed_at, and HTTP events get a random
 * trace_id/span_id (the corpus has no trace context; a traced web tier would).
 *
 *   npm run bench:parquet-libs [-- --rows 200000] [-- --rounds 3] [-- --file-rows 100000] [-- --row-group 50000] [-- --no-pyarrow] [-- --keep DIR]
 *   ("bench:parquet-libs": "npm run build --silent && node dist/scripts/bench-parquet-libs.js")
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import dsnp from '@dsnp/parquetjs';
import { baseRecords, corpusLines, makeRows } from './lib/bench-records.js';
import { createParquetEncoder, type ParquetEncoder } from '../services/sink/parquet-encoder.js';
import { createWasmParquetEncoder } from '../services/sink/parquet-encoder-wasm.js';
import { logColumns, type Column, type Row } from '../services/sink/parquet-row.js';
import { repoRoot } from '../shared/schemas.js';
import { arg, fmt, median, runMain } from './lib/bench-common.js';

const N = arg('--rows', 200_000);
const ROUNDS = arg('--rounds', 3);
const FILE_ROWS = arg('--file-rows', 100_000);
const ROW_GROUP = arg('--row-group', 50_000);
const PYARROW = !process.argv.includes('--no-pyarrow');
/** Keep the written files under this directory (for other readers, e.g. Spark) instead of deleting them. */
const KEEP = process.argv.includes('--keep') ? process.argv[process.argv.indexOf('--keep') + 1] : undefined;

// ---------------------------------------------------------------------------------------
// Candidates

interface Candidate {
  library: string;
  version: string;
  codec: string;
  /** null: the library cannot write this codec. */
  encoder: ParquetEncoder | null;
}

const require = createRequire(import.meta.url);
function versionOf(pkg: string): string {
  // The package's own package.json; some packages do not export it, so read it by path.
  const dir = join(repoRoot(), 'node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(existsSync(dir) ? dir : require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
}

class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
}

/**
 * Packaging defect worked around for the measurement only: in this repo's tree (node-int64
 * 0.3.3 hoisted for parquetjs-lite), @dsnp/parquetjs and its thrift each get their own copy
 * of node-int64 0.4.0, thrift's `instanceof Int64` fails and every write throws
 * "TProtocolException: Expected Int64 or Number". Alone in a tree the two copies dedupe
 * and it works (checked in a scratch install). Chaining the prototypes makes the check pass.
 */
function linkDsnpInt64(): string {
  const fromDsnp = createRequire(require.resolve('@dsnp/parquetjs'));
  const ours = fromDsnp('node-int64') as { prototype: object };
  const thrifts = createRequire(fromDsnp.resolve('thrift'))('node-int64') as { prototype: object };
  if (ours === thrifts) return 'one node-int64 copy';
  Object.setPrototypeOf(ours.prototype, thrifts.prototype);
  return 'two node-int64 copies: prototypes linked';
}

/** @dsnp/parquetjs (the maintained parquetjs fork) written like services/sink/parquet-encoder.ts. */
function createDsnpEncoder(opts: { rowGroupSize: number; compression: 'SNAPPY' | 'GZIP' | 'BROTLI' }): ParquetEncoder {
  return {
    async encode(columns: readonly Column[], rows: readonly Row[]) {
      const fields: Record<string, { type: Column['type']; optional: boolean; compression: 'SNAPPY' | 'GZIP' | 'BROTLI' }> = {};
      for (const c of columns) fields[c.name] = { type: c.type, optional: c.optional, compression: opts.compression };
      const out = new Collector();
      // Its declared stream type is fs.WriteStream; it only calls write() and end().
      const stream = out as unknown as Parameters<typeof dsnp.ParquetWriter.openStream>[1];
      const writer = await dsnp.ParquetWriter.openStream(new dsnp.ParquetSchema(fields), stream, { rowGroupSize: opts.rowGroupSize });
      for (const row of rows) await writer.appendRow(row);
      await writer.close();
      return Buffer.concat(out.chunks);
    },
  };
}

function candidates(): Candidate[] {
  const lite = versionOf('parquetjs-lite');
  const ds = `${versionOf('@dsnp/parquetjs')} (${linkDsnpInt64()})`;
  const pw = `${versionOf('parquet-wasm')} + apache-arrow ${versionOf('apache-arrow')}`;
  return [
    { library: 'parquetjs-lite (current)', version: lite, codec: 'SNAPPY', encoder: createParquetEncoder({ rowGroupSize: ROW_GROUP, compression: 'SNAPPY' }) },
    { library: 'parquetjs-lite (current)', version: lite, codec: 'ZSTD', encoder: null },
    { library: '@dsnp/parquetjs', version: ds, codec: 'SNAPPY', encoder: createDsnpEncoder({ rowGroupSize: ROW_GROUP, compression: 'SNAPPY' }) },
    { library: '@dsnp/parquetjs', version: ds, codec: 'ZSTD', encoder: null },
    { library: 'parquet-wasm', version: pw, codec: 'SNAPPY', encoder: createWasmParquetEncoder({ rowGroupSize: ROW_GROUP, compression: 'SNAPPY' }) },
    { library: 'parquet-wasm', version: pw, codec: 'ZSTD', encoder: createWasmParquetEncoder({ rowGroupSize: ROW_GROUP, compression: 'ZSTD' }) },
  ];
}

// ---------------------------------------------------------------------------------------
// Measure

async function encodeAll(enc: ParquetEncoder, rows: readonly Row[]): Promise<Buffer[]> {
  const files: Buffer[] = [];
  for (let i = 0; i < rows.length; i += FILE_ROWS) files.push(await enc.encode(logColumns, rows.slice(i, i + FILE_ROWS)));
  return files;
}

async function measure(enc: ParquetEncoder, rows: readonly Row[]): Promise<{ rate: number; rates: number[]; files: Buffer[] }> {
  let files = await encodeAll(enc, rows); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    files = await encodeAll(enc, rows);
    rates.push(rows.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return { rate: median(rates), rates, files };
}

interface ReaderView {
  ok: boolean;
  rows: number;
  tsType: string;
  footer: string;
  codec: string;
  rowGroups: number;
  tsSumOk: boolean;
  error?: string;
}

async function duckdbView(db: DuckDBConnection, dir: string, files: readonly string[], expectedTsSum: bigint): Promise<ReaderView> {
  try {
    const glob = `${dir}/*.parquet`;
    const one = async (sql: string) => (await db.runAndReadAll(sql)).getRows();
    const [[count, tsSum] = []] = await one(`select count(*)::BIGINT, sum(epoch_us("timestamp"))::HUGEINT from read_parquet('${glob}')`);
    const [[tsType] = []] = await one(`select column_type from (describe select * from read_parquet('${glob}')) where column_name = 'timestamp'`);
    const [[conv, logical] = []] = await one(`select converted_type, logical_type from parquet_schema('${files[0]}') where name = 'timestamp'`);
    const [[codec, groups] = []] = await one(`select any_value(compression), count(distinct row_group_id)::INTEGER from parquet_metadata('${files[0]}') where path_in_schema = 'timestamp'`);
    return {
      ok: true,
      rows: Number(count),
      tsType: String(tsType),
      footer: `converted=${String(conv)}; logical=${logical === null ? 'none' : String(logical)}`,
      codec: String(codec),
      rowGroups: Number(groups),
      tsSumOk: BigInt(String(tsSum)) === expectedTsSum,
    };
  } catch (err) {
    return { ok: false, rows: 0, tsType: '', footer: '', codec: '', rowGroups: 0, tsSumOk: false, error: err instanceof Error ? err.message : String(err) };
  }
}

const PYARROW_SCRIPT = `
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
out = []
for f in sys.argv[1:]:
    try:
        pf = pq.ParquetFile(f)
        t = pf.read()
        i = pf.schema_arrow.get_field_index('timestamp')
        col = pf.schema.column(i)
        ts = t.column('timestamp')
        out.append(dict(ok=True, rows=t.num_rows, ts_type=str(ts.type), is_us_utc=ts.type == pa.timestamp('us', tz='UTC'),
            logical=str(col.logical_type), converted=str(col.converted_type), codec=pf.metadata.row_group(0).column(i).compression,
            row_groups=pf.metadata.num_row_groups, ts_sum=str(sum(ts.cast(pa.int64()).to_pylist())), created_by=pf.metadata.created_by))
    except Exception as e:
        out.append(dict(ok=False, error=f'{type(e).__name__}: {e}'))
print(json.dumps(dict(version=pa.__version__, files=out)))
`;

function pyarrowView(files: readonly string[], expectedTsSum: bigint): ReaderView & { version: string; createdBy: string } {
  try {
    const res = JSON.parse(execFileSync('python3', ['-c', PYARROW_SCRIPT, ...files], { encoding: 'utf8', maxBuffer: 16 << 20 })) as {
      version: string;
      files: Array<{ ok: boolean; rows: number; ts_type: string; is_us_utc: boolean; logical: string; converted: string; codec: string; row_groups: number; ts_sum: string; created_by: string; error?: string }>;
    };
    const bad = res.files.find((f) => !f.ok);
    if (bad) return { ok: false, rows: 0, tsType: '', footer: '', codec: '', rowGroups: 0, tsSumOk: false, error: bad.error ?? 'failed', version: res.version, createdBy: '' };
    const f0 = res.files[0]!;
    const sum = res.files.reduce((s, f) => s + BigInt(f.ts_sum), 0n);
    return {
      ok: true,
      rows: res.files.reduce((s, f) => s + f.rows, 0),
      tsType: `${f0.ts_type}${f0.is_us_utc ? '' : ' (not timestamp[us, tz=UTC])'}`,
      footer: `converted=${f0.converted}; logical=${f0.logical}`,
      codec: f0.codec,
      rowGroups: f0.row_groups,
      tsSumOk: sum === expectedTsSum,
      version: res.version,
      createdBy: f0.created_by,
    };
  } catch (err) {
    return { ok: false, rows: 0, tsType: '', footer: '', codec: '', rowGroups: 0, tsSumOk: false, error: err instanceof Error ? err.message.split('\n').slice(-3).join(' ') : String(err), version: '?', createdBy: '' };
  }
}

async function main(): Promise<void> {
  const root = repoRoot();
  const { lines, note } = corpusLines(root);
  const base = baseRecords(lines);
  const input = makeRows(base, N);
  const rows = input.rows;
  const tsSum = rows.reduce((s, r) => s + BigInt(r['timestamp'] as number), 0n);

  console.log(`## bench-parquet-libs\n\n${note}`);
  console.log(`${lines.length.toLocaleString('en-US')} lines -> ${base.length.toLocaleString('en-US')} LogRecords, cycled to ${fmt(N)} rows (${logColumns.length} columns): ${fmt((100 * input.http) / N)}% with http fields, ${fmt((100 * input.traced) / N)}% with a trace_id, ${input.services.size} services, levels ${[...input.levels].sort().join(' ')}.`);
  console.log(`Raw input: ${(input.lineBytes / N).toFixed(1)} bytes/row as the original log line, ${(input.ndjsonBytes / N).toFixed(1)} bytes/row as NDJSON of the flat row.`);
  console.log(`Files of ${fmt(FILE_ROWS)} rows, row groups of ${fmt(ROW_GROUP)} rows; rows/s = encode only, one thread, median of ${ROUNDS} runs after one warm-up run.`);
  console.log(`Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}.\n`);

  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const duckVersion = String((await db.runAndReadAll('select version()')).getRows()[0]?.[0]);
  const work = KEEP ?? mkdtempSync(join(tmpdir(), 'sluice-bench-parquet-'));
  const results: string[] = [];
  const details: string[] = [];
  let pyVersion = '';
  try {
    for (const c of candidates()) {
      if (!c.encoder) {
        results.push(`| ${c.library} | ${c.codec} | not supported | – | – | – | – |`);
        continue;
      }
      const { rate, rates, files } = await measure(c.encoder, rows);
      const bytes = files.reduce((s, f) => s + f.length, 0);
      const dir = join(work, `${c.library.replace(/[^a-z0-9]+/gi, '_')}-${c.codec}`);
      mkdirSync(dir, { recursive: true });
      const paths = files.map((f, i) => {
        const p = join(dir, `part-${i}.parquet`);
        writeFileSync(p, f);
        return p;
      });
      const duck = await duckdbView(db, dir, paths, tsSum);
      const py = PYARROW ? pyarrowView(paths, tsSum) : null;
      if (py) pyVersion = py.version;
      const verdict = (v: ReaderView | null) => (v === null ? 'not run' : v.ok ? `${v.rows === N && v.tsSumOk ? 'ok' : 'WRONG'}: ${fmt(v.rows)} rows, \`${v.tsType}\`${v.tsSumOk ? '' : ', timestamps differ'}` : `FAILED: ${v.error}`);
      results.push(`| ${c.library} | ${c.codec} | ${fmt(rate)} | ${(bytes / N).toFixed(1)} | ${(input.lineBytes / N).toFixed(0)} / ${(input.ndjsonBytes / N).toFixed(0)} | ${verdict(duck)} | ${verdict(py)} |`);
      details.push(`| ${c.library} ${c.version} | ${c.codec} | ${rates.map(fmt).join(', ')} | ${duck.ok ? `${duck.codec}, ${duck.rowGroups}` : '?'} | ${duck.ok ? duck.footer : '?'} | ${py?.ok ? py.footer : '?'} | ${py?.createdBy ?? '?'} |`);
    }
  } finally {
    db.closeSync();
    if (!KEEP) rmSync(work, { recursive: true, force: true });
  }
  console.log('| library | codec | rows/s (encode, 1 core) | bytes/row | raw bytes/row (line / NDJSON) | DuckDB reads | pyarrow reads |');
  console.log('|---|---|---:|---:|---:|---|---|');
  for (const r of results) console.log(r);
  console.log(`\nReaders: DuckDB ${duckVersion}, pyarrow ${PYARROW ? pyVersion || 'unavailable' : 'skipped (--no-pyarrow)'}. "ok" = every row back and the sum of the timestamps' microseconds equal to the input's.\n`);
  console.log('| library | codec | runs (rows/s) | codec, row groups in file 1 (DuckDB) | timestamp in the footer (DuckDB parquet_schema) | timestamp in the footer (pyarrow) | created_by |');
  console.log('|---|---|---|---|---|---|---|');
  for (const d of details) console.log(d);
}

runMain(main);

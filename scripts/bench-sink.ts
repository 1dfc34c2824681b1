/**
 * `npm run bench:sink`: what the sink's writers cost per core (issue #4).
 *
 * 1. Elasticsearch writer, prepared: LogRecord -> ECS document -> bulk `create` lines
 *    (the writer's own code path up to the HTTP body), one thread, no server.
 * 2. Elasticsearch writer, prepared AND sent to the local Elasticsearch through the real
 *    writer (createEsWriter: templates, bulk of --bulk documents, item-by-item reading).
 *    Per core = documents / CPU seconds of THIS process; Elasticsearch's own indexing
 *    cost is stated separately: documents / CPU seconds of the Elasticsearch process
 *    group (from /proc, its pid recorded by scripts/stack). Skipped when the local
 *    Elasticsearch is not running.
 * 3. Parquet: LogRecord -> flat row -> Parquet file (the sink's encoder, parquet-wasm,
 *    ZSTD and SNAPPY), one thread; bytes per row next to the raw log line and NDJSON.
 *
 * Input: the corpus records of scripts/lib/bench-records.ts (real collect + normalize).
 * Each figure is the median of --rounds runs after one warm-up run.
 *
 *   npm run bench:sink [-- --docs 100000] [-- --rows 200000] [-- --bulk 5000] [-- --rounds 3]
 */
import { cpus } from 'node:os';
import { createEsClient, createEsWriter } from '../services/sink/es-writer.js';
import { logsDataset } from '../services/sink/es-document.js';
import { createWasmParquetEncoder } from '../services/sink/parquet-encoder-wasm.js';
import { logColumns, toParquetRow } from '../services/sink/parquet-row.js';
import { createLogger } from '../shared/logger.js';
import { repoRoot } from '../shared/schemas.js';
import type { LogRecord } from '../shared/records.js';
import type { SinkBatch } from '../shared/runner/index.js';
import { baseRecords, corpusLines, recordAt } from './lib/bench-records.js';
import { arg, cpuSeconds, fmt, groupCpuSeconds, median, runMain, stackPgid } from './lib/bench-common.js';

const DOCS = arg('--docs', 100_000);
const ROWS = arg('--rows', 200_000);
const BULK = arg('--bulk', 5000);
const ROUNDS = arg('--rounds', 3);
const FILE_ROWS = 100_000;
const ES_URL = process.env['SLUICE_ES_URL'] || 'http://127.0.0.1:9200';

async function timed(f: () => Promise<void> | void): Promise<{ wall: number; cpu: number }> {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  await f();
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSeconds() - c0 };
}

function bulkBody(records: readonly LogRecord[], prefix: string): string {
  let body = '';
  for (const r of records) body += `${JSON.stringify({ create: { _index: logsDataset.index(prefix, r), _id: logsDataset.id(r) } })}\n${JSON.stringify(logsDataset.document(r))}\n`;
  return body;
}

async function main(): Promise<void> {
  const root = repoRoot();
  const { lines, note } = corpusLines(root);
  const base = baseRecords(lines);
  const n = Math.max(DOCS, ROWS);
  const records: LogRecord[] = [];
  let lineBytes = 0;
  for (let i = 0; i < n; i++) {
    records.push(recordAt(base, i));
    lineBytes += base[i % base.length]!.lineBytes;
  }
  console.log(`## bench-sink\n\n${note}\n${fmt(base.length)} LogRecords from ${fmt(lines.length)} lines, cycled. Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}; median of ${ROUNDS} runs after a warm-up.\n`);
  console.log('| measure | per core | note |');
  console.log('|---|---:|---|');

  // 1. Prepared: documents and bulk lines, no I/O.
  const docs = records.slice(0, DOCS);
  const prep: number[] = [];
  let bodyBytes = 0;
  for (let r = 0; r <= ROUNDS; r++) {
    const t = await timed(() => {
      bodyBytes = 0;
      for (let i = 0; i < docs.length; i += BULK) bodyBytes += bulkBody(docs.slice(i, i + BULK), 'bench').length;
    });
    if (r > 0) prep.push(docs.length / t.cpu);
  }
  console.log(`| Elasticsearch writer: documents prepared (ECS document + bulk lines) | ${fmt(median(prep))} docs/s | ${(bodyBytes / docs.length).toFixed(0)} bulk bytes/doc |`);

  // 2. Prepared and sent, through the real writer, to the local Elasticsearch.
  const up = await fetch(ES_URL, { signal: AbortSignal.timeout(3000) }).then(() => true, () => false);
  if (!up) {
    console.log(`| Elasticsearch writer: prepared and sent | skipped | no Elasticsearch at ${ES_URL} (scripts/stack up) |`);
  } else {
    const pgid = stackPgid('elasticsearch');
    const log = createLogger('bench-sink', 'warn');
    const sent: number[] = [];
    const esCost: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r <= ROUNDS; r++) {
      const prefix = `bench-sink-${Date.now().toString(36)}-${r}`;
      const client = createEsClient({ url: ES_URL, indexPrefix: prefix });
      const writer = createEsWriter({ client, indexPrefix: prefix, log });
      await writer.start();
      const es0 = pgid ? groupCpuSeconds(pgid) : 0;
      const t = await timed(async () => {
        for (let i = 0; i < docs.length; i += BULK) {
          const slice = docs.slice(i, i + BULK);
          const batch: SinkBatch<LogRecord> = { topic: 'bench', partition: 0, firstOffset: String(i), lastOffset: String(i + slice.length - 1), items: slice.map((value, k) => ({ value, raw: Buffer.alloc(0), envelope: { topic: 'bench', partition: 0, offset: String(i + k), timestampMs: 0, key: null, headers: {} } })) };
          const failed = await writer.write(batch);
          if (failed.length > 0) throw new Error(`${failed.length} documents refused: ${failed[0]!.error.message}`);
        }
      });
      const esCpu = pgid ? groupCpuSeconds(pgid) - es0 : 0;
      await client.indices.delete({ index: `${prefix}-*`, allow_no_indices: true, ignore_unavailable: true });
      await client.indices.deleteIndexTemplate({ name: `sluice-${prefix}` }).catch(() => undefined);
      await writer.close();
      if (r > 0) {
        sent.push(docs.length / t.cpu);
        wall.push(docs.length / t.wall);
        if (esCpu > 0) esCost.push(docs.length / esCpu);
      }
    }
    console.log(`| Elasticsearch writer: documents prepared and sent (CPU of the writer's process) | ${fmt(median(sent))} docs/s | bulks of ${fmt(BULK)}; wall clock ${fmt(median(wall))} docs/s with Elasticsearch on the same 2 cores |`);
    console.log(`| Elasticsearch's own indexing (CPU of its process group) | ${esCost.length ? `${fmt(median(esCost))} docs/s` : 'not measured'} | ${pgid ? `pid group ${pgid}` : 'no pid file: not started by scripts/stack'} |`);
  }

  // 3. Parquet encoding with the sink's encoder.
  const rows = records.slice(0, ROWS).map(toParquetRow);
  for (const compression of ['ZSTD', 'SNAPPY'] as const) {
    const enc = createWasmParquetEncoder({ rowGroupSize: 50_000, compression });
    const rates: number[] = [];
    let bytes = 0;
    for (let r = 0; r <= ROUNDS; r++) {
      const t = await timed(async () => {
        bytes = 0;
        for (let i = 0; i < rows.length; i += FILE_ROWS) bytes += (await enc.encode(logColumns, rows.slice(i, i + FILE_ROWS))).length;
      });
      if (r > 0) rates.push(rows.length / t.cpu);
    }
    const ndjson = records.slice(0, 20_000).reduce((s, x) => s + Buffer.byteLength(JSON.stringify(x)) + 1, 0) / Math.min(20_000, ROWS);
    console.log(`| Parquet encoding, parquet-wasm ${compression} (row -> file) | ${fmt(median(rates))} rows/s | ${(bytes / rows.length).toFixed(1)} bytes/row; raw log line ${(lineBytes / n).toFixed(0)} bytes, LogRecord NDJSON ${ndjson.toFixed(0)} bytes |`);
  }
  const flat = await timed(() => {
    for (const r of records.slice(0, ROWS)) toParquetRow(r);
  });
  console.log(`| Parquet row flattening (LogRecord -> row) | ${fmt(ROWS / flat.cpu)} rows/s | part of the Parquet writer's work before encoding |`);
}

runMain(main);

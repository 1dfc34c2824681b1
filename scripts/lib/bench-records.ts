/**
 * Realistic LogRecords for the sink benchmarks (bench-parquet-libs, bench-sink): the real
 * collect + normalize stages over the corpus that bench-normalize reads
 * ($SLUICE_CORPUS_DIR or ../shared/corpus, else samples/sample.log), each line carrying
 * its system as the `service` header; cycled to N records with unique event ids, offsets
 * and observed_at. HTTP events get a deterministic trace_id/span_id (the corpus has no
 * trace context; a traced web tier would).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCollectStage } from '../../services/collector/collect.js';
import { createNormalizeStage } from '../../services/normalizer/normalize.js';
import { defaultCorpusDir } from './corpus-eval.js';
import { toParquetRow, type Row } from '../../services/sink/parquet-row.js';
import type { LogRecord, RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';


export interface Line {
  service: string;
  bytes: Buffer;
}

function fileLines(path: string, service: string): Line[] {
  return readFileSync(path)
    .toString('utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.length > 0)
    .map((l) => ({ service, bytes: Buffer.from(l) }));
}

export function corpusLines(root: string): { lines: Line[]; note: string } {
  const dir = defaultCorpusDir(root);
  const lines: Line[] = [];
  const loghub = join(dir, 'loghub');
  if (existsSync(loghub)) {
    for (const sys of readdirSync(loghub).sort()) {
      const f = join(loghub, sys, `${sys}_2k.log`);
      if (existsSync(f)) lines.push(...fileLines(f, sys.toLowerCase()));
    }
  }
  const apache = join(dir, 'elastic-examples', 'apache_logs', 'apache_logs');
  if (existsSync(apache)) lines.push(...fileLines(apache, 'web'));
  const loki = join(dir, 'loki-drain');
  if (existsSync(loki)) for (const f of readdirSync(loki).filter((n) => n.endsWith('.txt')).sort()) lines.push(...fileLines(join(loki, f), f.replace(/\.txt$/, '')));
  const sample = fileLines(join(root, 'samples', 'sample.log'), '');
  if (lines.length === 0) return { lines: sample, note: `corpus absent under ${dir}: samples/sample.log only` };
  return { lines: [...lines, ...sample], note: `corpus: ${dir} (loghub *_2k, elastic-examples apache_logs, loki-drain) + samples/sample.log` };
}

const KAFKA_MS = Date.UTC(2026, 10, 21, 12);

export function baseRecords(lines: readonly Line[]): Array<{ record: LogRecord; lineBytes: number }> {
  const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
  const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
  const ctx = { now: () => KAFKA_MS + 500 };
  const out: Array<{ record: LogRecord; lineBytes: number }> = [];
  lines.forEach((line, i) => {
    const input: StageInput<Buffer> = { topic: 'logs.raw', partition: 0, offset: String(i), timestampMs: KAFKA_MS, key: null, headers: line.service ? { service: line.service } : {}, value: line.bytes, raw: line.bytes };
    let events;
    try {
      events = collect.process(input, ctx);
    } catch {
      return; // a dead letter: nothing to write
    }
    for (const e of events) for (const o of normalize.process({ ...input, value: e.value as RawEvent }, ctx)) out.push({ record: o.value as LogRecord, lineBytes: line.bytes.length });
  });
  return out;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A ULID-shaped id: 10 chars of the time, 16 pseudo-random chars from i (deterministic). */
function ulid(ms: number, i: number): string {
  let s = '';
  for (let t = ms, k = 0; k < 10; k++, t = Math.floor(t / 32)) s = CROCKFORD[t % 32] + s;
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < 16; k++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += CROCKFORD[x % 32];
  }
  return s;
}

/** `len` pseudo-random hex digits, deterministic in (i, salt). */
function hex(i: number, salt: number, len: number): string {
  let x = ((i + 1) * 2654435761 + salt) % 2147483648;
  let s = '';
  for (let k = 0; k < len; k++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += (x >>> 16 & 15).toString(16);
  }
  return s;
}

/** Record `i` of the cycled stream (unique id, offset and observed_at). */
export function recordAt(base: ReadonlyArray<{ record: LogRecord; lineBytes: number }>, i: number): LogRecord {
  const b = base[i % base.length]!;
  const ms = KAFKA_MS + Math.floor(i / 10);
  const r: LogRecord = {
    ...b.record,
    event_id: ulid(ms, i),
    observed_at: ms * 1000 + (i % 1000),
    source: { ...b.record.source, topic: 'logs.enriched', partition: i % 3, offset: Math.floor(i / 3) },
  };
  // The corpus carries no W3C trace context; give HTTP events one, as a traced web tier would.
  if (r.http && !r.trace_id) {
    r.trace_id = hex(i, 1, 32);
    r.span_id = hex(i, 2, 16);
  }
  return r;
}

export function makeRows(base: ReadonlyArray<{ record: LogRecord; lineBytes: number }>, n: number): { rows: Row[]; lineBytes: number; ndjsonBytes: number; http: number; traced: number; levels: Set<string>; services: Set<string> } {
  const rows: Row[] = [];
  let lineBytes = 0;
  let ndjsonBytes = 0;
  let http = 0;
  let traced = 0;
  const levels = new Set<string>();
  const services = new Set<string>();
  for (let i = 0; i < n; i++) {
    const b = base[i % base.length]!;
    const r = recordAt(base, i);
    const row = toParquetRow(r);
    rows.push(row);
    lineBytes += b.lineBytes;
    ndjsonBytes += Buffer.byteLength(JSON.stringify(row)) + 1;
    if (r.http) http++;
    if (r.trace_id) traced++;
    levels.add(r.level);
    if (r.service) services.add(r.service);
  }
  return { rows, lineBytes, ndjsonBytes, http, traced, levels, services };
}


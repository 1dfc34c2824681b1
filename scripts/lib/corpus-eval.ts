/**
 * Accuracy of the normalizer against the Loghub 2k samples (read in place, never
 * copied): each raw line goes through `normalize` as its own RawEvent, and the record
 * is compared with the `_structured.csv` ground truth for time (UTC, with the
 * year-less rule of `yearlessMicros` applied to the CSV date), level and component.
 * Used by corpus-eval.test.ts and scripts/corpus-accuracy.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Level, LogRecord, RawEvent } from '../../shared/records.js';
import { fromLetter, toLevel } from '../../shared/levels.js';
import { normalize, type NormalizeOptions } from '../../services/normalizer/normalize.js';
import { StreamMemory } from '../../shared/formats/header.js';
import { FUTURE_TOLERANCE_US, monthNumber } from '../../shared/time/timestamps.js';

export const LOGHUB_SYSTEMS = ['HDFS', 'Spark', 'Zookeeper', 'OpenSSH', 'Linux', 'Android', 'OpenStack'] as const;
export type LoghubSystem = (typeof LOGHUB_SYSTEMS)[number];

/** Fixed ingest time of the evaluation (Kafka timestamp): 2026-11-21T12:00:00Z. */
export const EVAL_INGEST_US = Date.UTC(2026, 10, 21, 12, 0, 0) * 1000;
const OPTS: NormalizeOptions = { outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };

export interface Score { ok: number; total: number }
export interface SystemReport {
  system: LoghubSystem;
  lines: number;
  records: number;
  /** Records that got an event time (not the ingest fallback). */
  parsed: number;
  timestamp: Score;
  level: Score | null;
  component: Score | null;
  /** How the CSV's component column is compared (which record field). */
  componentField: string;
  /** First few mismatches, for debugging. */
  misses: string[];
}

/** RFC 4180 rows (quoted fields, "" escapes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) { field += text.slice(i); i = n; break; }
        field += text.slice(i, q);
        if (text[q + 1] === '"') { field += '"'; i = q + 2; } else { i = q + 1; break; }
      }
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      field = text.slice(i, j);
      i = j;
    }
    row.push(field);
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    rows.push(row);
    row = [];
  }
  return rows;
}

function yearless(mo: number, d: number, h: number, mi: number, s: number, us: number): number {
  const y = new Date(EVAL_INGEST_US / 1000).getUTCFullYear();
  const t = Date.UTC(y, mo - 1, d, h, mi, s) * 1000 + us;
  return t > EVAL_INGEST_US + FUTURE_TOLERANCE_US ? Date.UTC(y - 1, mo - 1, d, h, mi, s) * 1000 + us : t;
}

/** "HH:mm:ss[.,]fff" -> [h, m, s, micros]. */
function hms(t: string): [number, number, number, number] {
  const [h, m, rest] = t.split(':');
  const [s, frac] = (rest ?? '').split(/[.,]/);
  return [Number(h), Number(m), Number(s), frac ? Number((frac + '000000').slice(0, 6)) : 0];
}

interface Truth { time: number; level: Level | null; component: string | null }

function truthOf(system: LoghubSystem, col: (name: string) => string): Truth {
  switch (system) {
    case 'HDFS': {
      const d = col('Date').padStart(6, '0');
      const t = col('Time').padStart(6, '0');
      const time = Date.UTC(2000 + Number(d.slice(0, 2)), Number(d.slice(2, 4)) - 1, Number(d.slice(4, 6)), Number(t.slice(0, 2)), Number(t.slice(2, 4)), Number(t.slice(4, 6))) * 1000;
      return { time, level: toLevel(col('Level')), component: col('Component') };
    }
    case 'Spark': {
      const [y, mo, d] = col('Date').split('/').map(Number) as [number, number, number];
      const [h, mi, s, us] = hms(col('Time'));
      return { time: Date.UTC(2000 + y, mo - 1, d, h, mi, s) * 1000 + us, level: toLevel(col('Level')), component: col('Component') };
    }
    case 'Zookeeper':
    case 'OpenStack': {
      const [y, mo, d] = col('Date').split('-').map(Number) as [number, number, number];
      const [h, mi, s, us] = hms(col('Time'));
      const c = col('Component');
      return { time: Date.UTC(y, mo - 1, d, h, mi, s) * 1000 + us, level: toLevel(col('Level')), component: system === 'Zookeeper' ? c.slice(c.lastIndexOf(':') + 1) : c };
    }
    case 'OpenSSH': {
      const [h, mi, s, us] = hms(col('Time'));
      // Loghub's "Component" column of OpenSSH holds the host name (LabSZ).
      return { time: yearless(monthNumber(col('Date')), Number(col('Day')), h, mi, s, us), level: null, component: col('Component') };
    }
    case 'Linux': {
      const [h, mi, s, us] = hms(col('Time'));
      return { time: yearless(monthNumber(col('Month')), Number(col('Date')), h, mi, s, us), level: null, component: col('Component') };
    }
    case 'Android': {
      const [mo, d] = col('Date').split('-').map(Number) as [number, number];
      const [h, mi, s, us] = hms(col('Time'));
      return { time: yearless(mo, d, h, mi, s, us), level: fromLetter(col('Level')), component: col('Component') };
    }
  }
}

function componentOf(system: LoghubSystem, r: LogRecord): string | null {
  if (system === 'OpenSSH') return r.host;
  if (system === 'Linux') return r.service;
  return r.attributes['component'] ?? null;
}

const COMPONENT_FIELD: Readonly<Record<LoghubSystem, string>> = {
  HDFS: 'attributes.component', Spark: 'attributes.component', Zookeeper: 'attributes.component (class of thread:Class@line)',
  OpenSSH: 'host (Loghub calls the host "Component")', Linux: 'service (syslog tag)', Android: 'attributes.component (tag)', OpenStack: 'attributes.component',
};

export function rawEvent(body: string, index: number): RawEvent {
  return {
    event_id: `E${index}`, tenant: 'corpus', observed_at: EVAL_INGEST_US, kafka_timestamp: EVAL_INGEST_US,
    origin: { topic: 'logs.raw', partition: 0, offset: index, index: 0 },
    format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body, flags: [],
  };
}

export function loghubAvailable(corpusDir: string): boolean {
  return existsSync(join(corpusDir, 'loghub', 'HDFS', 'HDFS_2k.log'));
}

/**
 * `readers: 'generic'` measures the generic header reader alone: every reader written for
 * a system is off (NormalizeOptions.readers), so a system read only by its own reader shows.
 */
export function evaluateLoghub(corpusDir: string, system: LoghubSystem, readers: 'all' | 'generic' = 'all'): SystemReport {
  const opts: NormalizeOptions = { ...OPTS, readers };
  const streams = new StreamMemory();
  const dir = join(corpusDir, 'loghub', system);
  const lines = readFileSync(join(dir, `${system}_2k.log`), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const [header, ...rows] = parseCsv(readFileSync(join(dir, `${system}_2k.log_structured.csv`), 'utf8'));
  const idx = new Map((header ?? []).map((h, i) => [h, i] as const));
  const rep: SystemReport = {
    system, lines: lines.length, records: 0, parsed: 0, timestamp: { ok: 0, total: 0 },
    level: null, component: { ok: 0, total: 0 }, componentField: COMPONENT_FIELD[system], misses: [],
  };
  for (const row of rows) {
    const lineNo = Number(row[idx.get('LineId') ?? 0]);
    const line = (lines[lineNo - 1] ?? '').replace(/\r$/, '');
    const col = (name: string) => row[idx.get(name) ?? -1] ?? '';
    const truth = truthOf(system, col);
    const r = normalize(rawEvent(line, lineNo), opts, streams);
    rep.records++;
    if (r.timestamp_source === 'event') rep.parsed++;
    const miss = (what: string, got: unknown, want: unknown) => {
      if (rep.misses.length < 10) rep.misses.push(`${system}:${lineNo} ${what} got=${JSON.stringify(got)} want=${JSON.stringify(want)} | ${line.slice(0, 120)}`);
    };
    rep.timestamp.total++;
    if (r.timestamp_source === 'event' && r.timestamp === truth.time) rep.timestamp.ok++;
    else miss('time', r.timestamp, truth.time);
    if (truth.level !== null) {
      rep.level ??= { ok: 0, total: 0 };
      rep.level.total++;
      if (r.level === truth.level) rep.level.ok++;
      else miss('level', r.level, truth.level);
    }
    if (truth.component !== null && rep.component) {
      rep.component.total++;
      const got = componentOf(system, r);
      if (got === truth.component) rep.component.ok++;
      else miss('component', got, truth.component);
    }
  }
  return rep;
}

export function pct(s: Score | null): string {
  return s === null || s.total === 0 ? 'n/a' : `${((100 * s.ok) / s.total).toFixed(2)}%`;
}

export function markdownTable(reports: SystemReport[], generic?: SystemReport[]): string {
  const head = generic
    ? ['| system | lines | timestamp | level | component | generic only: timestamp | generic only: level | component compared with |', '|---|---:|---:|---:|---:|---:|---:|---|']
    : ['| system | lines | records | timestamp | level | component | component compared with |', '|---|---:|---:|---:|---:|---:|---|'];
  const out = [...head];
  reports.forEach((r, i) => {
    const g = generic?.[i];
    out.push(g
      ? `| ${r.system} | ${r.lines} | ${pct(r.timestamp)} | ${pct(r.level)} | ${pct(r.component)} | ${pct(g.timestamp)} | ${pct(g.level)} | ${r.componentField} |`
      : `| ${r.system} | ${r.lines} | ${r.records} | ${pct(r.timestamp)} | ${pct(r.level)} | ${pct(r.component)} | ${r.componentField} |`);
  });
  return out.join('\n');
}

export function defaultCorpusDir(repoRoot: string): string {
  return process.env['SLUICE_CORPUS_DIR'] || join(repoRoot, '..', 'shared', 'corpus');
}

/**
 * `sluice parse` driver: a fixture file through the real collect + normalize stages must
 * give exactly testdata/parse-basic/expected.ndjson (UPDATE_GOLDEN=1 rewrites it; review
 * by hand). Also: stdin through the built CLI, bad input, line splitting.
 */
import { existsSync, readFileSync, writeFileSync, createReadStream } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { ParsePipeline, readLines, type DerivedSinks, type ParseOptions } from './parse-pipeline.js';
import { loadSchema, repoRoot } from '../shared/schemas.js';
import { ConfigError } from '../shared/errors.js';
import type { RecordName } from '../shared/records.js';

const here = dirname(fileURLToPath(import.meta.url));
const caseDir = join(here, 'testdata', 'parse-basic');
const STARTED = Date.UTC(2024, 10, 21, 12, 0, 0, 250);
const MTIME = Date.UTC(2024, 10, 21, 11, 0, 0);

/** A pipeline on the services' default configuration (no SLUICE_* variables of the machine running the tests). */
const pipeline = (opts: Omit<ParseOptions, 'startedAtMs'> = {}): Promise<ParsePipeline> => ParsePipeline.create({ startedAtMs: STARTED, env: {}, ...opts });

async function runAll(p: ParsePipeline, name: string, input: Readable | AsyncIterable<Buffer | string>): Promise<string[]> {
  const out: string[] = [];
  await p.run(name, MTIME, input, (l) => void out.push(l));
  await p.finish();
  return out;
}

function goldenText(file: string, actual: string): string {
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    writeFileSync(file, actual);
    if (process.env['UPDATE_GOLDEN'] !== '1') throw new Error(`${file} did not exist and was written; review it and run again`);
  }
  return readFileSync(file, 'utf8');
}

describe('ParsePipeline', () => {
  test('fixture file -> expected NDJSON (golden)', async () => {
    const p = await pipeline({ tenant: 'acme' });
    const lines = await runAll(p, 'input.log', createReadStream(join(caseDir, 'input.log'), { highWaterMark: 16 }));
    const actual = lines.map((l) => l + '\n').join('');
    expect(actual).toBe(goldenText(join(caseDir, 'expected.ndjson'), actual));
    expect(p.summary).toMatchObject({ lines: 12, emptyLines: 2, mergedLines: 3, records: 7 });
  });

  test('records keep the Avro field names and render times as RFC 3339 with six digits', async () => {
    const p = await pipeline();
    const [line] = await runAll(p, 'x', Readable.from([Buffer.from('hello\n')]));
    const rec = JSON.parse(line!) as Record<string, unknown>;
    expect(Object.keys(rec).slice(0, 4)).toEqual(['event_id', 'timestamp', 'timestamp_source', 'observed_at']);
    expect(rec['observed_at']).toBe('2024-11-21T12:00:00.250000Z');
    expect(rec['timestamp']).toBe('2024-11-21T11:00:00.000000Z'); // no time in the line: the synthetic Kafka timestamp
    expect(rec['source']).toEqual({ format: 'text', shipper: null, file: null, topic: 'file:x', partition: 0, offset: 0 });
  });

  test('--source, --format and --tenant act as the Kafka headers', async () => {
    const p = await pipeline({ source: 'billing', tenant: 't9', format: 'text' });
    const [line] = await runAll(p, 'x', Readable.from(['plain words\n']));
    expect(JSON.parse(line!)).toMatchObject({ service: 'billing', tenant: 't9', source: { format: 'text' } });
  });

  test('bad input is counted, never thrown: invalid UTF-8, empty and whitespace lines', async () => {
    const p = await pipeline();
    const input = Buffer.concat([Buffer.from('\n\r\n \t\n'), Buffer.from([0xc3, 0x28, 0x0a]), Buffer.from('{"log":"\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n')]);
    const lines = await runAll(p, 'bad', Readable.from([input]));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).flags).toEqual(['invalid_utf8']);
    expect(p.summary).toMatchObject({ lines: 5, emptyLines: 3, records: 1 });
    expect(p.summaryLine()).toBe(
      'sluice parse: 5 lines read, 3 empty skipped, 0 oversized cut, 0 merged into multi-line events, 1 records written, 1 dead letters: SLUICE_ERR_INPUT_EMPTY x1 (e.g. "empty message: nothing to collect")',
    );
  });

  test('a Java stack trace across lines is one record; the next line starts a new one', async () => {
    const p = await pipeline();
    const text = '2024-11-21 10:00:00,001 ERROR [main] c.e.Orders - failed\njava.lang.IllegalStateException: boom\n\tat c.e.Orders.place(Orders.java:42)\n\t... 3 more\n2024-11-21 10:00:01,000 INFO [main] c.e.Orders - ok\n';
    const recs = (await runAll(p, 'app.log', Readable.from([text]))).map((l) => JSON.parse(l) as { message: string; level: string; source: { offset: number } });
    expect(recs.map((r) => [r.level, r.source.offset])).toEqual([['ERROR', 0], ['INFO', 4]]);
    expect(recs[0]!.message).toContain('failed');
    expect(p.summary).toMatchObject({ lines: 5, records: 2, mergedLines: 3 });
  });

  test('multiline: false keeps one record per line', async () => {
    const p = await pipeline({ multiline: false });
    const lines = await runAll(p, 'x', Readable.from(['head\n\tat a.B(B.java:1)\n']));
    expect(lines).toHaveLength(2);
  });

  test('interleaved streams merge separately (each event when the next of its stream starts, or at the end)', async () => {
    const d = (log: string, stream: string, s: number) => JSON.stringify({ log: log + '\n', stream, time: `2024-11-21T10:00:0${s}Z` });
    const input = [d('out one', 'stdout', 0), d('err head', 'stderr', 1), d('out two', 'stdout', 2), d('\tat x.Y(Y.java:1)', 'stderr', 3), d('out three', 'stdout', 4)].join('\n') + '\n';
    const p = await pipeline();
    const recs = (await runAll(p, 'd', Readable.from([input]))).map((l) => JSON.parse(l) as { message: string; source: { offset: number } });
    expect(recs.map((r) => [r.source.offset, r.message])).toEqual([
      [0, 'out one'],
      [2, 'out two'],
      [4, 'out three'],
      [1, 'err head\n\tat x.Y(Y.java:1)'],
    ]);
  });

  test('CRI partial lines are joined across lines', async () => {
    const input = '2024-11-21T10:00:00.1Z stdout P part one \n2024-11-21T10:00:00.2Z stdout F and two\n';
    const p = await pipeline();
    const recs = (await runAll(p, 'c', Readable.from([input]))).map((l) => JSON.parse(l) as { message: string });
    expect(recs.map((r) => r.message)).toEqual(['part one and two']);
  });

  test('live input: a quiet stream\'s pending event is emitted after the multi-line timeout, before the input ends', async () => {
    const p = await pipeline({ env: { SLUICE_COLLECTOR_MULTILINE_TIMEOUT_MS: '20' } });
    const out: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<string> {
      yield 'first event\n\tat a.B(B.java:1)\n';
      await gate;
      yield 'second\n';
    }
    const run = p.run('stdin', MTIME, slow(), (l) => {
      out.push(l);
      if (out.length === 1) release();
    }, { live: true });
    await run;
    expect(out.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['first event\n\tat a.B(B.java:1)', 'second']);
  });

  test('an unknown zone is a configuration error before any input is read', async () => {
    await expect(pipeline({ env: { SLUICE_NORMALIZER_ZONE: 'Mars/Olympus' } })).rejects.toThrow(ConfigError);
  });
});

describe('ParsePipeline with enrich and derive (sluice parse --enrich --derived)', () => {
  const enrichDir = join(here, 'testdata', 'parse-enrich');
  /** Short timeouts, so spans and windows close on the watermark inside the fixture too, not only at the end. */
  const env = { SLUICE_ENRICHER_WINDOW_MS: '10000', SLUICE_ENRICHER_ALLOWED_LATENESS_MS: '5000', SLUICE_ENRICHER_SPAN_INACTIVITY_MS: '5000', SLUICE_ENRICHER_TRACE_INACTIVITY_MS: '10000' };

  interface Collected {
    records: string[];
    derived: { metrics: string[]; spans: string[]; traces: string[] };
    /** Derived lines written before `finish` (closed on the watermark while reading). */
    beforeEnd: number;
    pipeline: ParsePipeline;
  }

  async function runEnriched(input: Readable | AsyncIterable<Buffer | string>): Promise<Collected> {
    const derived = { metrics: [] as string[], spans: [] as string[], traces: [] as string[] };
    const sinks: DerivedSinks = { metrics: (l) => void derived.metrics.push(l), spans: (l) => void derived.spans.push(l), traces: (l) => void derived.traces.push(l) };
    const p = await pipeline({ env, tenant: 'acme', enrich: true, derived: sinks });
    const records: string[] = [];
    await p.run('input.log', MTIME, input, (l) => void records.push(l));
    const beforeEnd = derived.metrics.length + derived.spans.length + derived.traces.length;
    await p.finish();
    return { records, derived, beforeEnd, pipeline: p };
  }

  const text = (lines: string[]): string => lines.map((l) => l + '\n').join('');

  test('fixture -> expected enriched records, metric windows, spans and traces (golden)', async () => {
    const r = await runEnriched(createReadStream(join(enrichDir, 'input.log'), { highWaterMark: 64 }));
    for (const [file, lines] of [
      ['expected.ndjson', r.records],
      ['expected.metrics.ndjson', r.derived.metrics],
      ['expected.spans.ndjson', r.derived.spans],
      ['expected.traces.ndjson', r.derived.traces],
    ] as const) {
      const actual = text(lines);
      expect(actual).toBe(goldenText(join(enrichDir, file), actual));
    }
    expect(r.beforeEnd).toBeGreaterThan(0);
    expect(r.pipeline.summaryLine()).toBe(
      'sluice parse: 31 lines read, 0 empty skipped, 0 oversized cut, 5 merged into multi-line events, 26 records written (enriched), 0 dead letters; ' +
        `derived ${r.derived.metrics.length} metric windows (1 late records in delta windows), ${r.derived.spans.length} spans, ${r.derived.traces.length} traces`,
    );
  });

  test('derived lines carry the Avro field names in schema order and RFC 3339 times', async () => {
    const r = await runEnriched(createReadStream(join(enrichDir, 'input.log')));
    const fieldsOf = (name: RecordName): string[] => loadSchema(name).fields.map((f) => f.name);
    for (const [name, lines] of [['MetricWindow', r.derived.metrics], ['Span', r.derived.spans], ['TraceSummary', r.derived.traces]] as const) {
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(Object.keys(JSON.parse(l) as object)).toEqual(fieldsOf(name));
    }
    const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
    for (const l of r.derived.metrics) {
      const w = JSON.parse(l) as { window_start: string; window_end: string };
      expect([w.window_start, w.window_end].every((t) => rfc3339.test(t))).toBe(true);
    }
    for (const l of r.derived.spans) expect((JSON.parse(l) as { start: string }).start).toMatch(rfc3339);
  });

  test('derived values agree with a recomputation over the enriched records', async () => {
    const r = await runEnriched(createReadStream(join(enrichDir, 'input.log')));
    type Rec = { service: string | null; level: string; trace_id: string | null; span_id: string | null; http: { status: number | null; duration_us: number | null } | null; redacted?: boolean; flags: string[] };
    const recs = r.records.map((l) => JSON.parse(l) as Rec);
    type Win = { series: { service: string | null; level: string | null }; count: number; duration_sum_us: number };
    const wins = r.derived.metrics.map((l) => JSON.parse(l) as Win);
    // Log series: counts by (service, level), on-time windows plus late deltas.
    const byLevel = (pairs: Array<[string, number]>): Record<string, number> => pairs.reduce<Record<string, number>>((m, [k, n]) => ({ ...m, [k]: (m[k] ?? 0) + n }), {});
    expect(byLevel(wins.filter((w) => w.series.level !== null).map((w) => [`${w.series.service}|${w.series.level}`, w.count]))).toEqual(byLevel(recs.map((x) => [`${x.service}|${x.level}`, 1])));
    // HTTP series: requests and the sum of their durations.
    const http = recs.filter((x) => x.http !== null && (x.http.status !== null || x.http.duration_us !== null));
    const httpWins = wins.filter((w) => w.series.level === null);
    expect(httpWins.reduce((n, w) => n + w.count, 0)).toBe(http.length);
    expect(httpWins.reduce((n, w) => n + w.duration_sum_us, 0)).toBe(http.reduce((n, x) => n + (x.http?.duration_us ?? 0), 0));
    // Every logged (trace id, span id) is exactly one span.
    const logged = new Set(recs.filter((x) => x.trace_id && x.span_id).map((x) => `${x.trace_id}/${x.span_id}`));
    const spans = r.derived.spans.map((l) => JSON.parse(l) as { trace_id: string; span_id: string; derivation: string });
    const fromIds = spans.filter((s) => s.derivation === 'ids').map((s) => `${s.trace_id}/${s.span_id}`);
    expect(fromIds.sort()).toEqual([...logged].sort());
    // Every span's trace is summarised once, with its span count.
    const traces = r.derived.traces.map((l) => JSON.parse(l) as { trace_id: string; span_count: number });
    const perTrace = spans.reduce<Record<string, number>>((m, s) => ({ ...m, [s.trace_id]: (m[s.trace_id] ?? 0) + 1 }), {});
    expect(Object.fromEntries(traces.map((t) => [t.trace_id, t.span_count]))).toEqual(perTrace);
    // The enricher ran: the e-mail address in a message is redacted, access lines got a route.
    expect(recs.some((x) => x.flags.includes('redacted'))).toBe(true);
  });

  test('enrich without derived sinks: enriched records only', async () => {
    const p = await pipeline({ enrich: true });
    const out = await runAll(p, 'x', Readable.from(['10.0.0.1 - - [21/Nov/2024:10:00:00 +0000] "GET /users/123 HTTP/1.1" 200 5 "-" "curl/8.5.0" 0.010\n']));
    expect((JSON.parse(out[0]!) as { http: { route: string } }).http.route).toBe('/users/{id}');
    expect(p.summaryLine()).toContain('1 records written (enriched), 0 dead letters');
    expect(p.summaryLine()).not.toContain('derived');
  });
});

describe('readLines', () => {
  async function collect(chunks: Array<Buffer | string>, max = 1024): Promise<string[]> {
    const out: string[] = [];
    for await (const l of readLines(Readable.from(chunks), max)) out.push(l.toString('utf8'));
    return out;
  }
  test('splits across chunk boundaries, strips CR, keeps a last line without newline', async () => {
    expect(await collect(['ab', 'c\r\nd', 'e\n\nf'])).toEqual(['abc', 'de', '', 'f']);
  });
  test('caps an oversized line and counts it', async () => {
    let cut = 0;
    const out: string[] = [];
    for await (const l of readLines(Readable.from(['0123456789\nok\n']), 4, () => cut++)) out.push(l.toString());
    expect([out, cut]).toEqual([['0123', 'ok'], 1]);
  });
});

describe('sluice parse (built CLI)', () => {
  const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');
  test('reads stdin, writes NDJSON to stdout and the summary to stderr', () => {
    const r = spawnSync(process.execPath, [cli, 'parse', '--source', 'cli', '-'], { input: 'one\n\ntwo\n', encoding: 'utf8' });
    if (r.status !== 0 && !existsSync(cli)) throw new Error(`run 'npm run build' first: ${cli} is missing`);
    expect(r.status).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { message: string; service: string; source: { topic: string; offset: number } });
    expect(recs.map((x) => [x.message, x.service, x.source.topic, x.source.offset])).toEqual([
      ['one', 'cli', 'file:stdin', 0],
      ['two', 'cli', 'file:stdin', 2],
    ]);
    expect(r.stderr).toContain('sluice parse: 3 lines read, 1 empty skipped, 0 oversized cut, 0 merged into multi-line events, 2 records written, 0 dead letters');
  });
  test('merges a stack trace on stdin; --no-multiline does not', () => {
    const input = 'boom\n\tat a.B(B.java:1)\nnext\n';
    const merged = spawnSync(process.execPath, [cli, 'parse', '--multiline-timeout', '0'], { input, encoding: 'utf8' });
    expect(merged.stdout.trim().split('\n')).toHaveLength(2);
    expect(merged.stderr).toContain('1 merged into multi-line events, 2 records written');
    const single = spawnSync(process.execPath, [cli, 'parse', '--no-multiline'], { input, encoding: 'utf8' });
    expect(single.stdout.trim().split('\n')).toHaveLength(3);
    expect(spawnSync(process.execPath, [cli, 'parse', '--multiline-timeout', 'soon'], { input, encoding: 'utf8' }).status).toBe(2);
  });
  test('a missing file is reported and exits 1, after the summary', () => {
    const r = spawnSync(process.execPath, [cli, 'parse', '/nonexistent/x.log'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nonexistent.*\n.*0 lines read/);
  });
  test('unknown options are a usage error', () => {
    expect(() => execFileSync(process.execPath, [cli, 'parse', '--nope'], { stdio: 'pipe' })).toThrow();
  });
});

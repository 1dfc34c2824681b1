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
import { ParsePipeline, readLines } from './parse-pipeline.js';
import { repoRoot } from './schemas.js';

const here = dirname(fileURLToPath(import.meta.url));
const caseDir = join(here, 'testdata', 'parse-basic');
const STARTED = Date.UTC(2024, 10, 21, 12, 0, 0, 250);
const MTIME = Date.UTC(2024, 10, 21, 11, 0, 0);

async function runAll(p: ParsePipeline, name: string, input: Readable | AsyncIterable<Buffer | string>): Promise<string[]> {
  const out: string[] = [];
  await p.run(name, MTIME, input, (l) => void out.push(l));
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
    const p = new ParsePipeline({ startedAtMs: STARTED, tenant: 'acme' });
    const lines = await runAll(p, 'input.log', createReadStream(join(caseDir, 'input.log'), { highWaterMark: 16 }));
    const actual = lines.map((l) => l + '\n').join('');
    expect(actual).toBe(goldenText(join(caseDir, 'expected.ndjson'), actual));
    expect(p.summary).toMatchObject({ lines: 7, emptyLines: 2, records: 5 });
  });

  test('records keep the Avro field names and render times as RFC 3339 with six digits', async () => {
    const p = new ParsePipeline({ startedAtMs: STARTED });
    const [line] = await runAll(p, 'x', Readable.from([Buffer.from('hello\n')]));
    const rec = JSON.parse(line!) as Record<string, unknown>;
    expect(Object.keys(rec).slice(0, 4)).toEqual(['event_id', 'timestamp', 'timestamp_source', 'observed_at']);
    expect(rec['observed_at']).toBe('2024-11-21T12:00:00.250000Z');
    expect(rec['timestamp']).toBe('2024-11-21T11:00:00.000000Z'); // no time in the line: the synthetic Kafka timestamp
    expect(rec['source']).toEqual({ format: 'text', shipper: null, file: null, topic: 'file:x', partition: 0, offset: 1 });
  });

  test('--source, --format and --tenant act as the Kafka headers', async () => {
    const p = new ParsePipeline({ startedAtMs: STARTED, source: 'billing', tenant: 't9', format: 'text' });
    const [line] = await runAll(p, 'x', Readable.from(['plain words\n']));
    expect(JSON.parse(line!)).toMatchObject({ service: 'billing', tenant: 't9', source: { format: 'text' } });
  });

  test('bad input is counted, never thrown: invalid UTF-8, empty and whitespace lines', async () => {
    const p = new ParsePipeline({ startedAtMs: STARTED });
    const input = Buffer.concat([Buffer.from('\n\r\n \t\n'), Buffer.from([0xc3, 0x28, 0x0a]), Buffer.from('{"log":"\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n')]);
    const lines = await runAll(p, 'bad', Readable.from([input]));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).flags).toEqual(['invalid_utf8']);
    expect(p.summary).toMatchObject({ lines: 5, emptyLines: 3, records: 1 });
    expect(p.summaryLine()).toBe(
      'sluice parse: 5 lines read, 3 empty skipped, 0 oversized cut, 1 records written, 1 dead letters: SLUICE_ERR_INPUT_EMPTY x1 (e.g. "empty message: nothing to collect")',
    );
  });

  test('an unknown --zone fails before reading input', () => {
    expect(() => new ParsePipeline({ startedAtMs: STARTED, zone: 'Mars/Olympus' })).toThrow();
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
      ['one', 'cli', 'file:stdin', 1],
      ['two', 'cli', 'file:stdin', 3],
    ]);
    expect(r.stderr).toContain('sluice parse: 3 lines read, 1 empty skipped, 0 oversized cut, 2 records written, 0 dead letters');
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

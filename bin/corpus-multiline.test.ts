/**
 * Multi-line merging on the real Kafka 0.10 broker logs of the shared corpus
 * (elastic-examples/kafka_monitoring, read in place from $SLUICE_CORPUS_DIR or
 * <repo>/../shared/corpus; never copied into the repo). Skips, saying so, when absent.
 *
 * Each file goes through `ParsePipeline` (the `sluice parse` code path: MultilineMerger
 * across lines, then the real collect + normalize stages) and must give EXACTLY the
 * event and level counts stated in the corpus SOURCES.md ("Derived facts"). Independently
 * of those figures, every record must start at a line matching the documented event-start
 * pattern `^\[yyyy-MM-dd HH:mm:ss,SSS\] LEVEL`, and carry all of its continuation lines.
 */
import { existsSync, readFileSync, createReadStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParsePipeline } from './parse-pipeline.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = resolve(process.env['SLUICE_CORPUS_DIR'] || join(repoRoot, '..', 'shared', 'corpus'));
const kafkaDir = join(corpus, 'elastic-examples', 'kafka_monitoring');

/** SOURCES.md, "Derived facts". Levels not listed there are INFO (the rest of the events). */
const CASES = [
  { file: 'kafka0/logs/controller.log.2016-12-19-18', lines: 1032, events: 803, levels: { DEBUG: 428, INFO: 189, WARN: 137, TRACE: 49 } },
  { file: 'kafka0/logs/server.log.2016-12-19-20', lines: 721, events: 706, levels: { ERROR: 5, WARN: 1, INFO: 700 } },
  { file: 'kafka2/logs/server.log.2016-12-19-20', lines: 272, events: 242, levels: { ERROR: 2, WARN: 2, INFO: 238 } },
] as const;

const EVENT_START = /^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3})\] ([A-Z]+) /;
const STARTED = Date.UTC(2026, 10, 21, 12, 0, 0);
const MTIME = Date.UTC(2016, 11, 20, 0, 0, 0);

interface Rec {
  timestamp: string;
  timestamp_source: string;
  level: string;
  message: string;
  error: { stack: string | null } | null;
  source: { format: string; offset: number };
}

if (!existsSync(kafkaDir)) {
  // eslint-disable-next-line no-console
  console.warn(`corpus absent: no elastic-examples/kafka_monitoring under ${corpus}; set SLUICE_CORPUS_DIR to run the Kafka multi-line corpus tests`);
  test.skip(`Kafka multi-line corpus tests skipped: corpus absent at ${kafkaDir}`, () => undefined);
} else {
  describe('Kafka broker logs: multi-line events through sluice parse', () => {
    test.each(CASES.map((c) => [c.file, c] as const))('%s', async (_name, c) => {
      const path = join(kafkaDir, c.file);
      const lines = readFileSync(path, 'utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      expect(lines).toHaveLength(c.lines);

      const p = await ParsePipeline.create({ startedAtMs: STARTED, tenant: 'corpus', env: {} });
      const recs: Rec[] = [];
      await p.run(c.file, MTIME, createReadStream(path), (l) => void recs.push(JSON.parse(l) as Rec));
      await p.finish();

      // The stated figures.
      expect(recs).toHaveLength(c.events);
      expect(p.summary).toMatchObject({ lines: c.lines, records: c.events, mergedLines: c.lines - c.events, emptyLines: 0 });
      expect(p.summary.deadLetters.size).toBe(0);
      const levels: Record<string, number> = {};
      for (const r of recs) levels[r.level] = (levels[r.level] ?? 0) + 1;
      expect(levels).toEqual(c.levels);

      // Boundaries, levels and times from the documented event-start pattern.
      const starts = lines.flatMap((l, i) => (EVENT_START.test(l) ? [i] : []));
      expect(starts).toHaveLength(c.events);
      const problems: string[] = [];
      recs.forEach((r, k) => {
        const first = starts[k] as number;
        const end = starts[k + 1] ?? lines.length;
        const m = EVENT_START.exec(lines[first] as string) as RegExpExecArray;
        const want = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}000Z`;
        if (r.source.offset !== first) problems.push(`record ${k}: offset ${r.source.offset}, event starts at line ${first + 1} (offset ${first})`);
        if (r.level !== m[8]) problems.push(`line ${first + 1}: level ${r.level}, want ${m[8]}`);
        if (r.timestamp !== want || r.timestamp_source !== 'event') problems.push(`line ${first + 1}: timestamp ${r.timestamp} (${r.timestamp_source}), want ${want}`);
        if (r.source.format !== 'log4j') problems.push(`line ${first + 1}: format ${r.source.format}`);
        // Every continuation line is in the event, in order, and nothing after: in the
        // message, or, for a stack trace, in error.stack (the message keeps the line
        // before the trace; a trace that starts on the first line opens the stack).
        const stack = r.error?.stack;
        const text = stack ? (stack.startsWith(r.message) ? stack : `${r.message}\n${stack}`) : r.message;
        const continuation = lines.slice(first + 1, end);
        if (continuation.length > 0 && !text.endsWith('\n' + continuation.join('\n'))) problems.push(`line ${first + 1}: event lacks its ${continuation.length} continuation lines`);
        if (continuation.length === 0 && text.includes('\n')) problems.push(`line ${first + 1}: single-line event has a multi-line text`);
      });
      expect(problems.slice(0, 10)).toEqual([]);
    });
  });
}

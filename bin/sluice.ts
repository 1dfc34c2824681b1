#!/usr/bin/env node
/**
 * The `sluice` command. Subcommands:
 *   sluice config [service]   print the configuration reference (Markdown), all services or one
 *   sluice parse [options] [file ...]   run collect + normalize on files or stdin, NDJSON to stdout
 *   sluice validate [file] [--sample log]   check a sluice.yaml (formats) and try it on a sample
 *   sluice learn file             infer a format rule from a sample of an unknown log
 *   sluice dlq list [options]     summarize the dead-letter topic by stage and error code (NDJSON with --json)
 *   sluice dlq replay [options]   produce chosen dead letters' original bytes back to their origin topic
 *   sluice help
 * The `dlq` commands read the same environment as the services (Kafka, registry, topic
 * names); their filtering and bookkeeping live in shared/dlq.ts, the Kafka I/O here.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { ParsePipeline, type DerivedSinks, type DeriveSettings, type EnrichMode, type LineSink } from '../shared/parse-pipeline.js';
import { describeSchema, loadConfig, type ConfigOf } from '../shared/config.js';
import { commonSchema, stackVariables } from '../shared/common-config.js';
import { createKafka, type KafkaClient } from '../shared/kafka.js';
import { createRegistry } from '../shared/registry.js';
import { ConfigError, SluiceError, errorMessage } from '../shared/errors.js';
import { EXIT_CONFIG } from '../shared/main-helpers.js';
import { loadConfigFile } from '../shared/config-file.js';
import { LEARN_USAGE, VALIDATE_USAGE, learnCommand, validateCommand } from './formats-commands.js';
import type { DeadLetter } from '../shared/records.js';
import {
  DeadLetterDecoder, DlqSummary, ReplayTally, WatermarkTracker, formatSummaryTable, matches, normalizeCode, parseSince,
  replayDecision, replayedFrom, toLine, DLQ_ORIGINAL_LIMIT_BYTES, REPLAYED_FROM_HEADER, type DlqCoordinates, type DlqFilter,
} from '../shared/dlq.js';
import { collectorSchema } from '../services/collector/config.js';
import { normalizerSchema } from '../services/normalizer/config.js';
import { enricherSchema, strictPrefixes as enricherPrefixes } from '../services/enricher/config.js';
import { createEnrichContext, enrich } from '../services/enricher/enrich.js';
import { sinkSchema } from '../services/sink/config.js';

const sections = {
  common: { title: 'Every service', schema: commonSchema },
  collector: { title: 'collector', schema: collectorSchema },
  normalizer: { title: 'normalizer', schema: normalizerSchema },
  enricher: { title: 'enricher', schema: enricherSchema },
  sink: { title: 'sink', schema: sinkSchema },
} as const;

function usage(): string {
  return [
    'usage: sluice config [common|collector|normalizer|enricher|sink]',
    '       sluice parse [--format <hint>] [--zone <IANA>] [--source <service>] [--tenant <tenant>]',
    '                    [--multiline-timeout <ms>] [--no-multiline] [--rules <sluice.yaml>] [--explain]',
    '                    [--generic-only] [file ...]',
    '         runs the collector and normalizer stages on the files (or stdin, or "-"), merging',
    '         multi-line events (stack traces) across lines; writes LogRecords as NDJSON to stdout',
    '         and a one-line summary to stderr. On stdin a pending multi-line event is written once',
    '         its stream has been quiet for --multiline-timeout ms (default 1000; 0 = only at end',
    '         of input). --no-multiline: every line is its own record. --rules: the formats of a',
    '         sluice.yaml (default: $SLUICE_CONFIG, else ./sluice.yaml when present); the summary says',
    '         how many records each format read. --explain: each record gets an `explain` object',
    '         (which reader or format read it, where its time and level came from). --generic-only:',
    '         every reader written for a system off (the generic header reader, JSON and logfmt remain).',
    '       sluice parse --enrich [--derived <dir> [--window-ms <ms>] [--lateness-ms <ms>]',
    '                    [--span-inactivity-ms <ms>] [--trace-inactivity-ms <ms>]] [parse options] [file ...]',
    '         --enrich: also runs the enricher stage (configured by its SLUICE_ENRICHER_* variables,',
    '         defaults otherwise); stdout gets the enriched LogRecords. --derived <dir>: also derives',
    '         what the enricher derives and writes <dir>/metrics.ndjson (MetricWindow), <dir>/spans.ndjson',
    '         (Span) and <dir>/traces.ndjson (TraceSummary), Avro field names, times as RFC 3339 UTC.',
    '         All inputs are one event-time stream in the order given (give rotated files oldest first);',
    '         what is still open at the end of input is written then. Window, allowed lateness and',
    '         inactivity timeouts default to the enricher\'s (SLUICE_ENRICHER_WINDOW_MS 10000,',
    '         _ALLOWED_LATENESS_MS 5000, _SPAN_INACTIVITY_MS 60000, _TRACE_INACTIVITY_MS 60000).',
    '       sluice dlq list [--stage <stage>] [--code <code>] [--since <time|duration>] [--json] [--with-original]',
    '         reads the dead-letter topic (SLUICE_TOPIC_DLQ) from the beginning up to its end at start,',
    '         without committing offsets, and prints per stage and error code: count, first and last',
    '         failed_at and an example message. --json: one NDJSON line per dead letter on stdout (origin',
    '         coordinates, code, message, event_id, original size; --with-original adds the bytes as',
    '         base64) and the table on stderr. --stage/--code may repeat; a code may omit SLUICE_ERR_.',
    '         --since: RFC 3339 with a zone (2024-05-01T12:00:00Z) or a duration back from now (90s, 15m,',
    '         1h30m, 2d).',
    '       sluice dlq replay (--stage <stage> | --code <code>) [--since ...] [--limit <n>] [--dry-run]',
    '         produces each chosen dead letter\'s original bytes, with its original key, to its origin',
    '         topic and partition (acks=all, idempotent), with header sluice-replayed-from:',
    '         <dlq topic>/<partition>/<offset>; prints how many went to each topic. Requires --stage or',
    '         --code. Skips (with a warning) letters whose original may have been cut at 256 KiB.',
    '         Replaying twice produces twice. --dry-run lists what would be replayed.',
    '         Both read Kafka, registry and topic settings from the services\' environment variables.',
    ...VALIDATE_USAGE.replace(/^usage: /, '       ').split('\n'),
    ...LEARN_USAGE.replace(/^usage: /, '       ').split('\n'),
    '       sluice help',
    '',
  ].join('\n');
}

/** Write with backpressure, so a slow consumer (`| head`, `| less`) bounds memory. */
function writeOut(line: string): Promise<void> | void {
  if (process.stdout.write(line + '\n')) return;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** A line sink on a file, with the same backpressure; an error on the file fails the next write. */
function fileSink(stream: WriteStream): LineSink {
  let failure: Error | undefined;
  stream.on('error', (err) => {
    failure ??= err;
  });
  return (line) => {
    if (failure) throw failure;
    if (stream.write(line + '\n')) return;
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        stream.off('drain', onDrain);
        reject(err);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  };
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

const DERIVE_FLAGS = [
  ['window-ms', 'windowMs'],
  ['lateness-ms', 'allowedLatenessMs'],
  ['span-inactivity-ms', 'spanInactivityMs'],
  ['trace-inactivity-ms', 'traceInactivityMs'],
] as const;

type EnrichSetup = { mode: EnrichMode; derivedDir: string | null } | { exitCode: number };

/**
 * `--enrich` / `--derived`: the enricher's configuration from its environment (as its
 * main.ts loads it), the context built once, and the derivation settings (flags override
 * the configuration). Returns an exit code on a usage or configuration error.
 */
function enrichSetup(values: Record<string, string | boolean | undefined>): EnrichSetup {
  const derivedDir = typeof values['derived'] === 'string' ? values['derived'] : null;
  const usageError = (text: string): EnrichSetup => {
    process.stderr.write(`sluice parse: ${text}\n${usage()}`);
    return { exitCode: 2 };
  };
  if (derivedDir !== null && values['enrich'] !== true) return usageError('--derived requires --enrich');
  if (derivedDir === '') return usageError('--derived needs a directory');
  for (const [flag] of DERIVE_FLAGS) if (values[flag] !== undefined && derivedDir === null) return usageError(`--${flag} requires --derived`);
  let config;
  let context;
  try {
    config = loadConfig(enricherSchema, process.env, enricherPrefixes);
    context = createEnrichContext(config, { readFile: (p) => readFileSync(p, 'utf8') });
  } catch (err) {
    process.stderr.write(`sluice parse --enrich: ${errorMessage(err)}\n`);
    return { exitCode: err instanceof ConfigError ? EXIT_CONFIG : 1 };
  }
  const mode: EnrichMode = { enrich: (r) => enrich(r, context) };
  if (derivedDir !== null) {
    const ms: Record<(typeof DERIVE_FLAGS)[number][1], number> = {
      windowMs: config.windowMs, allowedLatenessMs: config.allowedLatenessMs, spanInactivityMs: config.spanInactivityMs, traceInactivityMs: config.traceInactivityMs,
    };
    for (const [flag, key] of DERIVE_FLAGS) {
      const text = values[flag];
      if (typeof text !== 'string') continue;
      const n = Number(text);
      const min = enricherSchema[key].min;
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) return usageError(`--${flag} must be a whole number of milliseconds >= ${min}, got ${JSON.stringify(text)}`);
      ms[key] = n;
    }
    const derive: DeriveSettings = {
      windowUs: ms.windowMs * 1000,
      allowedLatenessUs: ms.allowedLatenessMs * 1000,
      spanInactivityUs: ms.spanInactivityMs * 1000,
      traceInactivityUs: ms.traceInactivityMs * 1000,
    };
    mode.derive = derive;
  }
  return { mode, derivedDir };
}

async function parseCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: 'string' },
        zone: { type: 'string' },
        source: { type: 'string' },
        tenant: { type: 'string' },
        'multiline-timeout': { type: 'string' },
        'no-multiline': { type: 'boolean' },
        rules: { type: 'string' },
        explain: { type: 'boolean' },
        'generic-only': { type: 'boolean' },
        enrich: { type: 'boolean' },
        derived: { type: 'string' },
        'window-ms': { type: 'string' },
        'lateness-ms': { type: 'string' },
        'span-inactivity-ms': { type: 'string' },
        'trace-inactivity-ms': { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const timeoutText = values['multiline-timeout'] ?? '1000';
  const idleFlushMs = Number(timeoutText);
  if (!/^\d+$/.test(timeoutText) || !Number.isSafeInteger(idleFlushMs)) {
    process.stderr.write(`sluice parse: --multiline-timeout must be a whole number of milliseconds, got ${JSON.stringify(timeoutText)}\n${usage()}`);
    return 2;
  }
  let enrichMode: EnrichMode | undefined;
  let derivedDir: string | null = null;
  if (values.enrich === true || values.derived !== undefined || DERIVE_FLAGS.some(([f]) => values[f] !== undefined)) {
    const setup = enrichSetup(values);
    if ('exitCode' in setup) return setup.exitCode;
    enrichMode = setup.mode;
    derivedDir = setup.derivedDir;
  }
  let formats;
  try {
    formats = loadConfigFile(values.rules, process.env).formats;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  const startedAtMs = Date.now();
  let pipeline: ParsePipeline;
  try {
    pipeline = new ParsePipeline({
      format: values.format,
      zone: values.zone,
      source: values.source,
      tenant: values.tenant,
      startedAtMs,
      multiline: values['no-multiline'] !== true,
      enrich: enrichMode,
      formats,
      explain: values.explain === true,
      readers: values['generic-only'] === true ? 'generic' : 'all',
    });
  } catch (err) {
    process.stderr.write(`sluice parse: ${(err as Error).message}\n`);
    return 2;
  }
  const derivedFiles: WriteStream[] = [];
  let derived: DerivedSinks | undefined;
  if (derivedDir !== null) {
    try {
      mkdirSync(derivedDir, { recursive: true });
      const open = (name: string): WriteStream => {
        const s = createWriteStream(join(derivedDir, name));
        derivedFiles.push(s);
        return s;
      };
      derived = { metrics: fileSink(open('metrics.ndjson')), spans: fileSink(open('spans.ndjson')), traces: fileSink(open('traces.ndjson')) };
    } catch (err) {
      process.stderr.write(`sluice parse: --derived ${derivedDir}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  // A closed stdout (`| head`) ends the run quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  let failed = false;
  const runOpts = derived ? { derived } : {};
  for (const file of positionals.length > 0 ? positionals : ['-']) {
    try {
      if (file === '-') {
        await pipeline.run('stdin', Date.now(), process.stdin, writeOut, { ...runOpts, idleFlushMs });
      } else {
        const mtimeMs = Math.trunc(statSync(file).mtimeMs);
        await pipeline.run(file, mtimeMs, createReadStream(file), writeOut, runOpts);
      }
    } catch (err) {
      process.stderr.write(`sluice parse: ${file}: ${(err as Error).message}\n`);
      failed = true;
    }
  }
  if (derived) {
    try {
      await pipeline.finishDerived(derived);
      await Promise.all(derivedFiles.map(closeStream));
    } catch (err) {
      process.stderr.write(`sluice parse: --derived ${derivedDir}: ${errorMessage(err)}\n`);
      failed = true;
    }
  }
  process.stderr.write(pipeline.summaryLine() + '\n');
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- sluice dlq

type DlqConfig = ConfigOf<typeof commonSchema>;

/** No progress for this long while below the captured watermarks ends the scan with an error. */
const DLQ_STALL_MS = 30_000;
/** Progress lines on stderr start after this long, then repeat at this interval. */
const DLQ_PROGRESS_MS = 2_000;
/** Per-letter warnings (undecodable, skipped) shown before only counting them. */
const DLQ_MAX_WARNINGS = 20;

function warnLimited(counter: { n: number }, text: string): void {
  counter.n++;
  if (counter.n <= DLQ_MAX_WARNINGS) process.stderr.write(`sluice dlq: ${text}\n`);
  else if (counter.n === DLQ_MAX_WARNINGS + 1) process.stderr.write('sluice dlq: (further warnings of this kind are only counted)\n');
}

type ScanResult = { status: 'missing' } | { status: 'done' | 'stopped'; records: number; undecodable: number };

/**
 * Read the DLQ topic from its low watermarks to the watermarks captured at start
 * (last stable offsets, as the consumer reads read_committed), handing each decoded
 * letter to `onBatch` one fetched batch at a time. A throwaway consumer group that
 * never commits and is deleted afterwards: the scan leaves no offsets behind.
 * `onBatch` returning 'stop' ends the scan early (--limit). Throws on a stall or on an
 * error from `onBatch`, after closing the clients.
 */
async function scanDeadLetters(
  kafka: KafkaClient,
  config: DlqConfig,
  decoder: DeadLetterDecoder,
  onBatch: (letters: Array<{ letter: DeadLetter; at: DlqCoordinates }>) => Promise<'stop' | void>,
): Promise<ScanResult> {
  const topic = config.topicDlq;
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${config.clientId}-dlq-cli-${hostname()}-${process.pid}-${Date.now()}`;
  let consumer: ReturnType<KafkaClient['consumer']> | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let progressShown = false;
  try {
    if (!(await admin.listTopics()).includes(topic)) return { status: 'missing' };
    const offsets = await admin.fetchTopicOffsets(topic);
    const tracker = new WatermarkTracker(offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })));
    let records = 0;
    const undecodable = { n: 0 };
    if (tracker.done) return { status: 'done', records, undecodable: 0 };

    consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    const c = consumer;
    let failure: unknown;
    let stop = false;
    let lastAdvanceAt = Date.now();
    c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
      // Fires for batches holding only transaction markers too, so the position moves past them.
      tracker.advance(payload.partition, Number(payload.lastOffset));
      lastAdvanceAt = Date.now();
    });
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (failure !== undefined || stop) return;
        const letters: Array<{ letter: DeadLetter; at: DlqCoordinates }> = [];
        for (const m of batch.messages) {
          if (!tracker.wants(batch.partition, Number(m.offset))) continue;
          records++;
          const at = { topic, partition: batch.partition, offset: m.offset };
          try {
            letters.push({ letter: await decoder.decode(m.value ?? Buffer.alloc(0)), at });
          } catch (err) {
            // A registry outage is not a property of the letter: stop rather than miscount.
            if (err instanceof SluiceError && err.retryable) {
              failure = err;
              return;
            }
            warnLimited(undecodable, `${replayedFrom(at)} is not a readable DeadLetter: ${errorMessage(err)}`);
          }
        }
        try {
          if ((await onBatch(letters)) === 'stop') stop = true;
        } catch (err) {
          // Never let kafkajs retry the batch: a replay would produce twice.
          failure = err;
        }
      },
    }).catch((err: unknown) => {
      failure = err;
    });
    c.on(c.events.CRASH, ({ payload }) => {
      failure ??= payload.error;
    });

    let progressAt = Date.now();
    await new Promise<void>((resolve) => {
      progressTimer = setInterval(() => {
        const now = Date.now();
        if (failure !== undefined || stop || tracker.done) return resolve();
        if (now - lastAdvanceAt > DLQ_STALL_MS) {
          const pending = tracker.pending().map((p) => `partition ${p.partition} at ${p.next} of ${p.high}`).join(', ');
          failure = new Error(`no progress reading ${topic} for ${DLQ_STALL_MS / 1000} s (${pending})`);
          return resolve();
        }
        if (now - progressAt >= DLQ_PROGRESS_MS) {
          progressAt = now;
          const { read, total } = tracker.progress();
          const pct = total > 0 ? Math.floor((read / total) * 100) : 100;
          const text = `sluice dlq: read ${read}/${total} offsets of ${topic} (${pct}%)`;
          process.stderr.write(process.stderr.isTTY ? `\r${text}` : `${text}\n`);
          progressShown = true;
        }
      }, 200);
    });
    if (failure !== undefined) throw failure;
    return { status: stop ? 'stopped' : 'done', records, undecodable: undecodable.n };
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    if (progressShown && process.stderr.isTTY) process.stderr.write('\n');
    if (consumer) {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    await admin.disconnect().catch(() => undefined);
  }
}

function missingTopicMessage(topic: string): string {
  return `sluice dlq: the dead-letter topic ${topic} does not exist: nothing has been dead-lettered yet, or SLUICE_TOPIC_DLQ names another topic\n`;
}

async function dlqList(kafka: KafkaClient, config: DlqConfig, decoder: DeadLetterDecoder, filter: DlqFilter, json: boolean, withOriginal: boolean): Promise<number> {
  const summary = new DlqSummary();
  const result = await scanDeadLetters(kafka, config, decoder, async (letters) => {
    for (const { letter, at } of letters) {
      if (!matches(letter, filter)) continue;
      summary.add(letter);
      if (json) await writeOut(JSON.stringify(toLine(letter, at, withOriginal)));
    }
  });
  if (result.status === 'missing') {
    process.stderr.write(missingTopicMessage(config.topicDlq));
    return 0;
  }
  // With --json, stdout carries only NDJSON; the table goes to stderr.
  const out = json ? process.stderr : process.stdout;
  if (summary.total === 0) {
    out.write(result.records === 0 ? `no dead letters in ${config.topicDlq}\n` : `no dead letters in ${config.topicDlq} match (${result.records} read)\n`);
  } else {
    out.write(`${formatSummaryTable(summary.list())}\n${summary.total} dead letters matched of ${result.records} read from ${config.topicDlq}\n`);
  }
  if (result.undecodable > 0) process.stderr.write(`sluice dlq: ${result.undecodable} records in ${config.topicDlq} were not readable DeadLetters\n`);
  return 0;
}

async function dlqReplay(kafka: KafkaClient, config: DlqConfig, decoder: DeadLetterDecoder, filter: DlqFilter, limit: number | undefined, dryRun: boolean): Promise<number> {
  const tally = new ReplayTally();
  const skipWarnings = { n: 0 };
  const partitionsOf = new Map<string, number | null>();
  const admin = kafka.admin();
  await admin.connect();
  const producer = dryRun ? undefined : kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer?.connect();
  let result: ScanResult;
  try {
    /** Partition count of an origin topic, null when it does not exist (looked up once per topic). */
    const partitionCount = async (topic: string): Promise<number | null> => {
      if (!partitionsOf.has(topic)) {
        const exists = (await admin.listTopics()).includes(topic);
        const meta = exists ? await admin.fetchTopicMetadata({ topics: [topic] }) : undefined;
        partitionsOf.set(topic, meta?.topics[0]?.partitions.length ?? null);
      }
      return partitionsOf.get(topic)!;
    };
    let chosen = 0;
    result = await scanDeadLetters(kafka, config, decoder, async (letters) => {
      const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer; partition?: number; headers: Record<string, string> }>>();
      for (const { letter, at } of letters) {
        if (!matches(letter, filter)) continue;
        const partitions = await partitionCount(letter.origin_topic);
        const decision = replayDecision(letter, partitions !== null, chosen, limit);
        if (!decision.replay) {
          if (decision.reason === 'limit') break;
          tally.countSkipped(decision.reason);
          warnLimited(skipWarnings, decision.reason === 'truncated'
            ? `skipping ${replayedFrom(at)}: its original is ${letter.original.length} bytes, the runner's limit (${DLQ_ORIGINAL_LIMIT_BYTES}), so it may have been truncated; replay it from ${letter.origin_topic}/${letter.origin_partition}/${letter.origin_offset} if still retained`
            : `skipping ${replayedFrom(at)}: origin topic ${letter.origin_topic} does not exist`);
          continue;
        }
        chosen++;
        // The original partition when it still exists, so per-partition order and stream keys hold.
        const partition = partitions !== null && letter.origin_partition < partitions ? letter.origin_partition : undefined;
        if (dryRun) {
          await writeOut(`would replay ${replayedFrom(at)} -> ${letter.origin_topic}/${partition ?? '(by key)'} ${letter.stage} ${letter.error_code} ${letter.original.length} bytes (was offset ${letter.origin_offset})`);
          tally.countReplayed(letter.origin_topic);
          continue;
        }
        let list = byTopic.get(letter.origin_topic);
        if (!list) byTopic.set(letter.origin_topic, (list = []));
        list.push({ key: letter.origin_key, value: letter.original, ...(partition !== undefined ? { partition } : {}), headers: { [REPLAYED_FROM_HEADER]: replayedFrom(at) } });
      }
      if (producer && byTopic.size > 0) {
        await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        for (const [topic, messages] of byTopic) tally.countReplayed(topic, messages.length);
      }
      if (limit !== undefined && chosen >= limit) return 'stop';
    });
  } catch (err) {
    process.stderr.write(`${tally.report(dryRun ? 'would replay' : 'replayed')}\n`);
    throw err;
  } finally {
    await producer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  if (result.status === 'missing') {
    process.stderr.write(missingTopicMessage(config.topicDlq));
    return 0;
  }
  process.stdout.write(`${tally.report(dryRun ? 'would replay' : 'replayed')}\n`);
  if (result.undecodable > 0) process.stderr.write(`sluice dlq: ${result.undecodable} records in ${config.topicDlq} were not readable DeadLetters\n`);
  return 0;
}

async function dlqCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'replay') {
    process.stderr.write(`sluice dlq: expected "list" or "replay"${sub ? `, got ${JSON.stringify(sub)}` : ''}\n${usage()}`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      options: {
        stage: { type: 'string', multiple: true },
        code: { type: 'string', multiple: true },
        since: { type: 'string' },
        ...(sub === 'list'
          ? { json: { type: 'boolean' }, 'with-original': { type: 'boolean' } }
          : { limit: { type: 'string' }, 'dry-run': { type: 'boolean' } }),
      },
    }));
  } catch (err) {
    process.stderr.write(`sluice dlq ${sub}: ${(err as Error).message}\n${usage()}`);
    return 2;
  }
  const v = values as { stage?: string[]; code?: string[]; since?: string; json?: boolean; 'with-original'?: boolean; limit?: string; 'dry-run'?: boolean };
  const filter: DlqFilter = { stages: v.stage ?? [], codes: (v.code ?? []).map(normalizeCode) };
  try {
    if (v.since !== undefined) filter.sinceUs = parseSince(v.since, Date.now());
  } catch (err) {
    process.stderr.write(`sluice dlq ${sub}: ${(err as Error).message}\n`);
    return 2;
  }
  let limit: number | undefined;
  if (v.limit !== undefined) {
    limit = Number(v.limit);
    if (!/^\d+$/.test(v.limit) || !Number.isSafeInteger(limit) || limit < 1) {
      process.stderr.write(`sluice dlq replay: --limit must be a positive whole number, got ${JSON.stringify(v.limit)}\n`);
      return 2;
    }
  }
  if (sub === 'replay' && filter.stages.length === 0 && filter.codes.length === 0) {
    process.stderr.write('sluice dlq replay: refusing to replay every dead letter; choose with --stage and/or --code (see `sluice dlq list`)\n');
    return 2;
  }

  let config: DlqConfig;
  try {
    // Strict on the shared prefixes, so a typo such as SLUICE_TOPIC_DQL fails instead of reading logs.dlq.
    config = loadConfig(commonSchema, process.env, ['SLUICE_KAFKA_', 'SLUICE_REGISTRY_', 'SLUICE_TOPIC_'], stackVariables);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_CONFIG;
  }
  // Logs (kafkajs warnings) go to stderr: stdout is the command's output.
  const log = pino({ name: 'sluice-dlq', level: config.logLevel, base: { service: 'sluice-dlq' } }, pino.destination(2));
  const kafka = createKafka(config, 'dlq', log);
  const decoder = new DeadLetterDecoder(createRegistry({ url: config.registryUrl, username: config.registryUsername, password: config.registryPassword }));
  try {
    return sub === 'list'
      ? await dlqList(kafka, config, decoder, filter, v.json === true, v['with-original'] === true)
      : await dlqReplay(kafka, config, decoder, filter, limit, v['dry-run'] === true);
  } catch (err) {
    process.stderr.write(`sluice dlq ${sub}: ${errorMessage(err)}\n`);
    return 1;
  }
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'parse') {
  process.exitCode = await parseCommand(process.argv.slice(3));
} else if (cmd === 'validate') {
  process.exitCode = validateCommand(process.argv.slice(3));
} else if (cmd === 'learn') {
  process.exitCode = learnCommand(process.argv.slice(3));
} else if (cmd === 'dlq') {
  process.exitCode = await dlqCommand(process.argv.slice(3));
} else if (cmd === 'config') {
  const keys = arg ? [arg] : Object.keys(sections);
  for (const k of keys) {
    const s = sections[k as keyof typeof sections];
    if (!s) {
      process.stderr.write(`unknown section ${k}\n${usage()}`);
      process.exit(2);
    }
    process.stdout.write(`### ${s.title}\n\n${describeSchema(s.schema)}\n\n`);
  }
} else if (cmd === 'help' || cmd === undefined || cmd === '--help') {
  process.stdout.write(usage());
} else {
  process.stderr.write(`unknown command ${cmd}\n${usage()}`);
  process.exit(2);
}

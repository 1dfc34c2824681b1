#!/usr/bin/env node
/**
 * The `sluice` command (argument parsing and help by commander; `sluice --help`,
 * `sluice <command> --help`). Commands:
 *   sluice config [section]            print the configuration reference (Markdown)
 *   sluice parse [options] [file ...]  run collect + normalize (+ enrich) on files or stdin, NDJSON to stdout
 *   sluice dlq list|replay [options]   summarize, or replay, the dead-letter topic
 *   sluice validate [file] [options]   check a sluice.yaml (formats) and try it on a sample
 *   sluice learn file [options]        infer a format rule from a sample of an unknown log
 * Exit codes: 2 for a usage error, 78 (EXIT_CONFIG) for a configuration error, 1 for a
 * failure while running. The work is in shared/ and services/; `validate` and `learn` are
 * in bin/formats-commands.ts; the `dlq` commands' Kafka I/O is here, their filtering and
 * bookkeeping in shared/dlq.ts.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Argument, Command, CommanderError } from 'commander';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { ParsePipeline, type DerivedSinks, type LineSink } from './parse-pipeline.js';
import { describeSchema, loadConfig, settingsJsonSchema, type ConfigOf } from '../shared/config.js';
import { commonSchema, stackVariables } from '../shared/common-config.js';
import { createKafka, type KafkaClient } from '../shared/kafka.js';
import { createRegistry, registryOptions } from '../shared/registry.js';
import { ConfigError, SluiceError, errorMessage } from '../shared/errors.js';
import { EXIT_CONFIG } from '../shared/main-helpers.js';
import { loadConfigFile, loadServiceConfig } from '../shared/config-file.js';
import { compileWhen } from '../shared/routing.js';
import { TAP_HELP, TAP_STAGES, ndjsonLine, parseWhere, tableLine, tap, tapNumbers, type TapOptions } from './tap.js';
import { repoRoot } from '../shared/schemas.js';
import type { CompiledFormat } from '../shared/formats/rules.js';
import { LEARN_HELP, VALIDATE_HELP, learnCommand, validateCommand } from './formats-commands.js';
import type { DeadLetter } from '../shared/records.js';
import {
  DeadLetterDecoder, DlqSummary, ReplayTally, WatermarkTracker, formatSummaryTable, matches, normalizeCode, parseSince,
  replayDecision, replayedFrom, replayHeaders, toLine, DLQ_ORIGINAL_LIMIT_BYTES, REPLAYED_FROM_HEADER, type DlqCoordinates, type DlqFilter,
} from '../shared/dlq.js';
import { collectorSchema } from '../services/collector/config.js';
import { normalizerSchema } from '../services/normalizer/config.js';
import { formatHints, hintFamily } from '../services/normalizer/text-formats.js';
import { enricherSchema } from '../services/enricher/config.js';
import { sinkSchema } from '../services/sink/config.js';

const sections = {
  common: { title: 'Every service', schema: commonSchema },
  collector: { title: 'collector', schema: collectorSchema },
  normalizer: { title: 'normalizer', schema: normalizerSchema },
  enricher: { title: 'enricher', schema: enricherSchema },
  sink: { title: 'sink', schema: sinkSchema },
} as const;

/** A usage error: the message, a pointer to the command's --help, exit 2. */
function usageError(cmd: Command, text: string): never {
  cmd.error(text, { exitCode: 2, code: 'sluice.usage' });
}

// ---------------------------------------------------------------- sluice config

/** Top-level keys of sluice.yaml written by hand in schemas/sluice.schema.json; every other key is a settings section generated from the services' schemas. */
const HAND_WRITTEN_KEYS = ['formats', 'routes', 'tenants'];

/** schemas/sluice.schema.json as it must be: its hand-written part, and a section per settings prefix from every service's schema. */
function configJsonSchema(): Record<string, unknown> {
  const current = JSON.parse(readFileSync(join(repoRoot(), 'schemas', 'sluice.schema.json'), 'utf8')) as { properties: Record<string, unknown> } & Record<string, unknown>;
  const hand = Object.fromEntries(Object.entries(current.properties).filter(([k]) => HAND_WRITTEN_KEYS.includes(k)));
  return { ...current, properties: { ...hand, ...settingsJsonSchema(Object.values(sections).map((s) => s.schema)) } };
}

function configCommand(section: keyof typeof sections | undefined, opts: { jsonSchema?: boolean }): number {
  if (opts.jsonSchema) {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return 0;
  }
  for (const k of section ? [section] : (Object.keys(sections) as Array<keyof typeof sections>)) {
    process.stdout.write(`### ${sections[k].title}\n\n${describeSchema(sections[k].schema)}\n\n`);
  }
  return 0;
}

// ---------------------------------------------------------------- sluice parse

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


interface ParseOpts {
  format?: string; zone?: string; source?: string; tenant?: string; topic?: string; kcat?: boolean; rules?: string; derived?: string;
  multilineTimeout: string; multiline: boolean; explain?: boolean; genericOnly?: boolean; enrich?: boolean;
  windowMs?: string; latenessMs?: string; spanInactivityMs?: string; traceInactivityMs?: string;
}

/** The derivation flags: flag, its key in ParseOpts, the enricher setting it overrides. */
const DERIVE_FLAGS = [
  ['--window-ms', 'windowMs', 'windowMs'],
  ['--lateness-ms', 'latenessMs', 'allowedLatenessMs'],
  ['--span-inactivity-ms', 'spanInactivityMs', 'spanInactivityMs'],
  ['--trace-inactivity-ms', 'traceInactivityMs', 'traceInactivityMs'],
] as const;

/**
 * The services' environment with the flags that override a setting (`--zone`,
 * `--multiline-timeout`, the derivation flags) written in as the variables they stand
 * for: the stages then read them as their main.ts would.
 */
function parseEnvironment(opts: ParseOpts, cmd: Command): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const derivedDir = opts.derived ?? null;
  if (derivedDir !== null && opts.enrich !== true) usageError(cmd, 'sluice parse: --derived requires --enrich');
  if (derivedDir === '') usageError(cmd, 'sluice parse: --derived needs a directory');
  for (const [flag, key, setting] of DERIVE_FLAGS) {
    const text = opts[key];
    if (text === undefined) continue;
    if (derivedDir === null) usageError(cmd, `sluice parse: ${flag} requires --derived`);
    const min = enricherSchema[setting].min;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) usageError(cmd, `sluice parse: ${flag} must be a whole number of milliseconds >= ${min}, got ${JSON.stringify(text)}`);
    env[enricherSchema[setting].env] = text;
  }
  const timeout = opts.multilineTimeout;
  if (!/^\d+$/.test(timeout) || !Number.isSafeInteger(Number(timeout))) usageError(cmd, `sluice parse: --multiline-timeout must be a whole number of milliseconds, got ${JSON.stringify(timeout)}`);
  if (Number(timeout) > 0) env[collectorSchema.multilineTimeoutMs.env] = String(Math.max(collectorSchema.multilineTimeoutMs.min, Number(timeout)));
  if (opts.zone !== undefined) env[normalizerSchema.zone.env] = opts.zone;
  return env;
}

/**
 * `--format`: a reader's hint (case-insensitive, services/normalizer/text-formats.ts) or a
 * name a user format answers to (its name or a `match.format` value, case-sensitive).
 * Anything else is a usage error listing the valid names.
 */
function checkFormatHint(hint: string, formats: readonly CompiledFormat[], cmd: Command): void {
  const user = [...new Set(formats.flatMap((f) => [f.name, ...(f.formats ?? [])]))];
  if (hintFamily(hint) !== undefined || user.includes(hint)) return;
  const fromRules = user.length > 0 ? `; from sluice.yaml: ${user.join(', ')}` : '';
  usageError(cmd, `sluice parse: unknown --format ${JSON.stringify(hint)}; valid formats: ${formatHints().join(', ')}${fromRules}`);
}

/** `--derived <dir>`: a line sink per derived file; null on an error (reported). */
function derivedFiles(dir: string, opened: WriteStream[]): DerivedSinks | null {
  try {
    mkdirSync(dir, { recursive: true });
    const open = (name: string): LineSink => {
      const s = createWriteStream(join(dir, name));
      opened.push(s);
      return fileSink(s);
    };
    return { metrics: open('metrics.ndjson'), spans: open('spans.ndjson'), traces: open('traces.ndjson') };
  } catch (err) {
    process.stderr.write(`sluice parse: --derived ${dir}: ${errorMessage(err)}\n`);
    return null;
  }
}

async function parseCommand(files: string[], opts: ParseOpts, cmd: Command): Promise<number> {
  const env = parseEnvironment(opts, cmd);
  let formats;
  try {
    formats = loadConfigFile(opts.rules, process.env).formats;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  if (opts.format !== undefined) checkFormatHint(opts.format, formats, cmd);
  const opened: WriteStream[] = [];
  const derived = opts.derived === undefined ? undefined : derivedFiles(opts.derived, opened);
  if (derived === null) return 1;
  let pipeline: ParsePipeline;
  try {
    pipeline = await ParsePipeline.create({
      startedAtMs: Date.now(),
      env,
      format: opts.format,
      source: opts.source,
      tenant: opts.tenant,
      topic: opts.topic,
      kcat: opts.kcat === true,
      multiline: opts.multiline,
      formats,
      explain: opts.explain === true,
      readers: opts.genericOnly === true ? 'generic' : 'all',
      enrich: opts.enrich === true,
      derived,
    });
  } catch (err) {
    process.stderr.write(`sluice parse: ${errorMessage(err)}\n`);
    return err instanceof ConfigError ? EXIT_CONFIG : 1;
  }
  // A closed stdout (`| head`) ends the run quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  let failed = false;
  for (const file of files.length > 0 ? files : ['-']) {
    try {
      if (file === '-') await pipeline.run('stdin', Date.now(), process.stdin, writeOut, { live: Number(opts.multilineTimeout) > 0 });
      else await pipeline.run(file, Math.trunc(statSync(file).mtimeMs), createReadStream(file), writeOut);
    } catch (err) {
      process.stderr.write(`sluice parse: ${file}: ${errorMessage(err)}\n`);
      failed = true;
    }
  }
  try {
    await pipeline.finish();
    await Promise.all(opened.map(closeStream));
  } catch (err) {
    process.stderr.write(`sluice parse: ${errorMessage(err)}\n`);
    failed = true;
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
        list.push({ key: letter.origin_key, value: letter.original, ...(partition !== undefined ? { partition } : {}), headers: replayHeaders(letter, at) });
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

interface DlqOpts {
  stage?: string[]; code?: string[]; since?: string; json?: boolean; withOriginal?: boolean; limit?: string; dryRun?: boolean;
}

async function dlqCommand(sub: 'list' | 'replay', opts: DlqOpts, cmd: Command): Promise<number> {
  const filter: DlqFilter = { stages: opts.stage ?? [], codes: (opts.code ?? []).map(normalizeCode) };
  try {
    if (opts.since !== undefined) filter.sinceUs = parseSince(opts.since, Date.now());
  } catch (err) {
    usageError(cmd, `sluice dlq ${sub}: ${(err as Error).message}`);
  }
  let limit: number | undefined;
  if (opts.limit !== undefined) {
    limit = Number(opts.limit);
    if (!/^\d+$/.test(opts.limit) || !Number.isSafeInteger(limit) || limit < 1) {
      usageError(cmd, `sluice dlq replay: --limit must be a positive whole number, got ${JSON.stringify(opts.limit)}`);
    }
  }
  if (sub === 'replay' && filter.stages.length === 0 && filter.codes.length === 0) {
    usageError(cmd, 'sluice dlq replay: refusing to replay every dead letter; choose with --stage and/or --code (see `sluice dlq list`)');
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
  const decoder = new DeadLetterDecoder(createRegistry(registryOptions(config)));
  try {
    return sub === 'list'
      ? await dlqList(kafka, config, decoder, filter, opts.json === true, opts.withOriginal === true)
      : await dlqReplay(kafka, config, decoder, filter, limit, opts.dryRun === true);
  } catch (err) {
    process.stderr.write(`sluice dlq ${sub}: ${errorMessage(err)}\n`);
    return 1;
  }
}

// ---------------------------------------------------------------- sluice tap

async function tapCommand(what: string, opts: TapOptions, cmd: Command): Promise<number> {
  const { limit, timeoutMs } = tapNumbers(opts, cmd);
  let when;
  try {
    when = parseWhere(opts.where ?? []);
    compileWhen(when);
  } catch (err) {
    usageError(cmd, `sluice tap: ${errorMessage(err)}`);
  }
  let config: DlqConfig;
  try {
    config = loadServiceConfig(commonSchema, process.env, ['SLUICE_KAFKA_', 'SLUICE_REGISTRY_', 'SLUICE_TOPIC_'], stackVariables).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT_CONFIG;
  }
  const topic = what in TAP_STAGES ? config[TAP_STAGES[what as keyof typeof TAP_STAGES]] : what;
  const log = pino({ name: 'sluice-tap', level: config.logLevel === 'info' ? 'warn' : config.logLevel, base: { service: 'sluice-tap' } }, pino.destination(2));
  const kafka = createKafka(config, 'tap', log);
  const admin = kafka.admin();
  try {
    await admin.connect();
    const exists = (await admin.listTopics()).includes(topic);
    await admin.disconnect();
    if (!exists) {
      process.stderr.write(`sluice tap: no topic ${topic}${what in TAP_STAGES ? ` (the ${what} stage's topic)` : ''}; stages: ${Object.keys(TAP_STAGES).join(', ')}\n`);
      return 1;
    }
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    const write = opts.format === 'table' ? tableLine : ndjsonLine;
    const r = await tap({ kafka, registry: createRegistry(registryOptions(config)), topic, when, limit, timeoutMs, fromBeginning: opts.fromBeginning === true, out: (t) => writeOut(write(t)), signal: stop.signal });
    process.stderr.write(`sluice tap: ${r.matched} matched of ${r.read} read from ${topic}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`sluice tap: ${errorMessage(err)}\n`);
    return 1;
  }
}

// ---------------------------------------------------------------- the command line

const PARSE_HELP = `
The files are read in the order given as one stream (give rotated files oldest first);
multi-line events (stack traces) are merged across lines. LogRecords go to stdout as
NDJSON, a one-line summary to stderr (with --rules: how many records each format read).
--derived writes Avro field names, times as RFC 3339 UTC; what is still open at the end
of input is written then.

Examples:
  sluice parse --rules sluice.yaml --explain app.log
  kubectl logs deploy/shop | sluice parse --source shop
  sluice parse --enrich --derived out app.log.1 app.log`;

const DLQ_HELP = `
Both read the dead-letter topic (SLUICE_TOPIC_DLQ) from its beginning up to where it
ended when the command started, without committing offsets. Kafka, registry and topic
settings come from the services' environment variables.

Examples:
  sluice dlq list --since 1h
  sluice dlq list --stage normalizer --json --with-original > letters.ndjson
  sluice dlq replay --code ES_MAPPING --since 2024-05-01T12:00:00Z --dry-run`;

const DLQ_LIST_HELP = `
Prints per stage and error code: count, first and last failed_at and an example message.
A --json line has the origin coordinates, code, message, event_id and original size.`;

const DLQ_REPLAY_HELP = `
Produces each chosen dead letter's original bytes, with its original key, to its origin
topic and partition (acks=all, idempotent), with header ${REPLAYED_FROM_HEADER}:
<dlq topic>/<partition>/<offset>; prints how many went to each topic. Requires --stage
or --code. Skips (with a warning) letters whose original may have been cut at 256 KiB.
Replaying twice produces twice.`;

const OVERVIEW_HELP = `
Examples:
  sluice config enricher
  sluice parse --rules sluice.yaml --explain app.log
  sluice parse --enrich --derived out app.log
  sluice dlq list --since 1h
  sluice dlq replay --code ES_MAPPING --dry-run
  sluice validate sluice.yaml --sample app.log
  sluice learn app.log --name checkout

"sluice <command> --help" describes a command and its options.`;

/** Where a derivation flag's default comes from, for its help. */
const enricherDefault = (key: (typeof DERIVE_FLAGS)[number][2]): string => ` (default: $${enricherSchema[key].env}, else ${enricherSchema[key].default})`;

/** A repeatable option's values, in order. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A subcommand whose errors point to its own --help. */
function subcommand(parent: Command, spec: string, description: string): Command {
  const cmd = parent.command(spec).description(description);
  const path = [cmd.name()];
  for (let p: Command | null = parent; p; p = p.parent) path.unshift(p.name());
  return cmd.showHelpAfterError(`(see "${path.join(' ')} --help")`);
}

function dlqFilterOptions(cmd: Command): Command {
  return cmd
    .option('--stage <stage>', 'only dead letters of this stage (repeatable)', collect)
    .option('--code <code>', 'only dead letters with this error code; SLUICE_ERR_ may be left out (repeatable)', collect)
    .option('--since <time|duration>', 'only dead letters failed since an RFC 3339 time with a zone (2024-05-01T12:00:00Z) or a duration back from now (90s, 15m, 1h30m, 2d)');
}

function cli(): Command {
  const version = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('sluice')
    .description('Sluice: collect, normalize, enrich and sink logs through Kafka. This command runs the stages on files and inspects configuration and dead letters.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .helpCommand('help [command]', 'print help for a command')
    .exitOverride()
    .showHelpAfterError('(see "sluice --help")')
    .addHelpText('after', OVERVIEW_HELP);
  const run = (action: (...args: any[]) => number | Promise<number>) => async (...args: unknown[]): Promise<void> => {
    process.exitCode = await action(...args);
  };

  subcommand(program, 'config', 'print the configuration reference (Markdown): every section, or one')
    .addArgument(new Argument('[section]', 'the section').choices(Object.keys(sections)))
    .option('--json-schema', 'print the JSON Schema of sluice.yaml instead (schemas/sluice.schema.json is this output)')
    .action(run(configCommand));

  subcommand(program, 'parse', 'run the collector and normalizer (and with --enrich the enricher) on files or stdin; NDJSON LogRecords to stdout')
    .argument('[files...]', 'log files, "-" for stdin (default: stdin)')
    .option('--format <hint>', `the format of every line (as the Kafka header \`format\`), default detected per line: ${formatHints().join(', ')} (any case), or a format of the sluice.yaml (its name or match.format)`)
    .option('--zone <IANA>', 'time zone of times written without one')
    .option('--source <service>', 'the service that wrote the logs (as the Kafka header `service`)')
    .option('--tenant <tenant>', 'tenant of the records (default: "default")')
    .option('--kcat', 'each input line is a Kafka message as `kcat -C -J` prints it (payload, key, headers, ts): replay a topic dump')
    .option('--topic <name>', 'read every input as this one Kafka topic, offsets continuing across files (event ids depend on it; default: file:<name> per file)')
    .option('--multiline-timeout <ms>', 'on stdin, write a pending multi-line event after this quiet time; 0 = only at end of input', '1000')
    .option('--no-multiline', 'every line is its own record')
    .option('--rules <sluice.yaml>', 'the formats of this sluice.yaml (default: $SLUICE_CONFIG, else ./sluice.yaml when present)')
    .option('--explain', 'add an `explain` object to each record: reader or format, where its time and level came from')
    .option('--generic-only', 'only the generic readers (header, JSON, logfmt): every reader written for a system off')
    .optionsGroup('Enrichment:')
    .option('--enrich', 'also run the enricher stage (SLUICE_ENRICHER_* variables); stdout gets the enriched records')
    .option('--derived <dir>', 'with --enrich: also write metrics.ndjson, spans.ndjson and traces.ndjson to <dir>')
    .option('--window-ms <ms>', `with --derived: metric window${enricherDefault('windowMs')}`)
    .option('--lateness-ms <ms>', `with --derived: allowed lateness of a window${enricherDefault('allowedLatenessMs')}`)
    .option('--span-inactivity-ms <ms>', `with --derived: a span is complete after this long without a log of it${enricherDefault('spanInactivityMs')}`)
    .option('--trace-inactivity-ms <ms>', `with --derived: a trace is summarised after this long without a span of it${enricherDefault('traceInactivityMs')}`)
    .addHelpText('after', PARSE_HELP)
    .action(run(parseCommand));

  const dlq = subcommand(program, 'dlq', 'summarize (list) or replay the dead-letter topic').addHelpText('after', DLQ_HELP);
  dlqFilterOptions(subcommand(dlq, 'list', 'summarize the dead letters by stage and error code'))
    .option('--json', 'one NDJSON line per dead letter on stdout; the table goes to stderr')
    .option('--with-original', 'with --json: add the original bytes as base64')
    .addHelpText('after', DLQ_LIST_HELP)
    .action(run((opts: DlqOpts, cmd: Command) => dlqCommand('list', opts, cmd)));
  dlqFilterOptions(subcommand(dlq, 'replay', 'produce the chosen dead letters\' original bytes back to their origin topic'))
    .option('--limit <n>', 'replay at most n dead letters')
    .option('--dry-run', 'list what would be replayed, produce nothing')
    .addHelpText('after', DLQ_REPLAY_HELP)
    .action(run((opts: DlqOpts, cmd: Command) => dlqCommand('replay', opts, cmd)));

  subcommand(program, 'validate', 'check a sluice.yaml and the environment (every service\'s settings, formats), try formats on a sample, --connect to the servers')
    .argument('[file]', 'the sluice.yaml (default: $SLUICE_CONFIG, else ./sluice.yaml)')
    .option('--connect', 'also check that Kafka, the registry, Elasticsearch and the bucket answer')
    .option('--sample <log>', 'also run the formats over this log (repeatable)', collect)
    .option('--service <name>', 'service of the sample\'s events')
    .option('--kcat', 'each input line is a Kafka message as `kcat -C -J` prints it (payload, key, headers, ts): replay a topic dump')
    .option('--topic <name>', 'topic of the sample\'s events', 'logs.raw')
    .addHelpText('after', VALIDATE_HELP)
    .action(run(validateCommand));

  subcommand(program, 'tap', 'print live records of a stage\'s topic, decoded and filtered; read-only (a group of its own, never commits)')
    .argument('[stage]', `${Object.keys(TAP_STAGES).join(', ')}, or a topic name`)
    .option('--topic <name>', 'the topic to read, instead of STAGE')
    .option('--where <test>', 'FIELD=V1,V2 or FIELD~REGEX; repeatable, all must hold', collect)
    .option('--format <format>', 'ndjson or table', 'ndjson')
    .option('--limit <n>', 'stop after n matching records', '100')
    .option('--timeout <seconds>', 'stop after this long; 0: only at --limit or Ctrl-C', '60')
    .option('--from-beginning', 'read the topic from its start instead of only new records')
    .addHelpText('after', TAP_HELP)
    .action(
      run((stage: string | undefined, opts: TapOptions & { topic?: string }, cmd: Command) => {
        if ((stage === undefined) === (opts.topic === undefined)) usageError(cmd, 'sluice tap: give a STAGE or --topic NAME (one of them)');
        return tapCommand(stage ?? (opts.topic as string), opts, cmd);
      }),
    );

  subcommand(program, 'learn', 'infer a format rule from a sample of an unknown log')
    .argument('<file>', 'the sample')
    .option('--lines <n>', 'read the first n lines', '1000')
    .option('--name <name>', 'name of the rule', 'my-format')
    .option('--json', 'print the whole report as JSON')
    .addHelpText('after', LEARN_HELP)
    .action(run(learnCommand));
  return program;
}

// No arguments prints the overview, as `sluice help` does. Commander's own errors
// (unknown command or option, missing argument) are usage errors too: exit 2.
const args = process.argv.slice(2);
try {
  await cli().parseAsync(args.length > 0 ? args : ['help'], { from: 'user' });
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : 2;
}

/**
 * `npm run soak -- --minutes N`: sustained load on the whole pipeline (issue #13), failing
 * on a rising trend.
 *
 * 1. The four services start from dist/ with the run's own topics, groups, tenant and S3
 *    prefix (as `npm run bench:e2e`). Unless --rate is given, a short maximum is measured
 *    first: --calibrate-events lines (default 30,000) of the seeded generator as fast as
 *    one producer goes, until all are searchable in Elasticsearch; the soak rate is half
 *    of that.
 * 2. For --minutes (default 30) lines are produced at that steady rate (100 ms ticks,
 *    paced on the clock, so a slow send is caught up). Every minute of it sends a fresh
 *    chunk of the generator whose event times start a minute before: live timestamps
 *    throughout, never going back from one chunk to the next.
 * 3. Every --interval-seconds (default 10), per service: RSS (/proc/<pid>/status
 *    VmRSS), heap used (nodejs_heap_size_used_bytes of its /metrics; heap total and external
 *    memory too, reported to tell where memory goes, not judged), event-loop delay
 *    (nodejs_eventloop_lag_p99_seconds, the p99 since the previous scrape), consumer lag
 *    (Kafka admin: high watermark minus committed offset over all the service's groups)
 *    and open files (entries of /proc/<pid>/fd). Rows go to samples.csv as they come,
 *    the lag of each consumer group to lag-groups.csv.
 * 4. Completeness: after the load, until everything produced is searchable and in
 *    Parquet (at most --drain-seconds, default 300); the services stop in pipeline order
 *    (drain, flush, commit), then Elasticsearch is counted after a refresh and Parquet by
 *    DuckDB over the run's objects (rows and distinct event ids). Both must equal the
 *    lines produced.
 * 5. The trend rule (scripts/lib/soak-trend.ts): after the warm-up (--warmup-minutes,
 *    default 20% of the run) a least-squares line per series; RSS, heap, lag or open
 *    files rising beyond their limits fail the run (exit 1), and so do short counts.
 *    A table per service (min/mean/max/rise/verdict) is printed and written to
 *    summary.md, the plot to soak.png (matplotlib, in the project .venv if the system
 *    python3 has none); with --docs the plot is also copied to docs/img/soak-<date>-<run>.png.
 *
 *   npm run soak [-- --minutes 30] [-- --rate 1000] [-- --calibrate-events 30000]
 *                [-- --warmup-minutes 6] [-- --interval-seconds 10] [-- --seed 2026]
 *                [-- --drain-seconds 300] [-- --docs] [-- --keep-data]
 *   npm run soak -- --judge .stack/logs/soak/<run> [--warmup-minutes M] [--docs]
 *                # judge and plot a finished run's samples.csv again, running nothing
 *                # (to summary-judged.md and soak-judged.png beside it)
 *
 * Output in .stack/logs/soak/<run>/ (samples.csv, summary.md, soak.png, service logs).
 * Topics, groups, indices and objects of the run are deleted at the end unless
 * --keep-data. Needs the local stack (`npm run stack up`).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { KafkaClient } from '../shared/kafka.js';
import { arg, argString, fmt, runMain } from './lib/bench-common.js';
import type { KafkaMessage } from './lib/generator.js';
import { deleteRunEverywhere, logsIndex, parquetCounts, rssMb, runEnv, searchable, secondsUntil, sleep, stackClients, workload } from './lib/pipeline-run.js';
import { produceAll, toKafka } from './lib/pipeline-check.js';
import { pythonWith } from './lib/python.js';
import { metricTotal, scrape, startServices, stopServices, waitReady, SERVICE_NAMES, type ServiceProcess } from './lib/services.js';
import { CSV_HEADER, csvLine, failed, formatTable, groupLag, parseCsv, serviceOfGroup, trendTable, type Sample } from './lib/soak-trend.js';
import { stackIsUp } from './lib/stack.js';

const MINUTES = arg('--minutes', 30);
const RATE = arg('--rate', 0);
const CALIBRATE_EVENTS = arg('--calibrate-events', 30_000);
const INTERVAL_S = arg('--interval-seconds', 10);
const SEED = arg('--seed', 2026);
const DRAIN_MS = arg('--drain-seconds', 300) * 1000;
const DOCS = process.argv.includes('--docs');
const KEEP_DATA = process.argv.includes('--keep-data');
/** --judge DIR: judge and plot a finished run's samples.csv again (another warm-up, say) without running anything. */
const JUDGE = argString('--judge');
/** The warm-up of a run of `seconds`: --warmup-minutes, else 20% of it. */
const warmupOf = (seconds: number): number => arg('--warmup-minutes', (seconds / 60) * 0.2) * 60;
const say = (s: string) => process.stdout.write(`[soak] ${s}\n`);

/** Why the load ends before its time: Ctrl-C or SIGTERM (then the run still counts, judges and cleans up) or a service that exited. */
let stopReason: string | undefined;

/** Consumer lag of every group of the run, summed over its topics and partitions. */
async function lagByGroup(admin: kafkajs.Admin, runId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => serviceOfGroup(runId, g, SERVICE_NAMES));
  const watermarks = new Map<string, Promise<Array<{ partition: number; high: string; low: string }>>>();
  for (const groupId of groups.sort()) {
    let lag = 0;
    for (const t of await admin.fetchOffsets({ groupId })) {
      if (!watermarks.has(t.topic)) watermarks.set(t.topic, admin.fetchTopicOffsets(t.topic));
      lag += groupLag(t.partitions, await watermarks.get(t.topic)!);
    }
    out.set(groupId, lag);
  }
  return out;
}

/** Per service, the sum of its groups' lag. */
function lagByService(byGroup: ReadonlyMap<string, number>, runId: string): Map<string, number> {
  const out = new Map<string, number>(SERVICE_NAMES.map((s) => [s, 0]));
  for (const [g, lag] of byGroup) {
    const s = serviceOfGroup(runId, g, SERVICE_NAMES)!;
    out.set(s, out.get(s)! + lag);
  }
  return out;
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Every INTERVAL_S from t0, one sample per service, appended to `csv` as it comes. */
function startSampler(procs: readonly ServiceProcess[], kafka: KafkaClient, runId: string, t0: number, produced: () => number, csv: string): { stop(): Promise<Sample[]> } {
  writeFileSync(csv, `${CSV_HEADER}\n`);
  const groupsCsv = join(dirname(csv), 'lag-groups.csv');
  writeFileSync(groupsCsv, 't_s,group,lag\n');
  const samples: Sample[] = [];
  let running = true;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (let i = 0; running; i++) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.max(0, t0 + i * INTERVAL_S * 1000 - Date.now()));
        });
        const t = (Date.now() - t0) / 1000;
        const groups = await lagByGroup(admin, runId).catch(() => new Map<string, number>());
        const lag = groups.size > 0 ? lagByService(groups, runId) : new Map<string, number>();
        appendFileSync(groupsCsv, [...groups].map(([g, l]) => `${Math.round(t)},${g.slice(runId.length + 1)},${l}\n`).join(''));
        const n = produced();
        for (const p of procs) {
          const m = await scrape(p);
          const pid = p.child.pid!;
          const s: Sample = {
            t, service: p.name, rssMb: rssMb(pid), heapUsedMb: (m.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
            heapTotalMb: (m.get('nodejs_heap_size_total_bytes') ?? NaN) / 2 ** 20, externalMb: (m.get('nodejs_external_memory_bytes') ?? NaN) / 2 ** 20,
            loopP99Ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000, lag: lag.get(p.name) ?? NaN, openFiles: openFiles(pid), produced: n,
          };
          samples.push(s);
          appendFileSync(csv, `${csvLine(s)}\n`);
        }
        if (i % 6 === 0) {
          const row = samples.slice(-procs.length);
          say(`${(t / 60).toFixed(1)} min, ${fmt(n)} produced · ${row.map((s) => `${s.service} ${fmt(s.rssMb)} MB/${fmt(s.heapUsedMb)} MB heap/lag ${fmt(s.lag)}/${s.openFiles} fds`).join(' · ')}`);
        }
      }
    } finally {
      await admin.disconnect();
    }
  })();
  return {
    async stop() {
      running = false;
      wake();
      await loop;
      return samples;
    },
  };
}

/**
 * Produce at `rate` lines/s for `seconds`: every 100 ms the lines due by the clock (at most
 * 2,000 per send). Chunk k (a minute's worth of the generator, seed + 1 + k) is sent in
 * minute k of the load; its event times start a minute before that minute, and never
 * before the end of what was sent earlier (`notBeforeMs`, then the previous chunk's last
 * Kafka timestamp): live times that never step back, so no line is late for the
 * enricher's windows. The next chunk is made while the current one is sent.
 */
async function produceSteady(producer: kafkajs.Producer, topic: string, tenant: string, rate: number, seconds: number, notBeforeMs: number, sent: (n: number) => void, procs: readonly ServiceProcess[]): Promise<void> {
  const chunkLines = Math.max(1, Math.round(rate * 60));
  const t0 = Date.now();
  let chunkNo = 0;
  let endMs = notBeforeMs;
  const nextChunk = (): KafkaMessage[] => {
    const k = chunkNo++;
    const lines = workload(chunkLines, SEED + 1 + k, Math.max(t0 + (k - 1) * 60_000, endMs + 1));
    endMs = lastTimestamp(lines);
    return lines;
  };
  let chunk = nextChunk();
  let next: KafkaMessage[] | undefined;
  let inChunk = 0;
  let total = 0;
  const end = t0 + seconds * 1000;
  while (Date.now() < end && stopReason === undefined) {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) during the load; see ${dead.logFile}`);
    const due = Math.min(Math.floor(((Date.now() - t0) / 1000) * rate) - total, 2000);
    if (due > 0) {
      const batch: kafkajs.Message[] = [];
      for (let i = 0; i < due; i++) {
        if (inChunk === chunk.length) {
          chunk = next ?? nextChunk();
          next = undefined;
          inChunk = 0;
        }
        batch.push(toKafka(chunk[inChunk++]!, tenant));
      }
      await producer.send({ topic, acks: -1, messages: batch });
      total += batch.length;
      sent(batch.length);
    }
    // Half-way through a chunk, make the next one (the generator runs synchronously).
    if (next === undefined && inChunk > chunk.length / 2) next = nextChunk();
    await sleep(100);
  }
}

/** The latest Kafka timestamp of `lines`, ms. */
const lastTimestamp = (lines: readonly KafkaMessage[]): number => lines.reduce((m, l) => Math.max(m, Number(l.timestamp)), 0);

/** A PNG name under docs/img of the day and the run (its directory's name), e.g. soak-2026-12-03-soakmx7a9pky.png: a second run never replaces a plot the docs show. */
const docsPng = (dir: string) => join(repoRoot(), 'docs', 'img', `soak-${new Date().toISOString().slice(0, 10)}-${basename(dir)}.png`);

/**
 * The trend table of `samples` (printed and written to summary<suffix>.md with `counted`,
 * the end counts) and the plot (soak<suffix>.png, and docs/img with --docs). `rising`: a
 * judged series rose.
 */
function judgeAndPlot(python: string, dir: string, samples: readonly Sample[], o: { title: string; rate: number; rateWhy: string; warmupS: number; counted: string; suffix?: string }): { rising: boolean; plotted: boolean } {
  const rows = trendTable(samples, { warmupS: o.warmupS, rate: o.rate });
  const rising = failed(rows);
  const services = new Set(samples.map((x) => x.service)).size;
  const summary = [
    `## Soak ${o.title}`,
    '',
    `Rate: ${o.rateWhy}. Samples every ${INTERVAL_S} s, ${samples.length / services} per service; the first ${(o.warmupS / 60).toFixed(1)} min are warm-up (not fitted).`,
    '',
    formatTable(rows),
    '',
    o.counted,
    `Trend: ${rising ? 'RISING (see the verdicts)' : 'flat after the warm-up'}.`,
  ].join('\n');
  writeFileSync(join(dir, `summary${o.suffix ?? ''}.md`), `${summary}\n`);
  process.stdout.write(`\n${summary}\n\n`);
  const png = join(dir, `soak${o.suffix ?? ''}.png`);
  const plotted = spawnSync(python, [join(repoRoot(), 'scripts', 'soak-plot.py'), join(dir, 'samples.csv'), png, String(o.warmupS), `Sluice soak ${o.title}`], { stdio: 'inherit' }).status === 0;
  if (!plotted) {
    say('the plot failed (see above)');
    return { rising, plotted };
  }
  say(`plot: ${png}`);
  if (DOCS) {
    mkdirSync(join(repoRoot(), 'docs', 'img'), { recursive: true });
    const to = docsPng(dir);
    copyFileSync(png, to);
    say(`plot copied to ${to}`);
  }
  return { rising, plotted };
}

/** --judge DIR: a finished run's samples.csv judged and plotted again; the rate is the one its `produced` column shows. */
async function judgeOnly(dir: string): Promise<void> {
  const samples = parseCsv(readFileSync(join(dir, 'samples.csv'), 'utf8'));
  if (samples.length < 2) throw new Error(`${dir}/samples.csv has fewer than 2 samples`);
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const rate = (last.produced - first.produced) / (last.t - first.t);
  const minutes = last.t / 60;
  const j = judgeAndPlot(await pythonWith('matplotlib', 'matplotlib', 'soak'), dir, samples, {
    title: `${basename(dir)} (judged again): ${minutes.toFixed(1)} min at ${fmt(rate)} lines/s`, rate, rateWhy: 'from the produced column', warmupS: warmupOf(last.t),
    counted: `End counts: see the run's own summary.md (--judge reads samples.csv only).`, suffix: '-judged',
  });
  process.exitCode = j.rising || !j.plotted ? 1 : 0;
  say(process.exitCode === 0 ? 'PASS' : 'FAIL');
}

async function main(): Promise<void> {
  if (JUDGE !== undefined) return judgeOnly(JUDGE);
  if (!stackIsUp()) throw new Error('the local stack is not up: run `npm run stack up` first');
  const python = await pythonWith('matplotlib', 'matplotlib', 'soak');
  const clients = stackClients();
  const { kafka, es, s3 } = clients;
  const runId = `soak${Date.now().toString(36)}`;
  const tenant = runId;
  const dir = join(repoRoot(), '.stack', 'logs', 'soak', runId);
  const topic = `${runId}.logs.raw`;
  const index = logsIndex(tenant);
  const procs = await startServices({ env: runEnv(runId), logDir: dir });
  // Ctrl-C or SIGTERM ends the load early (or skips it, during the calibration); the run
  // still counts, judges and cleans up. A second signal stops the services (started
  // detached: no signal of the terminal reaches them) and quits at once.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopReason !== undefined) {
      say(`${signal} again: stopping the services and quitting`);
      void stopServices(procs).finally(() => process.exit(signal === 'SIGTERM' ? 143 : 130));
      return;
    }
    stopReason = `interrupted (${signal})`;
    say(`${signal}: ending the load now; counting, judging and cleaning up follow (again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let exitCode = 0;
  try {
    await waitReady(procs);
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    let produced = 0;

    let rate = RATE;
    let rateWhy = 'given with --rate';
    let calibrationEndMs = 0;
    if (rate === 0) {
      const generated = workload(CALIBRATE_EVENTS, SEED);
      calibrationEndMs = lastTimestamp(generated);
      const lines = generated.map((m) => toKafka(m, tenant));
      say(`measuring the maximum: ${fmt(lines.length)} lines as fast as they go (logs in ${dir})`);
      const t0 = Date.now();
      await produceAll(producer, topic, lines);
      produced += lines.length;
      const s = await secondsUntil(t0, async () => (await searchable(es, index)) >= produced, 250, DRAIN_MS);
      if (!Number.isFinite(s)) throw new Error(`the ${fmt(lines.length)} calibration lines were not searchable within ${DRAIN_MS / 1000} s`);
      rate = lines.length / s / 2;
      rateWhy = `half of the measured maximum, ${fmt(lines.length / s)}/s (${fmt(lines.length)} lines searchable in ${s.toFixed(1)} s)`;
    }
    say(`steady load: ${fmt(rate)} lines/s for ${MINUTES} min (${rateWhy}); warm-up ${(warmupOf(MINUTES * 60) / 60).toFixed(1)} min; samples every ${INTERVAL_S} s to ${join(dir, 'samples.csv')}`);
    const t0 = Date.now();
    const sampler = startSampler(procs, kafka, runId, t0, () => produced, join(dir, 'samples.csv'));
    let samples: Sample[];
    try {
      await produceSteady(producer, topic, tenant, rate, MINUTES * 60, calibrationEndMs, (n) => (produced += n), procs);
      if (stopReason) say(`load ended early: ${stopReason}`);
      const achieved = (produced - (RATE === 0 ? CALIBRATE_EVENTS : 0)) / ((Date.now() - t0) / 1000);
      say(`load done: ${fmt(produced)} lines produced in all (steady part ${fmt(achieved)}/s)`);
    } finally {
      samples = await sampler.stop();
      await producer.disconnect();
    }

    // Completeness: all searchable and durable in Parquet, then stopped (drained, flushed, committed) and counted exactly.
    const sink = procs.find((p) => p.name === 'sink')!;
    const t1 = Date.now();
    const [esAfter, pqAfter] = await Promise.all([
      secondsUntil(t1, async () => (await searchable(es, index)) >= produced, 1000, DRAIN_MS),
      secondsUntil(t1, async () => metricTotal(await scrape(sink), 'sluice_records_sent_total{stage="sink-parquet"}') >= produced, 1000, DRAIN_MS),
    ]);
    say(`after the load: all searchable ${esAfter.toFixed(1)} s later, all in Parquet ${pqAfter.toFixed(1)} s later`);
    await stopServices(procs);
    await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
    const esTotal = await searchable(es, index);
    const scratch = join(dir, 'parquet');
    const pq = await parquetCounts(s3, `${runId}/logs/`, scratch);
    rmSync(scratch, { recursive: true, force: true });
    const complete = esTotal === produced && pq.rows === produced && pq.distinct === produced;

    const counted = `Counted at the end, of ${fmt(produced)} produced: Elasticsearch ${fmt(esTotal)}, Parquet rows ${fmt(pq.rows)} (${fmt(pq.distinct)} distinct event ids): ${complete ? 'complete' : 'INCOMPLETE'}.`;
    const j = judgeAndPlot(python, dir, samples, { title: `${runId}: ${MINUTES} min at ${fmt(rate)} lines/s`, rate, rateWhy, warmupS: warmupOf(MINUTES * 60), counted });
    if (!j.plotted) exitCode = 1;
    const rising = j.rising;
    if (!complete || rising || stopReason) exitCode = 1;
  } finally {
    await stopServices(procs);
    if (!KEEP_DATA) await deleteRunEverywhere(runId, clients);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  process.exitCode = exitCode;
  say(exitCode === 0 ? 'PASS' : 'FAIL');
}

runMain(main);

/**
 * `npm run chaos`: the fault matrix of issue #13, run against the local stack. Each case
 * is a run of the four services (dist/, scripts/lib/services.ts) with its own topics,
 * groups, tenant and S3 prefix, fed --events lines of the seeded generator live (event
 * times now) over about --live-seconds, with one fault injected while the lines flow.
 * Then it waits until every line is in Parquet and searchable and the metric windows are
 * quiet (scripts/lib/pipeline-check.ts `settle`), stops the services (each drains and
 * commits) and counts exactly: events in Elasticsearch (the document id is the event id,
 * so the count is the number of distinct ids), Parquet rows and distinct event ids
 * (DuckDB), duplicates, the derived level-metric counts summed (every event is in
 * exactly one level series, so the sum must equal the events in) and the per-(series,
 * window) sums against a DuckDB recomputation, and the dead letters. "Caught up" is the
 * seconds from the last line sent until every line was searchable and in Parquet (polled
 * every second); the `none` case is the baseline. A case fails on any lost, duplicated or miscounted event, or when it has not
 * recovered (without a human) within --timeout-seconds.
 *
 * Cases (--list prints them; --cases a,b,c or a prefix like kill- picks some):
 * - none: no fault (the baseline);
 * - kill-<service>-{early,mid,late}: SIGKILL once the service has received its first
 *   records / half the lines have been sent / right after the last line was sent (its
 *   backlog draining); started again 3 s later;
 * - term-<service>-shutdown: SIGTERM at half the lines, then SIGKILL 300 ms into its
 *   graceful shutdown; started again 3 s later;
 * - kill-sink-upload: SIGKILL of the sink 150 ms after one of its Parquet objects was
 *   written (with three partitions and four datasets, other uploads are in flight);
 * - broker-restart, broker-outage-60s: the local Kafka broker stopped at 40 % and started
 *   again at once / after 60 s;
 * - registry-outage-start: the registry stopped before the services start and started
 *   30 s later (the services wait, then become ready); registry-outage-mid: stopped at
 *   30 % for 30 s;
 * - es-outage-60s, s3-outage-60s: Elasticsearch / the S3 server stopped at 30 % for 60 s;
 * - es-index-read-only, es-index-closed: the run's log indices get `index.blocks.write`
 *   / are closed at 30 % for 30 s;
 * - s3-full: S3 answers every write with 507 XMinioStorageFull (what MinIO answers when
 *   its drives are full) at 30 % for 30 s: the sink reaches the S3 server through a small
 *   proxy that refuses writes meanwhile;
 * - rebalance-storm: for 60 s from 20 %, an extra normalizer and an extra enricher join
 *   their groups every 5 s and leave 5 s later (alternately SIGTERM and SIGKILL);
 * - net-{es,s3,kafka}-{latency,reset,partition}: the sink reaches Elasticsearch / S3, or
 *   all four services reach Kafka (the broker's PROXIED listener, which advertises the
 *   proxy's port, so every broker connection goes through it), through Toxiproxy (built
 *   from the Go module proxy into .stack/toxiproxy on first use): 300 ms ± 100 ms latency
 *   for 30 s, connections reset for 20 s, or the proxy disabled for 30 s (a partition
 *   that heals).
 * The cases that stop a stack component (broker-*, registry-*, es-outage-*, s3-outage-*)
 * disturb anything else using the local stack at the time: run the matrix alone.
 *
 *   npm run chaos -- [--events 100000] [--live-seconds 90] [--cases none,kill-] [--list]
 *                    [--seed 2026] [--timeout-seconds 600] [--keep]
 *
 * Prints a Markdown table (docs/reliability.md keeps the latest); exits 1 if a case
 * failed. Service logs go to .stack/logs/chaos/<run>/. Needs the local stack (`npm run
 * stack up`).
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { repoRoot } from '../shared/schemas.js';
import { arg, argString, benchKafka, fmt, runMain } from './lib/bench-common.js';
import { CASES, ES_URL, failures, runCase, S3_CONF, say, table, type Case, type CaseResult, type ChaosOptions } from './lib/chaos-cases.js';

const options: ChaosOptions = {
  events: Math.round(arg('--events', 100_000)),
  liveSeconds: arg('--live-seconds', 90),
  seed: arg('--seed', 2026),
  timeoutMs: arg('--timeout-seconds', 600) * 1000,
  keep: process.argv.includes('--keep'),
};

function pick(): Case[] {
  const cases = argString('--cases');
  if (cases === undefined) return CASES;
  const wanted = cases.split(',').filter(Boolean);
  const chosen = CASES.filter((c) => wanted.some((w) => c.name === w || (w.endsWith('-') && c.name.startsWith(w)) || (w.endsWith('*') && c.name.startsWith(w.slice(0, -1)))));
  const unknown = wanted.filter((w) => !CASES.some((c) => c.name === w || ((w.endsWith('-') || w.endsWith('*')) && c.name.startsWith(w.replace(/\*$/, '')))));
  if (unknown.length > 0) throw new Error(`unknown cases: ${unknown.join(', ')} (--list prints them)`);
  return chosen;
}

async function main(): Promise<void> {
  if (process.argv.includes('--list')) {
    for (const c of CASES) process.stdout.write(`${c.name}${c.disruptive ? '  (stops a stack component)' : ''}\n`);
    return;
  }
  const cases = pick();
  const { kafka } = benchKafka();
  const es = createEsClient({ url: ES_URL, indexPrefix: 'sluice-logs' });
  const s3 = createS3Client({ endpoint: S3_CONF.endpoint, region: 'us-east-1', accessKey: S3_CONF.accessKey, secretKey: S3_CONF.secretKey, forcePathStyle: true });
  mkdirSync(join(repoRoot(), '.stack', 'logs', 'chaos'), { recursive: true });
  say(`${cases.length} cases, ${fmt(options.events)} events each over about ${options.liveSeconds} s, seed ${options.seed}; ${hostname()}, ${cpus().length} cores`);
  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      results.push(await runCase(c, options, kafka, es, s3));
      process.stdout.write(`${table(results.slice(-1)).split('\n').slice(2).join('\n')}\n`);
    }
  } finally {
    await es.close().catch(() => undefined);
  }
  process.stdout.write(`\n### Fault matrix, ${new Date().toISOString().slice(0, 10)}, ${fmt(options.events)} events per case\n\n${table(results)}\n`);
  for (const r of results) {
    process.stdout.write(`\n${r.name} (${r.runId}): ${r.notes.join('; ')}\n`);
    if (r.differences.length > 0) process.stdout.write(`  differences from the recomputation (first ${r.differences.length}):\n${r.differences.map((d) => `    ${d}`).join('\n')}\n`);
  }
  if (results.some((r) => failures(r).length > 0)) {
    console.error('[chaos] a case failed (see the table)');
    process.exitCode = 1;
  }
}

runMain(main);

/**
 * The fault matrix of `npm run chaos` (scripts/chaos.ts, which documents the cases): each
 * case as a run of the four services with one fault, counted exactly. Kept here so the
 * integration tests run a fast subset of the same cases (test/chaos-subset.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../../services/sink/es-writer.js';
import { createS3Client } from '../../services/sink/object-store.js';
import { repoRoot } from '../../shared/schemas.js';
import type { KafkaClient } from '../../shared/kafka.js';
import { fmt, isolatedEnv } from './bench-common.js';
import { checkEnv, cleanupRun, countRun, emptyCounts, produceLive, sample, settle, sumsExact, workload, type RunCounts, type S3 } from './pipeline-check.js';
import { esCount, reachable, topicMessageCount } from './probes.js';
import { ES_URL, S3 as S3_CONF } from './pipeline-run.js';
import { freePort, SERVICE_NAMES, startServices, stopServices, waitReady, type ServiceName, type ServiceProcess } from './services.js';

/** How big and how long each case is. */
export interface ChaosOptions {
  events: number;
  liveSeconds: number;
  seed: number;
  timeoutMs: number;
  /** Keep the run's topics, indices and objects. */
  keep: boolean;
}
export { ES_URL, S3 as S3_CONF } from './pipeline-run.js';
const TOXIPROXY_DIR = join(repoRoot(), '.stack', 'toxiproxy');
/** The broker's listener for network faults and the port it advertises (scripts/stack.d/kafka.sh). */
const KAFKA_PROXIED = { port: Number(process.env['SLUICE_KAFKA_PROXIED_PORT'] || 9096), advertised: Number(process.env['SLUICE_KAFKA_PROXIED_ADVERTISED_PORT'] || 19096) };

const TOXIPROXY_VERSION = 'v2.12.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0Process = Date.now();
export const say = (s: string) => process.stdout.write(`[chaos +${((Date.now() - t0Process) / 1000).toFixed(0)}s] ${s}\n`);

// ---------------------------------------------------------------- a case's world

/** What a fault can do to a running case. */
interface Ctx {
  runId: string;
  tenant: string;
  env: NodeJS.ProcessEnv;
  procs: ServiceProcess[];
  es: Client;
  /** Fraction of the lines sent so far (0..1). */
  progress(): number;
  /** Resolves once `progress() >= f`. */
  atProgress(f: number): Promise<void>;
  /** Resolves once the last line was sent. */
  fed: Promise<void>;
  kill(name: ServiceName, signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  start(name: ServiceName): Promise<void>;
  stack(cmd: 'stop' | 'start', component: 'kafka' | 'registry' | 'elasticsearch' | 's3'): void;
  toxi: Toxiproxy | undefined;
  fullDisk: FullDiskProxy | undefined;
  note(s: string): void;
}

export interface Case {
  name: string;
  /** Stops a component of the shared local stack. */
  disruptive?: boolean;
  /** The services reach this backend through Toxiproxy (es, s3: the sink; kafka: all four) or the full-disk proxy. */
  proxied?: 'es' | 's3' | 'kafka' | 's3-full';
  /** Before the services are waited for (they are started, not yet ready). */
  beforeReady?(ctx: Ctx): Promise<void>;
  /** Runs beside the feed; the case ends when it and the feed have finished. */
  fault(ctx: Ctx): Promise<void>;
}

const RESTART_AFTER_MS = 3_000;

function killCase(service: ServiceName, point: 'early' | 'mid' | 'late'): Case {
  return {
    name: `kill-${service}-${point}`,
    async fault(ctx) {
      if (point === 'early') {
        const p = () => ctx.procs.find((x) => x.name === service);
        const key = service === 'sink' ? 'sluice_records_received_total{stage="sink-es"}' : `sluice_records_received_total{stage="${service}"}`;
        while ((await sample(p(), key)) === 0) await sleep(50);
      } else if (point === 'mid') await ctx.atProgress(0.5);
      else await ctx.fed;
      await ctx.kill(service, 'SIGKILL');
      await sleep(RESTART_AFTER_MS);
      await ctx.start(service);
    },
  };
}

function shutdownCase(service: ServiceName): Case {
  return {
    name: `term-${service}-shutdown`,
    async fault(ctx) {
      await ctx.atProgress(0.5);
      await ctx.kill(service, 'SIGTERM', 300);
      await sleep(RESTART_AFTER_MS);
      await ctx.start(service);
    },
  };
}

function stackOutage(name: string, component: 'kafka' | 'registry' | 'elasticsearch' | 's3', at: number, downMs: number): Case {
  return {
    name,
    disruptive: true,
    async fault(ctx) {
      await ctx.atProgress(at);
      ctx.stack('stop', component);
      ctx.note(`${component} stopped at ${Math.round(ctx.progress() * 100)} % of the lines`);
      await sleep(downMs);
      ctx.stack('start', component);
      ctx.note(`${component} started again after ${downMs / 1000} s`);
    },
  };
}

function indexBlock(name: string, how: 'read-only' | 'closed'): Case {
  return {
    name,
    async fault(ctx) {
      await ctx.atProgress(0.3);
      const index = `*logs-${ctx.tenant}-*`;
      while ((await esCount(ctx.es, index)) === 0) await sleep(200); // the sink has created the day's index
      if (how === 'read-only') await ctx.es.indices.putSettings({ index, settings: { 'index.blocks.write': true } });
      else await ctx.es.indices.close({ index });
      ctx.note(`log indices ${how} at ${Math.round(ctx.progress() * 100)} %`);
      await sleep(30_000);
      if (how === 'read-only') await ctx.es.indices.putSettings({ index, settings: { 'index.blocks.write': false } });
      else await ctx.es.indices.open({ index });
      ctx.note('log indices writable again after 30 s');
    },
  };
}

/**
 * The S3 server as a full disk shows it: the sink reaches the local S3 server through
 * this proxy, which passes every request on, except that while `full` it answers each
 * write (PUT, POST) with 507 XMinioStorageFull, as MinIO does when its drives are full
 * (the local S3 server runs as the same user as everything else here, so its own disk
 * cannot be made to refuse writes).
 */
class FullDiskProxy {
  full = false;
  refused = 0;
  private constructor(private readonly server: Server) {}

  static async start(upstream: URL): Promise<{ proxy: FullDiskProxy; endpoint: string }> {
    const server = createServer((req, res) => {
      if (proxy.full && (req.method === 'PUT' || req.method === 'POST')) {
        proxy.refused++;
        req.resume();
        res.writeHead(507, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>XMinioStorageFull</Code><Message>Storage backend has reached its minimum free drive threshold. Please delete a few objects to proceed.</Message></Error>');
        return;
      }
      const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    const proxy = new FullDiskProxy(server);
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return { proxy, endpoint: `http://127.0.0.1:${port}` };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const s3Full: Case = {
  name: 's3-full',
  proxied: 's3-full',
  async fault(ctx) {
    await ctx.atProgress(0.3);
    ctx.fullDisk!.full = true;
    ctx.note(`S3 refuses writes (507 XMinioStorageFull) at ${Math.round(ctx.progress() * 100)} %`);
    await sleep(30_000);
    ctx.fullDisk!.full = false;
    ctx.note(`S3 accepts writes again after 30 s (${ctx.fullDisk!.refused} writes refused)`);
  },
};

const rebalanceStorm: Case = {
  name: 'rebalance-storm',
  async fault(ctx) {
    await ctx.atProgress(0.2);
    const logDir = join(repoRoot(), '.stack', 'logs', 'chaos', ctx.runId, 'storm');
    const end = Date.now() + 60_000;
    let joins = 0;
    for (let i = 0; Date.now() < end; i++) {
      const extra = await startServices({ env: ctx.env, logDir, names: ['normalizer', 'enricher'] });
      joins += extra.length;
      await sleep(5_000);
      for (const p of extra) p.child.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      await Promise.all(extra.map((p) => p.exited));
      await sleep(1_000);
    }
    ctx.note(`${joins} extra normalizer and enricher instances joined and left their groups over 60 s`);
  },
};

function netCase(backend: 'es' | 's3' | 'kafka', fault: 'latency' | 'reset' | 'partition'): Case {
  return {
    name: `net-${backend}-${fault}`,
    proxied: backend,
    async fault(ctx) {
      const t = ctx.toxi!;
      await ctx.atProgress(0.3);
      if (fault === 'latency') {
        await t.addToxic(backend, { name: 'latency', type: 'latency', stream: 'downstream', attributes: { latency: 300, jitter: 100 } });
        await sleep(30_000);
        await t.removeToxic(backend, 'latency');
      } else if (fault === 'reset') {
        await t.addToxic(backend, { name: 'reset', type: 'reset_peer', stream: 'downstream', attributes: { timeout: 200 } });
        await sleep(20_000);
        await t.removeToxic(backend, 'reset');
      } else {
        await t.setEnabled(backend, false);
        await sleep(30_000);
        await t.setEnabled(backend, true);
      }
      ctx.note(`${backend} ${fault} from ${Math.round(0.3 * 100)} % healed`);
    },
  };
}

export const CASES: Case[] = [
  { name: 'none', fault: async () => undefined },
  ...SERVICE_NAMES.flatMap((s) => (['early', 'mid', 'late'] as const).map((p) => killCase(s, p))),
  ...SERVICE_NAMES.map(shutdownCase),
  {
    name: 'kill-sink-upload',
    async fault(ctx) {
      await ctx.atProgress(0.3);
      const sink = () => ctx.procs.find((x) => x.name === 'sink');
      const objects = async () => sample(sink(), 'sluice_parquet_objects_total{dataset="logs"}');
      const before = await objects();
      while ((await objects()) === before) await sleep(25);
      await sleep(150);
      await ctx.kill('sink', 'SIGKILL');
      await sleep(RESTART_AFTER_MS);
      await ctx.start('sink');
    },
  },
  stackOutage('broker-restart', 'kafka', 0.4, 0),
  stackOutage('broker-outage-60s', 'kafka', 0.4, 60_000),
  {
    name: 'registry-outage-start',
    disruptive: true,
    async beforeReady(ctx) {
      await sleep(30_000);
      ctx.stack('start', 'registry');
      ctx.note('registry started 30 s after the services');
    },
    fault: async () => undefined,
  },
  stackOutage('registry-outage-mid', 'registry', 0.3, 30_000),
  stackOutage('es-outage-60s', 'elasticsearch', 0.3, 60_000),
  stackOutage('s3-outage-60s', 's3', 0.3, 60_000),
  indexBlock('es-index-read-only', 'read-only'),
  indexBlock('es-index-closed', 'closed'),
  s3Full,
  rebalanceStorm,
  ...(['es', 's3', 'kafka'] as const).flatMap((b) => (['latency', 'reset', 'partition'] as const).map((f) => netCase(b, f))),
];

// ---------------------------------------------------------------- Toxiproxy

/** A Toxiproxy server of this run (its HTTP API), with a proxy per backend the sink uses. */
class Toxiproxy {
  private constructor(
    private readonly child: ChildProcess,
    private readonly api: string,
  ) {}

  static binary(): string {
    const bin = join(TOXIPROXY_DIR, 'bin', 'server');
    if (existsSync(bin)) return bin;
    say(`building Toxiproxy ${TOXIPROXY_VERSION} from the Go module proxy into ${TOXIPROXY_DIR}`);
    const r = spawnSync('go', ['install', `github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}`], {
      env: { ...process.env, GOBIN: join(TOXIPROXY_DIR, 'bin'), GOPATH: join(TOXIPROXY_DIR, 'gopath'), GOFLAGS: '-modcacherw' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0 || !existsSync(bin)) throw new Error('could not build Toxiproxy (go install failed; is the Go module proxy reachable?)');
    return bin;
  }

  static async start(): Promise<Toxiproxy> {
    const port = await freePort();
    const child = spawn(Toxiproxy.binary(), ['-host', '127.0.0.1', '-port', String(port)], { stdio: 'ignore' });
    const t = new Toxiproxy(child, `http://127.0.0.1:${port}`);
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${t.api}/version`).then((r) => r.ok, () => false)) return t;
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error('Toxiproxy did not start');
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await fetch(`${this.api}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (!r.ok) throw new Error(`Toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? undefined : r.json();
  }

  /** A proxy named `name` from `listen` (default: a free local port) to `upstream` (host:port); returns its listen address. */
  async proxy(name: string, upstream: string, fixedListen?: string): Promise<string> {
    const listen = fixedListen ?? `127.0.0.1:${await freePort()}`;
    await this.call('POST', '/proxies', { name, listen, upstream, enabled: true });
    return listen;
  }

  addToxic(proxy: string, toxic: { name: string; type: string; stream: string; attributes: Record<string, number> }): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}/toxics`, { ...toxic, toxicity: 1 });
  }

  removeToxic(proxy: string, name: string): Promise<unknown> {
    return this.call('DELETE', `/proxies/${proxy}/toxics/${name}`);
  }

  setEnabled(proxy: string, enabled: boolean): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}`, { enabled });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

// ---------------------------------------------------------------- one case

export interface CaseResult extends RunCounts {
  name: string;
  runId: string;
  linesIn: number;
  deadLetters: number;
  caughtUpSeconds: number;
  error?: string;
}

export function failures(r: CaseResult): string[] {
  const f: string[] = [];
  if (r.error) f.push(r.error);
  if (r.logsEs !== r.linesIn) f.push(`Elasticsearch holds ${r.logsEs} of ${r.linesIn} events`);
  if (r.logsRows !== r.logsDistinct) f.push(`${r.logsRows - r.logsDistinct} duplicate rows in Parquet`);
  if (r.logsDistinct !== r.linesIn) f.push(`Parquet holds ${r.logsDistinct} of ${r.linesIn} distinct events`);
  if (r.levelCountSum !== r.linesIn) f.push(`level metric counts sum to ${r.levelCountSum}, not ${r.linesIn}`);
  if (!sumsExact(r)) f.push(`(series, window) sums: ${r.missingPairs} missing, ${r.extraPairs} extra, ${r.differingPairs} differ`);
  if (r.docsParquet !== r.docsDistinctIds) f.push(`${r.docsParquet - r.docsDistinctIds} metric window documents twice in Parquet`);
  return f;
}

export async function runCase(c: Case, o: ChaosOptions, kafka: KafkaClient, es: Client, s3: S3): Promise<CaseResult> {
  const runId = `ch${Date.now().toString(36)}`;
  const tenant = runId;
  const bucket = S3_CONF.bucket;
  const r: CaseResult = { ...emptyCounts(), name: c.name, runId, linesIn: 0, deadLetters: 0, caughtUpSeconds: NaN };
  const logDir = join(repoRoot(), '.stack', 'logs', 'chaos', runId);
  let toxi: Toxiproxy | undefined;
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(runId, ['COLLECTOR', 'NORMALIZER', 'ENRICHER', 'ENRICHER_TRACES', 'SINK_ES', 'SINK_PARQUET']),
    ...checkEnv(),
    SLUICE_S3_PREFIX: runId,
    SLUICE_S3_BUCKET: bucket,
  };
  say(`${c.name}: run ${runId}, service logs in ${logDir}`);
  const procs: ServiceProcess[] = [];
  let sent = 0;
  let resolveFed!: () => void;
  const fed = new Promise<void>((res) => (resolveFed = res));
  const waiters: Array<{ f: number; resolve: () => void }> = [];
  const ctx: Ctx = {
    runId, tenant, env, procs, es,
    progress: () => (r.linesIn === 0 ? 0 : sent / r.linesIn),
    atProgress: (f) => new Promise((resolve) => (ctx.progress() >= f ? resolve() : waiters.push({ f, resolve }))),
    fed,
    async kill(name, signal = 'SIGKILL', graceMs) {
      const p = procs.find((x) => x.name === name)!;
      p.child.kill(signal);
      if (graceMs !== undefined) {
        await sleep(graceMs);
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      }
      await p.exited;
      ctx.note(`${name} ${signal}${graceMs !== undefined ? ` then SIGKILL ${graceMs} ms later` : ''} at ${Math.round(ctx.progress() * 100)} % of the lines`);
    },
    async start(name) {
      const [again] = await startServices({ env, logDir, names: [name] });
      procs[procs.findIndex((x) => x.name === name)] = again!;
      await waitReady([again!], o.timeoutMs);
      ctx.note(`${name} started again`);
    },
    stack(cmd, component) {
      const res = spawnSync('bash', [join(repoRoot(), 'scripts', 'stack'), cmd, component], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`scripts/stack ${cmd} ${component} failed: ${res.stderr || res.stdout}`);
    },
    toxi: undefined,
    fullDisk: undefined,
    note: (s) => {
      r.notes.push(s);
      say(`${c.name}: ${s}`);
    },
  };
  // Ctrl-C or a SIGTERM: the services (detached) are stopped first, and whatever the case stopped is started again.
  const onSignal = () => {
    void stopServices(procs)
      .then(() => (c.disruptive ? ['kafka', 'registry', 'elasticsearch', 's3'].forEach((comp) => ctx.stack('start', comp as 'kafka')) : undefined))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (c.proxied === 's3-full') {
      const full = await FullDiskProxy.start(new URL(S3_CONF.endpoint));
      ctx.fullDisk = full.proxy;
      env['SLUICE_S3_ENDPOINT'] = full.endpoint;
    } else if (c.proxied) {
      toxi = ctx.toxi = await Toxiproxy.start();
      if (c.proxied === 'es') env['SLUICE_ES_URL'] = `http://${await toxi.proxy('es', new URL(ES_URL).host)}`;
      else if (c.proxied === 's3') env['SLUICE_S3_ENDPOINT'] = `http://${await toxi.proxy('s3', new URL(S3_CONF.endpoint).host)}`;
      else {
        // The broker's PROXIED listener (scripts/stack.d/kafka.sh) advertises KAFKA_PROXIED.advertised: the proxy listens there.
        if (!(await reachable(KAFKA_PROXIED.port))) throw new Error(`the broker has no listener on 127.0.0.1:${KAFKA_PROXIED.port} (PROXIED, added to scripts/stack.d/kafka.sh): restart it with scripts/stack stop kafka && scripts/stack start kafka`);
        env['SLUICE_KAFKA_BROKERS'] = await toxi.proxy('kafka', `127.0.0.1:${KAFKA_PROXIED.port}`, `127.0.0.1:${KAFKA_PROXIED.advertised}`);
      }
    }
    if (c.name === 'registry-outage-start') ctx.stack('stop', 'registry');
    procs.push(...(await startServices({ env, logDir })));
    if (c.beforeReady) await c.beforeReady(ctx);
    await waitReady(procs, o.timeoutMs);
    const { lines } = workload(o.events, o.seed, () => Date.now() + 2_000, o.liveSeconds, tenant);
    r.linesIn = lines.length;
    // The shipper: idempotent, so a request resent across a broker outage (produceAll) is written once.
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1, retry: { retries: 30 } });
    await producer.connect();
    const faultDone = c.fault(ctx);
    let lastSent = 0;
    let feedWaited = false;
    try {
      await produceLive(
        producer,
        `${runId}.logs.raw`,
        lines,
        tenant,
        (n) => {
          sent = n;
          for (const w of waiters.splice(0)) {
            if (ctx.progress() >= w.f) w.resolve();
            else waiters.push(w);
          }
        },
        (err) => {
          if (feedWaited) return;
          feedWaited = true;
          ctx.note(`the feed waits for Kafka, resending (as a shipper's queue would): ${err instanceof Error ? err.message : String(err)}`);
        },
      );
      lastSent = Date.now();
      resolveFed();
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    await faultDone;
    say(`${c.name}: ${fmt(r.linesIn)} lines sent; waiting until every one is stored and the windows are quiet`);
    try {
      const settled = await settle({ procs: () => procs, es, tenant, lines: r.linesIn, timeoutMs: o.timeoutMs, say, esToo: true, parquetRows: parquetRowsDurable(ctx, kafka, r.linesIn) });
      r.caughtUpSeconds = (settled.storedAtMs - lastSent) / 1000;
    } catch (err) {
      // Not recovered in time: still stopped and counted, so the table says what is where.
      r.error = `not recovered within ${o.timeoutMs / 1000} s (${err instanceof Error ? err.message : String(err)})`;
      say(`${c.name}: ${r.error}`);
    }
    await stopServices(procs);
    await countRun(r, { runId, tenant, bucket, s3, es, scratch: join(logDir, 'parquet') });
    rmSync(join(logDir, 'parquet'), { recursive: true, force: true });
    r.deadLetters = await topicMessageCount(kafka, `${runId}.logs.dlq`).catch(() => 0);
  } catch (err) {
    r.error = `not recovered: ${err instanceof Error ? err.message : String(err)}`;
    say(`${c.name}: ${r.error}`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopServices(procs);
    await toxi?.stop();
    await ctx.fullDisk?.stop();
    if (c.disruptive) for (const comp of ['kafka', 'registry', 'elasticsearch', 's3'] as const) ctx.stack('start', comp); // idempotent: whatever the case stopped is up again
    if (o.keep) say(`${c.name}: kept run ${runId}`);
    else await cleanupRun({ runId, tenant, bucket, kafka, es, s3, say });
  }
  return r;
}

/**
 * Logs rows durable in Parquet, for the settle: the logs' Parquet writer group has
 * committed every partition of the enriched topic to its end (the end is the last
 * transaction's commit marker, so committed = high watermark − 1; an empty partition
 * counts when committed or untouched), then all `lines` are durable; until then, the
 * running sink's counter, as progress. A sink restarted mid-run starts its counter from
 * 0, so counters alone cannot say it; the exact count afterwards decides anyway.
 */
function parquetRowsDurable(ctx: Ctx, kafka: KafkaClient, lines: number): () => Promise<number> {
  const topic = String(ctx.env['SLUICE_TOPIC_ENRICHED']);
  const groupId = String(ctx.env['SLUICE_SINK_PARQUET_GROUP']);
  return async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      const done = ends.every((e) => {
        const c = Number(committed.find((p) => p.partition === e.partition)?.offset ?? -1);
        return Number(e.high) === Number(e.low) ? true : c >= Number(e.high) - 1;
      });
      if (done) return lines;
    } catch {
      // The broker may be down in this very case: no answer is no progress.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return sample(ctx.procs.find((p) => p.name === 'sink'), 'sluice_parquet_rows_total{dataset="logs"}');
  };
}

// ---------------------------------------------------------------- table

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');

export function table(results: readonly CaseResult[]): string {
  const rows = results.map((r) => {
    const f = failures(r);
    return `| ${r.name} | ${fmt(r.linesIn)} | ${fmt(r.logsEs)} | ${fmt(r.logsRows)} / ${fmt(r.logsDistinct)} | ${fmt(r.logsRows - r.logsDistinct)} | ${fmt(r.levelCountSum)}${sumsExact(r) ? ' (exact)' : ''} | ${fmt(r.deadLetters)} | ${f1(r.caughtUpSeconds)} | ${f.length === 0 ? 'PASS' : `**FAIL**: ${f.join('; ')}`} |`;
  });
  return [
    '| case | events in | in Elasticsearch (= distinct ids) | Parquet rows / distinct ids | duplicates | Σ level-metric counts (per-window sums vs DuckDB) | dead letters | caught up, s after the last send | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}


/**
 * Retention (SLUICE_SINK_ES_RETENTION_DAYS, SLUICE_SINK_PARQUET_RETENTION_DAYS): the sink
 * deletes what is older than N days, once at start and every hour after, so a deployment
 * does not grow without bound. 0 (the default) keeps everything.
 *
 * - Elasticsearch: daily indices `<prefix>-<tenant>-YYYY.MM.DD` of the sink's datasets
 *   (and sluice.yaml route prefixes) whose day is before the cutoff, and ONLY indices
 *   whose mapping says `_meta.managed_by: sluice` (set by Sluice's index templates), so
 *   another product's indices that happen to match a prefix are never touched.
 * - Elasticsearch data streams `<prefix>-<tenant>` (SLUICE_ES_WRITE_MODE): a data stream
 *   has no day in its name, and nothing rolls it over unless someone does, so each pass
 *   (a) deletes every backing index except the write index whose newest `@timestamp` is
 *   on a day before the cutoff, or that is empty (no write reaches a backing index once
 *   it is not the write index, so it stays empty), then (b) rolls
 *   each stream over when its write index is a day old and holds a document (`_rollover`
 *   with `max_age: 1d, min_docs: 1`: an idle stream gets no empty backing indices;
 *   evaluated by Elasticsearch, so several sinks doing it roll over once). So a backing
 *   index holds about a day of arrivals and is deleted once all of it is older than N
 *   days: events live N to N + 1 days, plus however late they arrived. Only backing
 *   indices whose mapping says `_meta.managed_by: sluice`. Sluice does this itself, with
 *   core APIs only (rollover, resolve, delete index), instead of ILM or the data-stream
 *   lifecycle, so it works alike on every server, the local integ-test zip included.
 * - Parquet: objects under `<SLUICE_S3_PREFIX>/<dataset>/` whose Hive partition
 *   `dt=YYYY-MM-DD` is before the cutoff (the intent records are never deleted).
 * The cutoff is the UTC day N days before now: with N = 7 on 2026-12-10, days up to
 * 2026-12-02 are deleted and 2026-12-03 is kept. Every deletion is logged and counted
 * (`sluice_retention_deleted_total{what}`). Several sink instances may run it: deleting
 * twice is harmless. The pure parts (`cutoffDay`, `expiredIndex`, `isPrefixDataStream`,
 * `expiredBackingIndices`, `expiredKey`) decide.
 */
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';

/** YYYY-MM-DD of the UTC day `days` before `nowMs`: days before it are expired. */
export function cutoffDay(nowMs: number, days: number): string {
  return new Date(nowMs - days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Whether `index` is `<one of prefixes>-<tenant>-YYYY.MM.DD` with a day before `cutoff`.
 * The tenant is as indexFor writes it (`[a-z0-9_]+`, no dash), so the indices of a longer
 * prefix that overlaps (`sluice-logs-staging-…` under `sluice-logs`) are not taken for a
 * tenant's: another deployment's retention decides those.
 */
export function expiredIndex(index: string, prefixes: readonly string[], cutoff: string): boolean {
  const m = /-(\d{4})\.(\d{2})\.(\d{2})$/.exec(index);
  if (!m) return false;
  if (!prefixes.some((p) => index.startsWith(`${p}-`) && /^[a-z0-9_]+-\d{4}\.\d{2}\.\d{2}$/.test(index.slice(p.length + 1)))) return false;
  return `${m[1]}-${m[2]}-${m[3]}` < cutoff;
}

/** Whether `name` is a data stream Sluice would write: `<one of prefixes>-<tenant>` (tenant `[a-z0-9_]+`, no day). */
export function isPrefixDataStream(name: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => name.startsWith(`${p}-`) && /^[a-z0-9_]+$/.test(name.slice(p.length + 1)));
}

/** What retention knows of one backing index. */
export interface BackingIndexStats {
  /** Newest `@timestamp` in it (ISO, at least the day), undefined when it holds no document. */
  newest: string | undefined;
  /** Its mapping says `_meta.managed_by: sluice`. */
  managed: boolean;
}

/**
 * The backing indices of one data stream to delete: never the write index (the last of
 * `backing`, as Elasticsearch lists them), never one without stats or not managed by
 * Sluice; the others when their newest event's UTC day is before `cutoff`, or when they
 * hold nothing (a backing index that is not the write index receives no new documents).
 */
export function expiredBackingIndices(backing: readonly string[], stats: ReadonlyMap<string, BackingIndexStats>, cutoff: string): string[] {
  return backing.slice(0, -1).filter((name) => {
    const s = stats.get(name);
    if (!s || !s.managed) return false;
    return s.newest === undefined || s.newest.slice(0, 10) < cutoff;
  });
}

/** Whether an object key lies in a `dt=YYYY-MM-DD` partition before `cutoff`. */
export function expiredKey(key: string, cutoff: string): boolean {
  const m = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key);
  return m !== null && (m[1] as string) < cutoff;
}

export interface RetentionOptions {
  log: Logger;
  onDeleted: (what: 'index' | 'object', n: number) => void;
  es?: { client: Client; prefixes: readonly string[]; days: number };
  /** Rollover condition of data streams' write indices; default `1d`. */
  rolloverMaxAge?: string;
  s3?: { client: S3Client; bucket: string; prefixes: readonly string[]; days: number };
  now?: () => number;
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  constructor(private readonly o: RetentionOptions) {}

  get active(): boolean {
    return (this.o.es?.days ?? 0) > 0 || (this.o.s3?.days ?? 0) > 0;
  }

  /** Run now and every `intervalMs` (default an hour); failures are logged, retried at the next run. */
  start(intervalMs = 3_600_000): void {
    if (!this.active) return;
    const tick = () => {
      this.running ??= this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'retention run failed; retried at the next one'))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass: what it deleted. */
  async runOnce(): Promise<{ indices: string[]; backingIndices: string[]; rolledOver: string[]; objects: number }> {
    const now = (this.o.now ?? Date.now)();
    const result = { indices: [] as string[], backingIndices: [] as string[], rolledOver: [] as string[], objects: 0 };
    const es = this.o.es;
    if (es && es.days > 0) {
      const cutoff = cutoffDay(now, es.days);
      const mappings = await es.client.indices.getMapping({ index: es.prefixes.map((p) => `${p}-*`).join(','), allow_no_indices: true, ignore_unavailable: true, expand_wildcards: ['open', 'closed'] });
      const expired = Object.entries(mappings)
        .filter(([name, m]) => expiredIndex(name, es.prefixes, cutoff) && (m.mappings?._meta as { managed_by?: string } | undefined)?.managed_by === 'sluice')
        .map(([name]) => name)
        .sort();
      for (let i = 0; i < expired.length; i += 50) {
        const chunk = expired.slice(i, i + 50);
        await es.client.indices.delete({ index: chunk.join(','), ignore_unavailable: true });
        this.o.onDeleted('index', chunk.length);
      }
      if (expired.length > 0) this.o.log.info({ cutoff, indices: expired }, `retention: deleted ${expired.length} Elasticsearch indices before ${cutoff}`);
      result.indices = expired;
      Object.assign(result, await this.dataStreams(es.client, es.prefixes, cutoff, mappings));
    }
    const s3 = this.o.s3;
    if (s3 && s3.days > 0) {
      const cutoff = cutoffDay(now, s3.days);
      for (const prefix of s3.prefixes) {
        let token: string | undefined;
        do {
          const page = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
          const keys = (page.Contents ?? []).map((c) => c.Key as string).filter((k) => expiredKey(k, cutoff));
          if (keys.length > 0) {
            await s3.client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
            this.o.onDeleted('object', keys.length);
            result.objects += keys.length;
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
      if (result.objects > 0) this.o.log.info({ cutoff, objects: result.objects }, `retention: deleted ${result.objects} Parquet objects before ${cutoff}`);
    }
    return result;
  }

  /** The data-stream part of a pass (see the file comment); `mappings` holds the backing indices' mappings. */
  private async dataStreams(client: Client, prefixes: readonly string[], cutoff: string, mappings: Record<string, { mappings?: { _meta?: unknown } }>): Promise<{ backingIndices: string[]; rolledOver: string[] }> {
    const out = { backingIndices: [] as string[], rolledOver: [] as string[] };
    const resolved = await client.indices.resolveIndex({ name: prefixes.map((p) => `${p}-*`), expand_wildcards: ['open', 'closed', 'hidden'] });
    const streams = (resolved.data_streams ?? []).filter((d) => isPrefixDataStream(d.name, prefixes));
    const managed = (index: string) => (mappings[index]?.mappings?._meta as { managed_by?: string } | undefined)?.managed_by === 'sluice';
    for (const ds of streams) {
      const backing = ([] as string[]).concat(ds.backing_indices);
      const stats = new Map<string, BackingIndexStats>();
      if (backing.length > 1) {
        const newest = await client.search({
          index: ds.name,
          size: 0,
          aggs: { by_index: { terms: { field: '_index', size: backing.length + 1 }, aggs: { newest: { max: { field: '@timestamp' } } } } },
        });
        const buckets = (newest.aggregations?.['by_index'] as { buckets?: Array<{ key: string; newest: { value_as_string?: string } }> } | undefined)?.buckets ?? [];
        const newestOf = new Map(buckets.map((b) => [b.key, b.newest.value_as_string]));
        // A backing index missing from `mappings` (created since) counts as not managed: kept.
        for (const name of backing) stats.set(name, { newest: newestOf.get(name), managed: managed(name) });
      }
      const expired = expiredBackingIndices(backing, stats, cutoff);
      if (expired.length > 0) {
        await client.indices.delete({ index: expired.join(','), ignore_unavailable: true });
        this.o.onDeleted('index', expired.length);
        this.o.log.info({ cutoff, dataStream: ds.name, indices: expired }, `retention: deleted ${expired.length} backing indices of ${ds.name} whose events are all before ${cutoff}`);
        out.backingIndices.push(...expired);
      }
      const write = backing[backing.length - 1];
      if (write !== undefined && managed(write)) {
        const r = await client.indices.rollover({ alias: ds.name, conditions: { max_age: this.o.rolloverMaxAge ?? '1d', min_docs: 1 } });
        if (r.rolled_over) {
          this.o.log.info({ dataStream: ds.name, old: r.old_index, new: r.new_index }, `retention: rolled ${ds.name} over`);
          out.rolledOver.push(ds.name);
        }
      }
    }
    return out;
  }
}

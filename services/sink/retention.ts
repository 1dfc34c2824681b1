/**
 * Retention (SLUICE_SINK_ES_RETENTION_DAYS, SLUICE_SINK_PARQUET_RETENTION_DAYS): the sink
 * deletes what is older than N days, once at start and every hour after, so a deployment
 * does not grow without bound. 0 (the default) keeps everything.
 *
 * - Elasticsearch: daily indices `<prefix>-<tenant>-YYYY.MM.DD` of the sink's datasets
 *   (and sluice.yaml route prefixes) whose day is before the cutoff, and ONLY indices
 *   whose mapping says `_meta.managed_by: sluice` (set by Sluice's index templates), so
 *   another product's indices that happen to match a prefix are never touched.
 * - Parquet: objects under `<SLUICE_S3_PREFIX>/<dataset>/` whose Hive partition
 *   `dt=YYYY-MM-DD` is before the cutoff (the intent records are never deleted).
 * The cutoff is the UTC day N days before now: with N = 7 on 2026-12-10, days up to
 * 2026-12-02 are deleted and 2026-12-03 is kept. Every deletion is logged and counted
 * (`sluice_retention_deleted_total{what}`). Several sink instances may run it: deleting
 * twice is harmless. The pure parts (`cutoffDay`, `expiredIndex`, `expiredKey`) decide.
 */
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';

/** YYYY-MM-DD of the UTC day `days` before `nowMs`: days before it are expired. */
export function cutoffDay(nowMs: number, days: number): string {
  return new Date(nowMs - days * 86_400_000).toISOString().slice(0, 10);
}

/** Whether `index` is `<one of prefixes>-<tenant>-YYYY.MM.DD` with a day before `cutoff`. */
export function expiredIndex(index: string, prefixes: readonly string[], cutoff: string): boolean {
  const m = /-(\d{4})\.(\d{2})\.(\d{2})$/.exec(index);
  if (!m) return false;
  if (!prefixes.some((p) => index.startsWith(`${p}-`) && index.length > p.length + 1 + 11)) return false;
  return `${m[1]}-${m[2]}-${m[3]}` < cutoff;
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
  async runOnce(): Promise<{ indices: string[]; objects: number }> {
    const now = (this.o.now ?? Date.now)();
    const result = { indices: [] as string[], objects: 0 };
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
}

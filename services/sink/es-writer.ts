/**
 * The Elasticsearch writer (its own consumer group).
 *
 * - Installs an index template for `<prefix>-*` at start (@timestamp as date_nanos,
 *   keywords for ids and levels, strings under attributes/labels as keywords).
 * - Sends one `_bulk` of `create` actions per batch with `_id` = event_id, so a 409
 *   means "already written" and counts as success.
 * - Reads the response item by item: 429 and 5xx items are retried with backoff and
 *   jitter; any other failure (mapping, parse) is returned as a PermanentError for the
 *   dead-letter topic, with Elasticsearch's error type and reason.
 * - A failed request as a whole (connection refused, timeout) is a RetryableError:
 *   the runner retries the batch and commits nothing meanwhile.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
type ClientOptions = ConstructorParameters<typeof Client>[0];
import type { SinkBatch, SinkFailure, SinkItem, SinkWriter } from '../../shared/runner.js';
import type { LogRecord } from '../../shared/records.js';
import { ErrorCodes, PermanentError, RetryableError, errorMessage } from '../../shared/errors.js';
import { backoffDelay, sleep } from '../../shared/retry.js';
import type { Logger } from '../../shared/logger.js';
import { indexFor, toEsDocument } from './es-document.js';

export interface EsOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  apiKey?: string | undefined;
  caFile?: string | undefined;
  indexPrefix: string;
}

export function createEsClient(o: EsOptions): Client {
  const opts: ClientOptions = { node: o.url, requestTimeout: 30_000, maxRetries: 0 };
  if (o.apiKey) opts.auth = { apiKey: o.apiKey };
  else if (o.username) opts.auth = { username: o.username, password: o.password ?? '' };
  if (o.caFile) opts.tls = { ca: readFileSync(o.caFile) };
  return new Client(opts);
}

export function logsTemplate(prefix: string) {
  return {
    name: `sluice-${prefix}`,
    index_patterns: [`${prefix}-*`],
    // Above the built-in `logs-*-*` data-stream template of a default distribution.
    priority: 500,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0, 'index.mapping.total_fields.limit': 2000 },
      mappings: {
        dynamic_templates: [
          { attributes_as_keyword: { path_match: 'attributes.*', mapping: { type: 'keyword', ignore_above: 1024 } } },
          { labels_as_keyword: { path_match: 'labels.*', mapping: { type: 'keyword', ignore_above: 1024 } } },
          { strings_as_keyword: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } },
        ],
        properties: {
          '@timestamp': { type: 'date_nanos' },
          message: { type: 'text' },
          event: { properties: { id: { type: 'keyword' }, ingested: { type: 'date_nanos' }, dataset: { type: 'keyword' }, duration: { type: 'long' } } },
          log: { properties: { level: { type: 'keyword' }, file: { properties: { path: { type: 'keyword' } } } } },
          service: { properties: { name: { type: 'keyword' }, environment: { type: 'keyword' } } },
          host: { properties: { name: { type: 'keyword' } } },
          trace: { properties: { id: { type: 'keyword' } } },
          span: { properties: { id: { type: 'keyword' } } },
          error: { properties: { type: { type: 'keyword' }, message: { type: 'text' }, stack_trace: { type: 'text', index: false } } },
          http: { properties: { request: { properties: { method: { type: 'keyword' } } }, response: { properties: { status_code: { type: 'short' }, body: { properties: { bytes: { type: 'long' } } } } } } },
          url: { properties: { path: { type: 'keyword' } } },
          client: { properties: { ip: { type: 'keyword' } } },
        },
      },
    },
  };
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

/** What to do with one bulk item: done (201, 200, 409), retry (429, 5xx) or dead-letter. */
export function classifyBulkItem(r: BulkItemResult): 'done' | 'retry' | 'dead' {
  if (r.status === 200 || r.status === 201 || r.status === 409) return 'done';
  if (r.status === 429 || r.status >= 500) return 'retry';
  return 'dead';
}

export function createEsWriter(opts: { client: Client; indexPrefix: string; log: Logger; signal?: AbortSignal }): SinkWriter<LogRecord> {
  const { client } = opts;
  return {
    name: 'elasticsearch',
    async start() {
      const t = logsTemplate(opts.indexPrefix);
      try {
        await client.indices.putIndexTemplate({ name: t.name, index_patterns: t.index_patterns, priority: t.priority, template: t.template } as never);
      } catch (err) {
        throw new RetryableError(ErrorCodes.esUnavailable, `installing index template ${t.name} failed: ${errorMessage(err)}`, err);
      }
    },
    async write(batch: SinkBatch<LogRecord>): Promise<SinkFailure<LogRecord>[]> {
      const failures: SinkFailure<LogRecord>[] = [];
      let pending: SinkItem<LogRecord>[] = batch.items;
      for (let attempt = 0; pending.length > 0; attempt++) {
        const operations: unknown[] = [];
        for (const it of pending) {
          operations.push({ create: { _index: indexFor(opts.indexPrefix, it.value), _id: it.value.event_id } }, toEsDocument(it.value));
        }
        let response;
        try {
          response = await client.bulk({ operations, refresh: false });
        } catch (err) {
          throw new RetryableError(ErrorCodes.esUnavailable, `bulk request failed: ${errorMessage(err)}`, err);
        }
        const retry: SinkItem<LogRecord>[] = [];
        response.items.forEach((entry, i) => {
          const r = (entry.create ?? Object.values(entry)[0]) as BulkItemResult;
          const item = pending[i] as SinkItem<LogRecord>;
          const verdict = classifyBulkItem(r);
          if (verdict === 'retry') retry.push(item);
          else if (verdict === 'dead') {
            failures.push({ item, error: new PermanentError(ErrorCodes.esMapping, `elasticsearch rejected the document: ${r.error?.type ?? 'error'}: ${r.error?.reason ?? `status ${r.status}`}`) });
          }
        });
        pending = retry;
        if (pending.length > 0) {
          if (opts.signal?.aborted) throw new RetryableError(ErrorCodes.esUnavailable, `${pending.length} bulk items still throttled at shutdown`);
          const delay = backoffDelay(attempt);
          if (attempt % 5 === 0) opts.log.warn({ items: pending.length, delayMs: delay }, 'elasticsearch throttled bulk items; retrying them');
          await sleep(delay, opts.signal);
        }
      }
      return failures;
    },
    async close() {
      await client.close();
    },
  };
}

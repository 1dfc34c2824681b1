/**
 * The Elasticsearch writer (its own consumer group).
 *
 * - Writes one dataset (logs, metrics, spans or traces; es-document.ts), each its own
 *   consumer group.
 * - At start, probes what the server supports (version, data streams, failure store;
 *   es-capabilities.ts), chooses the write mode (SLUICE_ES_WRITE_MODE: auto picks data
 *   streams when the server has the data-stream API) and logs it, then installs its
 *   dataset's component and index templates of schemas/elasticsearch/ (es-templates.ts;
 *   with `data_stream: {}` in data-stream mode). Writes go to daily indices
 *   `<prefix>-<tenant>-YYYY.MM.DD`, or to data streams `<prefix>-<tenant>`.
 * - Sends one `_bulk` of `create` actions per batch with `_id` = event_id, so a 409
 *   means "already written" and counts as success. In data-stream mode that holds
 *   within the stream's current backing index only: a replay of records written before
 *   a rollover creates them again in the new write index (docs/operations.md).
 * - Reads the response item by item: 429 and 5xx items, and items refused for the
 *   index's sake (a write block, a closed index, a missing privilege), are resent, alone, with
 *   exponential backoff and full jitter (shared/retry.ts), for at most
 *   `maxRetryRounds` rounds; then the write throws a RetryableError and the runner
 *   retries the whole batch with its own (shutdown-aware) backoff, where the items
 *   already written come back as 409. Any other item failure (mapping, parse) is
 *   returned as a PermanentError for the dead-letter topic, with Elasticsearch's
 *   error type and reason (and its cause).
 * - A failed request as a whole (connection refused, timeout, 429, 5xx) is a
 *   RetryableError: the runner retries the batch and commits nothing meanwhile. A
 *   whole request refused as malformed or too large (400, 413) will fail again: a
 *   PermanentError, so the batch is dead-lettered instead of stalling the partition.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
type ClientOptions = ConstructorParameters<typeof Client>[0];
import type { SinkBatch, SinkFailure, SinkItem, SinkWriter } from '../../shared/runner/index.js';
import type { LogRecord } from '../../shared/records.js';
import { ErrorCodes, PermanentError, RetryableError, SluiceError, errorMessage } from '../../shared/errors.js';
import { backoffDelay, defaultBackoff, sleep, type BackoffPolicy } from '../../shared/retry.js';
import type { Logger } from '../../shared/logger.js';
import { logsDataset, type EsDataset } from './es-document.js';
import { composedMappings, indexTemplateOf, loadEsTemplates, templatesFor, type EsTemplates, type EsWriteMode } from './es-templates.js';
import { chooseWriteMode, detectEsCapabilities, type EsCapabilities, type EsWriteModeSetting } from './es-capabilities.js';

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

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

/**
 * Item errors that are about the index or the cluster, not the document: writing the same
 * document later can succeed, so it is held and retried, never dead-lettered. A write
 * block (`index.blocks.write`, the flood-stage `read_only_allow_delete`) and a closed
 * index come back per item as 403 cluster_block_exception and 400 index_closed_exception;
 * credentials lacking a privilege as 403 security_exception.
 */
const INDEX_CONDITIONS: ReadonlySet<string> = new Set(['cluster_block_exception', 'index_closed_exception', 'security_exception']);

/** What to do with one bulk item: done (201, 200, 409), retry (429, 5xx, an index condition) or dead-letter. */
export function classifyBulkItem(r: BulkItemResult): 'done' | 'retry' | 'dead' {
  if (r.status === 200 || r.status === 201 || r.status === 409) return 'done';
  if (r.status === 429 || r.status >= 500) return 'retry';
  if (r.error?.type !== undefined && INDEX_CONDITIONS.has(r.error.type)) return 'retry';
  return 'dead';
}

/** Elasticsearch's own words for an item failure: `type: reason (caused by type: reason)`. */
export function bulkItemReason(r: BulkItemResult): string {
  const e = r.error;
  if (!e) return `status ${r.status}`;
  const cause = e.caused_by?.type ? ` (caused by ${e.caused_by.type}: ${e.caused_by.reason ?? ''})` : '';
  return `${e.type ?? 'error'}: ${e.reason ?? `status ${r.status}`}${cause}`;
}

/** A whole `_bulk` request failed: retryable unless the server refused the request itself. */
export function classifyRequestError(err: unknown): SluiceError {
  const status = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode;
  if (status === 400 || status === 413) return new PermanentError(ErrorCodes.esMapping, `bulk request refused (status ${status}): ${errorMessage(err)}`, err);
  return new RetryableError(ErrorCodes.esUnavailable, `bulk request failed: ${errorMessage(err)}`, err);
}

/** Outcome of one `_bulk` round, for telemetry and tests. */
export interface BulkRound<T> {
  /** 0 for the first request of a write, then 1, 2, ... for each resend of throttled items. */
  attempt: number;
  sent: number;
  created: number;
  /** 409: the `_id` was already written (a redelivery); counts as written. */
  alreadyPresent: number;
  /** Items to resend (429, 5xx), with Elasticsearch's reason. */
  retry: Array<{ item: SinkItem<T>; status: number; reason: string }>;
  dead: number;
}

export interface EsWriterOptions<T> {
  client: Client;
  /** Index prefix of this dataset (SLUICE_ES_INDEX_PREFIX for logs, SLUICE_ES_<DATASET>_PREFIX otherwise). */
  indexPrefix: string;
  /** SLUICE_ES_WRITE_MODE; default auto (es-capabilities.ts chooseWriteMode). */
  writeMode?: EsWriteModeSetting;
  log: Logger;
  signal?: AbortSignal;
  /** What is written; logs (LogRecord) by default. */
  dataset?: EsDataset<T>;
  /** Logs only: the index prefixes of sluice.yaml's routes; each gets the logs index template too. */
  routePrefixes?: readonly string[];
  /** Backoff between resends of throttled items; shared/retry.ts defaults. */
  backoff?: BackoffPolicy;
  /** Resend rounds inside one write before handing the batch back to the runner (RetryableError). Default 8. */
  maxRetryRounds?: number;
  /** Called after every `_bulk` response, before any backoff; awaited. */
  onBulk?: (round: BulkRound<T>) => void | Promise<void>;
}

/**
 * Install the component templates, then the index templates composed of them (PUT is
 * idempotent), then add the templates' fields to indices that already exist (today's
 * daily index was created from the previous template: with strict mappings a new field,
 * such as MetricWindow's `sketch`, would be refused until tomorrow's index). Adding
 * fields is always allowed; a field whose type changed cannot be changed in place: such
 * indices are returned as problems for the caller to log, and keep being written.
 */
export async function installEsTemplates(client: Client, templates: EsTemplates): Promise<string[]> {
  for (const c of templates.components) await client.cluster.putComponentTemplate({ name: c.name, ...c.body } as never);
  for (const t of templates.indexTemplates) await client.indices.putIndexTemplate({ name: t.name, ...t.body } as never);
  const problems: string[] = [];
  for (const t of templates.indexTemplates) {
    const properties = composedMappings(templates, t.dataset).properties ?? {};
    try {
      await client.indices.putMapping({ index: t.body.index_patterns.join(','), properties, allow_no_indices: true, ignore_unavailable: true } as never);
    } catch (err) {
      problems.push(`existing ${t.body.index_patterns.join(',')} indices keep their mapping: ${errorMessage(err)}`);
    }
  }
  return problems;
}

/**
 * The templates a writer of `dataset` under `prefix` installs in `mode`: its own index
 * template and components, plus (logs only) one logs index template per route prefix.
 */
export function writerTemplates(dataset: EsDataset<unknown>['name'], prefix: string, mode: EsWriteMode, routePrefixes: readonly string[] = []): EsTemplates {
  const own = templatesFor(loadEsTemplates({ [dataset]: prefix }, mode), dataset);
  const routed = dataset === 'logs' ? [...new Set(routePrefixes)].filter((p) => p !== prefix).map((p) => indexTemplateOf('logs', p, mode)) : [];
  return { components: own.components, indexTemplates: [...own.indexTemplates, ...routed] };
}

/** The Elasticsearch writer; `mode` is the write mode chosen at start (undefined before). */
export type EsWriter<T> = SinkWriter<T> & { readonly mode: EsWriteMode | undefined };

export function createEsWriter<T = LogRecord>(opts: EsWriterOptions<T>): EsWriter<T> {
  const { client } = opts;
  const dataset = (opts.dataset ?? logsDataset) as EsDataset<T>;
  const maxRounds = opts.maxRetryRounds ?? 8;
  const policy = opts.backoff ?? defaultBackoff;
  let capabilities: EsCapabilities | undefined;
  let mode: EsWriteMode | undefined;
  return {
    name: dataset.name === 'logs' ? 'elasticsearch' : `elasticsearch ${dataset.name}`,
    get mode() {
      return mode;
    },
    async start() {
      if (capabilities && mode) return;
      capabilities = await detectEsCapabilities(client);
      const choice = chooseWriteMode(opts.writeMode ?? 'auto', capabilities);
      opts.log.info({ ...capabilities, mode: choice.mode, reason: choice.reason }, `elasticsearch writer mode: ${choice.mode}`);
      if (choice.warning) opts.log.warn({ mode: choice.mode }, choice.warning);
      const templates = writerTemplates(dataset.name, opts.indexPrefix, choice.mode, opts.routePrefixes);
      try {
        const problems = await installEsTemplates(client, templates);
        for (const p of problems) opts.log.warn({ problem: p }, 'elasticsearch mapping of existing indices not updated');
      } catch (err) {
        capabilities = undefined;
        const status = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode;
        // A 400 is Elasticsearch refusing the template itself (e.g. daily-indices mode over
        // data streams that exist under the same pattern): retrying cannot help.
        if (status === 400) throw new PermanentError(ErrorCodes.esMapping, `elasticsearch refused the index templates (${choice.mode} mode): ${errorMessage(err)}`, err);
        throw new RetryableError(ErrorCodes.esUnavailable, `installing index templates failed: ${errorMessage(err)}`, err);
      }
      mode = choice.mode;
      opts.log.info({ indexTemplates: templates.indexTemplates.map((t) => `${t.name}=${t.body.index_patterns.join(',')}`), componentTemplates: templates.components.map((c) => c.name) }, 'elasticsearch templates installed');
    },
    async write(batch: SinkBatch<T>): Promise<SinkFailure<T>[]> {
      const failures: SinkFailure<T>[] = [];
      let pending: SinkItem<T>[] = batch.items;
      for (let attempt = 0; pending.length > 0; attempt++) {
        const operations: unknown[] = [];
        for (const it of pending) {
          operations.push({ create: { _index: dataset.index(opts.indexPrefix, it.value, mode), _id: dataset.id(it.value) } }, dataset.document(it.value));
        }
        let response;
        try {
          response = await client.bulk({ operations, refresh: false, filter_path: 'errors,items.*.status,items.*.error' });
        } catch (err) {
          throw classifyRequestError(err);
        }
        const round: BulkRound<T> = { attempt, sent: pending.length, created: 0, alreadyPresent: 0, retry: [], dead: 0 };
        if (response.items.length !== pending.length) {
          throw new RetryableError(ErrorCodes.esUnavailable, `bulk response has ${response.items.length} items for ${pending.length} actions`);
        }
        response.items.forEach((entry, i) => {
          const r = (entry.create ?? Object.values(entry)[0]) as BulkItemResult;
          const item = pending[i] as SinkItem<T>;
          const verdict = classifyBulkItem(r);
          if (verdict === 'retry') round.retry.push({ item, status: r.status, reason: bulkItemReason(r) });
          else if (verdict === 'dead') {
            round.dead++;
            failures.push({ item, error: new PermanentError(ErrorCodes.esMapping, `elasticsearch rejected the document (status ${r.status}): ${bulkItemReason(r)}`) });
          } else if (r.status === 409) round.alreadyPresent++;
          else round.created++;
        });
        await opts.onBulk?.(round);
        pending = round.retry.map((x) => x.item);
        if (pending.length === 0) break;
        const sample = round.retry[0]!;
        if (attempt + 1 >= maxRounds || opts.signal?.aborted) {
          // The runner retries the whole batch with its own backoff and stops at shutdown;
          // the items written meanwhile come back as 409.
          throw new RetryableError(ErrorCodes.esUnavailable, `${pending.length} bulk items still refused after ${attempt + 1} attempts (${sample.status} ${sample.reason})`);
        }
        const delay = backoffDelay(attempt, policy);
        if (attempt === 0 || attempt % 5 === 4) opts.log.warn({ items: pending.length, attempt, delayMs: delay, status: sample.status, reason: sample.reason }, 'elasticsearch refused bulk items (429, 5xx, index blocked or closed); resending them');
        await sleep(delay, opts.signal);
      }
      return failures;
    },
    async close() {
      await client.close();
    },
  };
}

/**
 * What the Elasticsearch server can do, probed once at writer start:
 *
 * - version: `GET /` (client.info), else the nodes info API (some distributions,
 *   e.g. the integ-test zip of the local stack, have no handler for `GET /`);
 * - data streams: `GET /_data_stream` answers 200 only when the data-streams module
 *   is installed (without it the path is read as an index name: 400);
 * - failure store: data streams on a server of version >= 9.1, where the failure
 *   store is generally available (mapping failures are redirected to `<ds>::failures`
 *   instead of being refused).
 *
 * `chooseWriteMode` turns SLUICE_ES_WRITE_MODE and these into the mode the writer uses.
 * Detection never fails the start: anything unknown counts as absent.
 *
 * The failure store is detected and logged but not used: a document Elasticsearch
 * refuses goes to Sluice's dead-letter topic with its reason and original bytes, in
 * both modes (a failure store would move it out of Kafka into `<ds>::failures`).
 */
import type { Client } from '@elastic/elasticsearch';
import { errorMessage } from '../../shared/errors.js';
import type { EsWriteMode } from './es-templates.js';

export interface EsCapabilities {
  /** Server version, e.g. "9.5.3"; null when neither probe answered. */
  version: string | null;
  dataStreams: boolean;
  failureStore: boolean;
  /** Why each capability was judged so, for the start-up log line. */
  evidence: string[];
}

/** First version with the failure store generally available. */
const FAILURE_STORE_SINCE: readonly [number, number] = [9, 1];

export function versionAtLeast(version: string | null, min: readonly [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export async function detectEsCapabilities(client: Client): Promise<EsCapabilities> {
  const evidence: string[] = [];
  let version: string | null = null;
  try {
    version = (await client.info()).version.number;
    evidence.push(`GET / -> version ${version}`);
  } catch (err) {
    evidence.push(`GET / failed (${statusOf(err) ?? errorMessage(err)})`);
    try {
      const r = await client.nodes.info({ metric: 'plugins', filter_path: 'nodes.*.version,nodes.*.modules.name' });
      const nodes = Object.values(r.nodes ?? {});
      // The oldest node decides what the cluster can do.
      version = nodes.map((n) => n.version).sort((a, b) => compareVersions(parseMinor(a), parseMinor(b)))[0] ?? null;
      const modules = new Set(nodes.flatMap((n) => (n.modules ?? []).map((m) => m.name)));
      evidence.push(`nodes info -> version ${version}, modules ${[...modules].sort().join(',') || '(none)'}`);
    } catch (err2) {
      evidence.push(`nodes info failed (${statusOf(err2) ?? errorMessage(err2)})`);
    }
  }
  let dataStreams = false;
  try {
    await client.transport.request({ method: 'GET', path: '/_data_stream', querystring: { filter_path: 'data_streams.name' } });
    dataStreams = true;
    evidence.push('GET /_data_stream -> 200');
  } catch (err) {
    evidence.push(`GET /_data_stream -> ${statusOf(err) ?? errorMessage(err)} (no data-stream API)`);
  }
  const failureStore = dataStreams && versionAtLeast(version, FAILURE_STORE_SINCE);
  if (dataStreams && !failureStore) evidence.push(`failure store needs version >= ${FAILURE_STORE_SINCE.join('.')}`);
  return { version, dataStreams, failureStore, evidence };
}

/** SLUICE_ES_WRITE_MODE. */
export type EsWriteModeSetting = 'auto' | EsWriteMode;
export const esWriteModeSettings: readonly EsWriteModeSetting[] = ['auto', 'data-streams', 'daily-indices'];

/**
 * The mode the writer uses, and why (for the start-up log line):
 * - `auto`: data streams when the server has the data-stream API (`GET /_data_stream`
 *   answered 200: a default distribution from 7.9 on), daily indices otherwise;
 * - `data-streams` / `daily-indices`: as set. Forced data streams on a server without the
 *   API (the local stack's integ-test zip) still work, since index templates create data
 *   streams on first write there, but the streams can be neither listed nor deleted by
 *   API; `warning` says so.
 */
export function chooseWriteMode(setting: EsWriteModeSetting, caps: Pick<EsCapabilities, 'dataStreams'>): { mode: EsWriteMode; reason: string; warning?: string } {
  if (setting === 'daily-indices') return { mode: 'daily-indices', reason: 'SLUICE_ES_WRITE_MODE=daily-indices' };
  if (setting === 'data-streams') {
    const r = { mode: 'data-streams' as const, reason: 'SLUICE_ES_WRITE_MODE=data-streams' };
    return caps.dataStreams ? r : { ...r, warning: 'the server has no data-stream API (GET /_data_stream): templates still create the data streams on first write, but they cannot be listed or deleted by API' };
  }
  return caps.dataStreams
    ? { mode: 'data-streams', reason: 'SLUICE_ES_WRITE_MODE=auto and the server has the data-stream API' }
    : { mode: 'daily-indices', reason: 'SLUICE_ES_WRITE_MODE=auto and the server has no data-stream API' };
}

function compareVersions(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

function parseMinor(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

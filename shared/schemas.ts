/**
 * The Avro schemas of schemas/*.avsc, loaded once, and which record each topic carries.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordName } from './records.js';

/** Repository root, found from this file whether it runs from source or from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('cannot find the repository root (package.json) above ' + fileURLToPath(import.meta.url));
}

export const recordNames: readonly RecordName[] = ['RawEvent', 'LogRecord', 'MetricWindow', 'Span', 'TraceSummary', 'DeadLetter'];

const cache = new Map<RecordName, AvroRecordSchema>();

export interface AvroField {
  name: string;
  type: unknown;
  default?: unknown;
  doc?: string;
}
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: AvroField[];
}

export function loadSchema(name: RecordName): AvroRecordSchema {
  let s = cache.get(name);
  if (!s) {
    s = JSON.parse(readFileSync(join(repoRoot(), 'schemas', `${name}.avsc`), 'utf8')) as AvroRecordSchema;
    cache.set(name, s);
  }
  return s;
}

/** The record carried by each Sluice-owned topic, keyed by the topic-name setting. */
export interface TopicNames {
  topicCollected: string;
  /** Absent in callers that never read or write the delay topic. */
  topicDelayed?: string;
  topicNormalized: string;
  topicEnriched: string;
  topicMetrics: string;
  topicSpans: string;
  topicTraces: string;
  topicDlq: string;
}

export function topicRecords(t: TopicNames): Array<{ topic: string; record: RecordName }> {
  return [
    { topic: t.topicCollected, record: 'RawEvent' },
    ...(t.topicDelayed ? [{ topic: t.topicDelayed, record: 'RawEvent' as const }] : []),
    { topic: t.topicNormalized, record: 'LogRecord' },
    { topic: t.topicEnriched, record: 'LogRecord' },
    { topic: t.topicMetrics, record: 'MetricWindow' },
    { topic: t.topicSpans, record: 'Span' },
    { topic: t.topicTraces, record: 'TraceSummary' },
    { topic: t.topicDlq, record: 'DeadLetter' },
  ];
}

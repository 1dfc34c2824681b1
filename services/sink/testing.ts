/**
 * Fixtures of the sink's unit tests: a LogRecord with its header fields set, and a
 * scratch directory with an in-memory DuckDB that reads the written files back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { LogRecord } from '../../shared/records.js';

/** The test record's event time: 2026-01-31T23:59:59.123456Z, in microseconds. */
export const ts = Date.UTC(2026, 0, 31, 23, 59, 59) * 1000 + 123_456;

/** A failed HTTP request logged as JSON (tenant acme, offset 42 of logs.enriched), `over` on top. */
export function sinkRecord(over: Partial<LogRecord> = {}): LogRecord {
  return {
    event_id: '01KAXYZ', timestamp: ts, timestamp_source: 'event', observed_at: ts + 5, level: 'ERROR', severity_number: 17, message: 'boom', service: 'api', host: 'h1',
    tenant: 'acme', environment: 'prod', source: { format: 'json', shipper: 'vector', file: '/var/log/a.log', topic: 'logs.enriched', partition: 2, offset: 42 },
    trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: null, ids: { request_id: 'r1' },
    http: { method: 'GET', route: null, path: '/x', status: 503, duration_us: 1500, bytes: 10, client_ip: '10.0.0.1', user_agent: 'curl' },
    error: null, attributes: { 'a.b': '1' }, labels: {}, flags: [],
    ...over,
  };
}

/**
 * For the tests of the enclosing describe block: a scratch directory (`prefix` + random)
 * and an in-memory DuckDB, made before all of them and closed and removed after all.
 */
export function duckdbScratch(prefix: string): { file(name: string, body: Uint8Array): string; rows(sql: string): Promise<DuckDBValue[][]> } {
  let dir: string;
  let instance: DuckDBInstance;
  let db: DuckDBConnection;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
  });
  afterAll(() => {
    db.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    /** Write `body` as `name` in the directory; returns its path. */
    file(name, body) {
      const path = join(dir, name);
      writeFileSync(path, body);
      return path;
    },
    /** The rows `sql` returns. */
    rows: async (sql) => (await db.runAndReadAll(sql)).getRows(),
  };
}

import { indexFor, toEsDocument } from './es-document.js';
import { logColumns, partitionPath, toParquetRow } from './parquet-row.js';
import { objectKey } from './parquet-writer.js';
import { classifyBulkItem } from './es-writer.js';
import { loadSchema } from '../../shared/schemas.js';
import { sinkRecord, ts } from './testing.js';

const record = sinkRecord({
  tenant: 'Acme Corp', source: { format: 'json', shipper: 'vector', file: '/var/log/a.log', topic: 'logs.raw', partition: 2, offset: 42 },
  error: { type: 'E', message: 'bad', stack: 'at x' }, attributes: { 'a.b': '1', c: '2' }, labels: { team: 'core' }, flags: ['truncated'],
});

describe('Elasticsearch document', () => {
  test('uses ECS names, microsecond @timestamp and event.duration in ns', () => {
    const d = toEsDocument(record);
    expect(d['@timestamp']).toBe('2026-01-31T23:59:59.123456Z');
    expect(d).toMatchObject({ 'event.id': '01KAXYZ', 'log.level': 'ERROR', 'service.name': 'api', 'host.name': 'h1', 'trace.id': 'a'.repeat(32), 'span.id': 'b'.repeat(16) });
    expect(d).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 503, 'url.path': '/x', 'event.duration': 1_500_000, 'client.ip': '10.0.0.1', 'user_agent.original': 'curl' });
    expect(d).toMatchObject({ 'error.type': 'E', 'error.message': 'bad', 'error.stack_trace': 'at x', 'labels.team': 'core', 'sluice.ids.request_id': 'r1' });
    // a dotted attribute key stays one leaf
    expect(d['attributes.a_b']).toBe('1');
    expect(d['parent.id']).toBeUndefined();
  });

  test('daily index per tenant by event time (UTC), tenant sanitized', () => {
    expect(indexFor('logs', record)).toBe('logs-acme_corp-2026.01.31');
  });
});

describe('Bulk item verdicts', () => {
  test.each([
    [201, 'done'], [200, 'done'], [409, 'done'], [429, 'retry'], [500, 'retry'], [503, 'retry'], [400, 'dead'], [404, 'dead'],
  ])('%i -> %s', (status, verdict) => expect(classifyBulkItem({ status })).toBe(verdict));
  test.each([
    [403, 'cluster_block_exception', 'retry'], // index.blocks.write, flood-stage read_only_allow_delete
    [400, 'index_closed_exception', 'retry'],
    [403, 'security_exception', 'retry'],
    [400, 'document_parsing_exception', 'dead'],
    [400, 'mapper_parsing_exception', 'dead'],
  ])('%i %s -> %s (the index, not the document: held, not dead-lettered)', (status, type, verdict) => expect(classifyBulkItem({ status, error: { type, reason: 'r' } })).toBe(verdict));
});

describe('Parquet row', () => {
  test('has exactly the declared columns, with flat snake_case names', () => {
    const row = toParquetRow(record);
    expect(Object.keys(row).sort()).toEqual(logColumns.map((c) => c.name).sort());
    expect(row['timestamp']).toBe(ts);
    expect(row['http_status']).toBe(503);
    expect(JSON.parse(row['attributes'] as string)).toEqual({ 'a.b': '1', c: '2' });
  });

  test('required columns are the non-nullable Avro fields', () => {
    const avro = loadSchema('LogRecord').fields;
    for (const f of avro) {
      const col = logColumns.find((c) => c.name === f.name);
      if (!col) continue; // nested records are flattened to prefixed columns
      const nullable = Array.isArray(f.type) && (f.type as unknown[]).includes('null');
      expect([f.name, col.optional]).toEqual([f.name, nullable]);
    }
  });

  test('Hive partition by event time and object key by offsets', () => {
    expect(partitionPath(record)).toBe('tenant=Acme%20Corp/dt=2026-01-31/hour=23');
    const key = objectKey('p', 'logs', partitionPath(record), { topic: 'logs.enriched', partition: 2, firstOffset: '7', lastOffset: '1000' });
    expect(key).toBe('p/logs/tenant=Acme%20Corp/dt=2026-01-31/hour=23/logs.enriched+2+00000000000000000007+00000000000000001000.parquet');
    expect(objectKey('', 'logs', 'x', { topic: 't', partition: 0, firstOffset: '0', lastOffset: '0' }).startsWith('logs/x/')).toBe(true);
  });
});

/**
 * The TypeScript record shapes and the Avro schemas must not drift: a sample of each
 * shape must be valid for its schema with no undeclared fields, and every schema field
 * must be present in the sample.
 */
import avro from 'avsc';
import { loadSchema, recordNames } from './schemas.js';
import type { RecordTypes, RecordName } from './records.js';

const samples: { [K in RecordName]: RecordTypes[K] } = {
  RawEvent: {
    event_id: '01JD0000000000000000000000', tenant: 't', observed_at: 1, kafka_timestamp: 1,
    origin: { topic: 'logs.raw', partition: 0, offset: 1, index: 0 }, format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body: 'x', flags: [], labels: { 'k8s.pod': 'api-0' },
  },
  LogRecord: {
    event_id: 'id', timestamp: 1_700_000_000_000_001, timestamp_source: 'event', observed_at: 1, level: 'INFO', severity_number: 9, message: 'm', service: 's', host: null, tenant: 't', environment: null,
    source: { format: 'json', shipper: null, file: null, topic: 'x', partition: 0, offset: 0 }, trace_id: null, span_id: null, parent_span_id: null, ids: {},
    http: { method: 'GET', route: null, path: '/', status: 200, duration_us: 5, bytes: 1, client_ip: null, user_agent: null },
    error: { type: null, message: 'boom', stack: null }, attributes: { a: 'b' }, labels: {}, flags: [],
  },
  MetricWindow: {
    window_id: 'w', series: { service: 's', route: null, method: null, status_class: null, level: null }, window_start: 0, window_end: 10, count: 1, error_count: 0, duration_sum_us: 0,
    bucket_bounds_us: [1], bucket_counts: [1, 0], p50_us: null, p90_us: null, p99_us: null, exemplar_trace_id: null, exemplar_event_id: null, late_count: 0, tenant: 't', sketch: Buffer.from([1, 0, 2]),
  },
  Span: { trace_id: 't', span_id: 's', parent_span_id: null, service: 'svc', operation: 'op', start: 0, end: 1, duration_us: 1, status: 'OK', event_count: 1, derivation: 'ids', tenant: 't' },
  TraceSummary: { trace_id: 't', root_service: null, root_operation: null, start: 0, duration_us: 0, span_count: 0, services: [], error: false, tenant: 't' },
  DeadLetter: { stage: 'collector', error_code: 'E', message: 'm', original: Buffer.from('x'), origin_topic: 't', origin_partition: 0, origin_offset: 0, origin_key: null, failed_at: 0, event_id: null, origin_headers: { tenant: 'acme' } },
};

describe.each(recordNames)('%s', (name) => {
  const schema = loadSchema(name);
  const type = avro.Type.forSchema(schema as unknown as avro.Schema);

  test('the TypeScript shape is valid Avro with no undeclared fields', () => {
    const errors: string[] = [];
    const ok = type.isValid(samples[name], { noUndeclaredFields: true, errorHook: (path) => errors.push(path.join('.')) });
    expect(errors).toEqual([]);
    expect(ok).toBe(true);
  });

  test('every Avro field is in the TypeScript shape', () => {
    expect(Object.keys(samples[name]).sort()).toEqual(schema.fields.map((f) => f.name).sort());
  });

  test('round-trips through Avro unchanged', () => {
    expect(type.fromBuffer(type.toBuffer(samples[name]))).toEqual(samples[name]);
  });
});

/**
 * `field` of record `name` as a backward-compatible addition: `tests` get the current
 * schema, the previous one (without the field) and the sample without it; then a record
 * decoded with its own (older) writer schema must lack the field.
 */
function addition<K extends RecordName>(name: K, field: keyof RecordTypes[K] & string, tests: (current: avro.Type, previous: avro.Type, older: Partial<RecordTypes[K]>) => void): void {
  describe(`${name}.${field} is a backward-compatible addition`, () => {
    const schema = loadSchema(name);
    const current = avro.Type.forSchema(schema as unknown as avro.Schema);
    const previous = avro.Type.forSchema({ ...schema, fields: schema.fields.filter((f) => f.name !== field) } as unknown as avro.Schema);
    const { [field]: _added, ...older } = samples[name];
    tests(current, previous, older as Partial<RecordTypes[K]>);

    test('decoded with its own (older) writer schema, as the codec does, the field is absent: the TypeScript field is optional', () => {
      expect((previous.fromBuffer(previous.toBuffer(older)) as RecordTypes[K])[field]).toBeUndefined();
    });
  });
}

addition('RawEvent', 'labels', (current, previous, older) => {
  test('an event written without the field reads as {} under the current schema', () => {
    const read = current.fromBuffer(previous.toBuffer(older), current.createResolver(previous)) as RecordTypes['RawEvent'];
    expect(read.labels).toEqual({});
  });
});

addition('MetricWindow', 'sketch', (current, previous, older) => {
  test('a window written without the field reads as null under the current schema', () => {
    const read = current.fromBuffer(previous.toBuffer(older), current.createResolver(previous)) as RecordTypes['MetricWindow'];
    expect(read.sketch).toBeNull();
  });

  test('a reader of the previous schema skips the field written by the current one', () => {
    const read = previous.fromBuffer(current.toBuffer(samples.MetricWindow), previous.createResolver(current)) as RecordTypes['MetricWindow'];
    expect(read).toEqual(older);
  });
});

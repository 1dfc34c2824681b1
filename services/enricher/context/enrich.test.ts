/**
 * The composed stage `enrich()` (../enrich.ts), golden style: each
 * testdata/enrich/<case>/input.json is a normalized LogRecord, enriched with every part
 * on, the example catalog (testdata/catalog.json) and a fake GeoIP lookup; the result
 * must equal expected.json (UPDATE_GOLDEN=1 rewrites them).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnrichContext, createEnrichStage, defaultEnrichConfig, enrich, type EnrichContext } from '../enrich.js';
import { golden, goldenCases } from '../../../shared/testing/golden.js';
import type { LogRecord } from '../../../shared/records.js';
import { ConfigError } from '../../../shared/errors.js';
import type { GeoLookup } from './geo.js';

const here = dirname(fileURLToPath(import.meta.url));
const readFile = (p: string): string => readFileSync(p, 'utf8');
const geoCalls: string[] = [];
const geo: GeoLookup = (ip) => {
  geoCalls.push(ip);
  return ip === '83.149.9.216' ? { country: 'RU', city: 'Moscow' } : null;
};
const ctx: EnrichContext = createEnrichContext({ ...defaultEnrichConfig, catalogFile: join(here, 'testdata', 'catalog.json') }, { readFile, geo });

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

describe('enrich golden cases', () => {
  const cases = goldenCases(join(here, 'testdata', 'enrich'));
  test('there are cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // Frozen: enrich must not modify its input.
    const input = deepFreeze(JSON.parse(c.input.toString('utf8')) as LogRecord);
    const actual = enrich(input, ctx);
    expect(actual).toEqual(golden(c.dir, actual));
    // Deterministic: the same input gives the same output.
    expect(enrich(input, ctx)).toEqual(actual);
  });
});

function base(over: Partial<LogRecord> = {}): LogRecord {
  return {
    event_id: 'E', timestamp: 1, timestamp_source: 'event', observed_at: 1, level: 'INFO', severity_number: 9, message: 'hello', service: null, host: null,
    tenant: 't', environment: null, source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: 0 },
    trace_id: null, span_id: null, parent_span_id: null, ids: {}, http: null, error: null, attributes: {}, labels: {}, flags: [], ...over,
  };
}
const http = { method: 'GET', route: null, path: '/users/42', status: 200, duration_us: null, bytes: null, client_ip: null, user_agent: null };

describe('enrich', () => {
  test('a record with nothing to add passes unchanged, in new label and flag containers', () => {
    const r = base();
    const out = enrich(r, ctx);
    expect(out).toEqual(r);
    expect(out.labels).not.toBe(r.labels);
    expect(out.flags).not.toBe(r.flags);
  });

  test('GeoIP is asked only for public addresses', () => {
    geoCalls.length = 0;
    for (const ip of ['10.1.2.3', '192.168.0.1', '127.0.0.1', '::1', 'fe80::1', '83.149.9.216:5555']) enrich(base({ http: { ...http, client_ip: ip } }), ctx);
    expect(geoCalls).toEqual(['83.149.9.216']);
  });

  test('an existing route is kept', () => {
    expect(enrich(base({ http: { ...http, route: '/users/:id' } }), ctx).http?.route).toBe('/users/:id');
  });

  test('every part can be switched off', () => {
    const off = createEnrichContext({ ...defaultEnrichConfig, kubernetes: false, userAgent: false, routes: false, redact: false });
    const r = base({
      message: 'mail a@b.io',
      source: { ...base().source, file: '/var/log/containers/web-0_shop_nginx-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log' },
      http: { ...http, user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36' },
    });
    expect(enrich(r, off)).toEqual(r);
  });

  test('the redaction label and flag appear only when something was redacted; counts add up across fields', () => {
    const out = enrich(base({ message: 'a@b.io', ids: { user_id: 'c@d.io' }, attributes: { x: 'e@f.io g@h.io' } }), ctx);
    expect(out.labels['sluice.redactions']).toBe('4');
    expect(out.flags).toEqual(['redacted']);
    expect(enrich(base(), ctx).labels['sluice.redactions']).toBeUndefined();
  });

  test('the catalog applies to the service derived from Kubernetes', () => {
    const out = enrich(base({ attributes: { 'k8s.pod.name': 'ts-order-service-5b67c48447-mv5hb' } }), ctx);
    expect(out.service).toBe('ts-order-service');
    expect(out.labels).toMatchObject({ 'k8s.pod': 'ts-order-service-5b67c48447-mv5hb', 'k8s.workload': 'ts-order-service', team: 'orders', tier: '1' });
  });

  test('configuration errors surface when the context is built', () => {
    expect(() => createEnrichContext({ ...defaultEnrichConfig, redactPatterns: '{"bad": "(a)\\\\1"}' })).toThrow(ConfigError);
    expect(() => createEnrichContext({ ...defaultEnrichConfig, catalogFile: '/missing.json' }, { readFile: () => { throw new Error('ENOENT'); } })).toThrow(ConfigError);
    expect(() => createEnrichContext({ ...defaultEnrichConfig, catalogFile: '/c.json' })).toThrow(/no readFile loader/);
  });

  test('the stage keys its output by the enriched service', () => {
    const stage = createEnrichStage({ outputTopic: 'logs.enriched', context: ctx });
    const value = base({ attributes: { 'kubernetes.pod_name': 'kafka-0' } });
    const [out] = stage.process({ topic: 'logs.normalized', partition: 0, offset: '1', timestampMs: 0, key: null, headers: {}, value, raw: Buffer.alloc(0) }, { now: () => 0 });
    expect(out).toMatchObject({ topic: 'logs.enriched', key: 'kafka' });
  });

  test('defaults: everything on except the catalog (needs a file) and GeoIP (needs a lookup)', () => {
    expect(defaultEnrichConfig).toMatchObject({ catalogFile: undefined, kubernetes: true, userAgent: true, routes: true, redact: true });
    const d = createEnrichContext(defaultEnrichConfig);
    expect(d.catalog).toBeNull();
    expect(d.geo).toBeNull();
  });
});

/**
 * Issue #12, "index names": Sluice's Elasticsearch names and templates capture nobody
 * else's indices, and the write mode (daily indices or data streams) is decided from the
 * setting and the server's capabilities. Pure decisions, no server
 * (test/es-names.test.ts checks the same against the real local Elasticsearch).
 */
import { loadConfig } from '../../shared/config.js';
import { schema } from './config.js';
import { logsDataset } from './es-document.js';
import { chooseWriteMode } from './es-capabilities.js';
import {
  builtinOverlaps, defaultEsPrefixes, elasticBuiltinPatterns, esDatasets, indexTemplateOf, loadEsTemplates, patternsOverlap, templateName, templatePriority,
} from './es-templates.js';
import { writerTemplates } from './es-writer.js';
import { expiredBackingIndices, expiredIndex, isPrefixDataStream, type BackingIndexStats } from './retention.js';
import { sinkRecord } from './testing.js';

/** Whether an index or data stream name matches an index pattern (Elasticsearch's `*` globs). */
function matches(pattern: string, name: string): boolean {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name);
}

/** Names Elastic Agent and Fleet integrations write (data streams `<type>-<dataset>-<namespace>`). */
const agentNames = ['logs-nginx.access-default', 'logs-system.syslog-default', 'metrics-system.cpu-default', 'traces-apm-default', 'logs-generic-default', 'synthetics-http-default'];

describe('default names', () => {
  test('the settings default to the sluice- prefixes the templates use', () => {
    expect({ logs: schema.esIndexPrefix.default, metrics: schema.esMetricsPrefix.default, spans: schema.esSpansPrefix.default, traces: schema.esTracesPrefix.default }).toEqual(defaultEsPrefixes);
    expect(schema.esWriteMode.default).toBe('auto');
  });

  test('no default template pattern matches an Elastic Agent name, and none overlaps a built-in pattern', () => {
    const t = loadEsTemplates(defaultEsPrefixes);
    const patterns = t.indexTemplates.flatMap((x) => x.body.index_patterns);
    expect(patterns).toEqual(['sluice-logs-*', 'sluice-metrics-*', 'sluice-spans-*', 'sluice-traces-*']);
    for (const name of agentNames) expect([name, patterns.filter((p) => matches(p, name))]).toEqual([name, []]);
    for (const p of patterns) expect([p, elasticBuiltinPatterns.filter((b) => patternsOverlap(p, b))]).toEqual([p, []]);
  });

  test('Sluice documents land under its own patterns, in both modes', () => {
    const r = sinkRecord({ tenant: 'Acme Corp' });
    expect(logsDataset.index(defaultEsPrefixes.logs, r)).toBe('sluice-logs-acme_corp-2026.01.31');
    expect(logsDataset.index(defaultEsPrefixes.logs, r, 'data-streams')).toBe('sluice-logs-acme_corp');
    const patterns = loadEsTemplates(defaultEsPrefixes).indexTemplates.map((x) => x.body.index_patterns[0] as string);
    for (const name of [logsDataset.index(defaultEsPrefixes.logs, r), logsDataset.index(defaultEsPrefixes.logs, r, 'data-streams')]) {
      expect(patterns.filter((p) => matches(p, name))).toEqual(['sluice-logs-*']);
    }
  });

  test('the old names (prefix settings logs, metrics, traces) would capture Agent names: that is what the defaults end', () => {
    const legacy = loadEsTemplates({ logs: 'logs', metrics: 'metrics', spans: 'spans', traces: 'traces' });
    const captured = agentNames.filter((n) => legacy.indexTemplates.some((t) => t.body.index_patterns.some((p) => matches(p, n))));
    expect(captured).toEqual(['logs-nginx.access-default', 'logs-system.syslog-default', 'metrics-system.cpu-default', 'traces-apm-default', 'logs-generic-default']);
  });
});

describe('prefix settings', () => {
  test('the old names and other valid prefixes load; what Elasticsearch would refuse stops the start', () => {
    const legacy = loadConfig(schema, { SLUICE_ES_INDEX_PREFIX: 'logs', SLUICE_ES_METRICS_PREFIX: 'metrics', SLUICE_ES_SPANS_PREFIX: 'spans', SLUICE_ES_TRACES_PREFIX: 'traces', SLUICE_ES_WRITE_MODE: 'daily-indices' });
    expect([legacy.esIndexPrefix, legacy.esMetricsPrefix, legacy.esSpansPrefix, legacy.esTracesPrefix, legacy.esWriteMode]).toEqual(['logs', 'metrics', 'spans', 'traces', 'daily-indices']);
    expect(loadConfig(schema, { SLUICE_ES_INDEX_PREFIX: 'team-a.logs_v2' }).esIndexPrefix).toBe('team-a.logs_v2');
    for (const bad of ['Logs', 'logs*', '-logs', 'my logs', 'a,b', 'x:y']) {
      expect(() => loadConfig(schema, { SLUICE_ES_INDEX_PREFIX: bad })).toThrow(/is not an Elasticsearch index prefix/);
    }
    expect(() => loadConfig(schema, { SLUICE_ES_METRICS_PREFIX: 'Metrics' })).toThrow(/SLUICE_ES_METRICS_PREFIX/);
    expect(() => loadConfig(schema, { SLUICE_ES_WRITE_MODE: 'streams' })).toThrow(/is not one of auto, data-streams, daily-indices/);
  });
});

describe('template priority and names', () => {
  test('a sluice- prefix overlaps no built-in and gets 100 + its length; a legacy one must outrank the built-ins', () => {
    expect(builtinOverlaps('sluice-logs')).toEqual([]);
    expect(templatePriority('sluice-logs').priority).toBe(111);
    expect(templatePriority('payments').priority).toBe(108);
    expect(builtinOverlaps('logs')).toEqual(['logs-*-*']);
    expect(builtinOverlaps('metrics')).toEqual(['metrics-*-*']);
    expect(builtinOverlaps('logs-app')).toEqual(['logs-*-*']); // logs-app-* still falls under logs-*-*
    expect(builtinOverlaps('logs.app')).toEqual([]);
    expect(builtinOverlaps('spans')).toEqual([]);
    // Above Elastic's 100 and Fleet's up-to-200.
    expect(templatePriority('logs').priority).toBe(504);
    expect(templatePriority('logs').priority).toBeGreaterThan(200);
  });

  test('of two overlapping Sluice prefixes the longer (more specific) one has the higher priority, never an equal one', () => {
    expect(patternsOverlap('sluice-logs-*', 'sluice-logs-staging-*')).toBe(true);
    expect(templatePriority('sluice-logs-staging').priority).toBeGreaterThan(templatePriority('sluice-logs').priority);
    expect(patternsOverlap('sluice-*', 'sluice-logs-*')).toBe(true); // a route named sluice
    expect(templatePriority('sluice').priority).toBeLessThan(templatePriority('sluice-logs').priority);
    expect(patternsOverlap('payments-*', 'sluice-logs-*')).toBe(false);
  });

  test('the reason is in _meta, with the mode; data-stream mode adds data_stream', () => {
    const daily = indexTemplateOf('logs', 'sluice-logs');
    expect(daily.body.data_stream).toBeUndefined();
    expect(daily.body._meta).toMatchObject({ managed_by: 'sluice', write_mode: 'daily-indices' });
    expect(String(daily.body._meta?.['priority_reason'])).toContain('overlaps none of Elastic\'s built-in templates');
    const ds = indexTemplateOf('metrics', 'sluice-metrics', 'data-streams');
    expect(ds).toMatchObject({ name: 'sluice-metrics', body: { index_patterns: ['sluice-metrics-*'], priority: 114, data_stream: {}, _meta: { write_mode: 'data-streams' } } });
    expect(String(indexTemplateOf('logs', 'logs').body._meta?.['priority_reason'])).toContain('legacy prefix');
    expect(JSON.stringify(daily)).not.toMatch(/\{prefix\}|\{name\}/);
  });

  test('template names: the sluice- defaults keep the names the old templates had, so an upgrade replaces them', () => {
    expect(esDatasets.map((d) => templateName(defaultEsPrefixes[d]))).toEqual(['sluice-logs', 'sluice-metrics', 'sluice-spans', 'sluice-traces']);
    expect(['logs', 'metrics', 'spans', 'traces'].map(templateName)).toEqual(['sluice-logs', 'sluice-metrics', 'sluice-spans', 'sluice-traces']);
    expect(templateName('payments')).toBe('sluice-payments');
  });

  test('a logs writer installs its own template and one per route prefix, in its mode', () => {
    const t = writerTemplates('logs', 'sluice-logs', 'data-streams', ['payments', 'sluice-logs', 'payments']);
    expect(t.indexTemplates.map((x) => [x.name, x.body.index_patterns[0], x.body.data_stream !== undefined])).toEqual([
      ['sluice-logs', 'sluice-logs-*', true], ['sluice-payments', 'payments-*', true],
    ]);
    expect(t.components.map((c) => c.name).sort()).toEqual(['sluice-dynamic-fields', 'sluice-logs-mappings', 'sluice-settings']);
    const m = writerTemplates('metrics', 'sluice-metrics', 'daily-indices', ['payments']);
    expect(m.indexTemplates.map((x) => x.name)).toEqual(['sluice-metrics']);
  });
});

describe('write mode', () => {
  test('auto follows the data-stream API; a forced mode wins, with a warning when the API is missing', () => {
    expect(chooseWriteMode('auto', { dataStreams: true }).mode).toBe('data-streams');
    expect(chooseWriteMode('auto', { dataStreams: false }).mode).toBe('daily-indices');
    expect(chooseWriteMode('daily-indices', { dataStreams: true })).toEqual({ mode: 'daily-indices', reason: 'SLUICE_ES_WRITE_MODE=daily-indices' });
    expect(chooseWriteMode('data-streams', { dataStreams: true }).warning).toBeUndefined();
    const forced = chooseWriteMode('data-streams', { dataStreams: false });
    expect(forced.mode).toBe('data-streams');
    expect(forced.warning).toContain('no data-stream API');
  });
  test('the setting accepts exactly the three modes', () => {
    expect(schema.esWriteMode.choices).toEqual(['auto', 'data-streams', 'daily-indices']);
  });
});

describe('retention of data streams', () => {
  const stats = (entries: Array<[string, string | undefined, boolean?]>) =>
    new Map<string, BackingIndexStats>(entries.map(([name, newest, managed]) => [name, { newest, managed: managed ?? true }]));

  test('daily indices of a longer overlapping prefix are not taken for a tenant\'s', () => {
    expect(expiredIndex('sluice-logs-acme-2026.01.01', ['sluice-logs'], '2026-12-03')).toBe(true);
    expect(expiredIndex('sluice-logs-staging-acme-2026.01.01', ['sluice-logs'], '2026-12-03')).toBe(false);
    expect(expiredIndex('sluice-logs-staging-acme-2026.01.01', ['sluice-logs', 'sluice-logs-staging'], '2026-12-03')).toBe(true);
  });

  test('only <prefix>-<tenant> data streams of the given prefixes', () => {
    expect(isPrefixDataStream('sluice-logs-acme', ['sluice-logs'])).toBe(true);
    expect(isPrefixDataStream('sluice-logs-acme-2026.12.01', ['sluice-logs'])).toBe(false); // a daily index name
    expect(isPrefixDataStream('sluice-logs-', ['sluice-logs'])).toBe(false);
    expect(isPrefixDataStream('logs-nginx.access-default', ['logs'])).toBe(false); // Agent's
    expect(isPrefixDataStream('sluice-metrics-acme', ['sluice-logs'])).toBe(false);
  });

  test('never the write index; others when their newest event is before the cutoff, or empty; only managed ones', () => {
    const backing = ['.ds-a-000001', '.ds-a-000002', '.ds-a-000003', '.ds-a-000004', '.ds-a-000005'];
    const s = stats([
      ['.ds-a-000001', '2026-11-20T23:59:59.999Z'], // all before the cutoff
      ['.ds-a-000002', '2026-12-03T00:00:00.000Z'], // newest on the cutoff day: kept
      ['.ds-a-000003', undefined], // empty: nothing to lose
      ['.ds-a-000004', '2026-11-01T00:00:00.000Z', false], // not Sluice's
      ['.ds-a-000005', '2020-01-01T00:00:00.000Z'], // the write index, however old
    ]);
    expect(expiredBackingIndices(backing, s, '2026-12-03')).toEqual(['.ds-a-000001', '.ds-a-000003']);
    expect(expiredBackingIndices(['.ds-a-000001'], s, '2030-01-01')).toEqual([]);
    expect(expiredBackingIndices(backing, new Map(), '2030-01-01')).toEqual([]); // no stats: nothing
  });
});

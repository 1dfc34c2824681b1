/**
 * The dashboards and alerts (docs/dashboards.md) against the code, without any server:
 *
 * - `bash scripts/observability-check` exits 0: promtool checks and unit-tests the alert
 *   rules, checks every dashboard expression, and validates the Grafana JSON and the
 *   Kibana saved objects (it builds promtool with Go once; a missing Go fails here, it
 *   is not skipped);
 * - every metric name the Grafana dashboard and the Prometheus rules use is one the code
 *   exports: the list is built here from the code itself (the services' Registry with
 *   prom-client's default metrics, runnerMetrics, the normalizer's clock metrics, and a
 *   scan of every registry.counter/gauge/histogram call in shared/, services/ and bin/),
 *   not from a copy;
 * - every field a Kibana data view or saved search shows is mapped in the Elasticsearch
 *   templates of its dataset (schemas/elasticsearch/, through es-templates.ts);
 * - docs/dashboards.md lists every sluice_* metric the code exports.
 *
 * No Kafka, registry, Elasticsearch or S3 is needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import YAML from 'yaml';
import { Registry, runnerMetrics } from '../shared/metrics.js';
import { repoRoot } from '../shared/schemas.js';
import { clockSkewMetrics } from '../services/normalizer/clock.js';
import { composedMappings, esDatasets, loadEsTemplates, resolveField, type EsDatasetName } from '../services/sink/es-templates.js';
import { sinkSchema } from '../services/sink/config.js';

const root = repoRoot();
const readText = (p: string) => readFileSync(join(root, p), 'utf8');

// --- what the code exports --------------------------------------------------------------

interface Exported {
  labels: Set<string>;
}

/** Metric name -> labels, from the code: the runtime registry plus a scan of the sources. */
function exportedMetrics(): { all: Map<string, Exported>; scanned: Set<string>; runtime: Set<string> } {
  const all = new Map<string, Exported>();
  const add = (name: string, type: string, labels: readonly string[]) => {
    const put = (n: string, extra: string[] = []) => {
      const prev = all.get(n)?.labels ?? new Set<string>();
      all.set(n, { labels: new Set([...prev, ...labels, ...extra, 'job', 'instance']) });
    };
    if (type === 'histogram') {
      put(`${name}_bucket`, ['le']);
      put(`${name}_sum`);
      put(`${name}_count`);
    } else if (type === 'summary') {
      put(name, ['quantile']);
      put(`${name}_sum`);
      put(`${name}_count`);
    } else put(name);
  };

  // 1. What a service's registry really holds: default metrics on, as startService creates it.
  const registry = new Registry();
  runnerMetrics(registry);
  clockSkewMetrics(registry);
  const runtime = new Set<string>();
  for (const m of registry.getMetricsAsArray()) {
    const metric = m as unknown as { name: string; type: string; labelNames?: string[] };
    add(metric.name, String(metric.type), metric.labelNames ?? []);
    runtime.add(metric.name);
  }
  registry.clear();

  // 2. Every metric registered anywhere in the services' code (the sink creates its
  //    Parquet counters inside its start function, out of reach of step 1).
  const scanned = new Set<string>();
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir))) {
      const p = join(dir, e);
      if (['node_modules', 'testdata', 'testing'].includes(e)) continue;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const d of ['shared', 'services', 'bin']) walk(d);
  const call = /\.(counter|gauge|histogram)\s*(?:<[^>()]*>)?\(\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'\s*,\s*'(?:\\.|[^'])*'\s*(?:,\s*\[([^\]]*)\])?/g;
  for (const f of files) {
    for (const m of readText(f).matchAll(call)) {
      const [, kind, name, args] = m as unknown as [string, string, string, string | undefined];
      const labels = kind === 'histogram' ? [] : [...(args ?? '').matchAll(/'([a-zA-Z_][a-zA-Z0-9_]*)'/g)].map((x) => x[1] as string);
      if (kind === 'counter' && labels.length > 0) labels.push('overflow');
      add(name, kind, labels);
      scanned.add(name);
    }
  }
  // 3. Prometheus adds `up` to every scrape target.
  add('up', 'gauge', []);
  return { all, scanned, runtime };
}

// --- what the dashboard and the rules use -------------------------------------------------

const FUNCTIONS_AND_KEYWORDS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
]);

/** Metric names of a PromQL expression (Grafana variables replaced first). */
function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*/g, 'X') // Grafana variables ($job, ${datasource}, $__rate_interval)
    .replace(/"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1'); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m as unknown as [string, string, string | undefined];
    if (call || FUNCTIONS_AND_KEYWORDS.has(name)) continue;
    names.add(name);
  }
  return [...names];
}

interface Use {
  where: string;
  expr: string;
}

function dashboardExpressions(): Use[] {
  const dash = JSON.parse(readText('deploy/grafana/sluice-pipeline.json')) as {
    panels: Array<{ id: number; title: string; panels?: unknown[]; targets?: Array<{ refId: string; expr: string }> }>;
    templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
  };
  const out: Use[] = [];
  const visit = (p: { id: number; title: string; panels?: unknown[]; targets?: Array<{ refId: string; expr: string }> }) => {
    for (const t of p.targets ?? []) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr });
    for (const c of p.panels ?? []) visit(c as typeof p);
  };
  dash.panels.forEach(visit);
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const inner = /^label_values\((.*),\s*[a-zA-Z_]+\)$/s.exec(q.trim());
    out.push({ where: `variable ${v.name}`, expr: inner ? (inner[1] as string) : q });
  }
  return out;
}

function ruleExpressions(): Use[] {
  const doc = YAML.parse(readText('deploy/prometheus/sluice-alerts.yaml')) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })));
}

// --- the tests --------------------------------------------------------------------------

describe('dashboards and alerts use only metrics the code exports', () => {
  const { all, scanned, runtime } = exportedMetrics();

  test('the source scan finds every sluice_* metric of the runtime registry', () => {
    const sluiceRuntime = [...runtime].filter((n) => n.startsWith('sluice_'));
    expect(sluiceRuntime.length).toBeGreaterThan(5);
    expect(sluiceRuntime.filter((n) => !scanned.has(n))).toEqual([]);
    // The default metrics the dashboard relies on are on (collectDefaultMetrics, no prefix).
    for (const n of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'process_start_time_seconds']) expect(runtime.has(n)).toBe(true);
  });

  test('the extraction of metric names from PromQL works', () => {
    expect(metricNamesOf('sum by (job, le) (rate(a_total{job=~"$job", x="y(z)"}[$__rate_interval])) / on (job) group_left b > 900 * 1024')).toEqual(['a_total', 'b']);
    expect(metricNamesOf('delta(sum by (stage) (max by (stage, partition) (lag))[10m:1m]) > 0 and on (job, instance) group by (job, instance) (up == 0)')).toEqual(['lag', 'up']);
  });

  const uses = [...dashboardExpressions(), ...ruleExpressions()];

  test('the dashboard and the rules have expressions', () => {
    expect(uses.filter((u) => u.where.startsWith('panel')).length).toBeGreaterThan(20);
    expect(uses.filter((u) => u.where.startsWith('rule')).length).toBeGreaterThan(5);
  });

  test('every metric name they use is exported', () => {
    const missing = uses.flatMap((u) => metricNamesOf(u.expr).filter((n) => !all.has(n)).map((n) => `${u.where}: ${n}`));
    expect(missing).toEqual([]);
  });

  test('every label they match on exists on that metric', () => {
    const wrong: string[] = [];
    for (const u of uses) {
      const plain = u.expr.replace(/\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*/g, 'X');
      for (const m of plain.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
        const [, name, matchers] = m as unknown as [string, string, string];
        const labels = all.get(name)?.labels;
        if (!labels) continue; // reported by the test above
        for (const l of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) if (!labels.has(l[1] as string)) wrong.push(`${u.where}: ${name} has no label ${l[1]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('docs/dashboards.md lists every sluice_* metric the code exports', () => {
    const doc = readText('docs/dashboards.md');
    const bases = [...scanned].filter((n) => n.startsWith('sluice_'));
    // Add a metric to the table in docs/dashboards.md (and, if it is worth watching, to the dashboard).
    expect(bases.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });
});

describe('Kibana saved objects show only mapped fields', () => {
  interface SavedObject {
    type: string;
    id: string;
    attributes: Record<string, unknown>;
    references: Array<{ name: string; type: string; id: string }>;
    coreMigrationVersion: string;
    typeMigrationVersion: string;
  }
  const lines = readText('deploy/kibana/sluice-saved-objects.ndjson').split('\n').filter((l) => l.trim() !== '');
  const objects = lines.map((l) => JSON.parse(l) as SavedObject);
  const prefix = sinkSchema.esIndexPrefix.default;
  const templates = loadEsTemplates(prefix);
  const datasetOf = (title: string): EsDatasetName | undefined => templates.indexTemplates.find((t) => t.body.index_patterns.includes(title))?.dataset;
  const mapped = (dataset: EsDatasetName, field: string) => resolveField(composedMappings(templates, dataset), field) !== undefined;

  test('every line is an importable saved object', () => {
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const o of objects) {
      expect(['index-pattern', 'search']).toContain(o.type);
      expect(o.id).toMatch(/^[a-z0-9-]+$/);
      expect(typeof o.attributes).toBe('object');
      expect(Array.isArray(o.references)).toBe(true);
      expect(o.coreMigrationVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(o.typeMigrationVersion).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(new Set(objects.map((o) => `${o.type}:${o.id}`)).size).toBe(objects.length);
  });

  test('one data view per dataset, on its index pattern and a date time field', () => {
    const views = objects.filter((o) => o.type === 'index-pattern');
    const datasets = views.map((v) => datasetOf(String(v.attributes['title'])));
    expect([...datasets].sort()).toEqual([...esDatasets].sort());
    for (const v of views) {
      const dataset = datasetOf(String(v.attributes['title'])) as EsDatasetName;
      const time = resolveField(composedMappings(templates, dataset), String(v.attributes['timeFieldName']));
      expect(['date', 'date_nanos']).toContain(time?.type);
      for (const f of Object.keys(JSON.parse(String(v.attributes['fieldFormatMap'] ?? '{}')) as object)) expect(`${dataset}: ${f} ${mapped(dataset, f)}`).toBe(`${dataset}: ${f} true`);
    }
  });

  test('every column, sort field and query field of every saved search is mapped', () => {
    const views = new Map(objects.filter((o) => o.type === 'index-pattern').map((o) => [o.id, datasetOf(String(o.attributes['title']))]));
    const searches = objects.filter((o) => o.type === 'search');
    const perDataset = new Set<string>();
    const unmapped: string[] = [];
    for (const s of searches) {
      const source = JSON.parse((s.attributes['kibanaSavedObjectMeta'] as { searchSourceJSON: string }).searchSourceJSON) as { indexRefName: string; query: { query: string } };
      const ref = s.references.find((r) => r.name === source.indexRefName);
      expect(ref?.type).toBe('index-pattern');
      const dataset = views.get(ref!.id);
      expect(dataset).toBeDefined();
      perDataset.add(dataset!);
      const columns = s.attributes['columns'] as string[];
      const sort = (s.attributes['sort'] as string[][]).map((x) => x[0] as string);
      const queryFields = [...source.query.query.replace(/"[^"]*"/g, '""').matchAll(/([A-Za-z_@][\w.@-]*)\s*:/g)].map((m) => m[1] as string);
      expect(columns.length).toBeGreaterThan(2);
      for (const f of [...columns, ...sort, ...queryFields]) if (!mapped(dataset!, f)) unmapped.push(`${s.id}: ${f} (${dataset})`);
    }
    expect(unmapped).toEqual([]);
    expect([...perDataset].sort()).toEqual([...esDatasets].sort());
  });
});

describe('scripts/observability-check', () => {
  /** go on the PATH, or where the official tarball puts it. */
  function findGo(): string | undefined {
    for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/go/bin']) {
      if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
    }
    return undefined;
  }

  // The first run builds promtool from the Go module proxy (minutes); later runs reuse it.
  test('exits 0', () => {
    if (!findGo()) {
      throw new Error('go is not installed: scripts/observability-check builds promtool with `go install github.com/prometheus/prometheus/cmd/promtool` from the Go module proxy. Install a Go toolchain (https://go.dev/doc/install) and run the tests again.');
    }
    const started = Date.now();
    const r = spawnSync('bash', [join(root, 'scripts', 'observability-check')], { cwd: root, encoding: 'utf8', env: { ...process.env, SLUICE_NODE: process.execPath }, timeout: 40 * 60_000 });
    const output = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`scripts/observability-check exited ${r.status ?? r.signal} after ${Math.round((Date.now() - started) / 1000)} s:\n${output}`);
    expect(output).toContain('all checks passed');
  }, 45 * 60_000);
});

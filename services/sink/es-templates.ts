/**
 * Elasticsearch templates of the four Sluice datasets, kept as JSON under
 * schemas/elasticsearch/ (docs/architecture.md, "Code layout"):
 *
 * - component templates `sluice-settings` (shards, replicas, field-count bounds),
 *   `sluice-dynamic-fields` (labels.*, attributes.*, sluice.ids.* as bounded keywords)
 *   and `sluice-<dataset>-mappings` (the fields es-document.ts emits, strict);
 * - one index template per dataset prefix (`templateName`), pattern `<prefix>-*`,
 *   composed of them. Default prefixes are `sluice-logs`, `sluice-metrics`,
 *   `sluice-spans`, `sluice-traces` (`defaultEsPrefixes`): patterns that match none of
 *   Elastic's built-in templates (`logs-*-*`, `metrics-*-*`, `traces-*-*`, ...), so they
 *   capture no index of Elastic Agent or Fleet, and need not outrank anything
 *   (`templatePriority`). In data-stream mode the templates carry `data_stream: {}`.
 *
 * es-templates.test.ts checks every field the document builders emit against these
 * mappings, so the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

export type EsDatasetName = 'logs' | 'metrics' | 'spans' | 'traces';
export const esDatasets: readonly EsDatasetName[] = ['logs', 'metrics', 'spans', 'traces'];

/**
 * Where documents go (SLUICE_ES_WRITE_MODE resolved; es-capabilities.ts chooseWriteMode):
 * - `daily-indices`: `<prefix>-<tenant>-YYYY.MM.DD` by event time; `_id` dedup is exact
 *   (one document per id in its day's index, whenever it is replayed);
 * - `data-streams`: data stream `<prefix>-<tenant>`; `_id` dedup holds within one
 *   backing index only, so a replay that straddles a rollover can duplicate.
 */
export type EsWriteMode = 'daily-indices' | 'data-streams';

/** Index prefix of each dataset (SLUICE_ES_INDEX_PREFIX, SLUICE_ES_METRICS_PREFIX, ...). */
export type EsPrefixes = Record<EsDatasetName, string>;

/** Sluice's own namespace: no built-in template of Elastic matches `sluice-*`. */
export const defaultEsPrefixes: Readonly<EsPrefixes> = { logs: 'sluice-logs', metrics: 'sluice-metrics', spans: 'sluice-spans', traces: 'sluice-traces' };

/**
 * Index patterns of the index templates a default Elasticsearch distribution (and Elastic
 * Agent / Fleet, up to priority 200) installs for its own data streams.
 */
export const elasticBuiltinPatterns: readonly string[] = ['logs-*-*', 'metrics-*-*', 'traces-*-*', 'synthetics-*-*', 'profiling-*', 'security_solution-*-*'];

/**
 * Whether two index patterns of the form `<literal>*...` can match the same name: one
 * literal part (up to the first `*`) is a prefix of the other. Exact for Sluice's
 * `<prefix>-*` against the built-ins above (their tails are all wildcards and dashes;
 * it may only err towards "overlaps").
 */
export function patternsOverlap(a: string, b: string): boolean {
  const la = a.split('*')[0] as string;
  const lb = b.split('*')[0] as string;
  return la.startsWith(lb) || lb.startsWith(la);
}

/** The built-in patterns `<prefix>-*` overlaps (empty for every `sluice-` prefix). */
export function builtinOverlaps(prefix: string): string[] {
  return elasticBuiltinPatterns.filter((p) => patternsOverlap(`${prefix}-*`, p));
}

/**
 * Priority of the index template of `prefix`: 100 + the prefix's length, so that of two
 * Sluice prefixes whose patterns overlap (`sluice-logs` and `sluice-logs-staging` on one
 * cluster, or a route `sluice`) the longer, more specific one wins and the two never
 * have the same priority (Elasticsearch refuses overlapping templates of equal priority).
 * A prefix whose pattern overlaps Elastic's built-ins (the pre-namespace names `logs`,
 * `metrics`, `traces` kept by an existing deployment) gets 500 + its length, above the
 * built-ins' 100 and Fleet's 200, as before: otherwise Elasticsearch would create its
 * own data streams under those names. Such a prefix still captures Elastic Agent's
 * indices; only a `sluice-` prefix ends that.
 */
export function templatePriority(prefix: string): { priority: number; reason: string } {
  const overlaps = builtinOverlaps(prefix);
  if (overlaps.length === 0) {
    return { priority: 100 + prefix.length, reason: `pattern ${prefix}-* overlaps none of Elastic's built-in templates (${elasticBuiltinPatterns.join(', ')}), so it need not outrank them; 100 + prefix length so a longer overlapping Sluice prefix wins` };
  }
  return { priority: 500 + prefix.length, reason: `legacy prefix: pattern ${prefix}-* overlaps Elastic's built-in ${overlaps.join(', ')} (priority 100, Fleet up to 200) and must outrank them, so it also captures Elastic Agent's indices of those names; use a sluice- prefix to stop that` };
}

/** Index template name of a prefix: `sluice-<dataset>` for the defaults, `sluice-<prefix>` for others. */
export function templateName(prefix: string): string {
  return prefix.startsWith('sluice-') ? prefix : `sluice-${prefix}`;
}

/** A mapping node as far as Sluice uses it (field or object). */
export interface EsMappingNode {
  type?: string;
  dynamic?: boolean | 'strict' | 'true' | 'false';
  properties?: Record<string, EsMappingNode>;
  fields?: Record<string, EsMappingNode>;
  [setting: string]: unknown;
}

export interface EsMappings {
  dynamic?: boolean | 'strict' | 'true' | 'false';
  dynamic_templates?: Array<Record<string, { path_match?: string; match_mapping_type?: string; mapping: EsMappingNode }>>;
  properties?: Record<string, EsMappingNode>;
}

export interface ComponentTemplate {
  name: string;
  body: { template: { settings?: Record<string, unknown>; mappings?: EsMappings }; version?: number; _meta?: Record<string, unknown> };
}

export interface IndexTemplate {
  name: string;
  dataset: EsDatasetName;
  body: { index_patterns: string[]; priority: number; composed_of: string[]; version?: number; data_stream?: Record<string, never>; _meta?: Record<string, unknown> };
}

export interface EsTemplates {
  components: ComponentTemplate[];
  indexTemplates: IndexTemplate[];
}

function readJson(file: string): Record<string, unknown> {
  const path = join(repoRoot(), 'schemas', 'elasticsearch', file);
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/**
 * Load every template. `prefixes` gives each dataset's index prefix (a string: the logs
 * prefix, the others their defaults); it names each index template (`templateName`) and
 * its pattern `<prefix>-*`, and sets its priority (`templatePriority`, the reason in
 * `_meta.priority_reason`). With `mode` data-streams the index templates carry
 * `data_stream: {}`. Component templates are shared by every prefix and mode.
 */
export function loadEsTemplates(prefixes: string | Partial<EsPrefixes>, mode: EsWriteMode = 'daily-indices'): EsTemplates {
  const given = typeof prefixes === 'string' ? { logs: prefixes } : prefixes;
  const all: EsPrefixes = { ...defaultEsPrefixes, ...given };
  const componentNames = new Set<string>();
  const indexTemplates: IndexTemplate[] = esDatasets.map((dataset) => indexTemplateOf(dataset, all[dataset], mode));
  for (const t of indexTemplates) for (const c of t.body.composed_of) componentNames.add(c);
  const components = [...componentNames].map((name) => ({ name, body: readJson(`${name}.component.json`) as ComponentTemplate['body'] }));
  return { components, indexTemplates };
}

/** The index template of one dataset under one prefix (a route prefix gets the logs one). */
export function indexTemplateOf(dataset: EsDatasetName, prefix: string, mode: EsWriteMode = 'daily-indices'): IndexTemplate {
  const raw = JSON.stringify(readJson(`${dataset}.index-template.json`)).replaceAll('{prefix}', prefix).replaceAll('{name}', templateName(prefix));
  const { name, ...rest } = JSON.parse(raw) as { name: string } & Omit<IndexTemplate['body'], 'priority'>;
  const { priority, reason } = templatePriority(prefix);
  const body: IndexTemplate['body'] = { ...rest, priority, _meta: { ...rest._meta, priority_reason: reason, write_mode: mode } };
  if (mode === 'data-streams') body.data_stream = {};
  return { name, dataset, body };
}

/**
 * The templates one dataset's writer installs: its index template and the component
 * templates it is composed of. Each writer installs only its own, so a writer whose
 * prefix is a dataset name (metrics, spans, traces) never installs the logs template
 * under that name, and writers starting side by side never replace each other's.
 */
export function templatesFor(templates: EsTemplates, dataset: EsDatasetName): EsTemplates {
  const indexTemplates = templates.indexTemplates.filter((t) => t.dataset === dataset);
  const names = new Set(indexTemplates.flatMap((t) => t.body.composed_of));
  return { components: templates.components.filter((c) => names.has(c.name)), indexTemplates };
}

/**
 * The mappings an index created from `template` gets: its component templates merged
 * in order (later ones win, dynamic templates concatenated), as Elasticsearch composes them.
 */
export function composedMappings(templates: EsTemplates, dataset: EsDatasetName): EsMappings {
  const t = templates.indexTemplates.find((x) => x.dataset === dataset);
  if (!t) throw new Error(`no index template for dataset ${dataset}`);
  const out: EsMappings = { dynamic_templates: [], properties: {} };
  for (const name of t.body.composed_of) {
    const m = templates.components.find((c) => c.name === name)?.body.template.mappings;
    if (!m) continue;
    if (m.dynamic !== undefined) out.dynamic = m.dynamic;
    out.dynamic_templates!.push(...(m.dynamic_templates ?? []));
    out.properties = mergeProperties(out.properties!, m.properties ?? {});
  }
  return out;
}

function mergeProperties(a: Record<string, EsMappingNode>, b: Record<string, EsMappingNode>): Record<string, EsMappingNode> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev?.properties && v.properties ? { ...prev, ...v, properties: mergeProperties(prev.properties, v.properties) } : v;
  }
  return out;
}

function isDynamic(d: EsMappingNode['dynamic']): boolean {
  return d === true || d === 'true';
}

/**
 * How a document field (dotted path, as es-document.ts emits it) is mapped: the explicit
 * mapping, or the dynamic template that would map it (only under an object whose
 * `dynamic` is true); undefined when Elasticsearch would refuse or ignore the field.
 */
export function resolveField(mappings: EsMappings, path: string): EsMappingNode | undefined {
  const parts = path.split('.');
  let props = mappings.properties ?? {};
  let dynamic = isDynamic(mappings.dynamic);
  for (let i = 0; i < parts.length; i++) {
    const node = props[parts[i] as string];
    if (!node) {
      if (!dynamic) return undefined;
      for (const entry of mappings.dynamic_templates ?? []) {
        const dt = Object.values(entry)[0];
        if (dt?.path_match && globMatch(dt.path_match, path)) return dt.mapping;
      }
      return undefined;
    }
    if (i === parts.length - 1) return node;
    if (!node.properties && node.type !== 'object') return undefined; // a leaf cannot have children
    if (node.dynamic !== undefined) dynamic = isDynamic(node.dynamic);
    props = node.properties ?? {};
  }
  return undefined;
}

function globMatch(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(path);
}

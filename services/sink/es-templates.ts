/**
 * Elasticsearch templates of the four Sluice datasets, kept as JSON under
 * schemas/elasticsearch/ (docs/architecture.md, "Code layout"):
 *
 * - component templates `sluice-settings` (shards, replicas, field-count bounds),
 *   `sluice-dynamic-fields` (labels.*, attributes.*, sluice.ids.* as bounded keywords)
 *   and `sluice-<dataset>-mappings` (the fields es-document.ts emits, strict);
 * - index templates `sluice-<prefix>` (logs, pattern `<prefix>-*`), `sluice-metrics`,
 *   `sluice-spans`, `sluice-traces` composed of them.
 *
 * es-templates.test.ts checks every field the document builders emit against these
 * mappings, so the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

export type EsDatasetName = 'logs' | 'metrics' | 'spans' | 'traces';
export const esDatasets: readonly EsDatasetName[] = ['logs', 'metrics', 'spans', 'traces'];

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
  body: { index_patterns: string[]; priority: number; composed_of: string[]; version?: number; _meta?: Record<string, unknown> };
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
 * Load every template; `logsPrefix` (SLUICE_ES_INDEX_PREFIX) replaces `{prefix}` in the
 * logs index template's name and pattern. Component templates are shared by every
 * prefix (their content does not depend on it).
 */
export function loadEsTemplates(logsPrefix: string): EsTemplates {
  const componentNames = new Set<string>();
  const indexTemplates: IndexTemplate[] = esDatasets.map((dataset) => {
    const raw = JSON.stringify(readJson(`${dataset}.index-template.json`)).replaceAll('{prefix}', logsPrefix);
    const { name, ...body } = JSON.parse(raw) as { name: string } & IndexTemplate['body'];
    for (const c of body.composed_of) componentNames.add(c);
    return { name, dataset, body };
  });
  const components = [...componentNames].map((name) => ({ name, body: readJson(`${name}.component.json`) as ComponentTemplate['body'] }));
  return { components, indexTemplates };
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

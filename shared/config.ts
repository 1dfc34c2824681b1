/**
 * Configuration from environment variables: one typed schema per service, validated
 * at start-up. Every field names its variable, default, unit and meaning, so the
 * README's configuration reference is generated from the same schemas
 * (`node dist/scripts/config-doc.js`) and cannot drift from the code.
 *
 * Strictness: a variable carrying one of the schema's own prefixes (for example
 * `SLUICE_COLLECTOR_`) that the schema does not know is an error, so a typo fails at
 * start-up instead of silently keeping a default.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * What a non-empty value must look like, checked at start (and by `sluice validate`):
 * - `url`: an absolute http:// or https:// URL;
 * - `file`: a readable file that exists;
 * - `host-port`: host:port (each item of a list).
 */
export type ValueCheck = 'url' | 'file' | 'host-port' | 'index-prefix';

/**
 * An Elasticsearch index name prefix (check 'index-prefix'): lower case, starting with a
 * letter or digit, then letters, digits and `._+-` (Elasticsearch refuses upper case,
 * `\ / * ? " < > | , #`, spaces and `:` in index names, and a leading `-_+`).
 */
export const INDEX_PREFIX_PATTERN = '^[a-z0-9][a-z0-9._+-]{0,199}$';

interface Base {
  env: string;
  doc: string;
  /**
   * Secrets are never printed (the start-up log shows "***"), never read from sluice.yaml,
   * and may come from a file instead: `<VARIABLE>_FILE` names a file holding the value
   * (a mounted Kubernetes Secret, a Docker secret).
   */
  secret?: boolean;
  check?: ValueCheck;
}
export type FieldSpec =
  | (Base & { type: 'string'; default: string; choices?: readonly string[] })
  | (Base & { type: 'optional-string'; default?: undefined })
  | (Base & { type: 'int'; default: number; unit?: string; min?: number; max?: number })
  | (Base & { type: 'bool'; default: boolean })
  | (Base & { type: 'list'; default: readonly string[] });

export type Schema = Record<string, FieldSpec>;

type ValueOf<F extends FieldSpec> = F extends { type: 'int' }
  ? number
  : F extends { type: 'bool' }
    ? boolean
    : F extends { type: 'list' }
      ? string[]
      : F extends { type: 'optional-string' }
        ? string | undefined
        : string;

export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: ValueOf<S[K]> };

export type Env = Readonly<Record<string, string | undefined>>;

/** Problems of one value under its check (empty: fine). */
export function checkValue(spec: FieldSpec, value: string): string[] {
  if (!spec.check || value === '') return [];
  const shown = spec.secret ? '***' : JSON.stringify(value);
  switch (spec.check) {
    case 'url': {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        return [`${spec.env}=${shown} is not a URL (expected http://host:port or https://host:port)`];
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return [`${spec.env}=${shown}: ${u.protocol.replace(/:$/, '')} is not supported (http or https)`];
      if (!u.hostname) return [`${spec.env}=${shown} has no host`];
      return [];
    }
    case 'file':
      if (!existsSync(value)) return [`${spec.env}=${shown}: no such file`];
      if (!statSync(value).isFile()) return [`${spec.env}=${shown} is not a file`];
      return [];
    case 'index-prefix':
      return new RegExp(INDEX_PREFIX_PATTERN).test(value) ? [] : [`${spec.env}=${shown} is not an Elasticsearch index prefix (lower-case letters, digits and ._+-, starting with a letter or digit)`];
    case 'host-port': {
      const bad = value.split(',').map((x) => x.trim()).filter((x) => x !== '' && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(x));
      return bad.length > 0 ? [`${spec.env}: ${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not host:port`] : [];
    }
  }
}

function parseField(spec: FieldSpec, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') {
    return spec.type === 'list' ? [...spec.default] : spec.default;
  }
  const problems = checkValue(spec, raw);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new ConfigError(`${spec.env}=${JSON.stringify(raw)} is not one of ${spec.choices.join(', ')}`);
      }
      return raw;
    case 'optional-string':
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${spec.env}=${JSON.stringify(raw)} is not a whole number`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${spec.env}=${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${spec.env}=${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`${spec.env}=${JSON.stringify(raw)} is not a boolean (true/false)`);
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }
}

/**
 * Parse `env` against `schema`. `strictPrefixes` are the variable prefixes this schema
 * owns; unknown variables under them are rejected, unless listed in `alsoKnown`
 * (variables other tools read under the same prefix, e.g. scripts/stack's ports). All problems are reported at once.
 */
export function loadConfig<S extends Schema>(schema: S, env: Env, strictPrefixes: readonly string[] = [], alsoKnown: readonly string[] = []): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const known = new Set([...Object.values(schema).flatMap((f) => (f.secret ? [f.env, `${f.env}_FILE`] : [f.env])), ...alsoKnown]);
  for (const [key, spec] of Object.entries(schema)) {
    try {
      out[key] = parseField(spec, spec.secret ? secretValue(spec, env) : env[spec.env]);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const name of Object.keys(env)) {
    if (strictPrefixes.some((p) => name.startsWith(p)) && !known.has(name)) {
      problems.push(`${name} is not a known setting (known: ${[...known].filter((k) => strictPrefixes.some((p) => k.startsWith(p))).join(', ')})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return out as ConfigOf<S>;
}

/** A secret from its variable, or from the file `<VARIABLE>_FILE` names (trailing newline dropped); not both. */
function secretValue(spec: FieldSpec, env: Env): string | undefined {
  const file = env[`${spec.env}_FILE`];
  if (file === undefined || file === '') return env[spec.env];
  if (env[spec.env] !== undefined && env[spec.env] !== '') throw new ConfigError(`${spec.env} and ${spec.env}_FILE are both set; set one`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${spec.env}_FILE=${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (text.length > 64 * 1024) throw new ConfigError(`${spec.env}_FILE=${JSON.stringify(file)}: more than 64 KiB; a secret file holds one value`);
  return text.replace(/\r?\n$/, '');
}

/**
 * Where a variable lives in sluice.yaml: `SLUICE_<SECTION>_<REST>` is `<section>: { <rest>: }`,
 * lower case (SLUICE_KAFKA_BROKERS is kafka.brokers, SLUICE_SINK_ES_MAX_DOCS is
 * sink.es_max_docs). Null for a variable with no section (SLUICE_CONFIG) and for secrets.
 */
export function fileKeyOf(spec: FieldSpec): [section: string, key: string] | null {
  if (spec.secret) return null;
  const m = /^SLUICE_([A-Z0-9]+)_([A-Z0-9_]+)$/.exec(spec.env);
  return m ? [m[1]!.toLowerCase(), m[2]!.toLowerCase()] : null;
}

/**
 * The settings of `schema` found in a configuration file's sections, as the variables
 * they stand for (lists joined with commas), for loadConfig under the environment: a
 * variable that is set wins over the file. The file was validated against its JSON
 * Schema (settingsJsonSchema) before.
 */
export function settingsFromFile(schema: Schema, file: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of Object.values(schema)) {
    const k = fileKeyOf(spec);
    if (!k) continue;
    const section = file[k[0]];
    if (section === null || typeof section !== 'object' || Array.isArray(section)) continue;
    const v = (section as Record<string, unknown>)[k[1]];
    if (v === undefined || v === null) continue;
    out[spec.env] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}

/** JSON Schema `properties` for the settings sections of sluice.yaml, from every service's schema. */
export function settingsJsonSchema(schemas: readonly Schema[]): Record<string, object> {
  const sections = new Map<string, Map<string, object>>();
  for (const schema of schemas) {
    for (const spec of Object.values(schema)) {
      const k = fileKeyOf(spec);
      if (!k) continue;
      const def = spec.type === 'list' ? spec.default.join(',') : spec.default;
      const description = `${spec.env}. ${spec.doc}${def === undefined || def === '' ? '' : ` Default: ${String(def)}.`}`;
      let prop: Record<string, unknown>;
      switch (spec.type) {
        case 'int':
          prop = { type: 'integer', ...(spec.min !== undefined ? { minimum: spec.min } : {}), ...(spec.max !== undefined ? { maximum: spec.max } : {}) };
          break;
        case 'bool':
          prop = { type: 'boolean' };
          break;
        case 'list':
          prop = { type: 'array', items: { type: 'string', minLength: 1 } };
          break;
        case 'string':
          prop = spec.choices ? { enum: [...spec.choices] } : { type: 'string' };
          break;
        case 'optional-string':
          prop = { type: 'string' };
          break;
      }
      if (spec.check === 'url') prop = { ...prop, pattern: '^(https?://|$)' };
      if (spec.check === 'index-prefix') prop = { ...prop, pattern: INDEX_PREFIX_PATTERN };
      let section = sections.get(k[0]);
      if (!section) sections.set(k[0], (section = new Map()));
      section.set(k[1], { description, ...prop });
    }
  }
  const out: Record<string, object> = {};
  for (const [name, props] of [...sections].sort(([a], [b]) => a.localeCompare(b))) {
    out[name] = { type: 'object', additionalProperties: false, description: `Settings SLUICE_${name.toUpperCase()}_* (environment variables override them).`, properties: Object.fromEntries([...props].sort(([a], [b]) => a.localeCompare(b))) };
  }
  return out;
}

/** The effective configuration for the start-up log line, secrets masked. */
export function redacted<S extends Schema>(schema: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const v = (config as Record<string, unknown>)[key];
    out[key] = spec.secret && v !== undefined && v !== '' ? '***' : v;
  }
  return out;
}

/** Markdown table rows for the configuration reference. */
export function describeSchema(schema: Schema): string {
  const rows = Object.values(schema).map((f) => {
    const def = f.type === 'list' ? f.default.join(',') : f.default === undefined ? '(unset)' : String(f.default);
    const unit = f.type === 'int' && f.unit ? ` (${f.unit})` : '';
    const key = fileKeyOf(f);
    const where = key ? `\`${key.join('.')}\`` : f.secret ? `secret: or \`${f.env}_FILE\`` : '—';
    return `| \`${f.env}\` | ${where} | \`${def === '' ? '(empty)' : def}\` | ${f.doc}${unit} |`;
  });
  return ['| variable | sluice.yaml | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

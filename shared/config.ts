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
import { ConfigError } from './errors.js';

interface Base {
  env: string;
  doc: string;
  /** Secrets are never printed: the start-up log shows "***". */
  secret?: boolean;
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

function parseField(spec: FieldSpec, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') {
    return spec.type === 'list' ? [...spec.default] : spec.default;
  }
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
  const known = new Set([...Object.values(schema).map((f) => f.env), ...alsoKnown]);
  for (const [key, spec] of Object.entries(schema)) {
    try {
      out[key] = parseField(spec, env[spec.env]);
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
    return `| \`${f.env}\` | \`${def === '' ? '(empty)' : def}\` | ${f.doc}${unit} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

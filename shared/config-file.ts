/**
 * sluice.yaml: the configuration file every service and `sluice parse` load at start
 * (schemas/sluice.schema.json; docs/formats.md). Which file:
 *   an explicit path (`--config`, `--rules`), else $SLUICE_CONFIG, else ./sluice.yaml when
 *   it exists, else none (an empty configuration).
 * Contract: `loadConfigFile` returns the compiled configuration or throws ConfigError
 * listing every problem as `file:line:col: where: what` (YAML syntax, JSON Schema, then the
 * format rules compiled by rules.ts). Environment variables keep overriding single
 * settings (shared/config.ts); the file holds what the environment cannot say well.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import AjvModule from 'ajv';
import { ConfigError } from './errors.js';
import { loadConfig, settingsFromFile, type ConfigOf, type Schema } from './config.js';
import { repoRoot } from './schemas.js';
import { compileFormats, FormatRuleError, type CompiledFormat, type FormatRule } from './formats/rules.js';
import { Router, RouteRuleError, type RouteRule } from './routing.js';
import type { TenantsConfig } from './tenants.js';

export interface SluiceFile {
  formats?: FormatRule[];
  routes?: RouteRule[];
  tenants?: TenantsConfig;
  /** Settings sections (kafka, sink, ...): see shared/config.ts fileKeyOf. */
  [section: string]: unknown;
}

export interface LoadedConfig {
  /** The file read, or null when there was none. */
  path: string | null;
  raw: SluiceFile;
  formats: CompiledFormat[];
  /** `routes:` compiled (shared/routing.ts); no rules: keeps every record. */
  routes: Router;
  /** `tenants:` (shared/tenants.ts); absent: every tenant, no limits. */
  tenants: TenantsConfig;
}

/** Largest configuration file read (a rule file is text a person wrote). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

// ajv is CommonJS; under NodeNext its default export arrives as the module object.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as new (o: object) => {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; params: Record<string, unknown> }> | null };
};

let validator: ReturnType<InstanceType<typeof Ajv>['compile']> | undefined;
function validate(): NonNullable<typeof validator> {
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(repoRoot(), 'schemas', 'sluice.schema.json'), 'utf8')) as object);
  return validator;
}

/** The file a service would read: explicit path, $SLUICE_CONFIG, ./sluice.yaml, or null. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string | null {
  if (explicit) return resolve(cwd, explicit);
  const fromEnv = env['SLUICE_CONFIG'];
  if (fromEnv) return resolve(cwd, fromEnv);
  const local = resolve(cwd, 'sluice.yaml');
  return existsSync(local) ? local : null;
}

function position(doc: Document, lines: LineCounter, path: ReadonlyArray<string | number>): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const p = lines.linePos(node.range[0]);
      return `${p.line}:${p.col}`;
    }
  }
  return '1:1';
}

/** `/formats/2/time/zone` -> ['formats', 2, 'time', 'zone']. */
function pointer(p: string): Array<string | number> {
  return p.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

function where(raw: SluiceFile, path: ReadonlyArray<string | number>): string {
  if ((path[0] === 'formats' || path[0] === 'routes') && typeof path[1] === 'number') {
    const name = (path[0] === 'formats' ? raw.formats : raw.routes)?.[path[1]]?.name;
    const rest = path.slice(2).join('.');
    return `${path[0]}[${path[1]}]${typeof name === 'string' ? ` "${name}"` : ''}${rest ? `: ${rest}` : ''}`;
  }
  return path.join('.') || '(top level)';
}

/** Parse, validate and compile a configuration text; `file` names it in messages. */
export function parseConfigText(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}:${e.linePos?.[0] ? `${e.linePos[0].line}:${e.linePos[0].col}` : '1:1'}: ${e.message.split('\n')[0]}`).join('\n'));
  }
  // Aliases are bounded: a 'billion laughs' document is refused, not expanded.
  const raw = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as SluiceFile;
  const check = validate();
  if (!check(raw)) {
    const problems = (check.errors ?? []).filter((e) => !/must match exactly one schema in oneOf/.test(e.message ?? '')).map((e) => {
      const path = pointer(e.instancePath);
      const extraKey = e.params['additionalProperty'];
      const secretHint = typeof extraKey === 'string' && /password|secret|api_key|access_key/.test(extraKey) ? ' (a secret is never read from this file: set its environment variable, or <VARIABLE>_FILE naming a file that holds it)' : '';
      const extra = extraKey !== undefined ? ` "${String(extraKey)}"${secretHint}` : e.params['allowedValues'] ? ` (${(e.params['allowedValues'] as unknown[]).join(', ')})` : '';
      return `${file}:${position(doc, lines, path)}: ${where(raw, path)}: ${e.message ?? 'invalid'}${extra}`;
    });
    throw new ConfigError([...new Set(problems)].join('\n'));
  }
  // Every rule is compiled, so every broken one is reported, not only the first.
  const problems: string[] = [];
  const formats: CompiledFormat[] = [];
  const names = new Set<string>();
  (raw.formats ?? []).forEach((rule, index) => {
    try {
      if (names.has(rule.name)) throw new FormatRuleError(rule.name, 'name', 'another format has the same name');
      names.add(rule.name);
      formats.push(...compileFormats([rule]));
    } catch (err) {
      if (!(err instanceof FormatRuleError)) throw err;
      const path = ['formats', index, ...err.path.split('.').map((s) => s.replace(/\[\d+\]$/, ''))];
      problems.push(`${file}:${position(doc, lines, path)}: ${where(raw, ['formats', index])}: ${err.path}: ${err.problem}`);
    }
  });
  (raw.routes ?? []).forEach((rule, index) => {
    try {
      Router.compile([rule]);
    } catch (err) {
      if (!(err instanceof RouteRuleError)) throw err;
      problems.push(`${file}:${position(doc, lines, ['routes', index, ...err.path.split('.')])}: routes[${index}] "${rule.name}": ${err.path}: ${err.problem}`);
    }
  });
  const routeNames = new Map<string, number>();
  (raw.routes ?? []).forEach((rule, index) => {
    if (routeNames.has(rule.name)) problems.push(`${file}:${position(doc, lines, ['routes', index, 'name'])}: routes[${index}] "${rule.name}": name: routes[${routeNames.get(rule.name)}] has the same name`);
    else routeNames.set(rule.name, index);
  });
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return { path: file, raw, formats, routes: Router.compile(raw.routes ?? []), tenants: raw.tenants ?? {} };
}

/** No file: no formats, no routes, every tenant. */
export function emptyConfig(): LoadedConfig {
  return { path: null, raw: {}, formats: [], routes: Router.compile([]), tenants: {} };
}

/** Load the configuration file (see the module contract); no file: empty configuration. */
export function loadConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = configPath(explicit, env);
  if (path === null) return emptyConfig();
  if (!existsSync(path)) throw new ConfigError(`${path}: configuration file not found${explicit ? '' : ' (SLUICE_CONFIG)'}`);
  const text = readFileSync(path);
  if (text.length > MAX_FILE_BYTES) throw new ConfigError(`${path}: ${text.length} bytes; a configuration file may have at most ${MAX_FILE_BYTES}`);
  return parseConfigText(text.toString('utf8'), path);
}

/**
 * A service's configuration: its settings from sluice.yaml's sections under the
 * environment (a variable that is set, and not empty, wins), checked together; and the
 * file itself (formats, ...). Which file: $SLUICE_CONFIG, else ./sluice.yaml when it
 * exists. Throws ConfigError listing every problem (the service exits 78).
 */
export function loadServiceConfig<S extends Schema>(schema: S, env: NodeJS.ProcessEnv, strictPrefixes: readonly string[] = [], alsoKnown: readonly string[] = []): { config: ConfigOf<S>; file: LoadedConfig } {
  const file = loadConfigFile(undefined, env);
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const config = loadConfig(schema, { ...settingsFromFile(schema, file.raw), ...set }, strictPrefixes, alsoKnown);
  return { config, file };
}

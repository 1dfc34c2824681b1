/**
 * Routes (sluice.yaml `routes:`): what is stored, and where. Pure; the enricher applies
 * them to every LogRecord after enrichment (services/enricher/derive.ts), so derived
 * metrics, spans and traces still count every record, and the sink writes a routed record
 * to its route's index.
 *
 * Rules are tried in order; the first whose `when` matches decides:
 * - `drop`: the record is not written to logs.enriched (not stored);
 * - `sample`: kept with probability `rate`, decided by a hash of the event id, so the same
 *   record gets the same decision on every retry, replay and instance;
 * - `route`: kept, and written to the Elasticsearch indices `<index>-<tenant>-YYYY.MM.DD`
 *   instead of the logs prefix (the record carries the label `sluice_route`).
 * No rule matches: kept, as before. Every decision is counted per rule (`/metrics`).
 *
 * A `when` is a conjunction of field tests; a field test lists allowed values (any of
 * them), or `{ match: <regex> }` (bounded: shared/formats/safe-regex.ts). Fields:
 * service, level, tenant, host, environment, message, and `attributes.<key>` /
 * `labels.<key>`.
 */
import { createHash } from 'node:crypto';
import type { LogRecord } from './records.js';
import { compileUserRegex, UnsafePatternError } from './formats/safe-regex.js';

export type FieldTest = string | readonly string[] | { match: string };

export interface RouteRule {
  name: string;
  when?: Readonly<Record<string, FieldTest>>;
  action: 'drop' | 'sample' | 'route';
  /** sample: the share kept, 0..1. */
  rate?: number;
  /** route: the Elasticsearch index prefix. */
  index?: string;
}

export type RouteDecision = { action: 'keep'; rule: null } | { action: 'drop'; rule: string } | { action: 'keep'; rule: string; index?: string };

/** The label a routed record carries: its index prefix (services/sink/es-document.ts). */
export const ROUTE_LABEL = 'sluice_route';

/** Longest message prefix a `match` sees: a rule's cost per record is bounded. */
export const MATCH_CHARS = 8192;

const FIELDS = new Set(['service', 'level', 'tenant', 'host', 'environment', 'message']);

export class RouteRuleError extends Error {
  constructor(
    readonly rule: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`route "${rule}": ${path}: ${problem}`);
  }
}

type Test = (r: LogRecord) => boolean;

function fieldOf(name: string): ((r: LogRecord) => string | null) | null {
  if (FIELDS.has(name)) return (r) => (r as unknown as Record<string, string | null>)[name] ?? null;
  const m = /^(attributes|labels)\.(.+)$/.exec(name);
  if (m) {
    const map = m[1] as 'attributes' | 'labels';
    const key = m[2]!;
    return (r) => r[map][key] ?? null;
  }
  return null;
}

function compileTest(rule: string, name: string, t: FieldTest, getter: (name: string) => ((r: LogRecord) => string | null) | null = fieldOf): Test {
  const get = getter(name);
  if (!get) throw new RouteRuleError(rule, `when.${name}`, `unknown field (${[...FIELDS].join(', ')}, attributes.<key>, labels.<key>)`);
  if (typeof t === 'object' && !Array.isArray(t)) {
    let re: RegExp;
    try {
      re = compileUserRegex((t as { match: string }).match);
    } catch (err) {
      throw new RouteRuleError(rule, `when.${name}.match`, err instanceof UnsafePatternError || err instanceof SyntaxError ? err.message : String(err));
    }
    return (r) => {
      const v = get(r);
      return v !== null && re.test(v.length > MATCH_CHARS ? v.slice(0, MATCH_CHARS) : v);
    };
  }
  const allowed = new Set(typeof t === 'string' ? [t] : (t as readonly string[]));
  // level is compared in upper case (records carry DEBUG, INFO, ...).
  const norm = name === 'level' ? (s: string) => s.toUpperCase() : (s: string) => s;
  const set = new Set([...allowed].map(norm));
  return (r) => {
    const v = get(r);
    return v !== null && set.has(norm(v));
  };
}

/** Any dotted path into a record (`source.topic`, `http.status`), its value as text; null when absent or not a scalar. */
function pathOf(name: string): (r: LogRecord) => string | null {
  const parts = name.split('.');
  return (r) => {
    let v: unknown = r;
    for (let i = 0; i < parts.length && v !== null && typeof v === 'object'; i++) {
      const obj = v as Record<string, unknown>;
      // attributes and labels hold dotted keys: the rest of the path is one key
      if ((parts[i] === 'attributes' || parts[i] === 'labels') && i === 0) {
        v = (obj[parts[0]!] as Record<string, unknown> | undefined)?.[parts.slice(1).join('.')];
        break;
      }
      v = obj[parts[i]!];
    }
    return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  };
}

/**
 * A `when` over any record (`sluice tap`): the same tests as a route's, on any dotted
 * field path of the decoded record. Throws RouteRuleError naming the bad test.
 */
export function compileWhen(when: Readonly<Record<string, FieldTest>>): (record: object) => boolean {
  const tests = Object.entries(when).map(([k, v]) => {
    try {
      return compileTest('tap', k, v, pathOf);
    } catch (err) {
      throw err instanceof RouteRuleError ? new Error(`--where ${err.path.replace(/^when\./, '')}: ${err.problem}`) : err;
    }
  });
  return (r) => tests.every((t) => t(r as LogRecord));
}

interface Compiled {
  rule: RouteRule;
  test: Test;
}

export class Router {
  private constructor(private readonly rules: readonly Compiled[]) {}

  /** Compile every rule; throws RouteRuleError on the first bad one (sluice.yaml is checked as a whole by config-file.ts). */
  static compile(rules: readonly RouteRule[]): Router {
    const names = new Set<string>();
    const compiled = rules.map((rule) => {
      if (names.has(rule.name)) throw new RouteRuleError(rule.name, 'name', 'another route has the same name');
      names.add(rule.name);
      if (rule.action === 'sample' && !(typeof rule.rate === 'number' && rule.rate >= 0 && rule.rate <= 1)) throw new RouteRuleError(rule.name, 'rate', 'a sample needs rate between 0 and 1');
      if (rule.action === 'route' && !(typeof rule.index === 'string' && /^[a-z0-9][a-z0-9_.]{0,62}$/.test(rule.index))) throw new RouteRuleError(rule.name, 'index', 'a route needs index: lower-case letters, digits, _ and . (an Elasticsearch index prefix, no -)');
      const tests = Object.entries(rule.when ?? {}).map(([k, v]) => compileTest(rule.name, k, v));
      return { rule, test: (r: LogRecord) => tests.every((t) => t(r)) };
    });
    return new Router(compiled);
  }

  get size(): number {
    return this.rules.length;
  }

  get names(): string[] {
    return this.rules.map((c) => c.rule.name);
  }

  /** Index prefixes records may be routed to (the sink installs templates for them). */
  get indexPrefixes(): string[] {
    return [...new Set(this.rules.flatMap((c) => (c.rule.action === 'route' && c.rule.index ? [c.rule.index] : [])))];
  }

  decide(r: LogRecord): RouteDecision {
    for (const { rule, test } of this.rules) {
      if (!test(r)) continue;
      switch (rule.action) {
        case 'drop':
          return { action: 'drop', rule: rule.name };
        case 'sample':
          return sampledIn(r.event_id, rule.rate ?? 0) ? { action: 'keep', rule: rule.name } : { action: 'drop', rule: rule.name };
        case 'route':
          return { action: 'keep', rule: rule.name, index: rule.index! };
      }
    }
    return { action: 'keep', rule: null };
  }
}

/** Whether an event id falls within the kept share: the first 48 bits of its SHA-256 as a fraction. */
export function sampledIn(eventId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  const h = createHash('sha256').update(eventId).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < rate;
}

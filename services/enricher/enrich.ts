/**
 * The enricher stage: LogRecord -> LogRecord with enrichment (logs.enriched).
 *
 * Contract: `enrich(record, ctx)` is pure (no I/O, no clock; files were read when the
 * context was built) and returns a new record; the input is not modified. Each part is
 * switched by configuration (config.ts) and runs in this order:
 *
 * 1. Kubernetes (context/kubernetes.ts): `k8s.namespace`, `k8s.pod`, `k8s.container`,
 *    `k8s.workload`, `container.id` from `source.file` or shipper attributes; a record
 *    without a service gets the workload as its service.
 * 2. Service catalog (context/catalog.ts): `team`, `tier`, `owner` for the service.
 * 3. User agent (context/user-agent.ts): `ua.browser`, `ua.os`, `ua.device`.
 * 4. GeoIP (context/geo.ts): `geo.country`, `geo.city` for public client IPs, only when
 *    the caller supplies a lookup (none is bundled).
 * 5. Route (context/route.ts): `http.route` from `http.path` when the route is null.
 * 6. Redaction (context/redact.ts), last so it also sees what earlier parts copied:
 *    `message`, `error.message`, `error.stack`, `http.path`, and the values of
 *    `attributes` and `ids`; an attribute whose key names a secret (`db.password`,
 *    `headers.authorization`, `*_token`, `*api_key`, `cookie`) is replaced whole, as kind
 *    `secret`. Ids are redacted too: an id that holds an e-mail address
 *    or a token is PII wherever it is indexed, and opaque ids (UUIDs, numbers) match no
 *    detector, so correlation by id is unaffected. `http.route` needs no redaction: it
 *    is built from placeholders. The count goes to `labels['sluice.redactions']` and the
 *    flag `redacted` is added, both only when something was redacted.
 *
 * Labels a record already carries win over enrichment (an upstream value is never
 * overwritten). The output is keyed by service so one service's records stay in order.
 */
import type { Stage, StageInput, StageOutput } from '../../shared/stage.js';
import type { LogRecord } from '../../shared/records.js';
import { loadConfig, type ConfigOf } from '../../shared/config.js';
import { enricherSchema } from './config.js';
import { createPathResolver, k8sFromAttributes, type K8sInfo } from './context/kubernetes.js';
import { K8S_LABELS } from '../../shared/kubernetes.js';
import { loadCatalog, type ServiceCatalog } from './context/catalog.js';
import { createUserAgentParser, type UserAgentParser } from './context/user-agent.js';
import { clientAddress, isPublicIp, type GeoLookup } from './context/geo.js';
import { templateRoute, type RouteOptions } from './context/route.js';
import { createRedactor, isSecretKey, parseRedactPatterns, type Redactor } from './context/redact.js';

/** Everything `enrich` needs, built once at start-up (`createEnrichContext`). Null parts are off. */
export interface EnrichContext {
  /** Kubernetes coordinates of a log file path (cached `k8sFromPath`); null: Kubernetes labels off. */
  kubernetes: ((file: string) => K8sInfo | null) | null;
  catalog: ServiceCatalog | null;
  userAgent: UserAgentParser | null;
  geo: GeoLookup | null;
  routes: RouteOptions | null;
  redactor: Redactor | null;
}

/** The enricher settings `createEnrichContext` reads. */
export type EnrichConfig = Pick<
  ConfigOf<typeof enricherSchema>,
  'catalogFile' | 'kubernetes' | 'userAgent' | 'userAgentCacheSize' | 'routes' | 'routeMaxSegments' | 'redact' | 'redactKinds' | 'redactPatterns' | 'redactMaxChars'
>;

/** I/O the caller provides; used only inside `createEnrichContext`. */
export interface EnrichLoaders {
  /** Reads a whole UTF-8 file (main.ts: `(p) => readFileSync(p, 'utf8')`). */
  readFile?: (path: string) => string;
  /** A GeoIP lookup over data loaded at start-up; omitted: no geo labels. */
  geo?: GeoLookup;
}

/** The schema defaults: everything on except the catalog (it needs a file) and GeoIP (no lookup bundled). */
export const defaultEnrichConfig: EnrichConfig = loadConfig(enricherSchema, {});

/** Build the context; throws ConfigError for an unreadable catalog or invalid patterns. */
export function createEnrichContext(config: EnrichConfig, loaders: EnrichLoaders = {}): EnrichContext {
  let catalog: ServiceCatalog | null = null;
  if (config.catalogFile !== undefined && config.catalogFile !== '') {
    const readFile = loaders.readFile;
    if (!readFile) throw new Error('createEnrichContext: a catalog file is configured but no readFile loader was given');
    catalog = loadCatalog(config.catalogFile, readFile);
  }
  return {
    kubernetes: config.kubernetes ? createPathResolver(K8S_PATH_CACHE) : null,
    catalog,
    userAgent: config.userAgent ? createUserAgentParser(config.userAgentCacheSize) : null,
    geo: loaders.geo ?? null,
    routes: config.routes ? { maxSegments: config.routeMaxSegments } : null,
    redactor: config.redact
      ? createRedactor({ kinds: config.redactKinds, patterns: parseRedactPatterns(config.redactPatterns), maxChars: config.redactMaxChars })
      : null,
  };
}

function setLabel(labels: Record<string, string>, key: string, value: string | null | undefined): void {
  if (value !== null && value !== undefined && value !== '' && labels[key] === undefined) labels[key] = value;
}

/** Distinct log file paths whose Kubernetes coordinates are cached. */
const K8S_PATH_CACHE = 4096;

function kubernetesOf(record: LogRecord, fromFile: (file: string) => K8sInfo | null): K8sInfo | null {
  const fromPath = record.source.file !== null ? fromFile(record.source.file) : null;
  if (fromPath !== null && fromPath.pod !== null) return fromPath;
  return k8sFromAttributes(record.attributes) ?? fromPath;
}

const SECRET_VALUE = '[REDACTED:secret]';

/** Redact the values of a map; with `byKey`, a key naming a secret redacts its whole value. */
function redactMap(map: Record<string, string>, redactor: Redactor, counter: { n: number }, byKey: boolean): Record<string, string> {
  let out: Record<string, string> | null = null;
  for (const k in map) {
    const v = map[k]!;
    if (byKey && v !== '' && v !== SECRET_VALUE && isSecretKey(k)) {
      out ??= { ...map };
      out[k] = SECRET_VALUE;
      counter.n += 1;
      continue;
    }
    const r = redactor.redact(v);
    if (r.count > 0) {
      out ??= { ...map };
      out[k] = r.text;
      counter.n += r.count;
    }
  }
  return out ?? map;
}

export function enrich(record: LogRecord, ctx: EnrichContext): LogRecord {
  const labels: Record<string, string> = { ...record.labels };
  const out: LogRecord = { ...record, labels };

  if (ctx.kubernetes !== null) {
    const k8s = kubernetesOf(record, ctx.kubernetes);
    if (k8s !== null) {
      setLabel(labels, K8S_LABELS.namespace, k8s.namespace);
      setLabel(labels, K8S_LABELS.pod, k8s.pod);
      setLabel(labels, K8S_LABELS.container, k8s.container);
      setLabel(labels, K8S_LABELS.containerId, k8s.containerId);
      setLabel(labels, K8S_LABELS.workload, k8s.workload);
      if (out.service === null && k8s.workload !== null) out.service = k8s.workload;
    }
  }

  if (ctx.catalog !== null && out.service !== null) {
    const entry = ctx.catalog.get(out.service);
    if (entry !== undefined) {
      setLabel(labels, 'team', entry.team);
      setLabel(labels, 'tier', entry.tier);
      setLabel(labels, 'owner', entry.owner);
    }
  }

  const http = record.http;
  if (http !== null) {
    if (ctx.userAgent !== null && http.user_agent !== null && http.user_agent !== '' && http.user_agent !== '-') {
      const ua = ctx.userAgent.parse(http.user_agent);
      setLabel(labels, 'ua.browser', ua.browser);
      setLabel(labels, 'ua.os', ua.os);
      setLabel(labels, 'ua.device', ua.device);
    }
    if (ctx.geo !== null && http.client_ip !== null) {
      const ip = clientAddress(http.client_ip);
      if (isPublicIp(ip)) {
        const geo = ctx.geo(ip);
        if (geo !== null) {
          setLabel(labels, 'geo.country', geo.country);
          setLabel(labels, 'geo.city', geo.city);
        }
      }
    }
    if (ctx.routes !== null && http.route === null && http.path !== null) {
      const route = templateRoute(http.path, ctx.routes);
      if (route !== null) out.http = { ...http, route };
    }
  }

  if (ctx.redactor !== null) {
    const redactor = ctx.redactor;
    const counter = { n: 0 };
    const msg = redactor.redact(out.message);
    if (msg.count > 0) {
      out.message = msg.text;
      counter.n += msg.count;
    }
    if (out.error !== null && (out.error.message !== null || out.error.stack !== null)) {
      const m = out.error.message !== null ? redactor.redact(out.error.message) : null;
      const s = out.error.stack !== null ? redactor.redact(out.error.stack) : null;
      if ((m?.count ?? 0) + (s?.count ?? 0) > 0) {
        out.error = { ...out.error, message: m?.text ?? out.error.message, stack: s?.text ?? out.error.stack };
        counter.n += (m?.count ?? 0) + (s?.count ?? 0);
      }
    }
    if (out.http !== null && out.http.path !== null) {
      const p = redactor.redact(out.http.path);
      if (p.count > 0) {
        out.http = { ...out.http, path: p.text };
        counter.n += p.count;
      }
    }
    out.attributes = redactMap(out.attributes, redactor, counter, true);
    out.ids = redactMap(out.ids, redactor, counter, false);
    if (counter.n > 0) {
      labels['sluice.redactions'] = String(counter.n);
      out.flags = out.flags.includes('redacted') ? [...out.flags] : [...out.flags, 'redacted'];
    }
  }
  if (out.flags === record.flags) out.flags = [...record.flags];
  return out;
}

export interface EnrichOptions {
  outputTopic: string;
  /** Built once by `createEnrichContext`; omitted: the schema defaults with no catalog and no GeoIP. */
  context?: EnrichContext;
}

export function createEnrichStage(opts: EnrichOptions): Stage<LogRecord> {
  const ctx = opts.context ?? createEnrichContext(defaultEnrichConfig);
  return {
    name: 'enrich',
    process(input: StageInput<LogRecord>): StageOutput[] {
      const out = enrich(input.value, ctx);
      return [{ topic: opts.outputTopic, key: out.service, value: out }];
    },
  };
}

/** Enricher settings (prefix SLUICE_ENRICHER_), on top of the common ones. */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const enricherSchema = {
  groupId: { type: 'string', env: 'SLUICE_ENRICHER_GROUP', default: 'sluice-enricher', doc: 'Consumer group.' },
  adminPort: { type: 'int', env: 'SLUICE_ENRICHER_ADMIN_PORT', default: 9703, min: 0, max: 65535, doc: 'Admin port; 0 picks a free one.' },
  tracesGroupId: { type: 'string', env: 'SLUICE_ENRICHER_TRACES_GROUP', default: 'sluice-enricher-traces', doc: 'Consumer group of the trace summaries (reads SLUICE_TOPIC_SPANS, keyed by trace id).' },
  windowMs: { type: 'int', env: 'SLUICE_ENRICHER_WINDOW_MS', default: 10_000, min: 1000, unit: 'ms', doc: 'Event-time tumbling window of the derived metrics.' },
  allowedLatenessMs: { type: 'int', env: 'SLUICE_ENRICHER_ALLOWED_LATENESS_MS', default: 5000, min: 0, unit: 'ms', doc: 'A window closes when the watermark (largest event time seen) passes its end plus this; later records are counted as late, in delta windows.' },
  lateQuietInputs: { type: 'int', env: 'SLUICE_ENRICHER_LATE_QUIET_INPUTS', default: 10_000, min: 0, max: 100_000_000, unit: 'inputs', doc: 'A window of late records (the late lane) that has had no late record for this many inputs of its partition is emitted, though no later late record moved the lane on; it would otherwise hold the committed offset at its first input for as long as an on-time feed lasts. 0: only the lane watermark, idleness or a drain emit it.' },
  spanInactivityMs: { type: 'int', env: 'SLUICE_ENRICHER_SPAN_INACTIVITY_MS', default: 60_000, min: 100, unit: 'ms', doc: 'A span rebuilt from logs is complete when no log of it came for this long in event time.' },
  traceInactivityMs: { type: 'int', env: 'SLUICE_ENRICHER_TRACE_INACTIVITY_MS', default: 60_000, min: 100, unit: 'ms', doc: 'A trace is summarised when no span of it came for this long in event time.' },
  upstreamGroups: {
    type: 'list', env: 'SLUICE_ENRICHER_UPSTREAM_GROUPS', default: ['sluice-collector', 'sluice-normalizer'],
    doc: 'The collector\'s and the normalizer\'s consumer groups (SLUICE_COLLECTOR_GROUP, SLUICE_NORMALIZER_GROUP), in that order. A partition counts as idle only while both have read their input topics to the end: an upstream stage that is down, restarting or behind is not a quiet source. Empty: no check. A group that never committed is left out, with a warning.',
  },
  idleAfterMs: { type: 'int', env: 'SLUICE_ENRICHER_IDLE_AFTER_MS', default: 5000, min: 100, unit: 'ms', doc: 'A partition quiet this long (wall clock) has its watermark advanced with the wall clock, so its last windows, spans and traces close.' },
  catalogFile: {
    type: 'optional-string', env: 'SLUICE_ENRICHER_CATALOG_FILE', check: 'file',
    doc: 'Service catalog, a JSON file `{"services": {"<service>": {"team", "tier", "owner"}}}` read once at start-up; fills labels `team`, `tier`, `owner`. Unset: no catalog.',
  },
  kubernetes: {
    type: 'bool', env: 'SLUICE_ENRICHER_KUBERNETES', default: true,
    doc: 'Labels `k8s.namespace`, `k8s.pod`, `k8s.container`, `k8s.workload` from CRI/Docker log paths (`/var/log/containers/…`, `/var/log/pods/…`) and shipper attributes; a record without a service gets the workload (pod name without controller suffixes).',
  },
  userAgent: {
    type: 'bool', env: 'SLUICE_ENRICHER_USER_AGENT', default: true,
    doc: 'Labels `ua.browser`, `ua.os`, `ua.device` parsed from `http.user_agent` (ua-parser-js 1.x, MIT).',
  },
  userAgentCacheSize: {
    type: 'int', env: 'SLUICE_ENRICHER_USER_AGENT_CACHE', default: 10_000, min: 0, max: 1_000_000, unit: 'entries',
    doc: 'Parsed user agents kept in an LRU cache; 0 disables the cache.',
  },
  routes: {
    type: 'bool', env: 'SLUICE_ENRICHER_ROUTES', default: true,
    doc: 'Fill a missing `http.route` from `http.path`: query dropped, ids, UUIDs, hex, numbers, dates, emails and long tokens in segments replaced by `{id}`, `{uuid}`, `{hex}`, `{date}`, `{email}`, `{token}`.',
  },
  routeMaxSegments: {
    type: 'int', env: 'SLUICE_ENRICHER_ROUTE_MAX_SEGMENTS', default: 8, min: 1, max: 64, unit: 'segments',
    doc: 'Path segments kept in a route; deeper paths end in `/{*}`.',
  },
  redact: {
    type: 'bool', env: 'SLUICE_ENRICHER_REDACT', default: true,
    doc: 'Replace PII and secrets in `message`, `error.message`, `error.stack`, `http.path`, `attributes` and `ids` values by `[REDACTED:<kind>]` (attributes whose key names a secret, e.g. `db.password`, `headers.authorization`, whole); a record with redactions gets the flag `redacted` and the label `sluice.redactions` (count).',
  },
  redactKinds: {
    type: 'list', env: 'SLUICE_ENRICHER_REDACT_KINDS', default: ['email', 'card', 'bearer', 'api_key', 'secret'],
    doc: 'Built-in detectors: `email`, `card` (Luhn-valid with an issuer prefix), `bearer` (tokens), `api_key` (Stripe, AWS, GitHub, Slack, Google key shapes and `api_key=`), `secret` (`password=`, `token=`, …).',
  },
  redactPatterns: {
    type: 'optional-string', env: 'SLUICE_ENRICHER_REDACT_PATTERNS',
    doc: 'Extra patterns as a JSON object `{"<kind>": "<regex>"}`, e.g. `{"employee_id": "EMP-[0-9]{6}"}`; patterns with backreferences, lookaround or counted repetitions above 16 are rejected; the rest run in bounded time (docs/formats.md, "Limits").',
  },
  redactMaxChars: {
    type: 'int', env: 'SLUICE_ENRICHER_REDACT_MAX_CHARS', default: 65_536, min: 256, unit: 'characters',
    doc: 'Characters of each value that the extra patterns scan (the built-in detectors scan everything).',
  },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...enricherSchema } as const;
export const strictPrefixes = ['SLUICE_ENRICHER_'] as const;

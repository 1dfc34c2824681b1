/**
 * The enricher's two stages as both runners drive them (shared/runner/binding.ts):
 * - logs.normalized -> enrich + derive -> logs.enriched, metrics.derived, traces.spans;
 * - traces.spans (keyed by trace id) -> summarize -> traces.summaries.
 * main.ts runs them on Kafka (one consumer group each); `sluice parse --enrich` in memory.
 */
import type { ConfigOf } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import type { LogRecord, Span } from '../../shared/records.js';
import { avro, type StageBinding, type Upstream } from '../../shared/runner/index.js';
import type { schema } from './config.js';
import { enrich, type EnrichContext } from './enrich.js';
import { createDeriveStage, createSummarizeStage } from './derive.js';
import { ROUTE_LABEL, type Router } from '../../shared/routing.js';

/** sluice.yaml routes as the enricher applies them, and who hears of each decision (metrics). */
export interface Routing {
  router: Router;
  onDecision?: (rule: string, action: 'drop' | 'keep') => void;
}

/** The record to store under `routing`'s decision, or null (shared/routing.ts). */
export function routed(routing: Routing, r: LogRecord): LogRecord | null {
  const d = routing.router.decide(r);
  if (d.rule !== null) routing.onDecision?.(d.rule, d.action);
  if (d.action === 'drop') return null;
  return 'index' in d && d.index ? { ...r, labels: { ...r.labels, [ROUTE_LABEL]: d.index } } : r;
}

export function enricherStages(config: ConfigOf<typeof schema>, context: EnrichContext, routing?: Routing): [StageBinding<LogRecord>, StageBinding<Span>] {
  const flushIntervalMs = Math.max(100, Math.min(1000, Math.floor(config.idleAfterMs / 5)));
  // The stages before the enricher (logs.raw is written by shippers; logs.collected in transactions).
  if (config.upstreamGroups.length > 2) throw new ConfigError(`SLUICE_ENRICHER_UPSTREAM_GROUPS: at most two groups (the collector's, the normalizer's), got ${config.upstreamGroups.length}`);
  const [collector, normalizer] = config.upstreamGroups;
  const upstream: Upstream[] = [
    ...(collector ? [{ groupId: collector, topic: config.topicRaw, unreadMarkers: 0 }] : []),
    ...(normalizer ? [{ groupId: normalizer, topic: config.topicCollected, unreadMarkers: 1 }] : []),
  ];
  return [
    {
      name: 'enricher',
      groupId: config.groupId,
      inputTopic: config.topicNormalized,
      outputTopics: [config.topicEnriched, config.topicMetrics, config.topicSpans],
      decode: avro<LogRecord>(),
      upstream,
      stage: createDeriveStage({
        topics: { enriched: config.topicEnriched, metrics: config.topicMetrics, spans: config.topicSpans },
        enrich: (r) => enrich(r, context),
        ...(routing && routing.router.size > 0 ? { store: (r: LogRecord) => routed(routing, r) } : {}),
        metrics: { windowUs: config.windowMs * 1000, allowedLatenessUs: config.allowedLatenessMs * 1000, laneQuietInputs: config.lateQuietInputs },
        spans: { inactivityTimeoutUs: config.spanInactivityMs * 1000 },
        idleAfterMs: config.idleAfterMs,
        flushIntervalMs,
      }),
    },
    {
      name: 'enricher-traces',
      groupId: config.tracesGroupId,
      inputTopic: config.topicSpans,
      outputTopics: [config.topicTraces],
      decode: avro<Span>(),
      // Spans come from the derive stage: it and everything before it must be caught up.
      upstream: [...upstream, { groupId: config.groupId, topic: config.topicNormalized, unreadMarkers: 1 }],
      stage: createSummarizeStage({ topic: config.topicTraces, traces: { inactivityTimeoutUs: config.traceInactivityMs * 1000 }, idleAfterMs: config.idleAfterMs, flushIntervalMs }),
    },
  ];
}

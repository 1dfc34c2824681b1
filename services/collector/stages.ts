/**
 * The collector's stages as both runners drive them (shared/runner/binding.ts): logs.raw
 * (raw bytes) -> multi-line merging collect stage -> logs.collected. main.ts runs them on
 * Kafka; `sluice parse` runs the collect stage in memory.
 *
 * With sluice.yaml `tenants:` (shared/tenants.ts), on Kafka:
 * - every raw line passes the allow-list first; a refused one is dead-lettered with the
 *   policy's code and reason, before it touches any state;
 * - every event the collect stage emits passes its tenant's rate limit: within it, to
 *   logs.collected; over it, to the delay topic (SLUICE_TOPIC_DELAYED) with the time of
 *   the slot reserved for it (header NOT_BEFORE_HEADER), or dead-lettered
 *   (SLUICE_ERR_TENANT_RATE_LIMITED) when `over_limit: dead-letter` or the slot is beyond
 *   `max_delay_seconds`. Decided on the emitted event, not the raw line, so the
 *   decision is taken once with the event's own exactly-once emission (a replay after a
 *   restart re-decides only what was never committed);
 * - a second binding, `collector-release` (group `<group>.delayed`), reads the delay
 *   topic and writes each event to logs.collected once its time has come (the runner
 *   waits: shared/errors.ts DeferredError).
 */
import type { ConfigOf } from '../../shared/config.js';
import type { CompiledFormat } from '../../shared/formats/rules.js';
import type { RawEvent } from '../../shared/records.js';
import { avro, rawBytes, type AnyStageBinding, type StageBinding } from '../../shared/runner/index.js';
import type { schema } from './config.js';
import { DeferredError, PermanentError } from '../../shared/errors.js';
import { withAdmission, withOutputs, type Stage, type StageOutput, type StatefulStage } from '../../shared/stage.js';
import type { TenantPolicy } from '../../shared/tenants.js';
import { createCollectStage, createStreamingCollectStage } from './collect.js';

/** Header of a delayed event: when it may be released, ms since the epoch. */
export const NOT_BEFORE_HEADER = 'sluice-not-before';

/** sluice.yaml `tenants:` as the collector applies it, and who hears of each decision (metrics). */
export interface TenantGate {
  policy: TenantPolicy;
  onRefused?: (tenant: string, code: string) => void;
  onDelayed?: (tenant: string, delayMs: number) => void;
}

/**
 * `acrossMessages: false` (`sluice parse --no-multiline`): the collector's per-message
 * stage instead, so a message (one input line) is never merged with the next.
 * `tenants`: the allow-list and rate limits above; with rate limits the release binding
 * comes second.
 */
export function collectorStages(config: ConfigOf<typeof schema>, formats: readonly CompiledFormat[], acrossMessages = true, tenants?: TenantGate): [StageBinding<Buffer>, ...AnyStageBinding[]] {
  const options = {
    outputTopic: config.topicCollected,
    defaultTenant: config.defaultTenant,
    maxEventBytes: config.maxEventBytes,
    multilineTimeoutMs: config.multilineTimeoutMs,
    maxEventLines: config.maxEventLines,
    maxHeldStreams: config.maxHeldStreams,
    formats,
  };
  const limited = tenants?.policy.limited === true;
  const collect: StageBinding<Buffer> = {
    name: 'collector',
    groupId: config.groupId,
    inputTopic: config.topicRaw,
    outputTopics: limited ? [config.topicCollected, config.topicDelayed] : [config.topicCollected],
    decode: rawBytes,
    stage: rateLimited(allowListed(acrossMessages ? createStreamingCollectStage(options) : createCollectStage(options), config.defaultTenant, tenants), config.topicCollected, config.topicDelayed, tenants),
  };
  if (!limited) return [collect];
  const release: StageBinding<RawEvent> = {
    name: 'collector-release',
    groupId: `${config.groupId}.delayed`,
    inputTopic: config.topicDelayed,
    outputTopics: [config.topicCollected],
    decode: avro<RawEvent>(),
    stage: createReleaseStage(config.topicCollected),
  };
  return [collect, release];
}

function allowListed<S extends Stage<Buffer> | StatefulStage<Buffer>>(stage: S, defaultTenant: string, gate: TenantGate | undefined): S {
  if (!gate?.policy.active) return stage;
  const { policy, onRefused } = gate;
  return withAdmission<Buffer, S>(stage, (input) => {
    const tenant = input.headers['tenant'] || defaultTenant;
    const d = policy.admitTenant(tenant);
    if (d.ok) return null;
    onRefused?.(tenant, d.code);
    return new PermanentError(d.code, d.reason);
  });
}

function rateLimited<S extends Stage<Buffer> | StatefulStage<Buffer>>(stage: S, collected: string, delayed: string, gate: TenantGate | undefined): S {
  if (!gate?.policy.limited) return stage;
  const { policy, onRefused, onDelayed } = gate;
  return withOutputs<Buffer, S>(stage, (outputs, ctx) =>
    outputs.map((o): StageOutput => {
      if (o.topic !== collected || o.deadLetter) return o;
      const event = o.value as RawEvent;
      const now = ctx.now();
      const d = policy.admitRate(event.tenant, Buffer.byteLength(event.body), now);
      if (d.ok === true) return o;
      if (d.ok === 'delay') {
        onDelayed?.(event.tenant, d.notBeforeMs - now);
        return { ...o, topic: delayed, headers: { [NOT_BEFORE_HEADER]: String(d.notBeforeMs) } };
      }
      onRefused?.(event.tenant, d.code);
      return { ...o, deadLetter: new PermanentError(d.code, d.reason) };
    }),
  );
}

/**
 * The release of delayed events: an event whose NOT_BEFORE_HEADER time has come goes
 * to `collected` unchanged (same key, same record); one whose time has not come throws
 * DeferredError (the runner waits for it). A missing or unreadable time releases at once.
 */
export function createReleaseStage(collected: string): Stage<RawEvent> {
  return {
    name: 'collector-release',
    process(input, ctx) {
      const notBefore = Number(input.headers[NOT_BEFORE_HEADER]);
      if (Number.isFinite(notBefore) && notBefore > ctx.now()) throw new DeferredError(notBefore, `event ${input.value.event_id} is delayed until ${new Date(notBefore).toISOString()}`);
      return [{ topic: collected, key: input.key === null ? null : input.key.toString(), value: input.value }];
    },
  };
}

/**
 * The collector's stage as both runners drive it (shared/runner/binding.ts): logs.raw
 * (raw bytes) -> multi-line merging collect stage -> logs.collected. main.ts runs it on
 * Kafka; `sluice parse` runs it in memory.
 */
import type { ConfigOf } from '../../shared/config.js';
import type { CompiledFormat } from '../../shared/formats/rules.js';
import { rawBytes, type StageBinding } from '../../shared/runner/index.js';
import type { schema } from './config.js';
import { PermanentError } from '../../shared/errors.js';
import { withAdmission, type Stage, type StatefulStage } from '../../shared/stage.js';
import type { TenantPolicy } from '../../shared/tenants.js';
import { createCollectStage, createStreamingCollectStage } from './collect.js';

/** sluice.yaml `tenants:` as the collector applies it, and who hears of each refusal (metrics). */
export interface TenantGate {
  policy: TenantPolicy;
  onRefused?: (tenant: string, code: string) => void;
}

/**
 * `acrossMessages: false` (`sluice parse --no-multiline`): the collector's per-message
 * stage instead, so a message (one input line) is never merged with the next.
 * `tenants`: every message passes the tenant policy first (shared/tenants.ts); a refused
 * one is dead-lettered with the policy's code and reason, before it touches any state.
 */
export function collectorStages(config: ConfigOf<typeof schema>, formats: readonly CompiledFormat[], acrossMessages = true, tenants?: TenantGate): [StageBinding<Buffer>] {
  const options = {
    outputTopic: config.topicCollected,
    defaultTenant: config.defaultTenant,
    maxEventBytes: config.maxEventBytes,
    multilineTimeoutMs: config.multilineTimeoutMs,
    maxEventLines: config.maxEventLines,
    maxHeldStreams: config.maxHeldStreams,
    formats,
  };
  return [
    {
      name: 'collector',
      groupId: config.groupId,
      inputTopic: config.topicRaw,
      outputTopics: [config.topicCollected],
      decode: rawBytes,
      stage: tenantGated(acrossMessages ? createStreamingCollectStage(options) : createCollectStage(options), config.defaultTenant, tenants),
    },
  ];
}

function tenantGated<S extends Stage<Buffer> | StatefulStage<Buffer>>(stage: S, defaultTenant: string, gate: TenantGate | undefined): S {
  if (!gate?.policy.active) return stage;
  const { policy, onRefused } = gate;
  return withAdmission<Buffer, S>(stage, (input, ctx) => {
    const tenant = input.headers['tenant'] || defaultTenant;
    const d = policy.admit(tenant, input.value.length, ctx.now());
    if (d.ok) return null;
    onRefused?.(tenant, d.code);
    return new PermanentError(d.code, d.reason);
  });
}

/**
 * The collector's stage as both runners drive it (shared/runner/binding.ts): logs.raw
 * (raw bytes) -> multi-line merging collect stage -> logs.collected. main.ts runs it on
 * Kafka; `sluice parse` runs it in memory.
 */
import type { ConfigOf } from '../../shared/config.js';
import type { CompiledFormat } from '../../shared/formats/rules.js';
import { rawBytes, type StageBinding } from '../../shared/runner/index.js';
import type { schema } from './config.js';
import { createCollectStage, createStreamingCollectStage } from './collect.js';

/**
 * `acrossMessages: false` (`sluice parse --no-multiline`): the collector's per-message
 * stage instead, so a message (one input line) is never merged with the next.
 */
export function collectorStages(config: ConfigOf<typeof schema>, formats: readonly CompiledFormat[], acrossMessages = true): [StageBinding<Buffer>] {
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
      stage: acrossMessages ? createStreamingCollectStage(options) : createCollectStage(options),
    },
  ];
}

/**
 * The normalizer's stage as both runners drive it (shared/runner/binding.ts):
 * logs.collected (RawEvent) -> normalize -> logs.normalized. main.ts runs it on Kafka with
 * the clock-skew metrics; `sluice parse` runs it in memory, optionally with its own
 * observers (`--explain`) and readers (`--generic-only`).
 */
import type { ConfigOf } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import type { CompiledFormat } from '../../shared/formats/rules.js';
import type { RawEvent } from '../../shared/records.js';
import { avro, type StageBinding } from '../../shared/runner/index.js';
import type { schema } from './config.js';
import { createNormalizeStage, type NormalizeOptions } from './normalize.js';

/** What the runner adds to the configuration: observers and switches that are not settings. */
export type NormalizerExtras = Pick<NormalizeOptions, 'onClockSkew' | 'onExplain' | 'readers'>;

/** Throws ConfigError on a zone that is not an IANA time zone. */
export function normalizerStages(config: ConfigOf<typeof schema>, formats: readonly CompiledFormat[], extras: NormalizerExtras = {}): [StageBinding<RawEvent>] {
  if (config.zone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: config.zone });
    } catch {
      throw new ConfigError(`SLUICE_NORMALIZER_ZONE=${JSON.stringify(config.zone)} is not an IANA time zone`);
    }
  }
  return [
    {
      name: 'normalizer',
      groupId: config.groupId,
      inputTopic: config.topicCollected,
      outputTopics: [config.topicNormalized],
      decode: avro<RawEvent>(),
      stage: createNormalizeStage({
        outputTopic: config.topicNormalized,
        maxAttributes: config.maxAttributes,
        maxAttributeBytes: config.maxAttributeBytes,
        maxJsonDepth: config.maxJsonDepth,
        formats,
        ...(config.zone ? { zone: config.zone } : {}),
        futureHorizonUs: config.futureHorizonMs * 1000,
        pastHorizonUs: config.pastHorizonMs * 1000,
        ...extras,
      }),
    },
  ];
}

/**
 * A stage as a runner drives it: where it reads, what it writes, how its input is
 * decoded. Each Kafka -> Kafka service builds its bindings from its configuration in one
 * function (services/<name>/stages.ts); its main.ts hands them to PipelineRunners, and
 * `sluice parse` hands the same bindings to a MemoryRunner. So both transports run the
 * very same stages (docs/architecture.md, "One set of stages, two transports").
 */
import type { Stage, StatefulStage } from '../stage.js';
import type { Decoder } from './consumer-loop.js';
import type { Upstream } from './upstream.js';

export interface StageBinding<I = unknown> {
  /** Stage name in dead letters, logs and metrics: collector | normalizer | enricher | enricher-traces. */
  name: string;
  /** Kafka consumer group (ignored in memory). */
  groupId: string;
  inputTopic: string;
  /** Topics the stage writes to (besides the dead-letter topic). */
  outputTopics: string[];
  decode: Decoder<I>;
  stage: Stage<I> | StatefulStage<I>;
  /** Consumer groups whose lag keeps this stage's partitions from counting as idle (Kafka only; upstream.ts). */
  upstream?: readonly Upstream[];
}

/** A binding of any input type (a service's stages read different records). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageBinding = StageBinding<any>;

/** Every topic a set of bindings reads or writes, the dead-letter topic included. */
export function topicsOf(bindings: readonly AnyStageBinding[], dlqTopic: string): string[] {
  return [...new Set([...bindings.flatMap((b) => [b.inputTopic, ...b.outputTopics]), dlqTopic])];
}

/**
 * The one runner that owns all I/O of a stage, split by responsibility:
 * consumer-loop.ts (consume, decode, dead letters, produce with retry), pipeline-runner.ts
 * (Kafka -> Kafka, transactional), sink-runner.ts (Kafka -> Elasticsearch/S3, batched),
 * batching.ts (produce requests under the size limit), step.ts (what both transports do
 * with one input), memory-runner.ts (the same stages in one process, for `sluice parse`
 * and the conformance suite), binding.ts (a stage with its topics). This file is the
 * public surface.
 */
export { avro, rawBytes, type Decoder, type RunnerOptions } from './consumer-loop.js';
export { chunkByBytes, MAX_PRODUCE_BYTES } from './batching.js';
export { PipelineRunner } from './pipeline-runner.js';
export { topicsOf, type AnyStageBinding, type StageBinding } from './binding.js';
export { type Upstream } from './upstream.js';
export { MemoryRunner, type MemoryRecord, type MemoryRunnerOptions } from './memory-runner.js';
export { BufferBudget, SinkRunner, type BatchPolicy, type SinkBatch, type SinkFailure, type SinkItem, type SinkWriter } from './sink-runner.js';
export { fuse } from './fuse.js';

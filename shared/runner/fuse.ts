/**
 * Two adjacent stages run as one (issue #11, "fewer hops where the operator wants them"):
 * the records `first` writes to `second`'s input topic go straight into `second` in the
 * same call, never through Kafka; everything else `first` writes passes through. The
 * fused binding reads `first`'s input with `first`'s group, decoder and checkpoints, so
 * its guarantees are `first`'s: the fused outputs and the checkpoint go in one
 * transaction per batch (PipelineRunner), as any stage's do. The topic between the two
 * is not written.
 *
 * Contract:
 * - `second` must be stateless (a Stage): it has no checkpoint to keep in step with
 *   `first`'s. A stateful second stage is refused (TypeError).
 * - `second` sees each record as it would from Kafka: the value as decoded (the object
 *   `first` returned), the key, and as envelope and raw bytes the input the record came
 *   from (its `origin`, else the input being processed). An error `second` throws for
 *   one record dead-letters that input with the error (StageOutput.deadLetter), and the
 *   other records go on: a stage that fails for one record never loses the rest of a
 *   batch, nor a multi-line event `first` completed from earlier inputs.
 * - Records `second` returns name their origin, so an output its schema refuses
 *   dead-letters the original input (step.ts encodeOutputs).
 */
import { classify } from '../errors.js';
import { isStateful, type Envelope, type PartitionStage, type Stage, type StageContext, type StageInput, type StageOutput, type StatefulStage } from '../stage.js';
import type { StageBinding } from './binding.js';

type Origin = { envelope: Envelope; raw: Buffer };

function originOf<I>(input: StageInput<I>): Origin {
  const { topic, partition, offset, timestampMs, key, headers } = input;
  return { envelope: { topic, partition, offset, timestampMs, key, headers }, raw: input.raw };
}

export function fuse<I, J>(first: StageBinding<I>, second: StageBinding<J>): StageBinding<I> {
  if (isStateful(second.stage)) throw new TypeError(`fuse: ${second.name} is stateful; only a stateless stage can follow another in one process`);
  const next = second.stage;
  const via = second.inputTopic;

  const map = (outputs: StageOutput[], input: Origin | null, ctx: StageContext): StageOutput[] => {
    const out: StageOutput[] = [];
    for (const o of outputs) {
      if (o.topic !== via) {
        out.push(o);
        continue;
      }
      const from = o.origin ?? input;
      if (!from) throw new Error(`fuse: ${first.name} emitted a record for ${via} without its origin`);
      const sin: StageInput<J> = { ...from.envelope, key: o.key === null ? null : Buffer.from(o.key), value: o.value as J, raw: from.raw };
      try {
        for (const r of next.process(sin, ctx)) out.push({ ...r, origin: r.origin ?? from });
      } catch (err) {
        out.push({ topic: via, key: o.key, value: o.value, origin: from, deadLetter: classify(err) });
      }
    }
    return out;
  };

  const stage: Stage<I> | StatefulStage<I> = isStateful(first.stage)
    ? statefulFused(first.stage, map)
    : { name: `${first.stage.name}+${next.name}`, process: (input, ctx) => map((first.stage as Stage<I>).process(input, ctx), originOf(input), ctx) };

  return {
    name: `${first.name}+${second.name}`,
    groupId: first.groupId,
    inputTopic: first.inputTopic,
    outputTopics: [...new Set([...first.outputTopics.filter((t) => t !== via), ...second.outputTopics])],
    decode: first.decode,
    stage,
    ...(first.upstream ? { upstream: first.upstream } : {}),
  };
}

function statefulFused<I>(s: StatefulStage<I>, map: (outputs: StageOutput[], input: Origin | null, ctx: StageContext) => StageOutput[]): StatefulStage<I> {
  return {
    name: s.name,
    flushIntervalMs: s.flushIntervalMs,
    open(topic, partition, committed): PartitionStage<I> {
      const p = s.open(topic, partition, committed);
      const fused: PartitionStage<I> = {
        process: (input, ctx) => map(p.process(input, ctx), originOf(input), ctx),
        flush: (ctx, part) => map(p.flush(ctx, part), null, ctx),
        checkpoint: (next) => p.checkpoint(next),
        get held() {
          return p.held;
        },
      };
      if (p.endOfBatch) fused.endOfBatch = (ctx) => map(p.endOfBatch!(ctx), null, ctx);
      return fused;
    },
  };
}

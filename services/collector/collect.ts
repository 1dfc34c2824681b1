/**
 * The collector stage: one raw shipper message -> RawEvent(s) for logs.collected.
 *
 * Contract:
 * - the body is decoded as UTF-8; invalid sequences become U+FFFD and the event is
 *   flagged `invalid_utf8`; NUL bytes are removed and flagged `nul_bytes`;
 * - an event longer than `maxEventBytes` is cut at a character boundary and flagged
 *   `truncated`;
 * - an empty or whitespace-only message cannot become an event: PermanentError
 *   SLUICE_ERR_INPUT_EMPTY (it goes to the DLQ);
 * - Kafka headers `tenant`, `service`, `format` are honoured;
 * - event_id follows DESIGN.md: ULID(Kafka timestamp, hash(topic, partition, offset, index)).
 *
 * Shipper envelopes and multi-line merging arrive with issue #3; today a message is one event.
 */
import type { Stage, StageInput, StageOutput } from '../../shared/stage.js';
import type { RawEvent } from '../../shared/records.js';
import { PermanentError, ErrorCodes } from '../../shared/errors.js';
import { eventId } from '../../shared/ids.js';

export interface CollectOptions {
  outputTopic: string;
  defaultTenant: string;
  maxEventBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode, clean and bound a body; returns the text and the flags it earned. */
export function cleanBody(raw: Buffer, maxBytes: number): { text: string; flags: string[] } {
  const flags: string[] = [];
  let text = utf8.decode(raw);
  if (text.includes('\uFFFD') && !raw.includes(Buffer.from('\uFFFD'))) flags.push('invalid_utf8');
  if (text.includes('\u0000')) {
    text = text.replace(/\u0000/g, '');
    flags.push('nul_bytes');
  }
  text = text.replace(/\r?\n$/, '');
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    // Cut by bytes, then drop a partial trailing character.
    text = utf8.decode(Buffer.from(text, 'utf8').subarray(0, maxBytes)).replace(/\uFFFD$/, '');
    flags.push('truncated');
  }
  return { text, flags };
}

export function createCollectStage(opts: CollectOptions): Stage<Buffer> {
  return {
    name: 'collect',
    process(input: StageInput<Buffer>, ctx): StageOutput[] {
      const { text, flags } = cleanBody(input.value, opts.maxEventBytes);
      if (text.trim().length === 0) {
        throw new PermanentError(ErrorCodes.inputEmpty, 'empty message: nothing to collect');
      }
      const tenant = input.headers['tenant'] || opts.defaultTenant;
      const service = input.headers['service'] || null;
      const event: RawEvent = {
        event_id: eventId(input.timestampMs, input.topic, input.partition, input.offset, 0),
        tenant,
        observed_at: ctx.now() * 1000,
        kafka_timestamp: input.timestampMs * 1000,
        origin: { topic: input.topic, partition: input.partition, offset: Number(input.offset), index: 0 },
        format: input.headers['format'] || null,
        shipper: null,
        service,
        host: null,
        file: null,
        envelope_time: null,
        body: text,
        flags,
      };
      // Stream key: events of one source stay in one partition, in order.
      const key = `${tenant}|${service ?? ''}|${input.key?.toString('utf8') ?? ''}`;
      return [{ topic: opts.outputTopic, key, value: event }];
    },
  };
}

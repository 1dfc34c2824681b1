/**
 * The collector stage: one raw shipper message -> RawEvent(s) for logs.collected.
 *
 * Contract:
 * - the body is decoded as UTF-8; invalid sequences become U+FFFD and the events holding
 *   them are flagged `invalid_utf8`; NUL bytes are removed and every event of the message
 *   is flagged `nul_bytes`;
 * - the message is split into events (split.ts): one per line, shipper envelopes
 *   unwrapped (envelopes.ts), CRI partial lines joined, continuation lines (stack traces)
 *   merged into the event before them. Merging stays within ONE message here; see
 *   multiline.ts for the cross-message merger;
 * - event i of the message gets origin.index i and event_id
 *   ULID(Kafka timestamp, hash(topic, partition, offset, i)) (DESIGN.md);
 * - an event longer than `maxEventBytes` is cut at a character boundary and flagged
 *   `truncated`;
 * - a message with no non-blank event cannot become an event: PermanentError
 *   SLUICE_ERR_INPUT_EMPTY (it goes to the DLQ);
 * - Kafka headers `tenant`, `service`, `format` win over what the envelope says.
 */
import type { Stage, StageInput, StageOutput } from '../../shared/stage.js';
import type { RawEvent } from '../../shared/records.js';
import { PermanentError, ErrorCodes } from '../../shared/errors.js';
import { eventId } from '../../shared/ids.js';
import { splitMessage } from './split.js';

export interface CollectOptions {
  outputTopic: string;
  defaultTenant: string;
  maxEventBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode as UTF-8 and drop NUL bytes; returns the text and the flags it earned. */
export function decodeBody(raw: Buffer): { text: string; flags: string[] } {
  const flags: string[] = [];
  let text = utf8.decode(raw);
  if (text.includes('\uFFFD') && !raw.includes(Buffer.from('\uFFFD'))) flags.push('invalid_utf8');
  if (text.includes('\u0000')) {
    text = text.replace(/\u0000/g, '');
    flags.push('nul_bytes');
  }
  return { text, flags };
}

/** Cut `text` to at most `maxBytes` UTF-8 bytes at a character boundary. */
export function boundText(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, truncated: false };
  // Cut by bytes, then drop a partial trailing character.
  return { text: utf8.decode(Buffer.from(text, 'utf8').subarray(0, maxBytes)).replace(/\uFFFD$/, ''), truncated: true };
}

/** Decode, clean and bound a whole body as one event; returns the text and the flags it earned. */
export function cleanBody(raw: Buffer, maxBytes: number): { text: string; flags: string[] } {
  const { text: decoded, flags } = decodeBody(raw);
  const { text, truncated } = boundText(decoded.replace(/\r?\n$/, ''), maxBytes);
  if (truncated) flags.push('truncated');
  return { text, flags };
}

export function createCollectStage(opts: CollectOptions): Stage<Buffer> {
  return {
    name: 'collect',
    process(input: StageInput<Buffer>, ctx): StageOutput[] {
      const { text, flags: messageFlags } = decodeBody(input.value);
      const events = splitMessage(text);
      if (events.length === 0) {
        throw new PermanentError(ErrorCodes.inputEmpty, 'empty message: nothing to collect');
      }
      const tenant = input.headers['tenant'] || opts.defaultTenant;
      const observedAt = ctx.now() * 1000;
      return events.map((e, index): StageOutput => {
        const { text: body, truncated } = boundText(e.body, opts.maxEventBytes);
        const flags = messageFlags.filter((f) => f !== 'invalid_utf8' || e.body.includes('\uFFFD'));
        flags.push(...e.flags);
        if (truncated) flags.push('truncated');
        const service = input.headers['service'] || e.envelope.service;
        const event: RawEvent = {
          event_id: eventId(input.timestampMs, input.topic, input.partition, input.offset, index),
          tenant,
          observed_at: observedAt,
          kafka_timestamp: input.timestampMs * 1000,
          origin: { topic: input.topic, partition: input.partition, offset: Number(input.offset), index },
          format: input.headers['format'] || e.envelope.format,
          shipper: e.envelope.shipper,
          service,
          host: e.envelope.host,
          file: e.envelope.file,
          envelope_time: e.envelope.envelopeTime,
          body,
          flags,
        };
        // Stream key: events of one source stay in one partition, in order.
        const key = `${tenant}|${service ?? ''}|${input.key?.toString('utf8') ?? ''}`;
        return { topic: opts.outputTopic, key, value: event };
      });
    },
  };
}

/**
 * Produce batching for the runners: requests kept under Kafka's message.max.bytes, and
 * messages grouped by topic for one produce call.
 */
/** Upper bound of one produce request's payload, bytes: below Kafka's default message.max.bytes (1 MB). */
export const MAX_PRODUCE_BYTES = 768 * 1024;
/** Per-record overhead counted against MAX_PRODUCE_BYTES (record header, varints, headers). */
const RECORD_OVERHEAD = 64;

/** Split messages, in order, into chunks whose estimated size stays under `maxBytes` (a single larger message is a chunk of its own). */
export function chunkByBytes<M extends { key: Buffer | string | null; value: Buffer }>(messages: readonly M[], maxBytes: number): M[][] {
  const chunks: M[][] = [];
  let current: M[] = [];
  let size = 0;
  for (const m of messages) {
    const n = m.value.length + (m.key === null ? 0 : Buffer.byteLength(m.key)) + RECORD_OVERHEAD;
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export interface Encoded {
  topic: string;
  key: Buffer | string | null;
  value: Buffer;
  headers?: Readonly<Record<string, string>>;
}

type Message = { key: Buffer | string | null; value: Buffer; headers?: Record<string, string> };

export function byTopic(messages: readonly Encoded[]): Array<{ topic: string; messages: Message[] }> {
  const map = new Map<string, Message[]>();
  for (const m of messages) {
    let list = map.get(m.topic);
    if (!list) map.set(m.topic, (list = []));
    list.push(m.headers ? { key: m.key, value: m.value, headers: { ...m.headers } } : { key: m.key, value: m.value });
  }
  return [...map].map(([topic, msgs]) => ({ topic, messages: msgs }));
}

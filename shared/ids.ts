/**
 * Deterministic, time-sortable event ids (DESIGN.md, "The record"): a ULID whose
 * 48-bit time part is the Kafka timestamp (ms) of the raw message and whose 80-bit
 * "random" part is the first 10 bytes of SHA-256(topic, partition, offset, index).
 * Reprocessing the same input yields the same id.
 */
import { createHash } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MAX_TIME = 2 ** 48 - 1;

function encodeTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME) throw new RangeError(`ULID time out of range: ${ms}`);
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeBytes80(bytes: Uint8Array): string {
  // 80 bits -> 16 base32 characters, most significant first.
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (bytes[i] as number);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

export function eventId(kafkaTimestampMs: number, topic: string, partition: number, offset: string | number | bigint, index: number): string {
  const hash = createHash('sha256').update(`${topic}\u0000${partition}\u0000${offset}\u0000${index}`).digest();
  return encodeTime(Math.max(0, Math.min(MAX_TIME, Math.trunc(kafkaTimestampMs)))) + encodeBytes80(hash.subarray(0, 10));
}

/** Milliseconds encoded in a ULID's time part. */
export function ulidTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

/**
 * Deterministic, time-sortable event ids (docs/architecture.md, "Ids"): a ULID whose
 * 48-bit time part is the Kafka timestamp (ms) of the raw message and whose 80-bit
 * "random" part is the first 10 bytes of SHA-256(topic, partition, offset, index).
 * Reprocessing the same input yields the same id.
 */
import * as crypto from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MAX_TIME = 2 ** 48 - 1;

/** Character codes of the alphabet, for building an id with one String.fromCharCode. */
const CODES = Array.from(CROCKFORD, (ch) => ch.charCodeAt(0));

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

let lastTimeMs = -1;
let lastTime: number[] = [];

/** The character codes of `encodeTime(ms)`, memoised for the previous `ms` (the events of a message or batch share it). */
function timeCodes(ms: number): number[] {
  if (ms !== lastTimeMs) {
    const text = encodeTime(ms);
    lastTime = Array.from(text, (ch) => ch.charCodeAt(0));
    lastTimeMs = ms;
  }
  return lastTime;
}

/**
 * SHA-256 of the UTF-8 bytes of `text`, as a latin1 ('binary') string: one character
 * per byte. One-shot `crypto.hash` (Node >= 20.12) with a string result allocates no
 * Hash object and no Buffer, which made ids ~5x cheaper; older Node 20 releases take
 * the createHash path (same bytes).
 */
const sha256: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'binary') : (text) => crypto.createHash('sha256').update(text).digest('binary');

export function eventId(kafkaTimestampMs: number, topic: string, partition: number, offset: string | number | bigint, index: number): string {
  const h = sha256(`${topic}\u0000${partition}\u0000${offset}\u0000${index}`);
  const t = timeCodes(Math.max(0, Math.min(MAX_TIME, Math.trunc(kafkaTimestampMs))));
  // The first 80 bits of the hash, as two 40-bit halves (exact in a double), 8 base32 digits each.
  const hi = ((h.charCodeAt(0) * 256 + h.charCodeAt(1)) * 256 + h.charCodeAt(2)) * 65536 + h.charCodeAt(3) * 256 + h.charCodeAt(4);
  const lo = ((h.charCodeAt(5) * 256 + h.charCodeAt(6)) * 256 + h.charCodeAt(7)) * 65536 + h.charCodeAt(8) * 256 + h.charCodeAt(9);
  const hh = Math.floor(hi / 32768); // top 25 bits of hi
  const hl = hi % 32768; // low 15 bits of hi
  const lh = Math.floor(lo / 32768);
  const ll = lo % 32768;
  return String.fromCharCode(
    t[0] as number, t[1] as number, t[2] as number, t[3] as number, t[4] as number, t[5] as number, t[6] as number, t[7] as number, t[8] as number, t[9] as number,
    CODES[(hh >>> 20) & 31] as number, CODES[(hh >>> 15) & 31] as number, CODES[(hh >>> 10) & 31] as number, CODES[(hh >>> 5) & 31] as number, CODES[hh & 31] as number,
    CODES[(hl >>> 10) & 31] as number, CODES[(hl >>> 5) & 31] as number, CODES[hl & 31] as number,
    CODES[(lh >>> 20) & 31] as number, CODES[(lh >>> 15) & 31] as number, CODES[(lh >>> 10) & 31] as number, CODES[(lh >>> 5) & 31] as number, CODES[lh & 31] as number,
    CODES[(ll >>> 10) & 31] as number, CODES[(ll >>> 5) & 31] as number, CODES[ll & 31] as number,
  );
}

/** Milliseconds encoded in a ULID's time part. */
export function ulidTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

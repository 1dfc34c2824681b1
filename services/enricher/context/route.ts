/**
 * Route templating: `http.path` -> `http.route` with the variable parts of each path
 * segment replaced by placeholders, so metric series by route stay bounded.
 *
 * Contract (deterministic, no state):
 * - the query string and fragment are dropped; an absolute URL keeps only its path;
 *   a path that does not start with '/' (`*`, `-`, `host:443`) has no route (null);
 * - each segment is classified whole, in this order (a trailing file extension such as
 *   `.json` or `.jpg` is kept: `/img/123.jpg` -> `/img/{id}.jpg`):
 *   `{uuid}` RFC 4122-shaped ids; `{date}` ISO dates (`2024-05-17`); `{id}` decimal numbers
 *   and ULIDs; `{email}` addresses; `{hex}` hex strings of 8+ characters with a digit
 *   (hashes, Mongo ObjectIds); `{token}` opaque tokens (a run of 16+ letters and
 *   digits mixing both, as in API keys, JWTs, session ids, font hashes; or any segment
 *   over 64 characters); `{id}` mixed ids of 8+
 *   characters that are at least half digits or hold a run of 5+ digits
 *   (`ORD-2024-000123`, `order-12345`);
 * - words, slugs and versions (`v2`, `oauth2`, `logstash-monitorama-2013`) stay;
 * - at most `maxSegments` segments are kept; a deeper path ends in `/{*}`. With 64
 *   characters per kept segment at most, a route is bounded in length.
 */

export interface RouteOptions {
  /** Segments kept; deeper paths end in `/{*}`. */
  maxSegments: number;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?:T[0-9:.]+Z?)?$/;
const NUMBER_RE = /^[-+]?\d+(?:\.\d+)?$/;
const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$/;
const HEX_RE = /^[0-9a-fA-F]{8,}$/;
const TOKEN_CHARS_RE = /^[A-Za-z0-9_=~.+-]{16,}$/;
const LONG_PIECE_RE = /(?:^|[-_.~+=])(?=[a-z0-9]*[0-9])(?=[a-z0-9]*[a-z])[a-z0-9]{16,}(?=$|[-_.~+=])/i;
const DIGIT_RUN_RE = /\d{5}/;
const HAS_DIGIT_RE = /\d/;
const EXT_RE = /^(.+?)(\.[A-Za-z][A-Za-z0-9]{0,4})$/;
const MAX_SEGMENT = 64;

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** The placeholder for a segment that is one value as a whole, or null. */
function classifyWhole(seg: string): string | null {
  const c0 = seg.charCodeAt(0);
  if (seg.length === 36 && UUID_RE.test(seg)) return '{uuid}';
  if ((c0 >= 48 && c0 <= 57) || c0 === 45 || c0 === 43) {
    if (NUMBER_RE.test(seg)) return '{id}';
    if (DATE_RE.test(seg)) return '{date}';
  }
  if (seg.length === 26 && ULID_RE.test(seg)) return '{id}';
  if (seg.includes('@') && EMAIL_RE.test(seg)) return '{email}';
  return null;
}

/** The placeholder for a segment or a file name's stem, or null when it stays. */
function classifyStem(seg: string): string | null {
  const whole = classifyWhole(seg);
  if (whole !== null) return whole;
  const digits = digitCount(seg);
  if (digits === 0) return seg.length > MAX_SEGMENT ? '{token}' : null;
  if (seg.length >= 8 && HEX_RE.test(seg)) return '{hex}';
  if (seg.length > MAX_SEGMENT) return '{token}';
  if (seg.length >= 16 && TOKEN_CHARS_RE.test(seg) && LONG_PIECE_RE.test(seg)) return '{token}';
  if ((seg.length >= 8 && digits * 2 >= seg.length) || DIGIT_RUN_RE.test(seg)) return '{id}';
  return null;
}

function templateSegment(seg: string): string {
  if (seg === '' || (!HAS_DIGIT_RE.test(seg) && seg.length <= MAX_SEGMENT && !seg.includes('@'))) return seg;
  const whole = classifyWhole(seg);
  if (whole !== null) return whole;
  // A file name keeps its extension: `/img/123.jpg` -> `/img/{id}.jpg`.
  const ext = seg.length <= MAX_SEGMENT ? EXT_RE.exec(seg) : null;
  if (ext) {
    const stem = classifyStem(ext[1]!);
    return stem === null ? seg : stem + ext[2]!;
  }
  return classifyStem(seg) ?? seg;
}

/** Fast path: no digit, no '@', segments short and few enough: the path is its own route. */
function isPlain(p: string, maxSegments: number): boolean {
  let segs = 0;
  let segLen = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 47) {
      if (++segs > maxSegments) return false;
      segLen = 0;
    } else if ((c >= 48 && c <= 57) || c === 64 || ++segLen > MAX_SEGMENT) return false;
  }
  return true;
}

/** The route of a request path (see the module contract), or null when the path has none. */
export function templateRoute(path: string, opts: RouteOptions): string | null {
  let p = path;
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  const h = p.indexOf('#');
  if (h >= 0) p = p.slice(0, h);
  if (!p.startsWith('/')) {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(p);
    if (!scheme) return null;
    p = p.slice(scheme[0].length) || '/';
  }
  if (isPlain(p, opts.maxSegments)) return p;
  const segs = p.split('/');
  // segs[0] is the empty string before the leading '/'.
  const depth = segs.length - 1;
  const keep = Math.min(depth, opts.maxSegments);
  let out = '';
  for (let i = 1; i <= keep; i++) out += '/' + templateSegment(segs[i]!);
  if (depth > keep) out += '/{*}';
  return out === '' ? '/' : out;
}

/**
 * logfmt (go-kit, logrus, Loki/Grafana): `key=value` pairs separated by spaces; a value
 * may be double-quoted with backslash escapes (\" \\ \n \t \r); a bare key is "true".
 * One linear scan, no regexes.
 */

function isKeyChar(c: number): boolean {
  // Anything printable except space, '=' and '"'.
  return c > 0x20 && c !== 0x3d && c !== 0x22 && c !== 0x7f;
}

/** Cheap test: the line opens with `key=` (key of 1..64 key characters). */
export function looksLikeLogfmt(s: string): boolean {
  const n = Math.min(s.length, 65);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d) return i > 0 && s.indexOf('=', i + 1) > 0;
    if (!isKeyChar(c)) return false;
  }
  return false;
}

/** Parse a logfmt line; null when it is not one (a token without `=` before the first pair, an unterminated quote). */
export function parseLogfmt(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  const n = s.length;
  let i = 0;
  let pairs = 0;
  while (i < n) {
    while (i < n && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
    if (i >= n) break;
    const ks = i;
    while (i < n && isKeyChar(s.charCodeAt(i))) i++;
    if (i === ks) return null;
    const key = s.slice(ks, i);
    if (i >= n || s.charCodeAt(i) !== 0x3d) {
      if (i < n && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) return null;
      out.set(key, 'true');
      continue;
    }
    i++; // '='
    pairs++;
    if (i < n && s.charCodeAt(i) === 0x22) {
      i++;
      let val = '';
      let start = i;
      let closed = false;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 0x5c && i + 1 < n) {
          val += s.slice(start, i);
          const e = s[i + 1];
          val += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          start = i;
        } else if (c === 0x22) {
          val += s.slice(start, i);
          i++;
          closed = true;
          break;
        } else i++;
      }
      if (!closed) return null;
      out.set(key, val);
    } else {
      const vs = i;
      while (i < n && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) i++;
      out.set(key, s.slice(vs, i));
    }
  }
  return pairs >= 2 || (pairs === 1 && out.size === 1) ? out : null;
}

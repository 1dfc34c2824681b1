/**
 * GeoIP: country and city of PUBLIC client IPs, through a lookup the caller supplies.
 *
 * No npm package is bundled (see the enricher README section / report): the one that
 * ships its data, geoip-lite 2.x, is 35 MB packed and ~115 MB unpacked, keeps it all in
 * RAM, requires Node >= 24, and ships GeoLite2 data under MaxMind's GeoLite2 EULA that
 * its own README says must be refreshed with a MaxMind licence key. A deployment that
 * has a MaxMind database passes a `GeoLookup` (for example over @maxmind/geoip2-node's
 * Reader, opened once at start-up) to `createEnrichContext`; the stage calls it only
 * for addresses `isPublicIp` accepts, so private, loopback, link-local, CGNAT,
 * multicast and documentation ranges never reach it.
 */

export interface GeoResult {
  /** ISO 3166-1 alpha-2 country code, e.g. "DE". */
  country: string | null;
  city: string | null;
}

/** A pure, synchronous lookup over data loaded at start-up; null when unknown. */
export type GeoLookup = (ip: string) => GeoResult | null;

/**
 * The client address of an `http.client_ip` value: the first of an X-Forwarded-For
 * list, without a port (`1.2.3.4:5678`, `[2001:db8::1]:443`) or an IPv6 zone.
 */
export function clientAddress(value: string): string {
  let v = value;
  const comma = v.indexOf(',');
  if (comma >= 0) v = v.slice(0, comma);
  v = v.trim();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    return end > 0 ? v.slice(1, end) : v;
  }
  const colon = v.indexOf(':');
  if (colon > 0 && colon === v.lastIndexOf(':')) v = v.slice(0, colon);
  const zone = v.indexOf('%');
  return zone > 0 ? v.slice(0, zone) : v;
}

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const b = Number(p);
    if (b > 255) return null;
    n = n * 256 + b;
  }
  return n;
}

// [network, prefix length] of IPv4 ranges that are not public (RFC 6890 special-purpose).
const V4_SPECIAL: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, 8], // "this network"
  [0x0a000000, 8], // private
  [0x64400000, 10], // CGNAT shared space
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0000200, 24], // TEST-NET-1
  [0xc0a80000, 16], // private
  [0xc6120000, 15], // benchmarking
  [0xc6336400, 24], // TEST-NET-2
  [0xcb007100, 24], // TEST-NET-3
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved, broadcast
];

function isPublicV4(n: number): boolean {
  for (const [net, len] of V4_SPECIAL) {
    const size = 2 ** (32 - len);
    if (n >= net && n < net + size) return false;
  }
  return true;
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function parseV6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  let tail: number[] = [];
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    text = text.slice(0, lastColon + 1) + '0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || rest === null) return null;
  if (tail.length > 0) (rest.length > 0 ? rest : head).pop();
  const fixed = [...head, ...rest, ...tail];
  if (halves.length === 1) return fixed.length === 8 ? fixed : null;
  if (fixed.length > 7) return null;
  return [...head, ...new Array<number>(8 - fixed.length).fill(0), ...rest, ...tail];
}

function isPublicV6(g: number[]): boolean {
  const [a, b] = [g[0]!, g[1]!];
  if (g.slice(0, 7).every((x) => x === 0)) return false; // :: and ::1
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return isPublicV4(g[6]! * 65536 + g[7]!); // v4-mapped
  if (a === 0x64 && b === 0xff9b) return isPublicV4(g[6]! * 65536 + g[7]!); // NAT64
  if ((a & 0xfe00) === 0xfc00) return false; // unique local fc00::/7
  if ((a & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((a & 0xff00) === 0xff00) return false; // multicast
  if (a === 0x2001 && b === 0x0db8) return false; // documentation
  if (a === 0x2002) return false; // 6to4 relay ranges carry no location of their own
  return (a & 0xe000) === 0x2000; // global unicast 2000::/3
}

/** Whether `ip` (IPv4 or IPv6 text) is a public unicast address. Unparseable: false. */
export function isPublicIp(ip: string): boolean {
  const v4 = parseV4(ip);
  if (v4 !== null) return isPublicV4(v4);
  const v6 = parseV6(ip);
  return v6 !== null && isPublicV6(v6);
}

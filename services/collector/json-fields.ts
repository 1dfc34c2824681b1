/**
 * Reading fields of a shipper's JSON envelope. Pure. A path is dotted (`kubernetes.pod_name`)
 * and matches nested objects or the same dotted name as one flat key (shippers that
 * flatten their records write `"kubernetes.pod_name": ...`).
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function isObject(v: Json | undefined): v is JsonObject {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}

/** The value at a dotted path, or undefined. */
export function at(obj: JsonObject, path: string): Json | undefined {
  if (path in obj) return obj[path];
  let cur: Json | undefined = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** A scalar as text (numbers and booleans as their decimal/`true` text); null for '', null, objects and arrays. */
export function text(v: Json | undefined): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** The text of the first of `paths` that holds a scalar, or null. */
export function first(obj: JsonObject, paths: readonly string[]): string | null {
  for (const p of paths) {
    const v = text(at(obj, p));
    if (v !== null) return v;
  }
  return null;
}

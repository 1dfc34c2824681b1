/**
 * A function memoized in a bounded least-recently-used cache (the `lru-cache` package,
 * the ecosystem's standard, instead of a hand-written one). `size` 0 disables caching.
 * Results are boxed, so `fn` may return null (lru-cache stores no nullish values).
 */
import { LRUCache } from 'lru-cache';

export function memoize<V>(size: number, fn: (key: string) => V): ((key: string) => V) & { readonly size: number } {
  if (size <= 0) return Object.assign((key: string) => fn(key), { size: 0 });
  const cache = new LRUCache<string, { v: V }>({ max: size });
  const memo = (key: string): V => {
    const hit = cache.get(key);
    if (hit !== undefined) return hit.v;
    const v = fn(key);
    cache.set(key, { v });
    return v;
  };
  return Object.defineProperty(memo, 'size', { get: () => cache.size }) as typeof memo & { readonly size: number };
}

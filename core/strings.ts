// V8's JSON.parse returns longer strings as slices of the source text, so keeping one uuid from a 100 MB response
// keeps the whole response alive. Long-lived copies (caches, inventory) go through `detach` first.

/** A copy of `s` that does not share memory with the string it was cut from. */
export function detach(s: string): string {
  // Concatenation then slice makes V8 flatten into a fresh string; short strings are never slices.
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** `detach` applied to every string inside a JSON value (records as parsed from XAPI). */
export function detachDeep<T>(value: T): T {
  if (typeof value === 'string') return detach(value) as T;
  if (Array.isArray(value)) return value.map(detachDeep) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = detachDeep(v);
    return out as T;
  }
  return value;
}

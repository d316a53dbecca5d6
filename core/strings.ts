// V8's JSON.parse returns longer strings as slices of the source text, so keeping one uuid from a 100 MB response
// keeps the whole response alive. Long-lived copies (caches, inventory) go through `detach` first.

/** A copy of `s` that does not share memory with the string it was cut from. */
export function detach(s: string): string {
  if (s.length < 13) return s; // short strings are never slices
  // A flat copy through bytes when every character is Latin-1 (uuids, refs, most names): a slice of a fresh
  // concatenation would cost a 32-byte slice object beside its copy (~12 MB over 10,000 VMs' records).
  const copy = Buffer.from(s, 'latin1').toString('latin1');
  return copy === s ? copy : (' ' + s).slice(1);
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

// Type guards for values parsed from JSON (request bodies, XAPI answers, config files).

/** A plain JSON object: not null, not an array. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

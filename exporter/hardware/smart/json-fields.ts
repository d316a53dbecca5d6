// Typed reads from parsed JSON we do not trust: a field of the wrong type reads as absent.

export type JsonObject = Record<string, unknown>;

export const obj = (v: unknown): JsonObject | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/** JSON.parse that reports instead of throwing; text before the first `{` is dropped (smartctl < 7.3 could
 * print "  Pending defect count:" ahead of the document). */
export function parseJsonObject(text: string): { doc: JsonObject } | { error: string } {
  const start = text.indexOf('{');
  if (start < 0) return { error: text.trim() === '' ? 'empty output' : 'no JSON object in the output' };
  try {
    const doc = obj(JSON.parse(text.slice(start)));
    return doc ? { doc } : { error: 'JSON output is not an object' };
  } catch (err) {
    return { error: `invalid JSON: ${(err as Error).message}` };
  }
}

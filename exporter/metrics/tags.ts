// The `tags` label: an object's XAPI tags as Xen Orchestra's plugin writes them (serializeTags in
// xo-server-openmetrics' openmetric-formatter.mts, PR 9971): unique, blank ones dropped, sorted, comma-joined; absent
// when there are none. The `labels.tags` option puts it on every series of the object (`all`, as XO), only on its
// `_info` series (`info`: a tag change then starts no new series for the rest), or nowhere (`none`).
import type { LabelOptions } from '../config.js';

/** Per tags array of an inventory record (replaced, never changed in place, when XAPI sends a change): each poll
 * labels every VM, and most tag sets never change. */
const serialized = new WeakMap<unknown[], string | undefined>();

export function serializeTags(tags: unknown): string | undefined {
  if (!Array.isArray(tags) || tags.length === 0) return undefined;
  if (serialized.has(tags)) return serialized.get(tags);
  const kept = [...new Set(tags.map(String))].filter((t) => t.trim() !== '').sort();
  const value = kept.length ? kept.join(',') : undefined;
  serialized.set(tags, value);
  return value;
}

/** The tags label value for a series of `rec`: `info` says whether the series is the object's `_info` one. */
export function tagsLabel(rec: Record<string, unknown> | undefined, mode: LabelOptions['tags'], info: boolean): string | undefined {
  if (mode === 'none' || (mode === 'info' && !info)) return undefined;
  return serializeTags(rec?.tags);
}

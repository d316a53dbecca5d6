// Which exposition format a scrape asked for, from its Accept header (RFC 9110 §12.5.1): each media range with its
// weight `q` (default 1; q=0 means "not acceptable"), the most specific range that matches a type deciding its weight
// (`text/plain` over `text/*` over `*/*`). The heavier of OpenMetrics and the classic text format wins; on a tie the
// one named first, and the classic format when neither is named (`*/*`, no header). Undefined when both are refused.
export type ExpositionFormat = 'openmetrics' | 'text';

interface Range {
  type: string;
  subtype: string;
  q: number;
  index: number;
}

/** A list element's weight from its parameters (`q=0.5`): 1 when not given, kept within 0..1. */
function weightOf(params: readonly string[]): number {
  let q = 1;
  for (const p of params) {
    const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
    if (m) q = Math.min(1, Math.max(0, Number(m[1]) || 0));
  }
  return q;
}

function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  header.split(',').forEach((part, index) => {
    const [media = '', ...params] = part.split(';').map((p) => p.trim());
    const [type, subtype] = media.toLowerCase().split('/');
    if (!type || !subtype) return;
    out.push({ type, subtype, q: weightOf(params), index });
  });
  return out;
}

/** The weight and position of the most specific range matching `type/subtype`; undefined when none matches. */
function weight(ranges: Range[], type: string, subtype: string): Range | undefined {
  let best: Range | undefined;
  let bestRank = -1;
  for (const r of ranges) {
    const rank = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
    if (rank > bestRank) {
      best = r;
      bestRank = rank;
    }
  }
  return best;
}

export function negotiateFormat(accept: string | undefined): ExpositionFormat | undefined {
  if (!accept?.trim()) return 'text';
  const ranges = parseAccept(accept);
  if (!ranges.length) return 'text';
  const om = weight(ranges, 'application', 'openmetrics-text');
  const text = weight(ranges, 'text', 'plain');
  const omQ = om?.q ?? 0;
  const textQ = text?.q ?? 0;
  if (omQ === 0 && textQ === 0) return undefined;
  if (omQ !== textQ) return omQ > textQ ? 'openmetrics' : 'text';
  return om && text && om !== text && om.index < text.index ? 'openmetrics' : 'text';
}

/**
 * Whether a scrape gets the gzip body, from its Accept-Encoding header (RFC 9110 §12.5.3): gzip (or `x-gzip`, or `*`)
 * with a weight above 0, at least as heavy as identity's; on a tie, gzip unless identity is named before it. Identity
 * not named weighs what `*` does, else as little as the lightest coding named (a header naming only `gzip;q=0.5` wants
 * gzip), so no header, or one naming only other codings, gets the plain body — as does one refusing both (the
 * exposition formats have no 406 for it, and Prometheus never sends it).
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header?.trim()) return false;
  let gzip: Coding | undefined;
  let identity: Coding | undefined;
  let any: Coding | undefined;
  let lightest = 1;
  header.split(',').forEach((part, index) => {
    const [name = '', ...params] = part.split(';').map((p) => p.trim());
    const q = weightOf(params);
    const coding = { q, index };
    if (name) lightest = Math.min(lightest, q);
    const lower = name.toLowerCase();
    if (lower === 'gzip' || lower === 'x-gzip') gzip ??= coding;
    else if (lower === 'identity') identity ??= coding;
    else if (lower === '*') any ??= coding;
  });
  const g = gzip ?? any;
  if (!g || g.q === 0) return false;
  const i = identity ?? any ?? { q: lightest, index: Number.POSITIVE_INFINITY };
  if (g.q !== i.q) return g.q > i.q;
  return g.index <= i.index;
}

interface Coding {
  q: number;
  index: number;
}

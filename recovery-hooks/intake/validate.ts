// The one validator at the edge: every string that may reach the store (either dialect) is checked here, so SQLite
// and PostgreSQL give the same answer. PostgreSQL refuses NUL in text and SQLite keeps it; both would keep a 900 KB
// host name. What is refused here never reaches a store, a workflow or a log line whole.
import { ApiError } from './errors.js';

/** The limits the README documents. */
export const LIMITS = {
  /** Host, pool and process names, Masakari's hostname (its schema: 255). */
  name: 255,
  /** Label names (Prometheus: [a-zA-Z_][a-zA-Z0-9_]*), fingerprints, event names. */
  key: 255,
  /** Any other label value or annotation of an Alertmanager alert. */
  labelValue: 4096,
  annotation: 32768,
  /** Labels plus annotations of one alert. */
  entries: 128,
  /** Masakari's process_name. */
  processName: 4096,
  /** JSON nesting of a request body (objects and arrays). */
  depth: 32,
  /** Query parameters: values and repeats of one key. */
  queryValue: 1024,
  queryRepeats: 16,
} as const;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Masakari's notification hostname pattern; also what host and pool names from labels must look like. */
export const HOSTNAME = /^[a-zA-Z0-9._-]{1,255}$/;
// NUL and the other C0 controls and DEL; in free text (annotations) only NUL is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;
const NUL = /\u0000/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
/** Any character the checks below look at: most strings have none, and this one scan clears them. */
const SUSPECT = /[\u0000-\u001f\u007f\ud800-\udfff]/;

/** What is wrong with a string, or undefined: length, control characters, unpaired surrogates. */
export function textProblem(value: unknown, max: number, opts: { min?: number; controls?: 'refuse' | 'nul-only' } = {}): string | undefined {
  if (typeof value !== 'string') return `${describe(value)} is not of type 'string'`;
  if (value.length < (opts.min ?? 0)) return value.length === 0 ? 'must not be empty' : 'is too short';
  if (value.length > max) return `is too long (${value.length} characters, at most ${max})`;
  if (!SUSPECT.test(value)) return undefined;
  if ((opts.controls === 'nul-only' ? NUL : CONTROL).test(value)) return 'contains a control character';
  if (LONE_SURROGATE.test(value)) return 'is not valid Unicode (unpaired surrogate)';
  return undefined;
}

export function uuidProblem(value: unknown): string | undefined {
  return typeof value === 'string' && UUID.test(value) ? undefined : `${describe(value)} is not a 'uuid'`;
}

export function nameProblem(value: unknown): string | undefined {
  return (
    textProblem(value, LIMITS.name, { min: 1 }) ?? (HOSTNAME.test(value as string) ? undefined : `${describe(value)} is not a valid name ([a-zA-Z0-9._-])`)
  );
}

/** A short, printable rendering of any value for messages and logs: never the whole of a huge or binary input. */
export function describe(value: unknown, max = 64): string {
  let text: string;
  try {
    text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return truncate(text, max);
}

/** `text` cut to `max` characters (with how much was cut), control characters escaped. */
export function truncate(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}…(+${text.length - max} chars)` : text;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(LONE_SURROGATES, '\ufffd');
}

/** Label maps for log lines: at most 16 entries, each value truncated. */
export function labelsForLog(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .slice(0, 16)
      .map(([k, v]) => [truncate(k, 64), truncate(v, 120)]),
  );
}

/** Masakari's 400 for a field: "Invalid input for field/attribute <field>. Value: <value>. <problem>". */
export function invalidField(field: string, value: unknown, problem: string): ApiError {
  return new ApiError(400, `Invalid input for field/attribute ${truncate(field, 80)}. Value: ${describe(value)}. ${problem}`);
}

/** Throw a 400 naming `field` unless `problem` is undefined. */
export function check(field: string, value: unknown, problem: string | undefined): void {
  if (problem) throw invalidField(field, value, problem);
}

/**
 * The nesting depth of JSON text, counted on the raw text before JSON.parse: a body of a million `[` is refused
 * without building it. Brackets inside strings do not count.
 */
export function jsonTextDepth(text: string, stopAt: number): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes (most of a webhook is strings).
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return max;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
      if (max > stopAt) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Query parameter values: bounded count and length, no control characters; 400 naming the parameter. */
export function checkQuery(q: Record<string, string | string[] | undefined>): void {
  for (const [key, raw] of Object.entries(q)) {
    const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (values.length > LIMITS.queryRepeats) throw new ApiError(400, `Query parameter ${truncate(key, 80)} is repeated more than ${LIMITS.queryRepeats} times`);
    check(`query parameter ${key}`, key, textProblem(key, LIMITS.key));
    for (const v of values) check(key, v, textProblem(v, LIMITS.queryValue));
  }
}

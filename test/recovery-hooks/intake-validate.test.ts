// The edge validator's scans (intake/validate.ts): the JSON depth counted on raw text, skipping strings by jumping
// to their closing quote, and textProblem's one-scan clearance of ordinary strings — checked against slow references.
import t from 'tap';
import { jsonTextDepth, textProblem } from '../../recovery-hooks/intake/validate.js';

/** Depth of a parsed JSON value (the reference). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

t.test('jsonTextDepth equals the parsed depth, with brackets, quotes and backslashes inside strings', async (t) => {
  const strings = ['', '[', ']{', '\\', '\\\\', '"', '\\"[', 'a\\\\"', '{"x":[1]}', '\\u005b', '\\\\\\"]]'];
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const build = (depth: number): unknown => {
    if (depth === 0) return rnd(2) ? strings[rnd(strings.length)] : rnd(100);
    const kids = Array.from({ length: 1 + rnd(3) }, () => build(rnd(depth)));
    return rnd(2) ? kids : Object.fromEntries(kids.map((k, i) => [strings[rnd(strings.length)]! + i, k]));
  };
  for (let i = 0; i < 300; i++) {
    const value = build(1 + rnd(8));
    const text = JSON.stringify(value);
    t.equal(jsonTextDepth(text, 64), depthOf(value), text);
  }
  t.equal(jsonTextDepth('{"a": "\\\\"}', 64), 1, 'an escaped backslash before the closing quote');
  t.equal(jsonTextDepth(`["\\"${'['.repeat(50)}"]`, 32), 1, 'an escaped quote does not end the string');
  t.equal(jsonTextDepth(`[${'['.repeat(50)}`, 32), 33, 'stops counting past the limit');
  t.equal(jsonTextDepth('["unterminated [[[', 32), 1, 'an unterminated string ends the scan');
});

t.test('textProblem: the same answers as a check of every rule', async (t) => {
  const reference = (v: string, controls: 'refuse' | 'nul-only') => {
    if ((controls === 'nul-only' ? /\u0000/ : /[\u0000-\u001f\u007f]/).test(v)) return 'contains a control character';
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v)) return 'is not valid Unicode (unpaired surrogate)';
    return undefined;
  };
  const samples = ['plain', 'tab\there', 'nul\u0000', 'del\u007f', 'ok 😀 emoji', 'lone \ud800 high', 'lone \udc00 low', '\udc00\ud800', 'é ü ß', 'line\nfeed'];
  for (const v of samples)
    for (const controls of ['refuse', 'nul-only'] as const)
      t.equal(textProblem(v, 100, { controls }), reference(v, controls), `${JSON.stringify(v)} ${controls}`);
});

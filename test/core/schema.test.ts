// The config validator's building blocks, one by one: what each accepts, what it reports, and where.
import t from 'tap';
import { type Ctx, type Schema, bool, dict, exactlyOne, formatPath, list, num, obj, oneOf, optional, str, url, withDefault } from '../../core/config/schema.js';

function run<T>(schema: Schema<T>, value: unknown): { value: T | undefined; problems: string[] } {
  const ctx: Ctx = { problems: [] };
  const out = schema.parse(value, ['k'], ctx);
  return { value: out, problems: ctx.problems.map((p) => `${p.path}: ${p.message}`) };
}

t.test('paths', async (t) => {
  t.equal(formatPath([]), '(top level)');
  t.equal(formatPath(['pools', 0, 'tls', 'ca_file']), 'pools[0].tls.ca_file');
});

t.test('strings and URLs', async (t) => {
  t.same(run(str({ minLength: 3 }), 'ab').problems, ['k: must be at least 3 characters']);
  t.same(run(str(), 'x'.repeat(80)).problems, []);
  t.same(run(str(), 7).problems, ['k: expected a string, got 7']);
  t.same(
    run(str({ pattern: /^a/, patternHint: 'an a-word' }), 'b'.repeat(70)).problems,
    [`k: expected an a-word, got "${'b'.repeat(56)}...`],
    'long values are cut',
  );
  t.same(run(url(), 'https://u:p@h').problems, ['k: must not contain credentials; use the username/password keys']);
  t.same(run(url(), 'not a url').problems, ['k: expected a URL (http:// or https://…), got "not a url"']);
  t.same(run(url(['https:']), 'http://h').problems, ['k: expected a URL (https://…), got "http://h"']);
  t.equal(run(url(), 'https://h:8443//').value, 'https://h:8443');
});

t.test('numbers, booleans, enums, lists', async (t) => {
  t.same(run(num({ integer: true }), 1.5).problems, ['k: expected an integer, got 1.5']);
  t.same(run(num({ min: 1, max: 2 }), 3).problems, ['k: expected a number >= 1 <= 2, got 3']);
  t.same(run(num(), Number.NaN).problems, ['k: expected a number, got null']);
  t.same(run(bool(), 'yes').problems, ['k: expected true or false, got "yes"']);
  t.equal(run(bool(), false).value, false);
  t.same(run(oneOf(['a', 'b'] as const), 'c').problems, ['k: expected one of a, b, got "c"']);
  t.same(run(list(num()), [1, 'x', 3]).problems, ['k[1]: expected a number, got "x"']);
  t.same(run(list(num()), {}).problems, ['k: expected a list of a number, got a mapping']);
  t.same(run(list(num(), { minItems: 2 }), [1]).problems, ['k: needs at least 2 item(s)']);
  t.same(run(list(num()), [1, 2]).value, [1, 2]);
});

t.test('dicts', async (t) => {
  t.same(run(dict(str()), { a: 'x', b: 'y' }).value, { a: 'x', b: 'y' });
  t.same(run(dict(str()), { a: 1 }).problems, ['k.a: expected a string, got 1']);
  t.same(run(dict(str()), ['a']).problems, ['k: expected a mapping of a string, got a list']);
  t.same(run(dict(str()), null).problems, ['k: expected a mapping of a string, got null']);
});

t.test('mappings: defaults, optional keys, unknown keys, cross-field checks', async (t) => {
  const inner = obj({ a: withDefault(num(), 1), b: optional(str()) });
  const outer = obj({ inner: withDefault(inner, () => ({ a: 1, b: undefined })), name: withDefault(str(), 'n') });
  t.same(outer.defaultValue?.(), { inner: { a: 1, b: undefined }, name: 'n' }, 'a mapping whose keys all have defaults has a default');
  t.equal(obj({ req: str() }).defaultValue, undefined, 'one required key: no default');
  t.same(run(outer, {}).value, { inner: { a: 1, b: undefined }, name: 'n' });
  t.same(run(outer, { inner: { a: 'x' } }).problems, ['k.inner.a: expected a number, got "x"']);
  t.same(run(outer, { inner: [] }).problems, ['k.inner: expected a mapping, got a list']);
  const checked = obj({ lo: num(), hi: num() }, (v, path, ctx) => {
    if (v.lo > v.hi) ctx.problems.push({ path: formatPath([...path, 'lo']), message: 'must not exceed hi' });
  });
  t.same(run(checked, { lo: 3, hi: 1 }).problems, ['k.lo: must not exceed hi']);
  t.equal(run(checked, { lo: 3, hi: 1 }).value, undefined);
  t.same(run(checked, { lo: 1, hi: 'x' }).problems, ['k.hi: expected a number, got "x"'], 'the check runs only when the fields parsed');
  const ctx: Ctx = { problems: [] };
  exactlyOne({ a: 1, b: 2 }, ['a', 'b', 'c'], ['x'], ctx);
  exactlyOne({}, ['a', 'b'], ['y'], ctx);
  exactlyOne({}, ['a', 'b'], ['z'], ctx, false);
  t.same(ctx.problems, [
    { path: 'x', message: 'set only one of a, b' },
    { path: 'y', message: 'needs one of a, b' },
  ]);
});

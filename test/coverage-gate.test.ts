// The coverage gate itself, fed a synthetic checkout: one safety-critical source file, transpiled with a source map as
// the test processes' loader does, and V8 coverage for it written as NODE_V8_COVERAGE writes it. One small function
// that never ran fails the gate although the file's lines stay above every floor (a one-line function even counts
// as a covered line: the transpiler maps the end of the declaration, which the module's top level ran, to it); once
// it ran, the gate passes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const GATE = fileURLToPath(new URL('./coverage-gate.mjs', import.meta.url));
const FILE = 'recovery-hooks/store/sample.ts';

// 43 lines that run, then a one-line function no test calls.
const SOURCE = [
  '// A sample module for the coverage gate test.',
  'export function covered(n: number): number {',
  '  let x = n;',
  ...Array.from({ length: 38 }, (_, i) => `  x += ${i};`),
  '  return x;',
  '}',
  '',
  'export function neverCalled(): string { return "dead"; }',
  '',
].join('\n');

/** The checkout, and `write(counts)` to write one process's coverage with the given call count per function. */
function checkout() {
  const root = mkdtempSync(join(tmpdir(), 'xcp-gate-'));
  execFileSync('git', ['init', '-q'], { cwd: root });
  mkdirSync(join(root, 'recovery-hooks/store'), { recursive: true });
  writeFileSync(join(root, FILE), SOURCE);
  const out = ts.transpileModule(SOURCE, {
    fileName: FILE,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true },
  });
  const js = out.outputText;
  const parsed = ts.createSourceFile('sample.js', js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const fns = parsed.statements.filter(ts.isFunctionDeclaration).map((f) => ({ name: f.name!.text, start: f.getStart(), end: f.getEnd() }));
  const url = pathToFileURL(join(root, FILE)).href;
  const write = (counts: Record<string, number>) => {
    mkdirSync(join(root, '.tap/coverage'), { recursive: true });
    const functions = [
      { functionName: '', isBlockCoverage: true, ranges: [{ startOffset: 0, endOffset: js.length, count: 1 }] },
      ...fns.map((f) => ({ functionName: f.name, isBlockCoverage: true, ranges: [{ startOffset: f.start, endOffset: f.end, count: counts[f.name] ?? 0 }] })),
    ];
    const coverage = {
      result: [{ scriptId: '1', url, functions }],
      'source-map-cache': { [url]: { lineLengths: js.split('\n').map((l) => l.length), data: JSON.parse(out.sourceMapText!) } },
    };
    writeFileSync(join(root, '.tap/coverage/process-1.json'), JSON.stringify(coverage));
  };
  return { root, write, functions: fns.map((f) => f.name) };
}

const gate = (root: string) => spawnSync(process.execPath, [GATE, '--root', root, '--list'], { encoding: 'utf8' });

t.test('one function that never ran fails the gate, though the lines clear every floor', async (t) => {
  const c = checkout();
  t.teardown(() => rmSync(c.root, { recursive: true, force: true }));
  t.same(c.functions, ['covered', 'neverCalled'], 'the transpiled sample has both functions');
  c.write({ covered: 1, neverCalled: 0 });
  const r = gate(c.root);
  t.equal(r.status, 1, r.stdout + r.stderr);
  t.match(r.stdout, /100% +44 +recovery-hooks\/store\/sample\.ts/, 'the file is measured with its real lines, and they all count as covered');
  t.match(r.stdout, /safety-critical recovery .*: 100% of 44 lines in 1 files .*; 1\/2 functions ran \(every one must\)/);
  t.match(
    r.stderr,
    /coverage gate FAILED:\n {2}recovery-hooks\/store\/sample\.ts:45:1 neverCalled — `export function neverCalled\(\): string \{ return "dead"; \}` never ran/,
  );
  t.notMatch(r.stderr, /% of lines|% </, 'no line floor fails: the function check alone catches it');
});

t.test('once every function ran, the gate passes', async (t) => {
  const c = checkout();
  t.teardown(() => rmSync(c.root, { recursive: true, force: true }));
  c.write({ covered: 3, neverCalled: 1 });
  const r = gate(c.root);
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, /100% +44 +recovery-hooks\/store\/sample\.ts/);
  t.match(r.stdout, /2\/2 functions ran \(every one must\)/);
  t.match(r.stdout, /coverage gate ok/);
});

t.test('a file that reports one line or none fails the gate: the measurement is broken', async (t) => {
  const c = checkout();
  t.teardown(() => rmSync(c.root, { recursive: true, force: true }));
  c.write({ covered: 1, neverCalled: 1 });
  writeFileSync(join(c.root, 'recovery-hooks/store/other.ts'), 'export const answer = 42;\n');
  const r = gate(c.root);
  t.equal(r.status, 1);
  t.match(r.stderr, /recovery-hooks\/store\/other\.ts: not loaded by any test \(no coverage at all\)/);
});

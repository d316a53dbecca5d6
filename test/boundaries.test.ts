// Import boundaries: which part of the tree may import which. Dependencies go one way: core/ (shared contracts,
// clients, config primitives, the /rrd_updates reader) uses no part; the parts (exporter, recovery-hooks, simulator,
// rules, grafana) use core and never run one another's code; cli/ is the composition root that puts the parts
// together (the bundle config lives there). Nothing shipped, and no developer tool (bench/, scripts/,
// grafana/preview/, which starts a whole stack), imports test/.
//
// A type-only import from another part (erased at compile time, no code runs) is allowed: a contract a part
// implements may be declared by its consumer. So the simulator, which stands in for the pool the recovery hook acts
// on, may implement the recovery hook's Fencer, but never runs its code: it would test that code against itself.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Import {
  from: string;
  /** Repository-relative path of the imported module (relative specifiers only). */
  to: string;
  /** Erased at compile time: `import type`, `export type`, or every named binding `type`. */
  typeOnly: boolean;
}

const top = (file: string) => file.split('/')[0]!;
const SHIPPED = ['cli', 'core', 'exporter', 'recovery-hooks', 'simulator', 'rules', 'grafana'];
const PARTS = ['exporter', 'recovery-hooks', 'simulator', 'rules', 'grafana'];
/** Developer tools inside a part's folder, not shipped (tsconfig.build.json leaves them out). */
const TOOL_IN_PART = /^grafana\/preview\//;

/** The rules; each returns why `i` breaks it, or undefined. */
const RULES: { name: string; check(i: Import): string | undefined }[] = [
  {
    name: 'core/ uses no part',
    check: (i) => (top(i.from) === 'core' && top(i.to) !== 'core' ? `core imports ${top(i.to)}/` : undefined),
  },
  {
    name: 'shipped code and developer tools never import test/',
    check: (i) => (top(i.from) !== 'test' && top(i.to) === 'test' ? `${top(i.from)}/ imports test/` : undefined),
  },
  {
    name: "a part does not run another part's code",
    check: (i) =>
      PARTS.includes(top(i.from)) && PARTS.includes(top(i.to)) && top(i.from) !== top(i.to) && !i.typeOnly && !TOOL_IN_PART.test(i.from)
        ? `${top(i.from)}/ imports ${top(i.to)}/ at run time`
        : undefined,
  },
  {
    name: 'only the composition root (cli/) and developer tools import cli/',
    check: (i) =>
      ['core', 'exporter', 'recovery-hooks', 'simulator', 'rules'].includes(top(i.from)) && top(i.to) === 'cli' ? `${top(i.from)}/ imports cli/` : undefined,
  },
];

/** Every relative import (static, re-export, dynamic `import()`) of one TypeScript source. */
function importsOf(file: string, text: string): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    out.push({ from: file, to: normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier.text, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** "file: rule: reason" for every import that breaks a rule. */
function violations(files: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of Object.entries(files))
    for (const i of importsOf(file, text))
      for (const r of RULES) {
        const why = r.check(i);
        if (why) out.push(`${file}: ${r.name}: ${why} (${i.to})`);
      }
  return out;
}

function sources(): Record<string, string> {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: ROOT, encoding: 'utf8' });
  const files = listed.split('\n').filter((f) => f && [...SHIPPED, 'bench', 'scripts', 'test'].includes(top(f)));
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
}

t.test('the tree keeps its import boundaries', async (t) => {
  const files = sources();
  t.ok(Object.keys(files).length > 100, `read ${Object.keys(files).length} sources`);
  t.ok(
    Object.keys(files).some((f) => f.startsWith('core/')),
    'core/ is among them',
  );
  t.same(violations(files), [], 'no import crosses a boundary');
});

t.test('each rule catches what it forbids, and lets the rest through', async (t) => {
  const bad = {
    'core/config/bundle.ts': "import { exporterSchema } from '../../exporter/config.js';",
    'core/fencing.ts': "import type { FencingConfig } from '../recovery-hooks/config.js';",
    'grafana/preview/main.ts': "import { startStack } from '../../test/grafana/helpers/stack.js';",
    'bench/intake.ts': "const { startPostgres } = await import('../test/helpers/postgres.js');",
    'simulator/bmc.ts': "import { FenceError, type Fencer } from '../recovery-hooks/workflows/fence.js';",
    'simulator/reexport.ts': "export { FenceError } from '../recovery-hooks/workflows/fence.js';",
    'recovery-hooks/workflows/host-domains.ts': "import { fetchRrdUpdates } from '../../exporter/rrd/fetch.js';",
    'grafana/src/panels.ts': "import { FAMILIES } from '../../exporter/metrics/declare.js';",
    'exporter/main.ts': "import { parseConfig } from '../cli/config/bundle.js';",
  };
  const found = violations(bad);
  t.equal(found.length, Object.keys(bad).length, found.join('\n'));
  for (const file of Object.keys(bad))
    t.ok(
      found.some((v) => v.startsWith(`${file}:`)),
      `${file} is reported`,
    );
  const fine = {
    'simulator/bmc.ts':
      "import type { Fencer } from '../recovery-hooks/workflows/fence.js';\nimport { type PowerStatus } from '../recovery-hooks/workflows/fence.js';",
    'simulator/types.ts': "export type { Fencer } from '../recovery-hooks/workflows/fence.js';",
    'test/helpers/postgres.ts': "export { startPostgres } from '../../bench/lib/postgres.js';",
    'cli/config/bundle.ts': "import { exporterSchema } from '../../exporter/config.js';",
    'grafana/preview/stack.ts': "import { startExporter } from '../../exporter/main.js';",
    'recovery-hooks/workflows/host-domains.ts': "import type { RrdUpdate } from '../../exporter/rrd/parse.js';",
    'core/net.ts': "import net from 'node:net';\nimport { sleep } from './concurrency.js';",
  };
  t.same(violations(fine), [], 'type-only imports, test/ importing anything, cli/ composing the parts, a developer tool starting a stack, packages');
});

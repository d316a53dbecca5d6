// A tiny, logic-less template syntax (a subset of Mustache), so operators can edit messages without touching code:
//   {{name}} {{a.b}}      a value (null/undefined → empty; lists joined with ", "); HTML-escaped in HTML templates
//   {{#name}}…{{/name}}   shown when name is truthy (repeated for each item of a list, with the item's keys in scope)
//   {{^name}}…{{/name}}   shown when name is falsy or an empty list
//   {{.}}                 the current list item
//   {{> partial}}         another template (from _partials/, same kind)
//   {{! comment }}
// There is no raw output, no code and no helpers: a template can only show data, so it can never inject markup
// into an HTML mail. A tag alone on its line takes the line with it, so text templates stay readable.

export type Mode = 'text' | 'html';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; path: string[] }
  | { kind: 'section'; path: string[]; inverted: boolean; children: Node[] }
  /** `ownLine`: the tag stood alone on its line, so the partial's output ends that line. */
  | { kind: 'partial'; name: string; ownLine: boolean };

export class TemplateError extends Error {
  override name = 'TemplateError';
}

interface Token {
  kind: 'text' | 'value' | 'open' | 'inverted' | 'close' | 'partial' | 'comment';
  text: string;
  line: number;
  standalone?: boolean;
}

const TAG = /\{\{([\s\S]*?)\}\}/g;
const NAME = /^(\.|[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*)$/;

function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  const lineAt = (i: number) => source.slice(0, i).split('\n').length;
  for (const m of source.matchAll(TAG)) {
    if (m.index > last) tokens.push({ kind: 'text', text: source.slice(last, m.index), line: lineAt(last) });
    const body = m[1]!;
    const sigil = body[0] === '!' ? '!' : /^[#^/>]/.test(body) ? body[0]! : '';
    const name = sigil === '!' ? '' : body.slice(sigil.length).trim();
    const line = lineAt(m.index);
    if (sigil !== '!' && !NAME.test(name))
      throw new TemplateError(`${file}:${line}: bad tag {{${body}}}: a tag is {{name}}, {{#name}}, {{^name}}, {{/name}}, {{> partial}} or {{! comment}}`);
    const kind = ({ '': 'value', '#': 'open', '^': 'inverted', '/': 'close', '>': 'partial', '!': 'comment' } as const)[
      sigil as '' | '#' | '^' | '/' | '>' | '!'
    ];
    tokens.push({ kind, text: name, line });
    last = m.index + m[0].length;
  }
  if (last < source.length) tokens.push({ kind: 'text', text: source.slice(last), line: lineAt(last) });
  const stray = tokens.find((t) => t.kind === 'text' && /\{\{|\}\}/.test(t.text));
  if (stray) throw new TemplateError(`${file}:${stray.line}: unbalanced {{ or }}`);
  return stripStandalone(tokens);
}

/** Mustache's standalone rule: a non-value tag alone on its line removes that line's whitespace and newline. */
function stripStandalone(tokens: Token[]): Token[] {
  // Decide on the original text first: stripping one tag's line must not hide the next tag's line start.
  const standalone = tokens.map((t, i) => {
    if (t.kind === 'text' || t.kind === 'value') return false;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    const lineStart = !before || (before.kind === 'text' && (i === 1 ? /(^|\n)[ \t]*$/ : /\n[ \t]*$/).test(before.text));
    const lineEnd = !after || (after.kind === 'text' && /^[ \t]*(\r?\n|$)/.test(after.text));
    return lineStart && lineEnd;
  });
  tokens.forEach((_t, i) => {
    if (!standalone[i]) return;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    tokens[i]!.standalone = true;
    if (before) before.text = before.text.replace(/[ \t]*$/, '');
    if (after) after.text = after.text.replace(/^[ \t]*(\r?\n)?/, '');
  });
  return tokens;
}

function parse(tokens: Token[], file: string): Node[] {
  const root: Node[] = [];
  const stack: { name: string; line: number; children: Node[] }[] = [{ name: '', line: 0, children: root }];
  for (const t of tokens) {
    const into = stack.at(-1)!.children;
    switch (t.kind) {
      case 'text':
        if (t.text) into.push({ kind: 'text', text: t.text });
        break;
      case 'value':
        into.push({ kind: 'value', path: t.text === '.' ? [] : t.text.split('.') });
        break;
      case 'partial':
        into.push({ kind: 'partial', name: t.text, ownLine: t.standalone === true });
        break;
      case 'open':
      case 'inverted': {
        const children: Node[] = [];
        into.push({ kind: 'section', path: t.text.split('.'), inverted: t.kind === 'inverted', children });
        stack.push({ name: t.text, line: t.line, children });
        break;
      }
      case 'close': {
        const open = stack.pop()!;
        if (stack.length === 0 || open.name !== t.text)
          throw new TemplateError(`${file}:${t.line}: {{/${t.text}}} closes ${open.name ? `{{#${open.name}}} (line ${open.line})` : 'nothing'}`);
        break;
      }
      case 'comment':
        break;
    }
  }
  if (stack.length > 1) throw new TemplateError(`${file}:${stack.at(-1)!.line}: {{#${stack.at(-1)!.name}}} is never closed`);
  return root;
}

export interface Template {
  readonly file: string;
  readonly nodes: Node[];
}

export function compile(source: string, file: string): Template {
  return { file, nodes: parse(tokenize(source, file), file) };
}

/** Names of the partials a template includes (to load them up front). */
export function partialsOf(t: Template): string[] {
  const out: string[] = [];
  const walk = (nodes: Node[]) => {
    for (const n of nodes) {
      if (n.kind === 'partial') out.push(n.name);
      else if (n.kind === 'section') walk(n.children);
    }
  };
  walk(t.nodes);
  return out;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function lookup(stack: unknown[], path: string[]): unknown {
  if (path.length === 0) return stack.at(-1);
  for (let i = stack.length - 1; i >= 0; i--) {
    const scope = stack[i];
    if (scope !== null && typeof scope === 'object' && path[0]! in scope) {
      let v: unknown = scope;
      for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
      return v;
    }
  }
  return undefined;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(show).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function render(t: Template, data: Record<string, unknown>, mode: Mode, partials: (name: string) => Template): string {
  const out: string[] = [];
  const walk = (nodes: Node[], stack: unknown[], depth: number) => {
    if (depth > 20) throw new TemplateError(`${t.file}: partials nest deeper than 20 (a partial includes itself?)`);
    for (const n of nodes) {
      if (n.kind === 'text') out.push(n.text);
      else if (n.kind === 'value') {
        const s = show(lookup(stack, n.path));
        out.push(mode === 'html' ? escapeHtml(s) : s);
      } else if (n.kind === 'partial') {
        const start = out.length;
        walk(partials(n.name).nodes, stack, depth + 1);
        // Partial files lose their final newline (most are used inline); one alone on its line still ends it.
        const last = out.slice(start).join('').at(-1);
        if (n.ownLine && last !== undefined && last !== '\n') out.push('\n');
      } else {
        const v = lookup(stack, n.path);
        const truthy = Array.isArray(v) ? v.length > 0 : Boolean(v);
        if (n.inverted) {
          if (!truthy) walk(n.children, stack, depth);
        } else if (Array.isArray(v)) for (const item of v) walk(n.children, [...stack, item], depth);
        else if (truthy) walk(n.children, typeof v === 'object' ? [...stack, v] : stack, depth);
      }
    }
  };
  walk(t.nodes, [data], 0);
  return out.join('');
}

// A small XML reader for /rrd_updates bodies: elements and text only, no namespaces or DTDs. It gives the shape
// xml2js gives with its defaults (an element with child elements is an object of lists keyed by child name, any
// other element is its text, '' when empty), which is all the /rrd_updates reader needs, at a fraction of the cost.
// Pure; throws XmlError for a document that is not well formed.

export class XmlError extends Error {}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? m;
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

interface Open {
  name: string;
  children: Record<string, unknown[]> | null;
  text: string;
}

/** `{ [rootName]: value }`, or null when the document has no element at all. */
export function readXmlDocument(xml: string): Record<string, unknown> | null {
  const stack: Open[] = [];
  let root: Record<string, unknown> | null = null;
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const text = xml.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += text;
      else if (text.trim()) throw new XmlError(`text outside the root element at ${i}`);
    }
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) i = skipPast(xml, '-->', lt + 4);
    else if (xml.startsWith('<![CDATA[', lt)) {
      const end = skipPast(xml, ']]>', lt + 9);
      const top = stack[stack.length - 1];
      if (!top) throw new XmlError(`CDATA outside the root element at ${lt}`);
      top.text += xml.slice(lt + 9, end - 3);
      i = end;
    } else if (xml[lt + 1] === '?' || xml[lt + 1] === '!') i = skipPast(xml, '>', lt + 2);
    else {
      const gt = tagEnd(xml, lt);
      const closing = xml[lt + 1] === '/';
      const selfClosing = !closing && xml[gt - 1] === '/';
      const name = tagName(xml, closing ? lt + 2 : lt + 1, selfClosing ? gt - 1 : gt);
      if (closing) {
        const open = stack.pop();
        if (!open || open.name !== name) throw new XmlError(`unexpected </${name}> at ${lt}`);
        root = close(open, stack, root);
      } else {
        if (!stack.length && root) throw new XmlError(`a second root element <${name}> at ${lt}`);
        const open: Open = { name, children: null, text: '' };
        if (selfClosing) root = close(open, stack, root);
        else stack.push(open);
      }
      i = gt + 1;
    }
  }
  if (stack.length) throw new XmlError(`unclosed <${stack[stack.length - 1]!.name}> at the end of the document`);
  return root;
}

function close(open: Open, stack: Open[], root: Record<string, unknown> | null): Record<string, unknown> | null {
  const value = open.children ?? decode(open.text);
  const parent = stack[stack.length - 1];
  if (!parent) return { [open.name]: value };
  const children = (parent.children ??= {});
  (children[open.name] ??= []).push(value);
  return root;
}

function skipPast(xml: string, end: string, from: number): number {
  const at = xml.indexOf(end, from);
  if (at < 0) throw new XmlError(`unterminated markup at ${from}`);
  return at + end.length;
}

/** The `>` closing the tag that starts at `lt`, skipping quoted attribute values. */
function tagEnd(xml: string, lt: number): number {
  let quote = 0;
  for (let j = lt + 1; j < xml.length; j++) {
    const c = xml.charCodeAt(j);
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) quote = c;
    else if (c === 62) return j;
    else if (c === 60) break;
  }
  throw new XmlError(`unterminated tag at ${lt}`);
}

/** The element name of a tag's inside (attributes are ignored). */
function tagName(xml: string, from: number, to: number): string {
  let j = from;
  while (j < to) {
    const c = xml.charCodeAt(j);
    if (c <= 32 || c === 47) break;
    j++;
  }
  if (j === from) throw new XmlError(`a tag without a name at ${from - 1}`);
  return xml.slice(from, j);
}

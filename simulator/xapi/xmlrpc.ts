// XML-RPC as XAPI speaks it on `/` and `/RPC2`: every answer is a struct {Status, Value | ErrorDescription};
// XAPI sends int64 values as strings, floats as <double>, booleans as <boolean>.
import { parseStringPromise } from 'xml2js';
import { ProtocolError } from '../../core/errors.js';
import type { XapiValue } from '../model/types.js';

type Node = string | { [k: string]: Node[] | string | undefined; _?: string };

function decodeValue(v: Node): unknown {
  if (typeof v === 'string') return v;
  const keys = Object.keys(v).filter((k) => k !== '_' && k !== '$');
  if (keys.length === 0) return v._ ?? '';
  const key = keys[0]!;
  const inner = (v[key] as Node[])[0] ?? '';
  const text = typeof inner === 'string' ? inner : (inner._ ?? '');
  switch (key) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8':
      return Number(text);
    case 'double':
      return Number(text);
    case 'boolean':
      return text.trim() === '1';
    case 'dateTime.iso8601':
      return text;
    case 'nil':
      return null;
    case 'array': {
      const data = typeof inner === 'string' ? undefined : (inner.data as Node[] | undefined)?.[0];
      const values = data && typeof data !== 'string' ? ((data.value as Node[]) ?? []) : [];
      return values.map(decodeValue);
    }
    case 'struct': {
      const members = typeof inner === 'string' ? [] : ((inner.member as Node[]) ?? []);
      const out: Record<string, unknown> = {};
      for (const m of members) {
        if (typeof m === 'string') continue;
        const name = (m.name as Node[])[0];
        out[typeof name === 'string' ? name : (name?._ ?? '')] = decodeValue(((m.value as Node[]) ?? [''])[0]!);
      }
      return out;
    }
    default:
      throw new ProtocolError(`unsupported XML-RPC type <${key}>`);
  }
}

export async function decodeCall(body: string): Promise<{ method: string; params: unknown[] }> {
  let doc: { methodCall?: { methodName?: Node[]; params?: { param?: { value: Node[] }[] }[] } };
  try {
    doc = await parseStringPromise(body, { explicitArray: true, trim: false });
  } catch (err) {
    throw new ProtocolError(`malformed XML-RPC request: ${(err as Error).message.split('\n')[0]}`);
  }
  const call = doc?.methodCall;
  const name = call?.methodName?.[0];
  if (!call || typeof name !== 'string') throw new ProtocolError('not an XML-RPC methodCall');
  const params = (call.params?.[0]?.param ?? []).map((p) => decodeValue(p.value[0]!));
  return { method: name.trim(), params };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function encodeValue(v: XapiValue): string {
  if (v === null || v === undefined) return '<value></value>';
  if (typeof v === 'string') return `<value>${esc(v)}</value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${v}</double></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join('')}</data></array></value>`;
  return `<value><struct>${Object.entries(v)
    .map(([k, x]) => `<member><name>${esc(k)}</name>${encodeValue(x)}</member>`)
    .join('')}</struct></value>`;
}

export function encodeSuccess(value: XapiValue): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${encodeValue({ Status: 'Success', Value: value })}</param></params></methodResponse>`;
}

export function encodeFailure(code: string, params: string[]): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${encodeValue({ Status: 'Failure', ErrorDescription: [code, ...params] })}</param></params></methodResponse>`;
}

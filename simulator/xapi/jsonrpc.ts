// JSON-RPC v1 and v2 as XAPI answers them at /jsonrpc (doc/content/xen-api/wire-protocol.md).
import { ProtocolError } from '../../core/errors.js';
import type { XapiValue } from '../model/types.js';

export interface JsonRpcCall {
  version: 1 | 2;
  method: string;
  params: unknown[];
  id: unknown;
}

export function decodeJsonRpc(body: string): JsonRpcCall {
  let msg: { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
  try {
    msg = JSON.parse(body);
  } catch {
    throw new ProtocolError('malformed JSON-RPC request');
  }
  if (!msg || typeof msg.method !== 'string') throw new ProtocolError('JSON-RPC request without a method');
  const params = msg.params === undefined ? [] : msg.params;
  if (!Array.isArray(params)) throw new ProtocolError('JSON-RPC params must be an array');
  return { version: msg.jsonrpc === '2.0' ? 2 : 1, method: msg.method, params, id: msg.id ?? null };
}

export function encodeJsonRpcResult(call: JsonRpcCall, result: XapiValue): string {
  return call.version === 2 ? JSON.stringify({ jsonrpc: '2.0', result, id: call.id }) : JSON.stringify({ result, error: null, id: call.id });
}

export function encodeJsonRpcError(call: JsonRpcCall, code: string, params: string[]): string {
  return call.version === 2
    ? JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message: code, data: params }, id: call.id })
    : JSON.stringify({ result: null, error: [code, ...params], id: call.id });
}

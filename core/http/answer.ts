// Answers written straight on node:http, for the routes that skip a framework (the exporter's server, the receiver's
// webhook route).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** `scheme://authority` at the start of an absolute-form request target. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i;

/**
 * The request's path without its query string. A server must accept a target in absolute form as well
 * (`GET http://host:9100/metrics`, RFC 9112 §3.2.2: what a client talking to a proxy sends), whose path is the part
 * after the authority, `/` when there is none.
 */
export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const authority = url[0] === '/' ? undefined : ABSOLUTE_FORM.exec(url);
  const target = authority ? url.slice(authority[0].length) : url;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  return authority && !path ? '/' : path;
}

/** `body` as JSON with its type and length; the headers alone when `req` is a HEAD request. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, req?: IncomingMessage): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(req?.method === 'HEAD' ? undefined : text);
}

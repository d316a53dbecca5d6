// Answers written straight on node:http, for the routes that skip a framework (the exporter's server, the receiver's
// webhook route).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The request's path without its query string. */
export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** `body` as JSON with its type and length; the headers alone when `req` is a HEAD request. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, req?: IncomingMessage): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(req?.method === 'HEAD' ? undefined : text);
}

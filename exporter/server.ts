// GET /metrics (the pre-rendered snapshot; Prometheus text or OpenMetrics by Accept; gzip when asked; optional
// Bearer token) and GET /health (unauthenticated, per pool and per collector when something is wrong), straight on
// node:http: four paths and two methods need no framework, and Koa with its router cost the exporter's process ~7 MB
// of resident memory (measured: the shipped build at 4 × 40 VMs, three pairs of runs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Secret } from '../core/config/secret.js';
import type { Logger } from '../core/log.js';
import { pathOf, sendJson } from '../core/http/answer.js';
import { tokenMatches } from '../core/tokens.js';
import { acceptsGzip, negotiateFormat } from './accept.js';
import type { Exporter } from './exporter.js';
import { OPENMETRICS_TEXT, PROMETHEUS_TEXT } from './metrics/render.js';
import type { Body } from './snapshot.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

type Route = 'health' | 'metrics';

/**
 * The route of a request's path: also at Xen Orchestra's paths (/openmetrics/…), so a scrape config from XO's
 * documentation works unchanged; in any letter case and with one trailing slash, as the Koa router matched them.
 */
function routeOf(url: string | undefined): Route | undefined {
  let path = pathOf(url).toLowerCase();
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '/metrics' || path === '/openmetrics/metrics') return 'metrics';
  if (path === '/health' || path === '/openmetrics/health') return 'health';
  return undefined;
}

/** A scraper that gives up mid-body (its scrape timeout) closes the response: not an error worth logging. */
const GAVE_UP = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE', 'ECONNRESET']);

export function exporterHandler(exporter: Pick<Exporter, 'snapshot' | 'health'>, logger: Logger, token?: Secret): RequestHandler {
  const failed = (err: unknown, req: IncomingMessage) => {
    if (!GAVE_UP.has((err as NodeJS.ErrnoException).code ?? '')) logger.error('request failed', { method: req.method, url: req.url, error: err });
  };
  return (req, res) => {
    void answer(exporter, token, req, res).catch((err: unknown) => {
      failed(err, req);
      if (!res.headersSent) sendJson(res, 500, { error: 'Internal error' }, {}, req);
      else res.destroy();
    });
    res.on('error', (err) => failed(err, req));
  };
}

async function answer(exporter: Pick<Exporter, 'snapshot' | 'health'>, token: Secret | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = routeOf(req.url);
  if (!route) return sendJson(res, 404, { error: 'Not found' }, {}, req);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { Allow: 'GET, HEAD' }).end();
      return;
    }
    return sendJson(res, 405, { error: `${req.method} is not allowed: GET or HEAD` }, { Allow: 'GET, HEAD' }, req);
  }
  if (route === 'health') {
    const h = exporter.health();
    return sendJson(res, h.ok ? 200 : 503, h.body, {}, req);
  }
  if (token) {
    // XO's answers, so clients written for XO's plugin understand them.
    const header = (req.headers.authorization ?? '').trim();
    if (!header) return sendJson(res, 401, { error: 'Query is not authenticated' }, {}, req);
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !tokenMatches(m[1]!, token.reveal())) return sendJson(res, 401, { error: 'Query authentication does not match server setting' }, {}, req);
  }
  const snap = exporter.snapshot;
  if (!snap) {
    return sendJson(res, 503, { error: 'No metrics collected yet: the first poll is running' }, { 'Retry-After': '5' }, req);
  }
  // Prometheus weighs OpenMetrics above the classic text format when it can parse it.
  const negotiated = negotiateFormat(req.headers.accept);
  if (!negotiated) return sendJson(res, 406, { error: 'Accept refuses both application/openmetrics-text and text/plain' }, {}, req);
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  // Both bodies are made by the poll: a scrape only sends one (a HEAD request, none: its length).
  const body: Body = gzip ? snap.gzip(negotiated) : snap.body(negotiated, req.method !== 'HEAD');
  res.statusCode = 200;
  res.setHeader('Content-Type', negotiated === 'openmetrics' ? OPENMETRICS_TEXT : PROMETHEUS_TEXT);
  res.setHeader('Vary', 'Accept, Accept-Encoding');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', body.length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // A held body in one corked write; a large plain one inflated as it is sent into buffers used again.
  await body.writeTo(res);
}

// GET /metrics (the pre-rendered snapshot; Prometheus text or OpenMetrics by Accept; gzip when asked; optional
// Bearer token) and GET /health (unauthenticated, per pool and per collector when something is wrong).
import Router from '@koa/router';
import Koa from 'koa';
import type { Secret } from '../core/config/secret.js';
import { tokenMatches } from '../core/tokens.js';
import { negotiateFormat } from './accept.js';
import type { Exporter } from './exporter.js';
import { OPENMETRICS_TEXT, PROMETHEUS_TEXT } from './metrics/render.js';
import type { Body } from './snapshot.js';

export function exporterApp(exporter: Exporter, token?: Secret): Koa {
  const app = new Koa();
  const router = new Router();
  // A scraper that gives up mid-body (its scrape timeout) closes the response: not an error worth a stack trace
  // (a streamed body ends early; a body written by writeTo meets the closed socket).
  const GAVE_UP = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE', 'ECONNRESET']);
  app.on('error', (err: NodeJS.ErrnoException) => {
    if (!GAVE_UP.has(err.code ?? '')) app.onerror(err);
  });

  // Also at Xen Orchestra's paths (/openmetrics/…), so a scrape config from XO's documentation works unchanged.
  router.get(['/health', '/openmetrics/health'], (ctx) => {
    const h = exporter.health();
    ctx.status = h.ok ? 200 : 503;
    ctx.body = h.body;
  });

  router.get(['/metrics', '/openmetrics/metrics'], async (ctx) => {
    if (token) {
      // XO's answers, so clients written for XO's plugin understand them.
      const header = ctx.get('authorization').trim();
      if (!header) return json(ctx, 401, { error: 'Query is not authenticated' });
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m || !tokenMatches(m[1]!, token.reveal())) return json(ctx, 401, { error: 'Query authentication does not match server setting' });
    }
    const snap = exporter.snapshot;
    if (!snap) {
      ctx.set('Retry-After', '5');
      return json(ctx, 503, { error: 'No metrics collected yet: the first poll is running' });
    }
    // Prometheus weighs OpenMetrics above the classic text format when it can parse it.
    const negotiated = negotiateFormat(ctx.get('accept'));
    if (!negotiated) return json(ctx, 406, { error: 'Accept refuses both application/openmetrics-text and text/plain' });
    const openMetrics = negotiated === 'openmetrics';
    const gzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    ctx.set('Content-Type', openMetrics ? OPENMETRICS_TEXT : PROMETHEUS_TEXT);
    ctx.set('Vary', 'Accept, Accept-Encoding');
    const format = openMetrics ? 'openmetrics' : 'text';
    // Both bodies are made by the poll: a scrape only sends one.
    const body: Body = gzip ? snap.gzip(format) : snap.body(format);
    if (gzip) ctx.set('Content-Encoding', 'gzip');
    if (body.writeTo && ctx.method === 'GET') {
      // Written here, past Koa's response handling: a held body in one corked write, a large plain one inflated as it
      // is sent into buffers used again.
      ctx.status = 200;
      ctx.length = body.length;
      ctx.respond = false;
      await body.writeTo(ctx.res);
      return;
    }
    ctx.body = body.stream();
    ctx.length = body.length;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => json(ctx, 404, { error: 'Not found' }));
  return app;
}

function json(ctx: Koa.Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.body = body;
}

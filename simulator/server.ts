// The simulated pool on the wire: every host listens on its own loopback address and the same port, as real
// members all answer on 443 at their own host.address. The master answers XAPI (JSON-RPC at /jsonrpc, XML-RPC at
// / and /RPC2); every host serves its own /rrd_updates. Faults change how a host behaves on the wire.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { XapiError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type PluginHandler, dispatch } from './xapi/dispatch.js';
import { decodeJsonRpc, encodeJsonRpcError, encodeJsonRpcResult } from './xapi/jsonrpc.js';
import { decodeCall, encodeFailure, encodeSuccess } from './xapi/xmlrpc.js';
import type { HostRuntime, SimulatedPool } from './pool.js';
import { RrdQueryError, SourceCache, buildWindow, parseRrdQuery } from './rrd/updates.js';
import { renderRrdUpdates } from './rrd/render.js';

export interface SimServerOptions {
  port: number;
  tls?: { cert: string; key: string };
  logger: Logger;
  plugins?: Map<string, PluginHandler>;
}

interface HostListener {
  host: HostRuntime;
  server: http.Server;
  sockets: Set<Socket>;
  listening: boolean;
}

const MAX_BODY = 4 * 1024 * 1024;

export class SimServer {
  private readonly listeners: HostListener[] = [];
  private readonly cache: SourceCache;
  readonly plugins: Map<string, PluginHandler>;
  private stopped = false;
  /** The one port every host listens on (0 until chosen). */
  port: number;

  constructor(
    readonly pool: SimulatedPool,
    readonly options: SimServerOptions,
  ) {
    this.cache = new SourceCache(pool.store, pool.options.size.hostCpus, pool.agents, pool.truth);
    this.plugins = options.plugins ?? new Map();
    this.port = options.port;
  }

  get scheme(): 'http' | 'https' {
    return this.options.tls ? 'https' : 'http';
  }

  /** The pool's XAPI URL (the master's address). */
  get url(): string {
    return this.urlOf(this.pool.master);
  }

  urlOf(h: HostRuntime): string {
    return `${this.scheme}://${h.address}:${this.port}`;
  }

  async start(): Promise<void> {
    for (const host of this.pool.hosts) {
      const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(host, req, res);
      const server = this.options.tls ? https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler) : http.createServer(handler);
      server.keepAliveTimeout = 30_000;
      const l: HostListener = { host, server, sockets: new Set(), listening: false };
      server.on('connection', (s: Socket) => {
        l.sockets.add(s);
        s.on('close', () => l.sockets.delete(s));
      });
      this.listeners.push(l);
    }
    if (this.port === 0) {
      // Pick a free port on the master's address; every other host then takes the same one.
      const first = this.listeners[0]!;
      await this.listen(first, 0);
      this.port = (first.server.address() as AddressInfo).port;
    }
    await this.sync();
    this.pool.onWireChange = () => void this.sync();
    this.pool.start();
  }

  private async listen(l: HostListener, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      l.server.once('error', reject);
      l.server.listen(port, l.host.address, () => {
        l.server.off('error', reject);
        resolve();
      });
    });
    l.listening = true;
  }

  /** Bring every listener in line with its host's state: listening, refusing (closed) or hanging. */
  async sync(): Promise<void> {
    await Promise.all(
      this.listeners.map(async (l) => {
        const refuse = !this.pool.answers(l.host) && this.pool.unansweredMode(l.host) === 'refuse';
        if (refuse || this.stopped) {
          if (l.listening) {
            l.listening = false;
            const closed = new Promise((r) => l.server.close(r));
            for (const s of l.sockets) s.destroy();
            await closed;
          }
          return;
        }
        if (!this.pool.answers(l.host)) for (const s of l.sockets) s.destroy();
        if (!l.listening) await this.listen(l, this.port);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pool.stop();
    await this.sync();
  }

  private async handle(host: HostRuntime, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // A hung host accepts the connection and then says nothing, like a box that stopped mid-flight.
    if (!this.pool.answers(host)) return;
    // A member checks the session in its master's database: it waits while the master does not answer.
    if (
      req.url?.startsWith('/rrd_updates') &&
      !this.pool.roles.isMaster(host) &&
      !(await this.pool.roles.waitForMaster(host, 'rrd_updates').then(
        () => true,
        () => false,
      ))
    )
      return;
    if (host.slowMs) await new Promise((r) => setTimeout(r, host.slowMs));
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/jsonrpc') return await this.jsonRpc(host, req, res);
      if (req.method === 'POST' && (url.pathname === '/' || url.pathname === '/RPC2')) return await this.xmlRpc(host, req, res);
      if (req.method === 'GET' && url.pathname === '/rrd_updates') return this.rrdUpdates(host, req, url, res);
      if (req.method === 'GET' && url.pathname === '/') {
        send(res, 200, 'text/html', '<!doctype html><title>XO Lite</title><p>Simulated XCP-ng host</p>');
        return;
      }
      send(res, 404, 'text/plain', 'Not found');
    } catch (err) {
      this.options.logger.warn('simulator request failed', { host: host.address, path: url.pathname, error: err });
      if (!res.headersSent)
        send(
          res,
          500,
          'text/html',
          '<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again.</body></html>',
        );
    }
  }

  private async call(host: HostRuntime, method: string, params: unknown[]) {
    return dispatch({ pool: this.pool, on: host, plugins: this.plugins }, method, params);
  }

  private async jsonRpc(host: HostRuntime, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    let call: ReturnType<typeof decodeJsonRpc>;
    try {
      call = decodeJsonRpc(body);
    } catch {
      return send(res, 500, 'text/html', '<html><body><h1>HTTP 500 internal server error</h1></body></html>');
    }
    try {
      const result = await this.call(host, call.method, call.params);
      send(res, 200, 'application/json', encodeJsonRpcResult(call, result));
    } catch (err) {
      if (!(err instanceof XapiError)) throw err;
      send(res, 200, 'application/json', encodeJsonRpcError(call, err.code, err.params));
    }
  }

  private async xmlRpc(host: HostRuntime, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    let call: Awaited<ReturnType<typeof decodeCall>>;
    try {
      call = await decodeCall(body);
    } catch {
      return send(res, 500, 'text/html', '<html><body><h1>HTTP 500 internal server error</h1></body></html>');
    }
    try {
      const result = await this.call(host, call.method, call.params);
      send(res, 200, 'text/xml', encodeSuccess(result));
    } catch (err) {
      if (!(err instanceof XapiError)) throw err;
      send(res, 200, 'text/xml', encodeFailure(err.code, err.params));
    }
  }

  private rrdUpdates(host: HostRuntime, req: http.IncomingMessage, url: URL, res: http.ServerResponse): void {
    const session = url.searchParams.get('session_id') ?? /(?:^|;\s*)session_id=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (!session || !this.pool.sessions.has(session)) {
      send(res, 401, 'text/html', '<html><body><h1>HTTP 401 unauthorised</h1></body></html>');
      return;
    }
    let query: ReturnType<typeof parseRrdQuery>;
    try {
      query = parseRrdQuery(url.searchParams);
    } catch (err) {
      if (err instanceof RrdQueryError) {
        send(res, 400, 'text/html', `<html><body><h1>HTTP 400 bad request</h1>${err.message}</body></html>`);
        return;
      }
      throw err;
    }
    const window = buildWindow(this.pool.store, this.cache, host.ref, query, Date.now() / 1000, this.pool.rrdGaps);
    const json = prefersJson(req.headers.accept, url.searchParams.has('json'));
    const shape = json ? this.pool.options.rrdShape : 'xml';
    // The legacy generator indexed the last row unconditionally: an empty window was a server-side exception.
    if (shape === 'legacy' && window.rows.length === 0) {
      send(res, 500, 'text/html', '<html><body><h1>HTTP 500 internal server error</h1></body></html>');
      return;
    }
    let body = renderRrdUpdates(window, shape);
    if (host.malformed) body = body.slice(0, Math.floor(body.length / 2));
    res.setHeader('Access-Control-Allow-Origin', '*');
    send(res, 200, json ? 'application/json' : 'text/xml', body);
  }
}

// XAPI's client_prefers_json: a usable Accept header decides (any type → JSON); otherwise the `json` key does.
export function prefersJson(accept: string | undefined, jsonKey: boolean): boolean {
  if (accept) {
    const types = accept.split(',').map((p) => {
      const [type, ...params] = p.trim().split(';');
      const q = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
      return { type: type!.trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1 };
    });
    const score = (t: string) =>
      Math.max(0, ...types.filter((x) => x.type === t || x.type === '*/*' || x.type === `${t.split('/')[0]}/*`).map((x) => x.q + (x.type === t ? 0.001 : 0)));
    const j = score('application/json');
    const x = score('text/xml');
    if (j > 0 || x > 0) return j >= x;
  }
  return jsonKey;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.destroy();
        reject(new Error('request body too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

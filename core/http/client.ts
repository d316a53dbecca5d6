// A small HTTP(S) client over node:http: a deadline on every request, keep-alive, and TLS that is safe with
// the self-signed certificates XCP-ng hosts ship (CA file, or SHA-256 fingerprint pinning; `insecure` only
// when asked).
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { HttpError, TimeoutError, TlsPinError } from '../errors.js';
import { type BodyPool, type BodySink, ConcatSink, PooledSink } from './body-pool.js';

export interface TlsOptions {
  /** Skip certificate verification entirely. */
  insecure?: boolean;
  /** PEM CA bundle (contents, not path). */
  ca?: string | Buffer;
  /** Accept exactly this certificate: SHA-256 fingerprint, hex with or without colons. */
  fingerprint?: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Deadline for the whole exchange, connect to last byte. */
  timeoutMs: number;
  /** Refuse bodies larger than this (bytes). */
  maxBodyBytes?: number;
  signal?: AbortSignal;
}

export function normaliseFingerprint(fp: string): string {
  return fp
    .replace(/^sha256:/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase();
}

/** One agent per target (scheme + TLS settings), reused across requests. */
export class HttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(tls: TlsOptions = {}, maxSockets = 8) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    const pinned = tls.fingerprint ? normaliseFingerprint(tls.fingerprint) : undefined;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      ca: tls.ca,
      // With a pinned fingerprint the chain is not checked against CAs: the pin is the trust anchor.
      rejectUnauthorized: !(tls.insecure || pinned),
      // Only override the name check when the pin (or `insecure`) replaces it; undefined would disable Node's default.
      ...(pinned || tls.insecure ? { checkServerIdentity: () => undefined } : {}),
    });
    if (pinned) {
      const create = this.httpsAgent.createConnection.bind(this.httpsAgent);
      // Checked on 'secureConnect', which Node emits before any queued request bytes are written.
      (this.httpsAgent as unknown as { createConnection: typeof create }).createConnection = (opts, cb) => {
        const socket = create(opts, cb) as TLSSocket;
        socket.once('secureConnect', () => {
          const actual = normaliseFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
          if (actual !== pinned) socket.destroy(new TlsPinError(String(opts?.host ?? ''), pinned, actual));
        });
        return socket;
      };
    }
  }

  request(url: string | URL, opts: RequestOptions): Promise<HttpResponse> {
    return this.exchange(url, opts, new ConcatSink());
  }

  /** `request`, the body read into a buffer of `pool` and given to `read`, which must not keep it (nor any view into
   * it): the buffer is reused as soon as `read` returns. */
  async read<T>(url: string | URL, opts: RequestOptions, pool: BodyPool, read: (res: HttpResponse) => T): Promise<T> {
    const sink = new PooledSink(pool, opts.maxBodyBytes || undefined);
    try {
      return read(await this.exchange(url, opts, sink));
    } finally {
      sink.release();
    }
  }

  private exchange(url: string | URL, opts: RequestOptions, sink: BodySink): Promise<HttpResponse> {
    const target = typeof url === 'string' ? new URL(url) : url;
    const isHttps = target.protocol === 'https:';
    const lib = isHttps ? https : http;
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (body) headers['content-length'] = String(body.length);
    const safeUrl = `${target.protocol}//${target.host}${target.pathname}`;

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, res?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      };
      const req = lib.request(target, {
        method: opts.method ?? 'GET',
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
      });
      const timer = setTimeout(() => {
        const err = new TimeoutError(`${opts.method ?? 'GET'} ${safeUrl}`, opts.timeoutMs);
        req.destroy(err);
        finish(err);
      }, opts.timeoutMs);
      const onAbort = () => {
        const err = new HttpError(`request to ${safeUrl} aborted`, undefined, safeUrl);
        req.destroy(err);
        finish(err);
      };
      opts.signal?.addEventListener('abort', onAbort);
      req.on('error', (err) => finish(err instanceof TlsPinError || err instanceof TimeoutError ? err : wrapNetError(err, safeUrl)));
      req.on('response', (res) => {
        let size = 0;
        sink.expect?.(Number(res.headers['content-length']));
        res.on('data', (c: Buffer) => {
          // After a timeout or an abort the sink's buffer may be someone else's: nothing more goes into it.
          if (settled) return;
          size += c.length;
          if (opts.maxBodyBytes && size > opts.maxBodyBytes) {
            const err = new HttpError(`response from ${safeUrl} exceeds ${opts.maxBodyBytes} bytes`, res.statusCode, safeUrl);
            req.destroy(err);
            finish(err);
            return;
          }
          sink.add(c);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: sink.body() }));
        res.on('error', (err) => finish(wrapNetError(err, safeUrl)));
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function wrapNetError(err: Error, url: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const e = new HttpError(`${url}: ${code ?? err.message}`, undefined, url);
  (e as unknown as { code?: string }).code = code;
  return e;
}

// Typed errors shared by every part. Each carries what an operator needs to act on it, never a secret.
import { HostKeyError, SshAuthError } from './ssh/errors.js';

/** An error answered by XAPI: `code` is XAPI's error code (e.g. HOST_IS_SLAVE), `params` its parameters. */
export class XapiError extends Error {
  override name = 'XapiError';
  constructor(
    readonly code: string,
    readonly params: string[],
    readonly method: string,
  ) {
    super(`${method}: ${code}${params.length ? ' ' + JSON.stringify(params) : ''}`);
  }
}

/** A network call that did not finish in time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} timed out after ${timeoutMs} ms`);
  }
}

/** An HTTP answer we cannot use (non-2xx, or a transport failure before any answer). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    message: string,
    readonly status?: number,
    readonly url?: string,
  ) {
    super(message);
  }
}

/** The peer's TLS certificate does not match the pinned fingerprint. */
export class TlsPinError extends Error {
  override name = 'TlsPinError';
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`TLS certificate of ${host} has fingerprint ${actual}, expected ${expected}`);
  }
}

/** A response that does not have the shape the protocol promises. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Classify an error into a small fixed set, for `errors_total{kind}` labels. */
export function errorKind(err: unknown): 'timeout' | 'auth' | 'tls' | 'http' | 'xapi' | 'parse' | 'connection' | 'other' {
  if (err instanceof TimeoutError) return 'timeout';
  // A pinned peer identity did not match: a TLS certificate, or an SSH host key (no separate kind, so every
  // errors_total{kind} series exists from the start and dashboards need no change).
  if (err instanceof TlsPinError || err instanceof HostKeyError) return 'tls';
  if (err instanceof SshAuthError) return 'auth';
  if (err instanceof XapiError) return err.code === 'SESSION_AUTHENTICATION_FAILED' ? 'auth' : 'xapi';
  if (err instanceof HttpError) return err.status === 401 ? 'auth' : err.status ? 'http' : 'connection';
  if (err instanceof ProtocolError || err instanceof SyntaxError) return 'parse';
  const code = (err as { code?: string } | undefined)?.code;
  if (typeof code === 'string') {
    if (/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN)$/.test(code)) return 'connection';
    if (/CERT|SSL|TLS/.test(code)) return 'tls';
  }
  return 'other';
}

/** An error message with the Node/library code in front when there is one: "ECONNREFUSED: connect …". */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

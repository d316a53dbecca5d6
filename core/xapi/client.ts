// The XAPI client shared by the exporter and the recovery hooks: one session per pool, logged in on the master
// over JSON-RPC v2. Follows HOST_IS_SLAVE to the master, logs in again once on SESSION_INVALID or HTTP 401, and
// puts a deadline on every call. The login deadline is above XAPI's 5 s delay on failed logins, so a wrong
// password reports SESSION_AUTHENTICATION_FAILED, not a timeout. After a refused login the next attempt waits a
// backoff (10 s doubling to 5 min) unless the password file now holds another password: it is read again before
// each login, so fixing it needs no restart.
import { HttpError, ProtocolError, XapiError } from '../errors.js';
import { HttpClient, type TlsOptions } from '../http/client.js';
import type { Logger } from '../log.js';
import type { Secret } from '../config/secret.js';
import type { PoolConfig } from '../config/pool.js';

export const ORIGINATOR = 'xcp-sentinel';

export interface XapiClientOptions {
  /** The pool master's URL (any member also works: HOST_IS_SLAVE is followed). */
  url: string;
  username: string;
  password: Secret;
  tls?: TlsOptions;
  loginTimeoutMs?: number;
  callTimeoutMs?: number;
  /** Stable, so XAPI's per-originator session accounting sees one client. */
  originator?: string;
  logger?: Logger;
}

/** The one call every user of XAPI needs; workflows and collectors depend on this, not on the class. */
export interface XapiCaller {
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
}

const MAX_REDIRECTS = 3;
const AUTH_BACKOFF_FIRST_MS = 10_000;
const AUTH_BACKOFF_MAX_MS = 300_000;

/** The last refused login: no new attempt with the same password before `until`. */
interface AuthBackoff {
  until: number;
  delayMs: number;
  error: XapiError;
  refused: string;
}

/**
 * What one host's XAPI said to a login (XapiClient.probe): it is a master (accepted the login), a member naming its
 * master (HOST_IS_SLAVE), another XAPI error (e.g. a member in emergency mode: its toolstack answers all the same),
 * or nothing usable (timeout, refused, not XAPI).
 */
export type ProbeResult = { state: 'master' } | { state: 'member'; master: string } | { state: 'answers'; code: string } | { state: 'silent'; error: Error };

export class XapiClient implements XapiCaller {
  readonly http: HttpClient;
  private base: URL;
  private session?: string;
  private loggingIn?: Promise<string>;
  private nextId = 1;
  private readonly loginTimeoutMs: number;
  private readonly callTimeoutMs: number;
  /** Aborted when the client moves to another master: calls still waiting on the old one end at once. */
  private moved = new AbortController();
  private password: Secret;
  private authBackoff?: AuthBackoff;

  constructor(private readonly o: XapiClientOptions) {
    this.base = new URL(o.url);
    this.http = new HttpClient(o.tls ?? {});
    this.loginTimeoutMs = o.loginTimeoutMs ?? 15_000;
    this.callTimeoutMs = o.callTimeoutMs ?? 30_000;
    this.password = o.password;
  }

  static forPool(pool: PoolConfig, logger?: Logger): XapiClient {
    return new XapiClient({
      url: pool.url,
      username: pool.username,
      password: pool.password,
      tls: pool.tls,
      loginTimeoutMs: pool.timeouts.loginMs,
      callTimeoutMs: pool.timeouts.callMs,
      logger: logger?.child({ pool: pool.name }),
    });
  }

  /** The master's base URL, e.g. `https://10.0.0.1` (changes when a redirect is followed). */
  get masterUrl(): string {
    return this.base.origin;
  }

  get sessionId(): string | undefined {
    return this.session;
  }

  /** URL of an HTTP handler on a pool member: same scheme and port as the master, the member's address. */
  hostUrl(address: string, path: string): URL {
    const u = new URL(this.base.origin);
    u.hostname = address.includes(':') ? `[${address}]` : address;
    u.pathname = path;
    return u;
  }

  /** Follow a new master at `address` (found by probing the members): drop the session, end the calls still
   * waiting on the old master, log in there on the next call. */
  follow(address: string): void {
    this.base = this.hostUrl(address, '/');
    this.session = undefined;
    this.endPendingCalls();
    this.o.logger?.info('XAPI following the new pool master', { master: this.masterUrl });
  }

  /** End every call still waiting for an answer (e.g. sent to a master that hung and was rebooted since: its
   * connection will never answer); they fail with an HttpError and can be made again. */
  endPendingCalls(): void {
    this.moved.abort();
    this.moved = new AbortController();
  }

  /**
   * Ask the XAPI of one host (by address) who it is, with a login: a member refuses with HOST_IS_SLAVE before
   * checking the password, which proves its toolstack answers; a master accepts (the session is closed again).
   * Never follows redirects, never throws.
   */
  async probe(address: string, timeoutMs: number): Promise<ProbeResult> {
    const base = this.hostUrl(address, '/');
    try {
      const session = await this.rpc<string>(
        'session.login_with_password',
        [this.o.username, this.password.reveal(), '1.0', this.o.originator ?? ORIGINATOR],
        timeoutMs,
        base,
      );
      await this.rpc('session.logout', [session], timeoutMs, base).catch(() => undefined);
      return { state: 'master' };
    } catch (err) {
      if (err instanceof XapiError)
        return err.code === 'HOST_IS_SLAVE' && err.params[0] ? { state: 'member', master: err.params[0] } : { state: 'answers', code: err.code };
      return { state: 'silent', error: err as Error };
    }
  }

  /**
   * One call on one host's XAPI (by address), outside the pool session: the local logins and emergency calls of a
   * master failover (session.slave_local_login_with_password, then pool.emergency_* with that session). Never
   * follows redirects.
   */
  callAt<T = unknown>(address: string, method: string, params: unknown[], timeoutMs: number): Promise<T> {
    return this.rpc<T>(method, params, timeoutMs, this.hostUrl(address, '/'));
  }

  async login(): Promise<string> {
    // Concurrent callers share one login.
    this.loggingIn ??= this.doLogin().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  /** The login was refused for its credentials and the backoff before the next attempt runs. */
  get loginRefused(): boolean {
    return this.authBackoff !== undefined;
  }

  private async doLogin(): Promise<string> {
    const password = this.password.reread();
    const backoff = this.authBackoff;
    if (backoff && Date.now() < backoff.until && password.reveal() === backoff.refused) throw backoff.error;
    this.password = password;
    for (let redirects = 0; ; redirects++) {
      try {
        const ref = await this.rpc<string>(
          'session.login_with_password',
          [this.o.username, password.reveal(), '1.0', this.o.originator ?? ORIGINATOR],
          this.loginTimeoutMs,
        );
        this.session = ref;
        this.authBackoff = undefined;
        this.o.logger?.info('XAPI session opened', { master: this.masterUrl });
        return ref;
      } catch (err) {
        if (err instanceof XapiError && err.code === 'SESSION_AUTHENTICATION_FAILED') {
          const delayMs = backoff ? Math.min(backoff.delayMs * 2, AUTH_BACKOFF_MAX_MS) : AUTH_BACKOFF_FIRST_MS;
          this.authBackoff = { until: Date.now() + delayMs, delayMs, error: err, refused: password.reveal() };
          // Logged by the caller (once per outage); the backoff only at debug level.
          this.o.logger?.debug('XAPI login refused', { master: this.masterUrl, username: this.o.username, retry_in_ms: delayMs });
          throw err;
        }
        if (err instanceof XapiError && err.code === 'HOST_IS_SLAVE' && err.params[0] && redirects < MAX_REDIRECTS) {
          this.o.logger?.info('XAPI host is a pool member, following to the master', { from: this.base.hostname, master: err.params[0] });
          this.base = this.hostUrl(err.params[0], '/');
          continue;
        }
        throw err;
      }
    }
  }

  /** Call `method` with the session prepended. Re-logs-in once if XAPI says the session is gone. */
  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return this.callWithTimeout<T>(this.callTimeoutMs, method, ...params);
  }

  async callWithTimeout<T = unknown>(timeoutMs: number, method: string, ...params: unknown[]): Promise<T> {
    const session = this.session ?? (await this.login());
    try {
      return await this.rpc<T>(method, [session, ...params], timeoutMs);
    } catch (err) {
      const expired = (err instanceof XapiError && err.code === 'SESSION_INVALID') || (err instanceof HttpError && err.status === 401);
      const moved = err instanceof XapiError && err.code === 'HOST_IS_SLAVE' && err.params[0];
      if (!expired && !moved) throw err;
      if (moved) this.base = this.hostUrl((err as XapiError).params[0]!, '/');
      this.o.logger?.info(moved ? 'XAPI master moved, logging in again' : 'XAPI session expired, logging in again', { method });
      if (this.session === session) this.session = undefined;
      const fresh = this.session ?? (await this.login());
      return this.rpc<T>(method, [fresh, ...params], timeoutMs);
    }
  }

  /** Records of a class, by ref. */
  getAllRecords<T = Record<string, unknown>>(cls: string): Promise<Record<string, T>> {
    return this.call<Record<string, T>>(`${cls}.get_all_records`);
  }

  async logout(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) {
      try {
        await this.rpc('session.logout', [session], Math.min(this.callTimeoutMs, 5000));
        this.o.logger?.info('XAPI session closed', { master: this.masterUrl });
      } catch (err) {
        this.o.logger?.warn('XAPI logout failed', { master: this.masterUrl, error: err });
      }
    }
    this.http.close();
  }

  private async rpc<T>(method: string, params: unknown[], timeoutMs: number, base = this.base): Promise<T> {
    const id = this.nextId++;
    const res = await this.http.request(new URL('/jsonrpc', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id }),
      timeoutMs,
      signal: base === this.base ? this.moved.signal : undefined,
    });
    if (res.status === 401) throw new HttpError(`${method}: HTTP 401`, 401, this.masterUrl);
    if (res.status !== 200) throw new HttpError(`${method}: HTTP ${res.status}`, res.status, this.masterUrl);
    let msg: { result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new ProtocolError(`${method}: answer is not JSON`);
    }
    if (msg.error) throw toXapiError(msg.error, method);
    if (!('result' in msg)) throw new ProtocolError(`${method}: answer has neither result nor error`);
    return msg.result as T;
  }
}

/** JSON-RPC v2 errors are {code, message, data}; v1 errors are [CODE, ...params]. */
function toXapiError(error: unknown, method: string): XapiError {
  if (Array.isArray(error)) return new XapiError(String(error[0]), error.slice(1).map(String), method);
  if (error && typeof error === 'object') {
    const e = error as { message?: unknown; data?: unknown };
    const params = Array.isArray(e.data) ? e.data.map(String) : e.data === undefined ? [] : [String(e.data)];
    return new XapiError(String(e.message ?? 'INTERNAL_ERROR'), params, method);
  }
  return new XapiError('INTERNAL_ERROR', [String(error)], method);
}

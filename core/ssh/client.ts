// Commands on pool hosts over SSH (ssh2): key authentication, the host key pinned (see hostkey.ts), a timeout on
// the connection and on every command, and one connection per host reused for many commands.
//
// A command that outlives its timeout is sent SIGKILL (OpenSSH honours `signal` requests since 7.9), its channel
// is closed, and its connection is retired: OpenSSH keeps a channel open until the command exits, so a hung
// command would otherwise hold one of the connection's sessions (MaxSessions) for ever. Commands already running
// on a retired connection finish there; new ones get a fresh connection.
import { readFileSync } from 'node:fs';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { ProtocolError, TimeoutError } from '../errors.js';
import { SshAuthError } from './errors.js';
import { HostKeyError, type HostKeyPolicy, type SshTarget, checkHostKey } from './hostkey.js';

export interface SshResult {
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface SshOptions {
  user: string;
  port: number;
  /** The private key itself, or `privateKeyFile` (read at each connection, so a rotated key is picked up). */
  privateKey?: string | Buffer;
  privateKeyFile?: string;
  hostKeys: HostKeyPolicy;
  /** TCP connection, key exchange and authentication together. */
  connectTimeoutMs: number;
  /** ssh2 keep-alives on an open connection (default 15 s; three missed ones drop it). */
  keepaliveIntervalMs?: number;
  /** Close a connection that ran nothing for this long (default 5 minutes). */
  idleTimeoutMs?: number;
  /** Per stream; a command printing more fails (default 16 MiB). */
  maxOutputBytes?: number;
}

/** A connection that broke or could not open a channel; errorKind() reads the code as `connection`. */
class SshConnectionError extends Error {
  override name = 'SshConnectionError';
  readonly code = 'ECONNRESET';
}

/** The channel could not be opened (the server closed an idle connection, MaxSessions reached): retried once. */
class ChannelOpenError extends SshConnectionError {
  override name = 'ChannelOpenError';
}

const DEFAULT_KEEPALIVE_MS = 15_000;
const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

interface Connection {
  client: Client;
  inflight: number;
  /** No new command goes here; ended when the last running one finishes. */
  retired: boolean;
  closed: boolean;
  /** At least one command ran on it: a channel failure then may mean the server dropped it while idle. */
  used: boolean;
  /** Fail the running commands when the connection goes away. */
  lost: Set<(err: Error) => void>;
  idle?: NodeJS.Timeout;
}

/**
 * ssh2, loaded when a first connection is made: importing it costs a process ~13 MB of RSS (its Poly1305 WebAssembly
 * module's 16 MiB memory among it), which an exporter or receiver that never uses SSH need not pay.
 */
let ssh2Module: Promise<typeof import('ssh2')> | undefined;
const loadSsh2 = () => (ssh2Module ??= import('ssh2'));

/** One host: one connection at a time, opened on first use and reopened after a failure. */
export class SshHostClient {
  private current?: Connection;
  private connecting?: Promise<Connection>;
  private readonly all = new Set<Connection>();
  private closed = false;

  constructor(
    readonly target: SshTarget,
    private readonly options: SshOptions,
  ) {}

  /** Run `command` (through the login shell, like `ssh host command`). Rejects on timeout or transport failure;
   * a non-zero exit status is a result, not an error. */
  async exec(command: string, timeoutMs: number): Promise<SshResult> {
    const conn = await this.connection();
    try {
      return await this.runOn(conn, command, timeoutMs);
    } catch (err) {
      if (!(err instanceof ChannelOpenError) || !conn.used || this.closed) throw err;
      // A reused connection that cannot open a channel is stale: once more on a fresh one.
      this.retire(conn);
      return this.runOn(await this.connection(), command, timeoutMs);
    }
  }

  /** End every connection; running commands fail. */
  async close(): Promise<void> {
    this.closed = true;
    const ending = [...this.all].map((c) => this.end(c, new SshConnectionError(`ssh ${this.target.name}: client closed`)));
    await Promise.all(ending);
    await this.connecting?.catch(() => undefined);
  }

  /** Whether a connection is open now (for tests and /health). */
  get connected(): boolean {
    return Boolean(this.current && !this.current.closed);
  }

  private async connection(): Promise<Connection> {
    if (this.closed) throw new SshConnectionError(`ssh ${this.target.name}: client closed`);
    const c = this.current;
    if (c && !c.closed && !c.retired) return c;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<Connection> {
    const { target, options: o } = this;
    const ssh2 = await loadSsh2();
    if (this.closed) throw new SshConnectionError(`ssh ${target.name}: client closed`);
    return new Promise<Connection>((resolve, reject) => {
      const client = new ssh2.Client();
      const conn: Connection = { client, inflight: 0, retired: false, closed: false, used: false, lost: new Set() };
      let refused: HostKeyError | undefined;
      let ready = false;
      let failed = false;
      const fail = (err: Error) => {
        if (ready || failed) return;
        failed = true;
        clearTimeout(timer);
        conn.closed = true;
        client.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new TimeoutError(`ssh connection to ${target.name} (${target.address}:${o.port})`, o.connectTimeoutMs)),
        o.connectTimeoutMs,
      );
      client.on('ready', () => {
        if (failed) return;
        ready = true;
        clearTimeout(timer);
        if (this.closed) {
          client.end();
          reject(new SshConnectionError(`ssh ${target.name}: client closed`));
          return;
        }
        this.all.add(conn);
        this.current = conn;
        resolve(conn);
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (!ready) {
          if (refused) fail(refused);
          else if (err.level === 'client-authentication') fail(new SshAuthError(target.name, o.user));
          else if (err.level === 'client-timeout') fail(new TimeoutError(`ssh connection to ${target.name} (${target.address}:${o.port})`, o.connectTimeoutMs));
          else fail(err);
          return;
        }
        this.lose(conn, err);
      });
      client.on('close', () => {
        if (!ready) fail(refused ?? new SshConnectionError(`ssh ${target.name}: connection closed during the handshake`));
        else this.lose(conn, new SshConnectionError(`ssh ${target.name}: connection closed`));
      });
      let privateKey: string | Buffer;
      try {
        privateKey = o.privateKey ?? readFileSync(o.privateKeyFile ?? '');
      } catch (err) {
        fail(new Error(`ssh ${target.name}: cannot read the private key ${o.privateKeyFile}: ${(err as NodeJS.ErrnoException).code ?? err}`));
        return;
      }
      const config: ConnectConfig = {
        host: target.address,
        port: o.port,
        username: o.user,
        privateKey,
        readyTimeout: o.connectTimeoutMs,
        keepaliveInterval: o.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const verdict = checkHostKey(o.hostKeys, target, o.port, key);
          if (!verdict.ok) refused = new HostKeyError(target.name, verdict.presented, verdict.reason);
          return verdict.ok;
        },
      };
      try {
        client.connect(config);
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  private runOn(conn: Connection, command: string, timeoutMs: number): Promise<SshResult> {
    const name = this.target.name;
    const max = this.options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    return new Promise<SshResult>((resolve, reject) => {
      clearTimeout(conn.idle);
      conn.inflight++;
      let channel: ClientChannel | undefined;
      let settled = false;
      const finish = (err: Error | undefined, result?: SshResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.lost.delete(finish);
        conn.inflight--;
        if (err) reject(err);
        else resolve(result!);
        this.afterCommand(conn);
      };
      conn.lost.add(finish);
      const timer = setTimeout(() => {
        try {
          channel?.signal('KILL');
          channel?.close();
        } catch {
          // the connection is going away anyway
        }
        this.retire(conn);
        finish(new TimeoutError(`ssh ${name}: ${command}`, timeoutMs));
      }, timeoutMs);
      const onChannel = (err: Error | undefined, ch: ClientChannel) => {
        if (err) return finish(new ChannelOpenError(`ssh ${name}: cannot start "${command}": ${err.message}`));
        if (settled) return void ch.close();
        conn.used = true;
        channel = ch;
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let outSize = 0;
        let errSize = 0;
        let code: number | null = null;
        let signal: string | null = null;
        const tooMuch = () => {
          ch.close();
          finish(new ProtocolError(`ssh ${name}: "${command}" printed more than ${max} bytes`));
        };
        ch.on('error', (e: Error) => finish(new SshConnectionError(`ssh ${name}: "${command}": ${e.message}`)));
        ch.on('data', (d: Buffer) => ((outSize += d.length) > max ? tooMuch() : out.push(d)));
        ch.stderr.on('data', (d: Buffer) => ((errSize += d.length) > max ? tooMuch() : errOut.push(d)));
        ch.on('exit', (c: number | null, sig?: string) => {
          code = typeof c === 'number' ? c : null;
          signal = sig ?? null;
        });
        ch.on('close', () => finish(undefined, { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') }));
      };
      try {
        conn.client.exec(command, onChannel);
      } catch (err) {
        // ssh2 throws synchronously when the socket is already gone.
        finish(new ChannelOpenError(`ssh ${name}: cannot start "${command}": ${(err as Error).message}`));
      }
    });
  }

  private afterCommand(conn: Connection): void {
    if (conn.inflight > 0) return;
    if (conn.retired || this.closed) {
      void this.end(conn);
      return;
    }
    clearTimeout(conn.idle);
    conn.idle = setTimeout(() => this.retire(conn), this.options.idleTimeoutMs ?? DEFAULT_IDLE_MS);
    conn.idle.unref();
  }

  private retire(conn: Connection): void {
    conn.retired = true;
    if (this.current === conn) this.current = undefined;
    if (conn.inflight === 0) void this.end(conn);
  }

  private lose(conn: Connection, err: Error): void {
    if (conn.closed) return;
    conn.closed = true;
    clearTimeout(conn.idle);
    if (this.current === conn) this.current = undefined;
    this.all.delete(conn);
    for (const fail of [...conn.lost]) fail(err);
  }

  private end(conn: Connection, err?: Error): Promise<void> {
    if (conn.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = setTimeout(() => {
        conn.client.destroy();
        resolve();
      }, 2000);
      done.unref();
      conn.client.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      this.lose(conn, err ?? new SshConnectionError(`ssh ${this.target.name}: connection ended`));
      conn.client.end();
    });
  }
}

/** Many hosts, one SshHostClient (so one connection) each. Also the recovery side's `RemoteShell`. */
export class SshClient {
  private readonly hosts = new Map<string, SshHostClient>();

  constructor(readonly options: SshOptions) {}

  host(target: SshTarget): SshHostClient {
    const key = `${target.name}\u0000${target.address}`;
    let h = this.hosts.get(key);
    if (!h) {
      h = new SshHostClient({ name: target.name, address: target.address }, this.options);
      this.hosts.set(key, h);
    }
    return h;
  }

  exec(target: SshTarget, command: string, timeoutMs: number): Promise<SshResult> {
    return this.host(target).exec(command, timeoutMs);
  }

  /** Same as exec: the shape of the recovery side's `RemoteShell.run`. */
  run(target: SshTarget, command: string, timeoutMs: number): Promise<SshResult> {
    return this.exec(target, command, timeoutMs);
  }

  /** Close the connections of hosts not in `targets` (hosts that left the pool or changed address). */
  async retain(targets: readonly SshTarget[]): Promise<void> {
    const keep = new Set(targets.map((t) => `${t.name}\u0000${t.address}`));
    const gone = [...this.hosts].filter(([key]) => !keep.has(key));
    for (const [key] of gone) this.hosts.delete(key);
    await Promise.all(gone.map(([, h]) => h.close()));
  }

  async close(): Promise<void> {
    const all = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(all.map((h) => h.close()));
  }
}

/** One command on one host on a connection of its own, closed afterwards. */
export async function runOnce(target: SshTarget, command: string, timeoutMs: number, options: SshOptions): Promise<SshResult> {
  const client = new SshHostClient(target, options);
  try {
    return await client.exec(command, timeoutMs);
  } finally {
    await client.close();
  }
}

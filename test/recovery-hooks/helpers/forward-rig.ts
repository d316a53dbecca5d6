// Forwarding end to end: our own receiver started as the remote Instance-HA API in a second process (the CLI, no
// XAPI needed: a dry-run pool whose XAPI does not answer and a notify-only pool), a fault-injecting HTTP proxy in
// front of it, and a forwarding receiver in this process whose pool `lab` is in `mode: forward`.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { quietPort } from '../../helpers/ports.js';
import { spawnReceiver } from './receiver-process.js';
import { ALL_SCOPES, HOST_1, HOST_2, HOST_3, type Hook, TOKEN, startHook, tempDir } from './harness.js';
import { parseConfig } from '../../../cli/config/bundle.js';

export { HOST_1, HOST_2, HOST_3 };
/** Known to the forwarding receiver only: the remote answers 400 for it. */
export const HOST_9 = { name: 'host-9', uuid: '00000000-0000-4000-8000-000000000009' };
export const REMOTE_TOKEN = 'remote-service-token-42';
/** Nothing listens here: the remote's XAPI calls fail at once. */
const DEAD_XAPI = 'https://127.0.0.1:9';

export interface Remote {
  url: string;
  /** The remote's notifications list (GET /v1/notifications), newest first. */
  list(): Promise<any[]>;
  /** POST /v1/notifications straight to the remote (not through the proxy). */
  post(notification: Record<string, unknown>): Promise<{ status: number; json: any }>;
  get(uuid: string): Promise<any>;
}

async function call(
  url: string,
  token: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { 'x-auth-token': token, 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Our receiver as a remote Instance-HA API: pool `dry` (hosts 1, 2) in dry-run, pool `quiet` (host 3) notify-only. */
export async function startRemote(t: Test): Promise<Remote> {
  const dir = tempDir();
  const doc = {
    log: { level: 'debug' },
    pools: ['dry', 'quiet'].map((name) => ({ name, url: DEAD_XAPI, username: 'root', password: 'unused', timeouts: { login_seconds: 6, call_seconds: 1 } })),
    recovery_hook: {
      listen: '127.0.0.1:0',
      store_path: join(dir, 'remote.sqlite'),
      tokens: [{ name: 'forwarder', token: REMOTE_TOKEN, scopes: ['notifications:read', 'notifications:write'] }],
      tick_seconds: 0.05,
      // An error is retried once, 2 s later: long enough for the forwarder to see the (non-terminal) `error`.
      retry: { attempts: 1, interval_seconds: 2 },
      task_defaults: { timeout_seconds: 5, retries: 0, retry_delay_seconds: 0.1 },
      pools: {
        dry: { mode: 'dry-run', hosts: [HOST_1, HOST_2] },
        quiet: { mode: 'notify-only', hosts: [HOST_3] },
      },
    },
  };
  const file = join(dir, 'remote.yaml');
  writeFileSync(file, stringify(doc));
  const child = await spawnReceiver(t, file);
  const url = child.url;
  return {
    url,
    list: async () => (await call(`${url}/v1/notifications?limit=1000`, REMOTE_TOKEN)).json.notifications,
    post: (notification) => call(`${url}/v1/notifications`, REMOTE_TOKEN, { method: 'POST', body: { notification } }),
    get: async (uuid) =>
      (await call(`${url}/v1/notifications/${uuid}`, REMOTE_TOKEN, { headers: { 'OpenStack-API-Version': 'instance-ha 1.1' } })).json.notification,
  };
}

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** What the proxy answered (its own fault, or the remote's status). */
  status: number;
  /** The request body (JSON), for POSTs. */
  body: any;
}

/** An HTTP proxy to `target` that can answer faults itself, or go away and come back on the same port. */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  #server: http.Server;
  #port = 0;
  /** Statuses to answer to the next POSTs instead of passing them on. */
  #faults: number[] = [];

  private constructor(private readonly target: string) {
    this.#server = this.#create();
  }

  static async start(t: Test, target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await proxy.up();
    t.teardown(() => proxy.down());
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  failNextPosts(...statuses: number[]): void {
    this.#faults.push(...statuses);
  }

  posts(): ProxiedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** Stop listening and drop every connection: the next request gets ECONNREFUSED. */
  async down(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    this.#server.closeAllConnections();
    await closed;
  }

  /**
   * Listen again, on the same port once it had one. The first one is a quiet port: while the proxy is down, a server
   * on port 0 could otherwise be given its port and answer in its place (a clean-clone run saw our own receiver's 401
   * where ECONNREFUSED was expected).
   */
  async up(): Promise<void> {
    if (this.#server.listening) return;
    this.#port ||= await quietPort();
    this.#server = this.#create();
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
  }

  #create(): http.Server {
    return http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      const record: ProxiedRequest = {
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        status: 0,
        body: raw.length ? JSON.parse(raw.toString()) : undefined,
      };
      this.requests.push(record);
      const fault = req.method === 'POST' ? this.#faults.shift() : undefined;
      if (fault) {
        record.status = fault;
        res
          .writeHead(fault, { 'content-type': 'application/json' })
          .end(JSON.stringify({ computeFault: { code: fault, message: 'injected by the test proxy' } }));
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<
        string,
        string
      >;
      const answer = await fetch(this.target + req.url, { method: req.method, headers, body: raw.length ? raw : undefined });
      record.status = answer.status;
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    });
  }
}

export interface Forwarder {
  hook: Hook;
  storePath: string;
  /** POST /v1/notifications to the forwarding receiver; the notification uuid it created. */
  notify(notification: Record<string, unknown>): Promise<string>;
  /** The forward outbox rows (channel forward:lab), oldest first. */
  outbox(): { id: number; status: string; attempts: number; last_error: string | null; payload: string }[];
}

/** A receiver in this process whose pool `lab` (hosts 1, 2, 3 and 9) forwards to `url` (`forward` merged over). */
export async function startForwarder(t: Test, url: string, forward: Record<string, unknown> = {}, token = REMOTE_TOKEN): Promise<Forwarder> {
  const dir = tempDir();
  writeFileSync(join(dir, 'remote.token'), `${token}\n`);
  const storePath = join(dir, 'forwarder.sqlite');
  const doc = {
    pools: [{ name: 'lab', url: DEAD_XAPI, username: 'root', password: 'unused' }],
    recovery_hook: {
      listen: '127.0.0.1:0',
      store_path: storePath,
      tokens: [{ name: 'test', token: TOKEN, scopes: ALL_SCOPES }],
      tick_seconds: 0.02,
      shutdown_grace_seconds: 1,
      max_concurrent_workflows: 16,
      retry: { attempts: 0, interval_seconds: 0.1 },
      pools: {
        lab: {
          mode: 'forward',
          hosts: [HOST_1, HOST_2, HOST_3, HOST_9],
          forward: {
            url,
            token_file: 'remote.token',
            auth: 'bearer',
            timeout_seconds: 3,
            poll_interval_seconds: 0.05,
            give_up_after_seconds: 120,
            backoff: { initial_seconds: 0.1, max_seconds: 0.3 },
            ...forward,
          },
        },
      },
    },
  };
  const hook = await startHook(parseConfig(stringify(doc), join(dir, 'config.yaml')));
  t.teardown(() => hook.stop());
  return {
    hook,
    storePath,
    async notify(notification) {
      const res = await hook.request('POST', '/v1/notifications', { body: { notification } });
      if (res.status !== 202) throw new Error(`forwarder answered ${res.status}: ${res.text}`);
      return res.json.notification.notification_uuid as string;
    },
    outbox() {
      const db = new Database(storePath, { readonly: true });
      try {
        return db.prepare("SELECT id, status, attempts, last_error, payload FROM outbox WHERE channel = 'forward:lab' ORDER BY id").all() as any;
      } finally {
        db.close();
      }
    },
  };
}

/** A distinct generated_time per test notification (remote notifications are told apart by it). */
let clock = Date.now() - 60_000;
export function uniqueTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

/** The remote notifications generated at `iso` (the remote answers Masakari's time format, without the zone). */
export function atTime(list: any[], iso: string): any[] {
  return list.filter((n) => Date.parse(`${n.generated_time}Z`) === Date.parse(iso));
}

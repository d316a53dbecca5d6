// The remote Instance-HA API of one forward pool: create a notification, read one back. Answers are classified
// here; what they mean for our notification is decided by the channel and the workflow. The token goes only into
// the request header: errors name the URL without it.
import { HttpClient, type HttpResponse } from '../../core/http/client.js';
import type { ForwardConfig } from './config.js';
import type { MasakariCreateRequest } from './request.js';

/** The remote's answer to a create: taken (2xx), or refused for good (400 and 409, Masakari-monitors' final codes). */
export type CreateAnswer = { kind: 'accepted'; remoteUuid: string | null; remoteStatus: string | null } | { kind: 'rejected' | 'conflict'; reason: string };

export interface RemoteNotification {
  status: string;
  message: string | null;
  /** recovery_workflow_details (microversion 1.1), when the remote has them. */
  details: RemoteTask[] | null;
}

export interface RemoteTask {
  name: string;
  state: string | null;
  progress_details: { timestamp: string | null; message: string }[];
}

/** The remote answered something that is neither success nor a final refusal (5xx, 401…): worth another try. */
export class RemoteError extends Error {
  override name = 'RemoteError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

export class RemoteApi {
  readonly #client: HttpClient;
  readonly endpoint: string;

  constructor(private readonly config: ForwardConfig) {
    this.endpoint = config.notificationsUrl;
    this.#client = new HttpClient(config.tls, 8);
  }

  async create(body: MasakariCreateRequest, signal?: AbortSignal): Promise<CreateAnswer> {
    const res = await this.#request('POST', this.endpoint, JSON.stringify(body), signal, '1.0');
    if (res.status >= 200 && res.status < 300) {
      const n = notificationOf(res);
      return { kind: 'accepted', remoteUuid: stringOr(n?.notification_uuid), remoteStatus: stringOr(n?.status) };
    }
    if (res.status === 400) return { kind: 'rejected', reason: `remote answered 400: ${reasonOf(res)}` };
    if (res.status === 409) return { kind: 'conflict', reason: `remote answered 409: ${reasonOf(res)}` };
    throw new RemoteError(res.status, `POST ${this.endpoint}: HTTP ${res.status}: ${reasonOf(res)}`);
  }

  /** The remote notification with its task progress (microversion 1.1), or without it (1.0) when 1.1 fails. */
  async show(remoteUuid: string, signal?: AbortSignal): Promise<RemoteNotification> {
    try {
      return await this.#show(remoteUuid, '1.1', signal);
    } catch (err) {
      if (signal?.aborted || (err instanceof RemoteError && err.status === 404)) throw err;
      // Masakari asks its engine over RPC for the 1.1 details: with the engine down that GET fails, 1.0 still answers.
      return this.#show(remoteUuid, '1.0', signal);
    }
  }

  async #show(remoteUuid: string, version: string, signal: AbortSignal | undefined): Promise<RemoteNotification> {
    const url = `${this.endpoint}/${encodeURIComponent(remoteUuid)}`;
    const res = await this.#request('GET', url, undefined, signal, version);
    if (res.status !== 200) throw new RemoteError(res.status, `GET ${url}: HTTP ${res.status}: ${reasonOf(res)}`);
    const n = notificationOf(res);
    const status = stringOr(n?.status);
    if (!status) throw new RemoteError(res.status, `GET ${url}: the answer has no notification status`);
    return { status, message: stringOr(n?.message), details: Array.isArray(n?.recovery_workflow_details) ? n.recovery_workflow_details.map(toTask) : null };
  }

  close(): void {
    this.#client.close();
  }

  #request(method: string, url: string, body: string | undefined, signal: AbortSignal | undefined, version: string): Promise<HttpResponse> {
    const { token, auth, timeoutMs } = this.config;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'xcp-sentinel',
      'openstack-api-version': `instance-ha ${version}`,
      ...(auth === 'bearer' ? { authorization: `Bearer ${token.reveal()}` } : { 'x-auth-token': token.reveal() }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    return this.#client.request(url, { method, headers, body, timeoutMs, maxBodyBytes: MAX_BODY, signal });
  }
}

function stringOr(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

function parse(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

// biome-ignore-start lint/suspicious/noExplicitAny: Masakari's JSON answers, read field by field with String()/stringOr()
function notificationOf(res: HttpResponse): Record<string, any> | undefined {
  const doc = parse(res) as { notification?: unknown } | undefined;
  return typeof doc?.notification === 'object' && doc.notification !== null ? (doc.notification as Record<string, any>) : undefined;
}

/** Masakari's fault body `{"<faultName>": {"code", "message"}}`, else the start of the body. */
function reasonOf(res: HttpResponse): string {
  const doc = parse(res);
  if (typeof doc === 'object' && doc !== null) {
    for (const fault of Object.values(doc)) {
      const message = (fault as { message?: unknown } | null)?.message;
      if (typeof message === 'string' && message) return message;
    }
  }
  return res.body.toString('utf8', 0, 300).replace(/\s+/g, ' ').trim() || '(empty body)';
}

function toTask(t: any): RemoteTask {
  const details = Array.isArray(t?.progress_details) ? t.progress_details : [];
  return {
    name: String(t?.name ?? 'task'),
    state: stringOr(t?.state),
    progress_details: details.map((d: any) => ({ timestamp: stringOr(d?.timestamp), message: String(d?.message ?? '') })),
  };
}
// biome-ignore-end lint/suspicious/noExplicitAny: Masakari's JSON answers

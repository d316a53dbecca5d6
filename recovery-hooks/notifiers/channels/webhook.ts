// Outgoing webhook: POST one JSON document per message. It carries `text` (what Slack, Mattermost and Rocket.Chat
// incoming webhooks show) next to the structured event for ticket systems. Any 2xx is delivered; anything else is
// retried until the channel gives up. The URL can hold a credential (chat tools put one in the path), so errors and
// logs show only its origin.
import { HttpClient } from '../../../core/http/client.js';
import type { WebhookChannelConfig } from '../config.js';
import type { RenderedMessage } from '../render.js';
import type { Channel } from './channel.js';
import { describeError } from '../../../core/errors.js';

export class WebhookChannel implements Channel {
  readonly name: string;
  readonly #client: HttpClient;
  readonly #url: URL;

  constructor(private readonly config: WebhookChannelConfig) {
    this.name = config.name;
    this.#url = new URL(config.url.reveal());
    this.#client = new HttpClient({ ca: config.tls.ca, insecure: config.tls.insecure }, config.delivery.concurrency);
  }

  async send(m: RenderedMessage): Promise<void> {
    const c = this.config;
    const headers: Record<string, string> = {
      ...c.headers,
      'content-type': 'application/json',
      'user-agent': 'xcp-sentinel',
      // The same key on every attempt of one message, for receivers that deduplicate.
      'idempotency-key': m.key,
    };
    if (c.token) headers[c.tokenHeader] = c.tokenHeader.toLowerCase() === 'authorization' ? `Bearer ${c.token.reveal()}` : c.token.reveal();
    const body = JSON.stringify({ text: m.chat, subject: m.subject, event: m.event, severity: m.severity, id: m.key, data: m.data });
    const where = `POST ${this.#url.origin}`;
    let status: number;
    let answer: string;
    try {
      const res = await this.#client.request(this.#url, { method: 'POST', headers, body, timeoutMs: c.delivery.timeoutMs, maxBodyBytes: 64 * 1024 });
      status = res.status;
      answer = res.body.toString('utf8', 0, 200).replace(/\s+/g, ' ').trim();
    } catch (err) {
      // HttpClient names the URL without its query; hide the path too.
      const message = describeError(err).split(`${this.#url.origin}${this.#url.pathname}`).join(`${this.#url.origin}/…`);
      throw new Error(`${where}: ${message}`, { cause: err });
    }
    if (status < 200 || status > 299) throw new Error(`${where}: HTTP ${status}${answer ? ` (${answer})` : ''}`);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

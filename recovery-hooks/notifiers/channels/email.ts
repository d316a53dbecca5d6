// Email over SMTP with nodemailer. Unlike XO's transport (whose `secure: 'force'` silently did nothing), TLS is
// required by default: implicit TLS with `secure`, else STARTTLS must succeed before AUTH or the send fails.
import nodemailer from 'nodemailer';
import type { Logger } from '../../../core/log.js';
import type { EmailChannelConfig } from '../config.js';
import type { RenderedMessage } from '../render.js';
import type { Channel } from './channel.js';
import { describeError } from '../../../core/errors.js';

type Transport = ReturnType<typeof nodemailer.createTransport>;

export class EmailChannel implements Channel {
  readonly name: string;
  readonly #transport: Transport;
  readonly #domain: string;

  constructor(
    private readonly config: EmailChannelConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    const t = config.delivery.timeoutMs;
    this.#transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: !config.secure && config.requireTls,
      tls: { ca: config.tls.ca, rejectUnauthorized: !config.tls.insecure, minVersion: 'TLSv1.2' },
      auth: config.auth ? { user: config.auth.user, pass: config.auth.pass.reveal() } : undefined,
      name: config.clientName,
      connectionTimeout: t,
      greetingTimeout: t,
      socketTimeout: t,
    });
    this.#domain = /@([^\s>]+)>?\s*$/.exec(config.from)?.[1] ?? 'xcp-sentinel';
  }

  async send(m: RenderedMessage): Promise<void> {
    const c = this.config;
    try {
      const info = await this.#transport.sendMail({
        from: c.from,
        to: c.to,
        cc: c.cc,
        subject: m.subject,
        text: m.text,
        html: m.html,
        // The same Message-ID on every attempt of one message: mail stores and clients drop a repeat.
        messageId: `<${m.key}@${this.#domain}>`,
        priority: m.severity === 'critical' ? 'high' : 'normal',
        headers: { 'X-XCP-Sentinel-Event': m.event, 'X-XCP-Sentinel-Severity': m.severity },
      });
      // Some recipients refused: sending again would duplicate the mail for the others, so it counts as sent.
      if (info.rejected.length) this.logger.warn('mail server refused some recipients', { channel: this.name, rejected: info.rejected, key: m.key });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const what = code === 'EAUTH' ? `authentication as ${c.auth?.user ?? '(none)'} failed` : 'send failed';
      throw new Error(`SMTP ${c.host}:${c.port}: ${what}: ${describeError(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.#transport.close();
  }
}

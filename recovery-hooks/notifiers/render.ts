// Outbox message → what the channels send: a subject, a plain-text and an HTML body (email), a short chat text (XMPP,
// webhooks) and the data itself (webhook JSON). Templates are files, <event>/<part>, with shared pieces in
// _partials/; a user folder overrides them file by file. Everything is compiled at start, so a broken user template
// stops the receiver with the file and line instead of failing every message later.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutboxMessage } from '../store/types.js';
import type { NotifierLinks } from './config.js';
import { NOTIFIER_EVENTS, type NotifierEvent, type Severity } from './events.js';
import { type Mode, type Template, TemplateError, compile, partialsOf, render } from './template.js';

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('./templates', import.meta.url));

const PARTS = { subject: 'subject.txt', text: 'body.txt', html: 'body.html', chat: 'chat.txt' } as const;
type Part = keyof typeof PARTS;

export interface RenderedMessage {
  /** Stable across retries of one outbox message: Message-ID, stanza id, Idempotency-Key (lets peers drop a repeat). */
  key: string;
  event: NotifierEvent;
  severity: Severity;
  subject: string;
  text: string;
  html: string;
  chat: string;
  /** The event's payload with its links (the webhook's JSON body). */
  data: Record<string, unknown>;
}

/** A message that cannot be rendered will never be: deliver nothing, give it up at once. */
export class RenderError extends Error {
  override name = 'RenderError';
}

const modeOf = (file: string): Mode => (file.endsWith('.html') ? 'html' : 'text');

class TemplateSet {
  readonly #templates = new Map<string, Template>();
  constructor(private readonly dirs: string[]) {}

  /** `rel` from the first folder that has it; partials are loaded with their includer. */
  get(rel: string): Template {
    let t = this.#templates.get(rel);
    if (t) return t;
    const dir = this.dirs.find((d) => existsSync(join(d, rel)));
    if (!dir) throw new TemplateError(`template ${rel} not found in ${this.dirs.join(', ')}`);
    const file = join(dir, rel);
    let source = readFileSync(file, 'utf8');
    // A partial is usually included inline: its file's final newline is not part of it.
    if (rel.startsWith('_partials/')) source = source.replace(/\r?\n$/, '');
    t = compile(source, file);
    this.#templates.set(rel, t);
    for (const name of partialsOf(t)) this.partial(name, modeOf(rel));
    return t;
  }

  partial(name: string, mode: Mode): Template {
    return this.get(`_partials/${name}.${mode === 'html' ? 'html' : 'txt'}`);
  }
}

function joinUrl(base: string, path: string, query: Record<string, string | null | undefined> = {}): string {
  const q = Object.entries(query)
    .filter(([, v]) => v)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`)
    .join('&');
  return `${base}${path}${q ? `?${q}` : ''}`;
}

/** Links and a few flags for the templates (kept out of the stored payload, which holds only facts). */
function templateData(payload: Record<string, unknown>, links: NotifierLinks): Record<string, unknown> {
  const s = (k: string) => (typeof payload[k] === 'string' && payload[k] ? (payload[k] as string) : undefined);
  const uuid = s('notification_uuid');
  const grafana = links.grafanaBaseUrl;
  const derived: Record<string, unknown> = {
    notification_url: links.apiBaseUrl && uuid ? joinUrl(links.apiBaseUrl, `/v1/notifications/${encodeURIComponent(uuid)}`) : null,
    notification_page_url: links.uiBaseUrl && uuid ? joinUrl(links.uiBaseUrl, `/ui/notifications/${encodeURIComponent(uuid)}`) : null,
    grafana_host_url: grafana && s('host_name') ? joinUrl(grafana, '/d/xcp-host', { 'var-pool': s('pool_name'), 'var-host': s('host_name') }) : null,
    grafana_vm_url: grafana && s('vm_name') ? joinUrl(grafana, '/d/xcp-vm', { 'var-pool': s('pool_name'), 'var-vm': s('vm_name') }) : null,
    grafana_recovery_url: grafana && uuid ? joinUrl(grafana, '/d/xcp-recovery') : null,
  };
  return {
    ...payload,
    ...derived,
    has_links: Object.values(derived).some(Boolean),
    severity_upper: String(payload.severity ?? '').toUpperCase(),
    is_host: payload.type === 'COMPUTE_HOST',
    is_instance: payload.type === 'COMPUTE_INSTANCE',
    is_process: payload.type === 'COMPUTE_PROCESS',
    is_emergency: payload.type === 'XCP_EMERGENCY_SHUTDOWN',
    is_up_signal: s('signal')?.toUpperCase() === 'STARTED',
    will_retry: Boolean(payload.next_attempt_at),
  };
}

export class Renderer {
  readonly #set: TemplateSet;

  /** Compile every template now (user folder first, built-in second). Throws TemplateError naming the file. */
  constructor(
    private readonly links: NotifierLinks,
    templatesDir?: string,
  ) {
    this.#set = new TemplateSet(templatesDir ? [templatesDir, DEFAULT_TEMPLATES_DIR] : [DEFAULT_TEMPLATES_DIR]);
    for (const event of NOTIFIER_EVENTS) for (const file of Object.values(PARTS)) this.#set.get(`${event}/${file}`);
  }

  render(message: OutboxMessage): RenderedMessage {
    const event = message.payload.event as NotifierEvent;
    if (!(NOTIFIER_EVENTS as readonly string[]).includes(event))
      throw new RenderError(`outbox message ${message.id} has no known event (${JSON.stringify(event)})`);
    const data = templateData(message.payload, this.links);
    const part = (p: Part) => {
      const file = PARTS[p];
      return render(this.#set.get(`${event}/${file}`), data, modeOf(file), (name) => this.#set.partial(name, modeOf(file)));
    };
    return {
      key: `xcp-sentinel.${message.createdAt}.${message.id}`,
      event,
      severity: (message.payload.severity as Severity) ?? 'info',
      subject: part('subject').replace(/\s+/g, ' ').trim(),
      text: part('text').trimEnd() + '\n',
      html: part('html'),
      chat: part('chat').trim(),
      data: Object.fromEntries(Object.entries(data).filter(([k]) => k in message.payload || k.endsWith('_url'))),
    };
  }
}

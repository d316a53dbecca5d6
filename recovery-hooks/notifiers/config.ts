// The `notifiers:` section: named channels (email, XMPP, webhook), what each receives, how long a message is
// retried, links for the messages and where user templates live. YAML keys are snake_case; the parsed value is
// camelCase with durations in milliseconds. Secrets and CA files are read at load time, so a bad path fails at start
// with the key that names it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  type Ctx,
  type Path,
  type Schema,
  type SchemaContext,
  bool,
  dict,
  list,
  num,
  obj,
  oneOf,
  optional,
  report,
  str,
  url,
  withDefault,
} from '../../core/config/schema.js';
import { type Secret, readSecret, secretKeys } from '../../core/config/secret.js';
import { DEFAULT_EVENTS, NOTIFIER_EVENTS, type NotifierEvent, SEVERITIES, type Severity } from './events.js';

export interface DeliveryPolicy {
  /** A message still undelivered this long after it was queued is given up (recorded as dead). */
  giveUpAfterMs: number;
  /** Delay before the n-th retry: initial × 2^(n-1), capped at max, with jitter. */
  backoff: { initialMs: number; maxMs: number };
  /** Deadline of one send attempt. */
  timeoutMs: number;
  /** Messages of the channel in flight at once. */
  concurrency: number;
}

export interface ChannelTls {
  /** PEM CA bundle (contents). */
  ca?: string;
  /** Skip certificate verification (a test bench, never production). */
  insecure: boolean;
}

interface ChannelBase {
  name: string;
  events: NotifierEvent[];
  minSeverity: Severity;
  delivery: DeliveryPolicy;
}

export interface EmailChannelConfig extends ChannelBase {
  type: 'email';
  host: string;
  port: number;
  /** Implicit TLS from the first byte (port 465). */
  secure: boolean;
  /** Without `secure`: refuse to send unless the server upgrades with STARTTLS. */
  requireTls: boolean;
  tls: ChannelTls;
  auth?: { user: string; pass: Secret };
  from: string;
  to: string[];
  cc: string[];
  /** Name announced in EHLO (defaults to the machine's host name). */
  clientName?: string;
}

export interface XmppChannelConfig extends ChannelBase {
  type: 'xmpp';
  /** xmpp://host:5222 (STARTTLS) or xmpps://host:5223 (direct TLS). */
  service: string;
  domain: string;
  /** Bare JID of the sender account. */
  jid: string;
  password: Secret;
  resource: string;
  to: string[];
  room?: { jid: string; nick: string };
  /** Refuse to authenticate over a connection that is not encrypted. */
  requireTls: boolean;
  /** Only for xmpps:// (the STARTTLS upgrade of @xmpp/client verifies against Node's CA store). */
  tls: ChannelTls;
  reconnectMs: number;
}

export interface WebhookChannelConfig extends ChannelBase {
  type: 'webhook';
  /** A Secret: chat tools (Slack, Mattermost) put their credential in the URL's path. */
  url: Secret;
  headers: Record<string, string>;
  token?: Secret;
  /** Header carrying `token`: `Authorization` gets "Bearer <token>", any other header the bare token. */
  tokenHeader: string;
  tls: ChannelTls;
}

export type ChannelConfig = EmailChannelConfig | XmppChannelConfig | WebhookChannelConfig;

export interface NotifierLinks {
  /** Base URL of the receiver's API as operators reach it, e.g. https://recovery.example.org:15868. */
  apiBaseUrl?: string;
  grafanaBaseUrl?: string;
  /** Base URL of the web UI (`recovery_hook.ui.external_url`): messages link the notification's page. */
  uiBaseUrl?: string;
}

export interface NotifiersConfig {
  channels: ChannelConfig[];
  links: NotifierLinks;
  /** Folder with the user's template copies; each missing file falls back to the built-in one. */
  templatesDir?: string;
  /** How often each channel looks at the outbox (a wake-up can come sooner). */
  pollIntervalMs: number;
}

const CHANNEL_TYPES = ['email', 'xmpp', 'webhook'] as const;
const CHANNEL_NAME = /^[a-z][a-z0-9_-]*$/;
// Bare addresses, or "Display Name <address>".
const MAIL_ADDRESS = /^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;
const BARE_JID = /^[^\s@/<>'"&]+@[^\s@/<>'"&]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const mailAddress = () => str({ pattern: MAIL_ADDRESS, patternHint: 'a mail address (user@example.org or "Name <user@example.org>")' });
const bareJid = () => str({ pattern: BARE_JID, patternHint: 'a bare JID like user@example.org' });

const tlsShape = withDefault(obj({ ca_file: optional(str({ minLength: 1 })), insecure: withDefault(bool(), false) }), { ca_file: undefined, insecure: false });

const commonShape = {
  type: oneOf(CHANNEL_TYPES),
  events: withDefault(list(oneOf(NOTIFIER_EVENTS), { minItems: 1 }), () => [...DEFAULT_EVENTS]),
  min_severity: withDefault(oneOf(SEVERITIES), 'info' as Severity),
  give_up_after_seconds: withDefault(num({ min: 1, max: 30 * 86400 }), 86400),
  backoff: withDefault(
    obj({ initial_seconds: withDefault(num({ min: 0.01, max: 3600 }), 10), max_seconds: withDefault(num({ min: 0.01, max: 86400 }), 900) }),
    {
      initial_seconds: 10,
      max_seconds: 900,
    },
  ),
  timeout_seconds: withDefault(num({ min: 0.1, max: 600 }), 30),
  concurrency: withDefault(num({ min: 1, max: 32, integer: true }), 2),
};

const emailShape = obj({
  ...commonShape,
  host: str({ minLength: 1 }),
  port: optional(num({ min: 1, max: 65535, integer: true })),
  secure: withDefault(bool(), false),
  require_tls: withDefault(bool(), true),
  tls: tlsShape,
  username: optional(str({ minLength: 1 })),
  ...secretKeys('password'),
  from: mailAddress(),
  to: list(mailAddress(), { minItems: 1 }),
  cc: withDefault(list(mailAddress()), []),
  client_name: optional(str({ minLength: 1 })),
});

const xmppShape = obj({
  ...commonShape,
  service: url(['xmpp:', 'xmpps:']),
  domain: optional(str({ minLength: 1 })),
  jid: bareJid(),
  ...secretKeys('password'),
  resource: withDefault(str({ minLength: 1 }), 'xcp-sentinel'),
  to: withDefault(list(bareJid()), []),
  room: optional(obj({ jid: bareJid(), nick: withDefault(str({ minLength: 1 }), 'xcp-sentinel') })),
  require_tls: withDefault(bool(), true),
  tls: tlsShape,
  reconnect_seconds: withDefault(num({ min: 0.1, max: 3600 }), 5),
});

const webhookShape = obj({
  ...commonShape,
  ...secretKeys('url'),
  headers: withDefault(dict(str()), {}),
  ...secretKeys('token'),
  token_header: withDefault(str({ pattern: HEADER_NAME, patternHint: 'an HTTP header name' }), 'Authorization'),
  tls: tlsShape,
});

type Raw<S extends Schema<unknown>> = NonNullable<ReturnType<S['parse']>>;
type CommonRaw = Raw<typeof emailShape> | Raw<typeof xmppShape> | Raw<typeof webhookShape>;

function filePath(file: string, baseDir: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

function readTls(raw: { ca_file?: string; insecure: boolean }, path: Path, ctx: Ctx, baseDir: string): ChannelTls {
  const tls: ChannelTls = { insecure: raw.insecure };
  if (raw.ca_file) {
    const full = filePath(raw.ca_file, baseDir);
    try {
      tls.ca = readFileSync(full, 'utf8');
    } catch (err) {
      report(ctx, [...path, 'ca_file'], `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (raw.insecure) report(ctx, [...path, 'insecure'], 'insecure: true cannot be combined with ca_file');
  }
  return tls;
}

function base(name: string, raw: CommonRaw, path: Path, ctx: Ctx): ChannelBase {
  if (raw.backoff.max_seconds < raw.backoff.initial_seconds) report(ctx, [...path, 'backoff', 'max_seconds'], 'must be at least initial_seconds');
  return {
    name,
    events: [...new Set(raw.events)],
    minSeverity: raw.min_severity,
    delivery: {
      giveUpAfterMs: raw.give_up_after_seconds * 1000,
      backoff: { initialMs: raw.backoff.initial_seconds * 1000, maxMs: raw.backoff.max_seconds * 1000 },
      timeoutMs: raw.timeout_seconds * 1000,
      concurrency: raw.concurrency,
    },
  };
}

function email(name: string, raw: Raw<typeof emailShape>, path: Path, ctx: Ctx, sc: SchemaContext): EmailChannelConfig {
  const password = readSecret(raw as unknown as Record<string, unknown>, 'password', path, ctx, { required: false, baseDir: sc.baseDir, env: sc.env });
  if (raw.username && !password) report(ctx, path, 'username needs one of password, password_file, password_env');
  if (password && !raw.username) report(ctx, [...path, 'username'], 'is required with a password');
  return {
    ...base(name, raw, path, ctx),
    type: 'email',
    host: raw.host,
    port: raw.port ?? (raw.secure ? 465 : 587),
    secure: raw.secure,
    requireTls: raw.require_tls,
    tls: readTls(raw.tls, [...path, 'tls'], ctx, sc.baseDir),
    auth: raw.username && password ? { user: raw.username, pass: password } : undefined,
    from: raw.from,
    to: raw.to,
    cc: raw.cc,
    clientName: raw.client_name,
  };
}

function xmpp(name: string, raw: Raw<typeof xmppShape>, path: Path, ctx: Ctx, sc: SchemaContext): XmppChannelConfig | undefined {
  const password = readSecret(raw as unknown as Record<string, unknown>, 'password', path, ctx, { required: true, baseDir: sc.baseDir, env: sc.env });
  if (raw.to.length === 0 && !raw.room) report(ctx, path, 'needs recipients: to (JIDs) or room');
  const tls = readTls(raw.tls, [...path, 'tls'], ctx, sc.baseDir);
  if ((tls.ca || tls.insecure) && raw.service.startsWith('xmpp:'))
    report(
      ctx,
      [...path, 'tls'],
      'applies to direct TLS only (service xmpps://…); over STARTTLS the server certificate is checked against the system CAs (add yours with NODE_EXTRA_CA_CERTS)',
    );
  if (!password) return undefined;
  return {
    ...base(name, raw, path, ctx),
    type: 'xmpp',
    service: raw.service,
    domain: raw.domain ?? raw.jid.split('@')[1]!,
    jid: raw.jid,
    password,
    resource: raw.resource,
    to: raw.to,
    room: raw.room,
    requireTls: raw.require_tls,
    tls,
    reconnectMs: raw.reconnect_seconds * 1000,
  };
}

function webhook(name: string, raw: Raw<typeof webhookShape>, path: Path, ctx: Ctx, sc: SchemaContext): WebhookChannelConfig | undefined {
  const opts = { baseDir: sc.baseDir, env: sc.env };
  const target = readSecret(raw as unknown as Record<string, unknown>, 'url', path, ctx, { ...opts, required: true });
  const token = readSecret(raw as unknown as Record<string, unknown>, 'token', path, ctx, { ...opts, required: false });
  if (target) {
    // The URL may carry a credential: problems name the key, never the value.
    const u = URL.canParse(target.reveal()) ? new URL(target.reveal()) : undefined;
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) report(ctx, path, 'url must be an http:// or https:// URL');
    else if (u.username || u.password) report(ctx, path, 'url must not contain user:password; use token or headers');
  }
  const lower = Object.keys(raw.headers).map((h) => h.toLowerCase());
  for (const h of Object.keys(raw.headers)) if (!HEADER_NAME.test(h)) report(ctx, [...path, 'headers', h], 'is not a valid HTTP header name');
  if (token && lower.includes(raw.token_header.toLowerCase())) report(ctx, [...path, 'headers'], `sets ${raw.token_header}, which token already sets`);
  if (!target) return undefined;
  return {
    ...base(name, raw, path, ctx),
    type: 'webhook',
    url: target,
    headers: raw.headers,
    token,
    tokenHeader: raw.token_header,
    tls: readTls(raw.tls, [...path, 'tls'], ctx, sc.baseDir),
  };
}

/** One channel: its `type` says which keys it takes. */
function parseChannel(name: string, value: unknown, path: Path, ctx: Ctx, sc: SchemaContext): ChannelConfig | undefined {
  if (!CHANNEL_NAME.test(name)) report(ctx, path, 'is not a valid channel name (lowercase letters, digits, "_" and "-", starting with a letter)');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return report(ctx, path, 'expected a mapping with type: email, xmpp or webhook');
  const type = (value as Record<string, unknown>).type;
  if (type === undefined) return report(ctx, [...path, 'type'], `is required (one of ${CHANNEL_TYPES.join(', ')})`);
  switch (type) {
    case 'email': {
      const raw = emailShape.parse(value, path, ctx);
      return raw && email(name, raw, path, ctx, sc);
    }
    case 'xmpp': {
      const raw = xmppShape.parse(value, path, ctx);
      return raw && xmpp(name, raw, path, ctx, sc);
    }
    case 'webhook': {
      const raw = webhookShape.parse(value, path, ctx);
      return raw && webhook(name, raw, path, ctx, sc);
    }
    default:
      return report(ctx, [...path, 'type'], `expected one of ${CHANNEL_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  }
}

const mapping: Schema<Record<string, unknown>> = {
  describe: 'a mapping of channel names to channels',
  parse: (v, path, ctx) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : report(ctx, path, 'expected a mapping of channel names to channels'),
};

const sectionShape = obj({
  channels: withDefault(mapping, {}),
  links: withDefault(obj({ api_base_url: optional(url()), grafana_base_url: optional(url()) }), { api_base_url: undefined, grafana_base_url: undefined }),
  templates_dir: optional(str({ minLength: 1 })),
  poll_interval_seconds: withDefault(num({ min: 0.01, max: 60 }), 2),
});

/** The `notifiers:` section. Absent, it is the defaults: no channel, nothing sent. */
export function notifiersSchema(sc: SchemaContext): Schema<NotifiersConfig> {
  const schema: Schema<NotifiersConfig> = {
    describe: 'the notifiers section',
    parse(value, path, ctx) {
      const r = sectionShape.parse(value, path, ctx);
      if (!r) return undefined;
      const before = ctx.problems.length;
      const channels: ChannelConfig[] = [];
      for (const [name, raw] of Object.entries(r.channels)) {
        const channel = parseChannel(name, raw, [...path, 'channels', name], ctx, sc);
        if (channel) channels.push(channel);
      }
      let templatesDir: string | undefined;
      if (r.templates_dir) {
        templatesDir = filePath(r.templates_dir, sc.baseDir);
        if (!existsSync(templatesDir) || !statSync(templatesDir).isDirectory()) report(ctx, [...path, 'templates_dir'], `${templatesDir} is not a folder`);
      }
      if (ctx.problems.length > before) return undefined;
      return {
        channels,
        links: { apiBaseUrl: r.links.api_base_url, grafanaBaseUrl: r.links.grafana_base_url },
        templatesDir,
        pollIntervalMs: r.poll_interval_seconds * 1000,
      };
    },
  };
  return withDefault(schema, () => ({ channels: [], links: {}, pollIntervalMs: 2000 }));
}

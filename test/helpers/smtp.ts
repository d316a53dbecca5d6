// A real SMTP server (the smtp-server package) on loopback for the email notifier tests: STARTTLS with a throwaway
// certificate, AUTH required and only allowed after STARTTLS, every accepted mail kept parsed.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  headers: Map<string, string>;
  from: string;
  to: string;
  cc: string;
  subject: string;
  messageId: string;
  text: string;
  html: string;
  /** The session was encrypted (STARTTLS) when the mail came in. */
  secure: boolean;
  user: string | undefined;
  envelopeTo: string[];
}

export interface SmtpServer {
  port: number;
  mails: ReceivedMail[];
  authFailures: number;
  stop(): Promise<void>;
}

export async function startSmtp(opts: { tls: { key: string; cert: string }; users: Record<string, string>; port?: number }): Promise<SmtpServer> {
  const mails: ReceivedMail[] = [];
  const state = { authFailures: 0 };
  const server = new SMTPServer({
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username && opts.users[auth.username] === auth.password) return cb(null, { user: auth.username });
      state.authFailures++;
      cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          ...parseMail(Buffer.concat(chunks).toString('utf8')),
          secure: session.secure,
          user: session.user as string | undefined,
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.server.address() as { port: number }).port,
    mails,
    get authFailures() {
      return state.authFailures;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => `%${h}`);
  return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '').toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= and =?UTF-8?B?…?=). */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=/gi, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}

function splitHead(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), decodeWords(line.slice(i + 1).trim()));
  }
  return { headers, body };
}

/** Enough of MIME for nodemailer's output: a single part or multipart/alternative with text and html. */
export function parseMail(raw: string): Omit<ReceivedMail, 'secure' | 'user' | 'envelopeTo'> {
  const { headers, body } = splitHead(raw);
  const parts: { type: string; content: string }[] = [];
  const boundary = /boundary="?([^";]+)"?/i.exec(headers.get('content-type') ?? '')?.[1];
  if (boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const part = splitHead(chunk.replace(/^\r?\n/, ''));
      parts.push({
        type: part.headers.get('content-type') ?? '',
        content: decodeBody(part.body, part.headers.get('content-transfer-encoding')).replace(/\r?\n$/, ''),
      });
    }
  } else parts.push({ type: headers.get('content-type') ?? 'text/plain', content: decodeBody(body, headers.get('content-transfer-encoding')) });
  const ofType = (t: string) => parts.find((p) => p.type.startsWith(t))?.content.replace(/\r\n/g, '\n') ?? '';
  return {
    headers,
    from: headers.get('from') ?? '',
    to: headers.get('to') ?? '',
    cc: headers.get('cc') ?? '',
    subject: headers.get('subject') ?? '',
    messageId: headers.get('message-id') ?? '',
    text: ofType('text/plain'),
    html: ofType('text/html'),
  };
}

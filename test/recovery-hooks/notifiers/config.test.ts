// The `notifiers:` section: a full example, defaults, and problems that name their key (never a secret's value).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { notifiersSchema } from '../../../recovery-hooks/notifiers/config.js';
import { selfSignedCert } from '../../helpers/tls.js';
import { parseNotifiers, tempDir } from './helpers/notifiers.js';

const EXAMPLE = `
templates_dir: templates
poll_interval_seconds: 1
links:
  api_base_url: https://recovery.example.org:15868/
  grafana_base_url: https://grafana.example.org
channels:
  ops-mail:
    type: email
    host: smtp.example.org
    port: 587
    require_tls: true
    tls: { ca_file: ca.pem }
    username: xcp-sentinel
    password_file: smtp.pass
    from: "xcp-sentinel <xcp-sentinel@example.org>"
    to: [ops@example.org]
    cc: [audit@example.org]
    min_severity: warning
    give_up_after_seconds: 86400
    backoff: { initial_seconds: 10, max_seconds: 900 }
  ops-chat:
    type: xmpp
    service: xmpps://xmpp.example.org:5223
    jid: xcp-sentinel@example.org
    password_env: XMPP_PASSWORD
    to: [oncall@example.org]
    room: { jid: ops@conference.example.org, nick: xcp-sentinel }
    events: [notification.received, recovery.failed, recovery.error, alert.firing]
  tickets:
    type: webhook
    url_file: hook.url
    token_env: HOOK_TOKEN
    headers: { X-Team: infra }
    events: [recovery.failed]
    timeout_seconds: 10
`;

function exampleDir(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.pem'), selfSignedCert('ca').cert);
  writeFileSync(join(dir, 'smtp.pass'), 'mail-pw\n');
  writeFileSync(join(dir, 'hook.url'), 'https://hooks.example.org/services/T1/B2/abc\n');
  return dir;
}

t.test('the documented example', async (t) => {
  const dir = exampleDir();
  const env = { XMPP_PASSWORD: 'x', HOOK_TOKEN: 'y' };
  t.same(parseNotifiers(parse(EXAMPLE), { baseDir: dir, env }).problems, [
    { path: 'recovery_hook.notifiers.templates_dir', message: `${join(dir, 'templates')} is not a folder` },
  ]);
  mkdirSync(join(dir, 'templates'));
  const { config, problems } = parseNotifiers(parse(EXAMPLE), { baseDir: dir, env });
  t.same(problems, []);
  t.equal(config!.templatesDir, join(dir, 'templates'));
  t.equal(config!.pollIntervalMs, 1000);
  t.same(config!.links, { apiBaseUrl: 'https://recovery.example.org:15868', grafanaBaseUrl: 'https://grafana.example.org' });
  const [mail, chat, hook] = config!.channels;
  t.match(mail, {
    name: 'ops-mail',
    type: 'email',
    host: 'smtp.example.org',
    port: 587,
    secure: false,
    requireTls: true,
    tls: { ca: /BEGIN CERTIFICATE/, insecure: false },
    auth: { user: 'xcp-sentinel' },
    to: ['ops@example.org'],
    cc: ['audit@example.org'],
    minSeverity: 'warning',
    events: ['notification.received', 'recovery.started', 'recovery.finished', 'recovery.ignored', 'recovery.error', 'recovery.failed'],
    delivery: { giveUpAfterMs: 86_400_000, backoff: { initialMs: 10_000, maxMs: 900_000 }, timeoutMs: 30_000, concurrency: 2 },
  });
  t.equal(mail!.type === 'email' && mail.auth!.pass.reveal(), 'mail-pw', 'the password file, without its newline');
  t.match(chat, {
    type: 'xmpp',
    domain: 'example.org',
    resource: 'xcp-sentinel',
    requireTls: true,
    room: { jid: 'ops@conference.example.org' },
    reconnectMs: 5000,
  });
  t.match(hook, { type: 'webhook', tokenHeader: 'Authorization', headers: { 'X-Team': 'infra' }, events: ['recovery.failed'] });
  t.equal(hook!.type === 'webhook' && hook.url.reveal(), 'https://hooks.example.org/services/T1/B2/abc');
  t.equal(JSON.stringify(config).includes('mail-pw'), false, 'secrets do not serialise');
});

t.test('an absent section is no channel at all', async (t) => {
  t.same(notifiersSchema({ baseDir: '/', env: {} }).defaultValue!(), { channels: [], links: {}, pollIntervalMs: 2000 });
  t.same(parseNotifiers({}).config, {
    channels: [],
    links: { apiBaseUrl: undefined, grafanaBaseUrl: undefined },
    templatesDir: undefined,
    pollIntervalMs: 2000,
  });
});

t.test('problems name the key path', async (t) => {
  const problems = (section: unknown, env: NodeJS.ProcessEnv = {}) => parseNotifiers(section, { env }).problems.map((p) => `${p.path}: ${p.message}`);
  const at = 'recovery_hook.notifiers.channels';
  t.same(problems({ channels: { mail: { host: 'x' } } }), [`${at}.mail.type: is required (one of email, xmpp, webhook)`]);
  t.same(problems({ channels: { mail: { type: 'sms' } } }), [`${at}.mail.type: expected one of email, xmpp, webhook, got "sms"`]);
  t.same(problems({ channels: { Mail: { type: 'webhook', url: 'http://x' } } }), [
    `${at}.Mail: is not a valid channel name (lowercase letters, digits, "_" and "-", starting with a letter)`,
  ]);
  t.match(problems({ channels: { m: { type: 'email', host: 'h', from: 'a@b', to: ['c@d'], tls: { insecure: true }, usename: 'u' } } }), [
    `${at}.m.usename: unknown key (did you mean "username"?); known keys: `,
  ]);
  t.same(problems({ channels: { m: { type: 'email', host: 'h', from: 'not an address', to: [] } } }), [
    `${at}.m.from: expected a mail address (user@example.org or "Name <user@example.org>"), got "not an address"`,
    `${at}.m.to: needs at least 1 item(s)`,
  ]);
  t.same(problems({ channels: { m: { type: 'email', host: 'h', from: 'a@b', to: ['c@d'], username: 'u' } } }), [
    `${at}.m: username needs one of password, password_file, password_env`,
  ]);
  t.same(problems({ channels: { m: { type: 'email', host: 'h', from: 'a@b', to: ['c@d'], password: 'p' } } }), [
    `${at}.m.username: is required with a password`,
  ]);
  t.same(problems({ channels: { x: { type: 'xmpp', service: 'https://x', jid: 'a@b', password: 'p', to: ['c@d'] } } }), [
    `${at}.x.service: expected a URL (xmpp:// or xmpps://…), got "https://x"`,
  ]);
  t.same(problems({ channels: { x: { type: 'xmpp', service: 'xmpp://x', jid: 'a@b', password: 'p' } } }), [`${at}.x: needs recipients: to (JIDs) or room`]);
  t.match(problems({ channels: { x: { type: 'xmpp', service: 'xmpp://x', jid: 'a@b', password: 'p', to: ['c@d'], tls: { insecure: true } } } }), [
    `${at}.x.tls: applies to direct TLS only (service xmpps://…)`,
  ]);
  t.same(problems({ channels: { x: { type: 'xmpp', service: 'xmpp://x', jid: 'a@b', password_env: 'NOPE', to: ['c@d'] } } }), [
    `${at}.x.password_env: environment variable NOPE is not set or empty`,
  ]);
  t.same(problems({ channels: { w: { type: 'webhook', url: 'https://user:secret-pw@hooks.example/x' } } }), [
    `${at}.w: url must not contain user:password; use token or headers`,
  ]);
  t.same(
    problems({ channels: { w: { type: 'webhook', url_env: 'U' } } }, { U: 'ftp://hooks.example/s3cr3t' }),
    [`${at}.w: url must be an http:// or https:// URL`],
    'the value is not shown',
  );
  t.same(problems({ channels: { w: { type: 'webhook', url: 'http://h', token: 't', headers: { authorization: 'x' } } } }), [
    `${at}.w.headers: sets Authorization, which token already sets`,
  ]);
  t.same(problems({ channels: { w: { type: 'webhook', url: 'http://h', backoff: { initial_seconds: 60, max_seconds: 10 } } } }), [
    `${at}.w.backoff.max_seconds: must be at least initial_seconds`,
  ]);
  t.same(problems({ channels: { w: { type: 'webhook', url: 'http://h', events: ['recovery.done'] } } }), [
    `${at}.w.events[0]: expected one of notification.received, recovery.started, recovery.finished, recovery.ignored, recovery.error, recovery.failed, recovery.waiting, alert.firing, alert.resolved, got "recovery.done"`,
  ]);
  t.match(problems({ channels: { w: { type: 'webhook', url: 'http://h', tls: { ca_file: '/nonexistent/ca.pem' } } } }), [
    `${at}.w.tls.ca_file: cannot read /nonexistent/ca.pem: ENOENT`,
  ]);
  t.same(problems({ links: { api_base_url: 'not a url' } }), [
    'recovery_hook.notifiers.links.api_base_url: expected a URL (http:// or https://…), got "not a url"',
  ]);
});

// Email against a real SMTP server on loopback (smtp-server: STARTTLS with a throwaway certificate, AUTH required
// after STARTTLS): the mail's headers, bodies and links; a server down at first; bad credentials; a restart; a server
// that hangs without slowing anything else.
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../../core/log.js';
import { startNotifiers } from '../../../recovery-hooks/notifiers/index.js';
import { type SmtpServer, startSmtp } from '../../helpers/smtp.js';
import { selfSignedCert } from '../../helpers/tls.js';
import { HOST, count, failRecovery, messagesCounter, mustParse, openStore, outboxRows, receive, sleep, tempDir, waitFor } from './helpers/notifiers.js';
import { quietPort } from '../../helpers/ports.js';

const tls = selfSignedCert('localhost', '127.0.0.1');
const USER = 'mailer';
const PASSWORD = 'mail-secret-8d1f';

function emailSection(dir: string, port: number, over: Record<string, unknown> = {}) {
  writeFileSync(join(dir, 'smtp.pass'), `${PASSWORD}\n`, { mode: 0o600 });
  return {
    links: { api_base_url: 'https://recovery.example.org:15868/', grafana_base_url: 'https://grafana.example.org' },
    poll_interval_seconds: 0.05,
    channels: {
      ops: {
        type: 'email',
        host: '127.0.0.1',
        port,
        tls: { ca_file: tls.certFile },
        username: USER,
        password_file: 'smtp.pass',
        from: 'xcp-sentinel <sentinel@example.org>',
        to: ['ops@example.org', 'oncall@example.org'],
        cc: ['audit@example.org'],
        backoff: { initial_seconds: 0.1, max_seconds: 0.3 },
        timeout_seconds: 5,
        ...over,
      },
    },
  };
}

t.test('a notification and a failed recovery are mailed over STARTTLS with AUTH, with links', async (t) => {
  const dir = tempDir();
  const smtp = await startSmtp({ tls, users: { [USER]: PASSWORD } });
  t.teardown(() => smtp.stop());
  const store = openStore(dir);
  t.teardown(() => store.close());
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const notifiers = await startNotifiers(store, mustParse(emailSection(dir, smtp.port), { baseDir: dir }), logger, metrics);
  t.teardown(() => notifiers.stop());

  const n = await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('the first mail', () => smtp.mails.length >= 1);
  const mail = smtp.mails[0]!;
  t.ok(mail.secure, 'sent after STARTTLS');
  t.equal(mail.user, USER, 'authenticated');
  t.equal(mail.from, '"xcp-sentinel" <sentinel@example.org>');
  t.equal(mail.to, 'ops@example.org, oncall@example.org');
  t.equal(mail.cc, 'audit@example.org');
  t.same(mail.envelopeTo.sort(), ['audit@example.org', 'oncall@example.org', 'ops@example.org']);
  t.equal(mail.subject, `[xcp-sentinel] CRITICAL host failure: host ${HOST.name} (pool-a)`);
  t.match(mail.messageId, /^<xcp-sentinel\.\d+\.\d+@example\.org>$/, 'a stable Message-ID per outbox message');
  t.equal(mail.headers.get('x-xcp-sentinel-event'), 'notification.received');
  const apiLink = `https://recovery.example.org:15868/v1/notifications/${n.uuid}`;
  t.match(mail.text, `A host failure was reported for host ${HOST.name} in pool pool-a.`);
  t.match(mail.text, `Host:          ${HOST.name} (${HOST.uuid})`);
  t.match(mail.text, apiLink);
  t.match(mail.text, 'https://grafana.example.org/d/xcp-host?var-pool=pool-a&var-host=host-1');
  t.match(mail.html, `<a href="${apiLink}">`);
  t.match(mail.html, 'https://grafana.example.org/d/xcp-host?var-pool=pool-a&amp;var-host=host-1', 'URLs escaped in HTML attributes');

  await failRecovery(store, notifiers.router.statusEvents, n);
  notifiers.wake();
  await waitFor('the started and failed mails', () => smtp.mails.length >= 3);
  const [started, failed] = [smtp.mails[1]!, smtp.mails[2]!];
  t.equal(started.subject, `[xcp-sentinel] Recovery started: host ${HOST.name} (pool-a), run 1`);
  t.equal(failed.subject, `[xcp-sentinel] RECOVERY FAILED: host ${HOST.name} (pool-a)`);
  t.equal(failed.headers.get('x-priority'), '1 (Highest)', 'critical mail is high priority');
  t.match(failed.text, 'Failing task: fence_host: BMC 10.0.0.11 did not answer: timed out after 30000 ms');
  t.match(failed.text, /confirm_host_down: SUCCESS \(XAPI reports host host-1 not live\)/);
  t.match(failed.text, 'What to do (an operator is needed now)');
  t.match(failed.html, '<b>fence_host</b>');
  await sleep(200);
  t.equal(smtp.mails.length, 3, 'the error status without retry left sends nothing of its own, and nothing twice');
  t.equal(await count(metrics, 'ops', 'sent'), 3);
  t.same(
    outboxRows(store).map((r) => r.status),
    ['sent', 'sent', 'sent'],
  );
  t.notOk(JSON.stringify(logger.lines).includes(PASSWORD), 'the password is never logged');
});

t.test('a server down at first and up later gets the message exactly once', async (t) => {
  const dir = tempDir();
  const port = await quietPort();
  const store = openStore(dir);
  t.teardown(() => store.close());
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const notifiers = await startNotifiers(store, mustParse(emailSection(dir, port), { baseDir: dir }), logger, metrics);
  t.teardown(() => notifiers.stop());

  await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('a failed attempt', async () => (await count(metrics, 'ops', 'retry')) >= 1);
  const failure = logger.lines.find((l) => l.msg === 'message not delivered; retrying')!;
  t.match(failure, { level: 'warn', channel: 'ops', message_id: Number, error: /ECONNREFUSED/ }, 'one line per failure: channel, message id, error');
  t.equal(outboxRows(store)[0]!.status, 'pending', 'still queued');

  let smtp: SmtpServer | undefined;
  t.teardown(() => smtp?.stop());
  smtp = await startSmtp({ tls, users: { [USER]: PASSWORD }, port });
  await waitFor('the mail', () => smtp!.mails.length >= 1);
  await sleep(500);
  t.equal(smtp.mails.length, 1, 'exactly one mail');
  t.equal(await count(metrics, 'ops', 'sent'), 1);
  t.equal(outboxRows(store)[0]!.status, 'sent');
});

t.test('bad credentials: a clear error in logs and metrics, queued until the give-up time, then given up', async (t) => {
  const dir = tempDir();
  const smtp = await startSmtp({ tls, users: { [USER]: 'another-password' } });
  t.teardown(() => smtp.stop());
  const store = openStore(dir);
  t.teardown(() => store.close());
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const started = Date.now();
  const notifiers = await startNotifiers(store, mustParse(emailSection(dir, smtp.port, { give_up_after_seconds: 1.5 }), { baseDir: dir }), logger, metrics);
  t.teardown(() => notifiers.stop());

  await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('a failed attempt', async () => (await count(metrics, 'ops', 'retry')) >= 1);
  const failure = logger.lines.find((l) => l.msg === 'message not delivered; retrying')!;
  t.match(String(failure.error), /^SMTP 127\.0\.0\.1:\d+: authentication as mailer failed: EAUTH: Invalid login: 535/, 'says what failed');
  const row = outboxRows(store)[0]!;
  t.equal(row.status, 'pending', 'stays queued before the give-up time');
  t.match(row.last_error, /authentication as mailer failed/, 'the error is recorded with the message');

  await waitFor('the give-up', async () => (await count(metrics, 'ops', 'dead')) === 1, 5000);
  t.ok(Date.now() - started >= 1500, 'not given up before give_up_after_seconds');
  t.match(outboxRows(store)[0], { status: 'dead', last_error: /authentication as mailer failed/ });
  t.match(
    logger.lines.find((l) => l.msg === 'message given up'),
    { level: 'error', channel: 'ops', event: 'notification.received' },
  );
  t.ok(smtp.authFailures >= 2, 'retried with backoff meanwhile');
  t.equal(smtp.mails.length, 0);
  t.notOk(JSON.stringify(logger.lines).includes(PASSWORD), 'the password is never logged');
});

t.test('after a restart (store closed and reopened, new workers) a pending message is delivered exactly once', async (t) => {
  const dir = tempDir();
  const port = await quietPort();
  const section = emailSection(dir, port);
  const metrics = messagesCounter();

  const first = openStore(dir);
  const before = await startNotifiers(first, mustParse(section, { baseDir: dir }), memoryLogger(), metrics);
  await receive(first, before.router.statusEvents);
  before.wake();
  await waitFor('a failed attempt', async () => (await count(metrics, 'ops', 'retry')) >= 1);
  await before.stop();
  first.close();

  const smtp = await startSmtp({ tls, users: { [USER]: PASSWORD }, port });
  t.teardown(() => smtp.stop());
  const second = openStore(dir);
  t.teardown(() => second.close());
  const after = await startNotifiers(second, mustParse(section, { baseDir: dir }), memoryLogger(), metrics);
  t.teardown(() => after.stop());
  await waitFor('the mail', () => smtp.mails.length >= 1);
  await sleep(500);
  t.equal(smtp.mails.length, 1, 'exactly one mail');
  t.same(
    outboxRows(second).map((r) => [r.status, r.attempts]),
    [['sent', 2]],
  );
});

t.test('a mail server that hangs slows neither the store nor the other channels', async (t) => {
  const dir = tempDir();
  // Accepts connections and never greets.
  const sockets: Socket[] = [];
  const tarpit = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    tarpit.close();
  });
  const hooks: number[] = [];
  const web = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hooks.push(Date.now());
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  t.teardown(() => web.close());

  const section = emailSection(dir, (tarpit.address() as { port: number }).port, { timeout_seconds: 1 });
  (section.channels as Record<string, unknown>).hook = {
    type: 'webhook',
    url: `http://127.0.0.1:${(web.address() as { port: number }).port}/hook`,
    timeout_seconds: 2,
  };
  const store = openStore(dir);
  t.teardown(() => store.close());
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const notifiers = await startNotifiers(store, mustParse(section, { baseDir: dir }), logger, metrics);
  t.teardown(() => notifiers.stop());

  const t0 = Date.now();
  await receive(store, notifiers.router.statusEvents);
  t.ok(Date.now() - t0 < 200, 'recording a notification does not wait for any channel');
  notifiers.wake();
  await waitFor('the webhook', () => hooks.length === 1);
  t.ok(hooks[0]! - t0 < 900, 'the webhook is delivered while the mail server still hangs');
  await waitFor('the mail timeout', async () => (await count(metrics, 'ops', 'retry')) >= 1, 5000);
  t.match(
    logger.lines.find((l) => l.msg === 'message not delivered; retrying' && l.channel === 'ops'),
    { error: /SMTP 127\.0\.0\.1:\d+: send failed: .*(timeout|Greeting never received)/i },
  );
});

// Alerts that reach the receiver are announced on channels subscribed to alert.firing / alert.resolved: queued in
// the same commit as the delivery, sent once, and never twice when Alertmanager re-sends the group.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoryLogger } from '../../../core/log.js';
import { startRecoveryHook } from '../../../recovery-hooks/main.js';
import { parseConfig } from '../../../cli/config/bundle.js';
import { tempDir } from '../../helpers/tmp.js';

const received: { event: string; labels?: Record<string, string>; text?: string }[] = [];
const hook = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push(JSON.parse(body));
    res.writeHead(200).end('{}');
  });
});
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/chat`;
const dir = tempDir('xcp-alert-events-');
const config = parseConfig(
  `pools:
  - { name: lab, url: "http://127.0.0.1:9", username: root, password: x }
recovery_hook:
  listen: 127.0.0.1:0
  store_path: ${join(dir, 'store.sqlite')}
  tokens: [{ name: t, token: tok }]
  notifiers:
    poll_interval_seconds: 0.2
    channels:
      chat: { type: webhook, url: "${hookUrl}", events: [alert.firing, alert.resolved] }
`,
  join(dir, 'sentinel.yml'),
  {},
);
const receiver = await startRecoveryHook(config, memoryLogger('warn'));
t.teardown(async () => {
  await receiver.stop();
  hook.closeAllConnections();
  await new Promise((r) => hook.close(r));
});

const fixture = readFileSync(new URL('../../fixtures/alertmanager/webhook-v4-firing-multi-alert.json', import.meta.url), 'utf8');
const post = () =>
  fetch(`${receiver.url}/alertmanager`, { method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, body: fixture });

t.test('each alert announced once', async (t) => {
  t.equal((await post()).status, 202);
  t.equal((await post()).status, 202, 'the same group again (repeat_interval, a second Alertmanager)');
  const deadline = Date.now() + 10_000;
  while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 800)); // room for a wrong second delivery to show up
  const alerts = JSON.parse(fixture).alerts as { labels: Record<string, string> }[];
  t.equal(received.length, alerts.length, 'one message per alert, none for the re-sent group');
  t.ok(
    received.every((m) => JSON.stringify(m).includes('ICMP ping failed')),
    'each message names its alert',
  );
  for (const a of alerts) t.equal(received.filter((m) => JSON.stringify(m).includes(a.labels.instance!)).length, 1, `one message for ${a.labels.instance}`);
});

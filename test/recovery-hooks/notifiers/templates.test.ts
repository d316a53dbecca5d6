// The template syntax, and the message templates: every event renders, values are escaped in HTML, a user folder
// overrides single files, and a broken template stops the start with its file and line.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RenderError, Renderer } from '../../../recovery-hooks/notifiers/render.js';
import { NOTIFIER_EVENTS } from '../../../recovery-hooks/notifiers/events.js';
import { TemplateError, compile, render } from '../../../recovery-hooks/notifiers/template.js';
import type { OutboxMessage } from '../../../recovery-hooks/store/types.js';
import { tempDir } from './helpers/notifiers.js';

const run = (source: string, data: Record<string, unknown>, mode: 'text' | 'html' = 'text', partials: Record<string, string> = {}) =>
  render(compile(source, 'test.txt'), data, mode, (name) => compile(partials[name] ?? '', `${name}.txt`));

t.test('values, escaping, sections, lists, inverted sections and partials', async (t) => {
  t.equal(run('{{a}} {{b.c}} {{missing}}!', { a: 1, b: { c: 'x' } }), '1 x !');
  t.equal(run('{{list}}', { list: ['a', 'b'] }), 'a, b');
  t.equal(run('{{v}}', { v: `<b>"it's" & more</b>` }, 'html'), '&lt;b&gt;&quot;it&#39;s&quot; &amp; more&lt;/b&gt;');
  t.equal(run('{{v}}', { v: '<b>' }, 'text'), '<b>', 'text is not escaped');
  t.equal(run('{{#items}}[{{name}}]{{/items}}', { items: [{ name: 'a' }, { name: 'b' }] }), '[a][b]');
  t.equal(run('{{#items}}{{.}};{{/items}}', { items: ['x', 'y'] }), 'x;y;');
  t.equal(run('{{#obj}}{{k}}/{{top}}{{/obj}}', { obj: { k: 1 }, top: 2 }), '1/2', 'outer names stay visible');
  t.equal(run('{{#flag}}yes{{/flag}}{{^flag}}no{{/flag}}', { flag: false }), 'no');
  t.equal(run('{{^items}}none{{/items}}', { items: [] }), 'none', 'an empty list is falsy');
  t.equal(run('{{#items.0}}has{{/items.0}}', { items: [1] }), 'has', 'an index in a path');
  t.equal(run('a {{! a comment }}b', {}), 'a b');
  t.equal(run('line\n  {{#on}}\nshown\n  {{/on}}\nend\n', { on: true }), 'line\nshown\nend\n', 'a tag alone on its line takes the line');
  t.equal(run('x {{> p}} y', { n: 'N' }, 'text', { p: '<{{n}}>' }), 'x <N> y', 'an inline partial');
  t.equal(run('a\n{{> p}}\nb', {}, 'text', { p: 'P' }), 'a\nP\nb', 'a partial alone on its line still ends it');
});

t.test('template errors name the file and the line', async (t) => {
  t.throws(() => compile('ok\n{{#a}}\nnever closed', 'f.txt'), new TemplateError('f.txt:2: {{#a}} is never closed'));
  t.throws(() => compile('{{#a}}{{/b}}', 'f.txt'), { message: 'f.txt:1: {{/b}} closes {{#a}} (line 1)' });
  t.throws(() => compile('\n\n{{/b}}', 'f.txt'), { message: 'f.txt:3: {{/b}} closes nothing' });
  t.throws(() => compile('{{a b}}', 'f.txt'), { message: /^f\.txt:1: bad tag \{\{a b\}\}/ });
  t.throws(() => compile('{{{raw}}}', 'f.txt'), { message: /^f\.txt:1: bad tag \{\{\{raw\}\}: a tag is / }, 'no raw output');
  t.throws(() => compile('a }} b', 'f.txt'), { message: 'f.txt:1: unbalanced {{ or }}' });
});

function message(payload: Record<string, unknown>): OutboxMessage {
  return { id: 42, channel: 'ops', attempts: 1, createdAt: 1767225600000, lastError: null, payload };
}

const HOST_FAILED = {
  event: 'recovery.failed',
  severity: 'critical',
  at: '2026-01-01T00:05:00.000Z',
  notification_uuid: 'f1e2d3c4-0000-4000-8000-000000000001',
  type: 'COMPUTE_HOST',
  type_label: 'host failure',
  status: 'failed',
  source: 'alertmanager',
  signal: 'STOPPED',
  host_name: '<script>alert(1)</script>',
  host_uuid: '00000000-0000-4000-8000-000000000001',
  pool_name: 'pool-a',
  generated_at: '2026-01-01T00:00:00.000Z',
  vm_uuid: null,
  process_name: null,
  attempts: 2,
  message: 'fence_host failed: BMC timed out (after 2 run(s))',
  next_attempt_at: null,
  tasks: [{ name: 'fence_host', state: 'FAILURE', message: 'failed: BMC timed out' }],
  failed_task: { name: 'fence_host', error: 'BMC timed out' },
  vms: [{ vm_name: 'db & cache', vm_uuid: 'vm-1', status: 'pending', dest_host: null, message: null }],
};

const ALERT = {
  event: 'alert.firing',
  severity: 'warning',
  at: '2026-01-01T00:00:00Z',
  alertname: 'XcpSrAlmostFull',
  status: 'firing',
  summary: 'A storage repository is almost full.',
  description: 'SR local on host-1 is 92% full.',
  runbook_url: 'https://runbooks.example/XcpSrAlmostFull',
  starts_at: '2026-01-01T00:00:00Z',
  ends_at: null,
  generator_url: 'http://prometheus:9090/graph',
  pool_name: 'pool-a',
  host_name: 'host-1',
  labels: [{ name: 'alertname', value: 'XcpSrAlmostFull' }],
};

t.test('every built-in event renders a subject, text, HTML and chat; values are escaped in HTML', async (t) => {
  const r = new Renderer({ apiBaseUrl: 'https://rh.example:15868', grafanaBaseUrl: 'https://grafana.example' });
  for (const event of NOTIFIER_EVENTS) {
    const m = r.render(message({ ...(event.startsWith('alert.') ? ALERT : HOST_FAILED), event }));
    t.ok(m.subject.startsWith('[xcp-sentinel] ') && !m.subject.includes('\n'), `${event}: one-line subject`);
    t.ok(m.text.length > 100 && m.html.includes('</html>') && m.chat.length > 10, `${event}: bodies`);
    t.notOk(/\{\{|\}\}/.test(m.text + m.html + m.chat), `${event}: no tag left`);
    t.equal(m.key, 'xcp-sentinel.1767225600000.42');
  }
  const waiting = r.render(message({ ...HOST_FAILED, event: 'recovery.waiting', wait_kind: 'fence_confirmation', waiting_since: '2026-01-01T00:05:00.000Z' }));
  t.match(waiting.subject, /^\[xcp-sentinel\] ACTION NEEDED: recovery of host /);
  t.match(waiting.text, /xcp-sentinel confirm-fenced f1e2d3c4-0000-4000-8000-000000000001 --host-uuid /, 'the message says what to run');
  t.match(waiting.chat, /^\[CRITICAL\] Recovery of host .* waits for an operator: /);
  const m = r.render(message(HOST_FAILED));
  t.match(m.html, '&lt;script&gt;alert(1)&lt;/script&gt;');
  t.notOk(m.html.includes('<script>'), 'no markup from data');
  t.match(m.html, 'db &amp; cache');
  t.match(m.text, 'Failing task: fence_host: BMC timed out');
  t.match(m.text, 'Notification (API):   https://rh.example:15868/v1/notifications/f1e2d3c4-0000-4000-8000-000000000001');
  t.match(m.text, 'Host dashboard:       https://grafana.example/d/xcp-host?var-pool=pool-a&var-host=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
  t.match(m.data, {
    notification_url: 'https://rh.example:15868/v1/notifications/f1e2d3c4-0000-4000-8000-000000000001',
    grafana_recovery_url: 'https://grafana.example/d/xcp-recovery',
  });

  const bare = new Renderer({}).render(message(HOST_FAILED));
  t.notOk(bare.text.includes('Links:'), 'no links section without base URLs');
  t.throws(() => r.render(message({ event: 'notification.status' })), RenderError, 'an unknown event cannot be rendered');
});

t.test('a user folder overrides single files; a broken one fails at start with its file and line', async (t) => {
  const dir = tempDir();
  mkdirSync(join(dir, 'recovery.failed'));
  writeFileSync(join(dir, 'recovery.failed', 'subject.txt'), 'PAGE: {{pool_name}}/{{host_name}} {{> target}}\n');
  mkdirSync(join(dir, '_partials'));
  writeFileSync(join(dir, '_partials', 'target.txt'), 'the box\n');
  const m = new Renderer({}, dir).render(message(HOST_FAILED));
  t.equal(m.subject, 'PAGE: pool-a/<script>alert(1)</script> the box', 'own subject, own partial');
  t.match(m.text, 'The recovery of the box in pool pool-a failed for good', 'built-in body, with the overridden partial');

  writeFileSync(join(dir, 'recovery.failed', 'body.html'), '<p>\n{{#tasks}}\n');
  t.throws(() => new Renderer({}, dir), { name: 'TemplateError', message: `${join(dir, 'recovery.failed', 'body.html')}:2: {{#tasks}} is never closed` });
});

t.test('with the external URL of the web UI, messages link the notification page (chat: the page instead of the API)', async (t) => {
  const page = 'https://rh.example/ui/notifications/f1e2d3c4-0000-4000-8000-000000000001';
  const api = 'https://rh.example:15868/v1/notifications/f1e2d3c4-0000-4000-8000-000000000001';
  const both = new Renderer({ apiBaseUrl: 'https://rh.example:15868', uiBaseUrl: 'https://rh.example' });
  for (const event of NOTIFIER_EVENTS.filter((e) => !e.startsWith('alert.'))) {
    const m = both.render(message({ ...HOST_FAILED, event }));
    t.match(m.text, `Notification page:    ${page}`, `${event}: text`);
    t.match(m.html, `<a href="${page}">Notification page</a>`, `${event}: HTML`);
    t.ok(m.chat.includes(page) && !m.chat.includes(api), `${event}: chat links the page only`);
  }
  const apiOnly = new Renderer({ apiBaseUrl: 'https://rh.example:15868' }).render(message({ ...HOST_FAILED, event: 'recovery.failed' }));
  t.ok(apiOnly.chat.includes(api) && !apiOnly.chat.includes('/ui/'), 'without it, chat links the API as before');
});

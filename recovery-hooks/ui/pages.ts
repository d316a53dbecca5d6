// The UI's pages, rendered on the server: login, notifications list, notification detail (with its live section),
// pools and hosts, the create form, errors. No inline script or style (the Content-Security-Policy forbids them): the
// look is /ui/static/ui.css, the live updates /ui/static/ui.js.
import type { PoolMode } from '../config.js';
import type { KnownHost } from '../hosts.js';
import type { TokenScope } from '../config.js';
import {
  type ForwardState,
  type HookCallRecord,
  type HostState,
  type MessageRecord,
  NOTIFICATION_STATUSES,
  type Notification,
  type NotificationActivity,
  type OperatorWait,
  TERMINAL_STATUSES,
  type TaskRecord,
  type VmMove,
} from '../store/types.js';
import { FENCE_WAIT_KINDS } from '../store/types.js';
import { type Html, html } from './html.js';
import { type ListResult, PAGE_SIZE } from './list.js';
import type { Session } from './sessions.js';

export const UI = '/ui';

export const detailPath = (uuid: string) => `${UI}/notifications/${encodeURIComponent(uuid)}`;

const can = (session: Session, scope: TokenScope) => session.caller.scopes.includes(scope);

/** "2026-12-06 08:30:12 UTC" in a <time> element. */
function when(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined) return html`<span class="muted">—</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

const badge = (status: string) => html`<span class="badge status-${status}">${status}</span>`;
/** Next to a status: the recovery waits for a person (ui.js draws the same). */
const waitBadge = (kind: string | undefined) => (kind ? html` <span class="badge waits" title="waits for an operator">${kind}</span>` : '');

function layout(o: { title: string; session?: Session; body: Html; status?: number }): Html {
  const s = o.session;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${o.title} · xcp-sentinel recovery</title>
<link rel="stylesheet" href="${UI}/static/ui.css">
<link rel="icon" href="${UI}/static/favicon.svg" type="image/svg+xml">
${s ? html`<script src="${UI}/static/ui.js" defer></script>` : ''}
</head>
<body>
<header class="top">
<a class="brand" href="${UI}/notifications">xcp-sentinel · recovery</a>
${
  s
    ? html`<nav>
<a href="${UI}/notifications">Notifications</a>
<a href="${UI}/pools">Pools &amp; hosts</a>
${can(s, 'notifications:write') ? html`<a href="${UI}/notifications/new">New notification</a>` : ''}
</nav>
<form class="logout" method="post" action="${UI}/logout">
<span class="who" title="${s.caller.scopes.join(', ')}">token <b>${s.caller.name}</b></span>
<input type="hidden" name="csrf" value="${s.csrf}">
<button type="submit">Log out</button>
</form>`
    : ''
}
</header>
<main>
${o.body}
</main>
</body>
</html>
`;
}

export function loginPage(o: { error?: string; next?: string }): Html {
  return layout({
    title: 'Log in',
    body: html`<section class="login">
<h1>Log in</h1>
<p>Enter an API token of this receiver (<code>recovery_hook.tokens</code>). It is checked once; the browser then keeps
only a session cookie, which ends when you log out or after a while without use.</p>
${o.error ? html`<p class="error" role="alert" id="error">${o.error}</p>` : ''}
<form method="post" action="${UI}/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
<button type="submit">Log in</button>
</form>
</section>`,
  });
}

export function errorPage(status: number, fault: string, message: string, session?: Session): Html {
  return layout({
    title: `Error ${status}`,
    session,
    body: html`<h1>Error ${status}</h1>
<p class="error" role="alert" id="error"><b>${fault}</b>: ${message}</p>
<p><a href="${UI}/notifications">Back to the notifications</a></p>`,
  });
}

/** Where recoveries wait for a person, above the list: the thing an operator must not miss. */
function waitsBanner(waits: OperatorWait[]): Html {
  // Kept (hidden) when empty: the list page's live updates fill it when a recovery starts to wait.
  return html`<section class="wait" role="alert" id="waits"${waits.length === 0 ? html` hidden` : ''}>
<h2>${waits.length === 1 ? 'A recovery waits' : `${waits.length} recoveries wait`} for an operator</h2>
<ul>
${waits.map((w) => html`<li data-uuid="${w.notificationUuid}"><a href="${detailPath(w.notificationUuid)}"><b>${w.kind}</b> · host ${w.hostName} (pool ${w.poolName})</a> since ${when(w.since)}: ${w.reason}</li>`)}
</ul>
</section>`;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined, any = 'any'): Html {
  return html`<label>${label}
<select name="${name}">
<option value="">${any}</option>
${options.map((o) => html`<option value="${o}"${o === value ? html` selected` : ''}>${o}</option>`)}
</select></label>`;
}

/** A short summary of a payload: its first few entries. */
function payloadSummary(payload: Record<string, unknown>): string {
  return Object.entries(payload)
    .slice(0, 3)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
    .slice(0, 160);
}

export function listPage(o: {
  session: Session;
  result: ListResult;
  types: readonly string[];
  pools: string[];
  hosts: KnownHost[];
  waits: OperatorWait[];
  refreshMs: number;
  error?: { status: number; message: string };
}): Html {
  const f = o.result.form;
  const params = (over: Record<string, string | undefined>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...f, ...over })) if (v) q.set(k, v);
    return q;
  };
  const query = (over: Record<string, string | undefined>) => `${UI}/notifications?${params(over)}`;
  const waiting = new Map(o.waits.map((w) => [w.notificationUuid, w.kind]));
  // ui.js asks this address for news (it adds the uuids of the rows still running), unless the filters were refused.
  // On the first page it also asks how many newer notifications match: those after the newest row shown.
  const newest = f.marker ? undefined : String(Math.max(0, ...o.result.rows.map((n) => n.id)));
  const live = o.error ? '' : `${UI}/notifications/live?${params({ marker: undefined, limit: undefined, newest })}`;
  return layout({
    title: 'Notifications',
    session: o.session,
    body: html`${waitsBanner(o.waits)}
<h1>Notifications</h1>
<form class="filters" method="get" action="${UI}/notifications" id="filters">
${select('type', 'Type', o.types, f.type)}
${select('status', 'Status', NOTIFICATION_STATUSES, f.status)}
${select('pool', 'Pool', o.pools, f.pool)}
<label>Host <input name="host" list="known-hosts" value="${f.host ?? ''}" placeholder="name or uuid" size="16"></label>
<datalist id="known-hosts">${o.hosts.map((h) => html`<option value="${h.name}">`)}</datalist>
<label>Generated since <input name="generated-since" value="${f['generated-since'] ?? ''}" placeholder="2026-12-06T08:00:00Z" size="20"></label>
<label>until <input name="generated-until" value="${f['generated-until'] ?? ''}" placeholder="(now)" size="20"></label>
<label>Per page <input name="limit" type="number" min="1" max="200" value="${f.limit ?? ''}" placeholder="${String(PAGE_SIZE)}" size="4"></label>
<button type="submit">Filter</button>
<a href="${UI}/notifications">Clear</a>
</form>
${o.error ? html`<p class="error" role="alert" id="error"><b>${o.error.status}</b> ${o.error.message}</p>` : ''}
<p class="news" id="list-news" hidden><span></span> <a href="${query({})}">Show them</a></p>
<table class="list" id="notifications"${live ? html` data-live-src="${live}" data-refresh-ms="${String(o.refreshMs)}"` : ''}>
<thead><tr><th>Generated</th><th>Type</th><th>Status</th><th>Host</th><th>Pool</th><th>Payload</th><th>Message</th><th>Notification</th></tr></thead>
<tbody>
${o.result.rows.map(
  (n) => html`<tr data-uuid="${n.uuid}" data-id="${String(n.id)}" data-status="${n.status}" data-terminal="${String(TERMINAL_STATUSES.includes(n.status))}">
<td>${when(n.generatedAt)}</td><td>${n.type}</td><td class="status">${badge(n.status)}${waitBadge(waiting.get(n.uuid))}</td><td>${n.hostName}</td><td>${n.poolName}</td>
<td class="payload">${payloadSummary(n.payload)}</td><td class="message">${n.message ?? ''}</td>
<td><a href="${detailPath(n.uuid)}"><code>${n.uuid.slice(0, 8)}</code></a></td>
</tr>`,
)}
${o.result.rows.length === 0 && !o.error ? html`<tr><td colspan="8" class="muted">No notification matches.</td></tr>` : ''}
</tbody>
</table>
<nav class="pager">
${f.marker ? html`<a href="${query({ marker: undefined })}" id="first-page">First page</a>` : ''}
${o.result.next ? html`<a href="${query({ marker: o.result.next })}" id="next-page" rel="next">${o.result.scanCut ? 'Read further' : 'Next page'} →</a>` : ''}
${o.result.scanCut ? html`<span class="muted">Stopped reading after many notifications that did not match; read further to go on.</span>` : ''}
</nav>`,
  });
}

export interface Detail {
  n: Notification;
  /** The messages sent and the action-hook calls made for it. */
  activity: NotificationActivity;
  /** The open wait (unconfirmed, notification not ended), if any. */
  wait?: OperatorWait;
  tasks: TaskRecord[];
  moves: VmMove[];
  forward?: ForwardState;
}

function waitSection(d: Detail, session: Session, confirm?: { error: string; value: string }): Html {
  const w = d.wait;
  if (!w) return html``;
  // Kinds whose confirmation says "the host is off" (README "When proof is missing, a person decides"); any other kind
  // is shown as it is, with its reason.
  const fence = (FENCE_WAIT_KINDS as readonly string[]).includes(w.kind);
  const action = !fence
    ? html``
    : can(session, 'fence:confirm')
      ? html`<form method="post" action="${detailPath(d.n.uuid)}/confirm-fenced" class="confirm" id="confirm-fenced">
<p>Confirm only once you know host <b>${d.n.hostName}</b> is powered off (its BMC, its PDU, or someone at the rack):
a VM of a host still running would run twice. To confirm, type the host's UUID <code>${d.n.hostUuid}</code>.</p>
<input type="hidden" name="csrf" value="${session.csrf}">
<label>Host UUID <input name="host_uuid" value="${confirm?.value ?? ''}" autocomplete="off" size="40" required></label>
<button type="submit" class="danger">Confirm the host is off</button>
${confirm ? html`<p class="error" role="alert" id="confirm-error">${confirm.error}</p>` : ''}
</form>`
      : html`<p>Confirming needs a token with scope <code>fence:confirm</code> (token <b>${session.caller.name}</b> has ${session.caller.scopes.join(', ')}),
or <code>xcp-sentinel confirm-fenced ${d.n.uuid} --host-uuid ${d.n.hostUuid}</code>.</p>`;
  return html`<section class="wait" role="alert" id="operator-wait" data-kind="${w.kind}">
<h2>Waiting for an operator: <span class="kind">${w.kind}</span></h2>
<p class="reason">${w.reason}</p>
<p>Since ${when(w.since)} · host ${w.hostName} <code>${w.hostUuid}</code> · pool ${w.poolName}</p>
${action}
</section>`;
}

function tasksTable(tasks: TaskRecord[]): Html {
  if (tasks.length === 0) return html`<p class="muted">No workflow task planned yet.</p>`;
  return html`<ol class="tasks" id="tasks">
${tasks.map(
  (t) => html`<li class="task state-${t.state}" data-task="${t.name}" data-state="${t.state}">
<div class="task-head"><b>${t.name}</b> <span class="badge state-${t.state}">${t.state}</span>
<progress max="1" value="${t.progress}">${Math.round(t.progress * 100)} %</progress>
<span class="muted">${t.firstStartedAt ? html`started ${when(t.firstStartedAt)}` : ''}${t.finishedAt ? html` · ended ${when(t.finishedAt)}` : ''}</span></div>
${t.details.length ? html`<ul class="details">${t.details.map((p) => html`<li>${when(p.timestamp)} ${p.message}</li>`)}</ul>` : ''}
</li>`,
)}
</ol>`;
}

function movesTable(moves: VmMove[]): Html {
  if (moves.length === 0) return html``;
  return html`<h2>VM moves</h2>
<table class="list" id="vm-moves">
<thead><tr><th>VM</th><th>From → to</th><th>Status</th><th>Started</th><th>Ended</th><th>Message</th></tr></thead>
<tbody>
${moves.map(
  (m) => html`<tr data-vm="${m.vmUuid}" data-status="${m.status}">
<td>${m.vmName} <code class="muted">${m.vmUuid.slice(0, 8)}</code></td><td>${m.sourceHost} → ${m.destHost ?? '…'}</td><td>${badge(m.status)}</td>
<td>${when(m.startTime)}</td><td>${when(m.endTime)}</td><td class="message">${m.message ?? ''}</td></tr>`,
)}
</tbody>
</table>`;
}

/** Text the store bounded (ACTIVITY_TEXT_MAX) shown whole only on demand: its first line in the table. */
function excerpt(text: string | null): Html {
  if (!text) return html``;
  const short = text.length <= 120 && !text.includes('\n');
  return short
    ? html`<code class="excerpt">${text}</code>`
    : html`<details class="excerpt"><summary><code>${text.slice(0, 120)}…</code></summary><pre>${text}</pre></details>`;
}

function hookCallsTable(calls: HookCallRecord[]): Html {
  if (calls.length === 0) return html``;
  return html`<h2>Action hooks</h2>
<table class="list" id="hook-calls">
<thead><tr><th>Hook</th><th>Phase</th><th>Task</th><th>Action</th><th>Outcome</th><th>HTTP</th><th>Attempts</th><th>Started</th><th>Finished</th><th>Output</th></tr></thead>
<tbody>
${calls.map(
  (
    c,
  ) => html`<tr data-hook="${c.hook}" data-phase="${c.phase}" data-task="${c.taskName ?? ''}" data-method="${c.method}" data-outcome="${c.outcome}" data-call="${c.callId}">
<td><code>${c.hook}</code></td><td>${c.phase}</td><td>${c.taskName ?? html`<span class="muted">—</span>`}</td><td><code>${c.method}</code></td>
<td>${badge(c.outcome)}</td><td class="http">${c.httpStatus ?? html`<span class="muted">—</span>`}</td><td>${c.attempts}</td>
<td>${when(c.startedAt)}</td><td>${when(c.finishedAt)}</td><td class="output">${excerpt(c.output)}</td></tr>`,
)}
</tbody>
</table>`;
}

function messagesTable(messages: MessageRecord[]): Html {
  if (messages.length === 0) return html``;
  return html`<h2>Messages</h2>
<table class="list" id="messages">
<thead><tr><th>Channel</th><th>Event</th><th>Status</th><th>Attempts</th><th>Queued</th><th>Sent / given up</th><th>Next attempt</th><th>Last error</th></tr></thead>
<tbody>
${messages.map(
  (m) => html`<tr data-channel="${m.channel}" data-event="${m.event ?? ''}" data-status="${m.status}">
<td>${m.channel}</td><td>${m.event ?? html`<span class="muted">—</span>`}</td><td>${badge(m.status)}</td><td>${m.attempts}</td>
<td>${when(m.createdAt)}</td><td>${when(m.sentAt ?? m.failedAt)}</td><td>${m.status === 'queued' ? when(m.nextAttemptAt) : ''}</td>
<td class="output">${excerpt(m.lastError)}</td></tr>`,
)}
</tbody>
</table>`;
}

/**
 * The part of the detail page that changes while a recovery runs: ui.js fetches it again until the status is final
 * and no message of it is still queued.
 */
export function liveSection(d: Detail, session: Session, refreshMs: number, confirm?: { error: string; value: string }): Html {
  const n = d.n;
  const terminal = TERMINAL_STATUSES.includes(n.status);
  const queued = d.activity.messages.filter((m) => m.status === 'queued').length;
  const done = terminal && queued === 0;
  return html`<section id="live" data-status="${n.status}" data-terminal="${String(terminal)}" data-done="${String(done)}" data-src="${detailPath(n.uuid)}/live" data-refresh-ms="${String(refreshMs)}">
<p class="status-line">Status ${badge(n.status)} · run ${n.attempts}${n.nextAttemptAt ? html` · next run ${when(n.nextAttemptAt)}` : ''} · updated ${when(n.updatedAt ?? n.createdAt)}
${done ? '' : html`<span class="live-hint muted">(updates live)</span>`}</p>
${n.message ? html`<p class="message" id="message">${n.message}</p>` : ''}
${waitSection(d, session, confirm)}
<h2>Workflow</h2>
${tasksTable(d.tasks)}
${movesTable(d.moves)}
${hookCallsTable(d.activity.hookCalls)}
${messagesTable(d.activity.messages)}
${
  d.forward
    ? html`<h2>Forwarded</h2><p>To ${d.forward.endpoint}: ${d.forward.outcome}${d.forward.remoteUuid ? html`, remote ${d.forward.remoteUuid}` : ''}${d.forward.remoteStatus ? html` (${d.forward.remoteStatus})` : ''}${d.forward.reason ? html` — ${d.forward.reason}` : ''}</p>`
    : ''
}
</section>`;
}

export function detailPage(d: Detail, session: Session, refreshMs: number, confirm?: { error: string; value: string }): Html {
  const n = d.n;
  return layout({
    title: `${n.type} ${n.hostName}`,
    session,
    body: html`<p><a href="${UI}/notifications">← Notifications</a></p>
<h1>${n.type} · ${n.hostName}</h1>
<dl class="facts">
<dt>Notification</dt><dd><code id="uuid">${n.uuid}</code> (id ${n.id})</dd>
<dt>Host</dt><dd>${n.hostName} <code>${n.hostUuid}</code></dd>
<dt>Pool</dt><dd>${n.poolName}</dd>
<dt>Generated</dt><dd>${when(n.generatedAt)}</dd>
<dt>Received</dt><dd>${when(n.createdAt)} from ${n.source}</dd>
<dt>Payload</dt><dd><pre>${JSON.stringify(n.payload, null, 2)}</pre></dd>
</dl>
${liveSection(d, session, refreshMs, confirm)}`,
  });
}

export function poolsPage(o: {
  session: Session;
  pools: { name: string; mode: PoolMode; hosts: KnownHost[] }[];
  states: HostState[];
  waits: OperatorWait[];
}): Html {
  const states = new Map(o.states.map((s) => [s.hostUuid, s]));
  return layout({
    title: 'Pools and hosts',
    session: o.session,
    body: html`${waitsBanner(o.waits)}
<h1>Pools and hosts</h1>
${o.pools.map(
  (p) => html`<section class="pool" data-pool="${p.name}">
<h2>${p.name} <span class="badge">${p.mode}</span></h2>
<table class="list">
<thead><tr><th>Host</th><th>UUID</th><th>Maintenance</th><th>Since</th><th>Why</th><th></th></tr></thead>
<tbody>
${p.hosts.map((h) => {
  const s = states.get(h.uuid);
  return html`<tr data-host="${h.name}" data-maintenance="${String(s?.onMaintenance ?? false)}">
<td>${h.name}</td><td><code>${h.uuid}</code></td>
<td>${s?.onMaintenance ? html`<span class="badge status-error">on maintenance</span>` : html`<span class="badge status-finished">in service</span>`}</td>
<td>${s ? when(s.updatedAt) : ''}</td>
<td>${s?.reason ?? ''}${s?.maintenanceBy ? html` (<a href="${detailPath(s.maintenanceBy)}">recovery</a>)` : ''}</td>
<td><a href="${UI}/notifications?host=${encodeURIComponent(h.name)}">notifications</a></td></tr>`;
})}
${p.hosts.length === 0 ? html`<tr><td colspan="6" class="muted">No host known yet (the pool's inventory is read from XAPI).</td></tr>` : ''}
</tbody>
</table>
</section>`,
)}`,
  });
}

export interface CreateForm {
  type?: string;
  hostname?: string;
  event?: string;
  generated_time?: string;
  payload?: string;
}

export function createPage(o: {
  session: Session;
  types: readonly string[];
  hosts: KnownHost[];
  form: CreateForm;
  error?: { status: number; message: string };
}): Html {
  const f = o.form;
  return layout({
    title: 'New notification',
    session: o.session,
    body: html`<h1>New notification</h1>
<p>Records a notification as <code>POST /v1/notifications</code> does (same checks, same answers). In a test pool, a
<code>COMPUTE_HOST</code> <code>STOPPED</code> notification for a host runs the whole host recovery: use it where that is
what you want.</p>
${o.error ? html`<p class="error" role="alert" id="error"><b>${o.error.status}</b> ${o.error.message}</p>` : ''}
<form method="post" action="${UI}/notifications" class="create" id="create">
<input type="hidden" name="csrf" value="${o.session.csrf}">
${select('type', 'Type', o.types, f.type, '(choose)')}
<label>Host name <input name="hostname" list="known-hosts" value="${f.hostname ?? ''}" required></label>
<datalist id="known-hosts">${o.hosts.map((h) => html`<option value="${h.name}">`)}</datalist>
<label>Event <input name="event" list="events" value="${f.event ?? ''}" placeholder="STOPPED"></label>
<datalist id="events"><option value="STOPPED"><option value="STARTED"><option value="LIFECYCLE"></datalist>
<label>Generated <input name="generated_time" value="${f.generated_time ?? ''}" placeholder="(now)" size="24"></label>
<label class="wide">More payload (a JSON object, merged with the event)
<textarea name="payload" rows="4" placeholder='{"host_status": "UNKNOWN"}  or  {"process_name": "xapi"}'>${f.payload ?? ''}</textarea></label>
<button type="submit">Create</button>
</form>`,
  });
}

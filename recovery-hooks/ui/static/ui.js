// xcp-sentinel recovery UI: live updates. The pages work without this file (reload them); with it:
// - a notification's detail page fetches its #live section again every data-refresh-ms until the status is final and
//   no message of it waits to be sent (data-done); an
//   input being filled in (the fence confirmation) is never replaced under the operator's fingers;
// - the notifications list asks data-live-src (JSON) every data-refresh-ms while the tab is visible about its rows
//   still running (at most ROWS_PER_ASK per request, in turns when there are more), changes their status and message
//   in place, redraws the banner of waiting recoveries, and says when newer notifications match the filters.
// Everything from the server is put in the page as text (textContent), never as markup.
'use strict';
(() => {
  // Set once the page is being left (a link, a form such as Log out): a reload then would cancel that navigation.
  let leaving = false;
  window.addEventListener('beforeunload', () => {
    leaving = true;
  });
  const onLoginEnded = (res) => {
    if (res.status !== 401) return false;
    if (!leaving) window.location.reload(); // the session ended: the server sends the login page
    return true;
  };

  // --- a notification's detail page ---
  const busy = (section) => {
    const active = document.activeElement;
    if (active && section.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'TEXTAREA')) return true;
    return [...section.querySelectorAll('input[type=text], input:not([type])')].some((input) => input.value !== '');
  };

  const scheduleDetail = () => {
    const section = document.getElementById('live');
    if (section && section.dataset.done !== 'true') setTimeout(refreshDetail, Number(section.dataset.refreshMs) || 2000);
  };

  const refreshDetail = async () => {
    const section = document.getElementById('live');
    if (!section) return;
    try {
      if (!busy(section)) {
        const res = await fetch(section.dataset.src, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
        if (onLoginEnded(res)) return;
        if (res.ok) {
          const template = document.createElement('template');
          template.innerHTML = await res.text();
          const next = template.content.getElementById('live');
          const current = document.getElementById('live');
          if (next && current && !busy(current)) current.replaceWith(next);
        }
      }
    } catch {
      // the receiver restarts or the network blinks: try again at the next tick
    }
    scheduleDetail();
  };

  // --- the notifications list ---
  const element = (tag, text, attrs = {}) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const badge = (cls, text, title) => element('span', text, title ? { class: cls, title } : { class: cls });
  const time = (iso) => element('time', `${iso.slice(0, 19).replace('T', ' ')} UTC`, { datetime: iso });
  const detailHref = (uuid) => `/ui/notifications/${encodeURIComponent(uuid)}`;

  const updateRow = (row, n) => {
    const wait = n.operator_wait ?? '';
    if (row.dataset.status !== n.status || (row.dataset.wait ?? '') !== wait) {
      const cell = row.querySelector('td.status');
      cell.replaceChildren(badge(`badge status-${n.status}`, n.status));
      if (wait) cell.append(' ', badge('badge waits', wait, 'waits for an operator'));
      Object.assign(row.dataset, { status: n.status, terminal: String(n.terminal), wait });
      row.classList.add('changed');
    }
    const message = row.querySelector('td.message');
    if (message && message.textContent !== (n.message ?? '')) message.textContent = n.message ?? '';
  };

  const drawWaits = (waits) => {
    const section = document.getElementById('waits');
    if (!section) return;
    const shown = [...section.querySelectorAll('li[data-uuid]')].map((li) => li.dataset.uuid).join();
    if (shown === waits.map((w) => w.notification_uuid).join()) return;
    const items = waits.map((w) => {
      const link = element('a', undefined, { href: detailHref(w.notification_uuid) });
      link.append(element('b', w.kind), ` · host ${w.host_name} (pool ${w.pool_name})`);
      const li = element('li', undefined, { 'data-uuid': w.notification_uuid });
      li.append(link, ' since ', time(w.since), `: ${w.reason}`);
      return li;
    });
    const list = element('ul');
    list.append(...items);
    section.replaceChildren(element('h2', `${waits.length === 1 ? 'A recovery waits' : `${waits.length} recoveries wait`} for an operator`), list);
    section.hidden = waits.length === 0;
  };

  const applyList = (table, data) => {
    const rows = new Map([...table.querySelectorAll('tbody tr[data-uuid]')].map((r) => [r.dataset.uuid, r]));
    for (const n of data.notifications) {
      const row = rows.get(n.notification_uuid);
      if (row) updateRow(row, n);
    }
    const news = document.getElementById('list-news');
    if (news) {
      const count = `${data.newer}${data.newer_more ? ' or more' : ''}`;
      news.firstElementChild.textContent = data.newer === 1 && !data.newer_more ? 'A newer notification matches.' : `${count} newer notifications match.`;
      news.hidden = data.newer === 0;
    }
    drawWaits(data.operator_waits);
  };

  // What the server accepts per request (LIMITS.queryRepeats).
  const ROWS_PER_ASK = 16;
  let turn = 0;
  /** The live address with the uuids of the next rows still running. */
  const liveUrl = (table) => {
    const running = [...table.querySelectorAll('tbody tr[data-uuid][data-terminal="false"]')].map((r) => r.dataset.uuid);
    if (turn >= running.length) turn = 0;
    const asked = running.slice(turn, turn + ROWS_PER_ASK);
    turn += ROWS_PER_ASK;
    const url = new URL(table.dataset.liveSrc, window.location.href);
    for (const uuid of asked) url.searchParams.append('uuid', uuid);
    return url;
  };

  const pollList = (table) => {
    const period = Number(table.dataset.refreshMs) || 2000;
    const tick = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const res = await fetch(liveUrl(table), { credentials: 'same-origin', headers: { Accept: 'application/json' } });
          if (onLoginEnded(res)) return;
          if (res.ok) applyList(table, await res.json());
          else if (res.status < 500) return; // the page's filters no longer hold (e.g. its marker was purged): stop
        } catch {
          // as above: the next tick tries again
        }
      }
      setTimeout(tick, period);
    };
    setTimeout(tick, period);
  };

  scheduleDetail();
  const table = document.getElementById('notifications');
  if (table?.dataset.liveSrc) pollList(table);
})();

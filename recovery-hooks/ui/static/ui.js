// xcp-sentinel recovery UI: live updates of a notification's detail page while its recovery runs. The page works
// without this file (reload it); with it, the #live section is fetched again every data-refresh-ms until the status
// is final. An input being filled in (the fence confirmation) is never replaced under the operator's fingers.
'use strict';
(() => {
  const busy = (section) => {
    const active = document.activeElement;
    if (active && section.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'TEXTAREA')) return true;
    return [...section.querySelectorAll('input[type=text], input:not([type])')].some((input) => input.value !== '');
  };

  const schedule = () => {
    const section = document.getElementById('live');
    if (section && section.dataset.terminal !== 'true') setTimeout(refresh, Number(section.dataset.refreshMs) || 2000);
  };

  const refresh = async () => {
    const section = document.getElementById('live');
    if (!section) return;
    try {
      if (!busy(section)) {
        const res = await fetch(section.dataset.src, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
        if (res.status === 401) {
          window.location.reload(); // the session ended: the server sends the login page
          return;
        }
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
    schedule();
  };

  schedule();
})();

// xcp-sentinel recovery UI: live updates of a notification's detail page while its recovery runs. The page works
// without this file (reload it); with it, the #live section is fetched again every data-refresh-ms until the status
// is final. An input being filled in (the fence confirmation) is never replaced under the operator's fingers.
'use strict';
(function () {
  function busy(section) {
    var active = document.activeElement;
    if (active && section.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'TEXTAREA')) return true;
    var inputs = section.querySelectorAll('input[type=text], input:not([type])');
    for (var i = 0; i < inputs.length; i++) if (inputs[i].value) return true;
    return false;
  }

  function schedule() {
    var section = document.getElementById('live');
    if (!section || section.dataset.terminal === 'true') return;
    setTimeout(refresh, Number(section.dataset.refreshMs) || 2000);
  }

  function refresh() {
    var section = document.getElementById('live');
    if (!section) return;
    if (busy(section)) return schedule();
    fetch(section.dataset.src, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (res) {
        if (res.status === 401) {
          window.location.reload(); // the session ended: the server sends the login page
          return undefined;
        }
        return res.ok ? res.text() : undefined;
      })
      .then(function (text) {
        if (text === undefined) return;
        var template = document.createElement('template');
        template.innerHTML = text;
        var next = template.content.getElementById('live');
        var current = document.getElementById('live');
        if (next && current && !busy(current)) current.replaceWith(next);
      })
      .catch(function () {
        /* the receiver restarts or the network blinks: try again at the next tick */
      })
      .then(schedule);
  }

  schedule();
})();

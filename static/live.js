'use strict';
// Live pages (issue 13): a page whose <main> names topics in data-live listens to /events (server-sent events)
// and, when one of them changes, fetches itself again and swaps its <main>: the viewer's own cookies go along, so
// the new content is exactly what this viewer may see.  EventSource reconnects by itself after a drop; bursts of
// events (50 signals at a bar close) are folded into one refresh.  Scripts that draw into <main> listen for
// 'pairs:refreshed'.
(function () {
  const FOLD_MS = 400;

  function start() {
    const main = document.querySelector('main[data-live]');
    if (!main || !window.EventSource) return;
    const topics = main.dataset.live;
    let timer = null, busy = false, again = false;

    async function refresh() {
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      try {
        const response = await fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } });
        if (response.ok) {
          const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
          const fresh = doc.querySelector('main');
          const current = document.querySelector('main');
          if (fresh && current) {
            current.replaceWith(fresh);
            document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
            document.dispatchEvent(new CustomEvent('pairs:refreshed'));
          }
        }
      } catch (e) { /* the next event tries again */ }
      busy = false;
      if (again) { again = false; refresh(); }
    }

    const source = new EventSource('/events?topics=' + encodeURIComponent(topics));
    topics.split(',').forEach(function (topic) {
      source.addEventListener(topic, function () {
        if (timer === null) timer = setTimeout(refresh, FOLD_MS);
      });
    });
    source.addEventListener('open', function () { document.body.dataset.live = 'open'; });
    source.addEventListener('error', function () { document.body.dataset.live = 'reconnecting'; });
  }

  document.addEventListener('DOMContentLoaded', start);
})();

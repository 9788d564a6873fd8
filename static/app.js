'use strict';
// Shared by every page: the session countdown, and the API helper the pages use for their own writes
// (the session cookie goes along by itself; the XSRF token from the page's meta tag goes in a header).
(function () {
  function xsrfToken() {
    const meta = document.querySelector('meta[name="xsrf-token"]');
    return meta ? meta.content : '';
  }

  async function api(method, url, body) {
    const init = {
      method: method,
      credentials: 'same-origin',
      headers: { 'X-XSRFToken': xsrfToken(), 'Accept': 'application/json' },
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data: data };
  }

  // {"message": "x"} -> x; {"message": {"field": "x"}} -> x (the first field's message, as the original showed)
  function messageOf(data) {
    if (!data || data.message === undefined) return '';
    const message = data.message;
    if (message !== null && typeof message === 'object') {
      const keys = Object.keys(message);
      return keys.length ? String(message[keys[0]]) : '';
    }
    return String(message);
  }

  function startCountdown() {
    const el = document.getElementById('countdown');
    if (!el) return;
    const expires = Number(el.dataset.expires);
    if (!expires) { el.textContent = 'No session!'; return; }
    function tick() {
      let left = Math.floor(expires - Date.now() / 1000);
      if (left <= 0) {
        el.textContent = 'session expired';
        el.classList.add('expired');
        return;
      }
      const days = Math.floor(left / 86400); left %= 86400;
      const hours = Math.floor(left / 3600); left %= 3600;
      const minutes = Math.floor(left / 60);
      el.textContent = days + 'd ' + hours + 'h ' + minutes + 'm ' + (left % 60) + 's';
      setTimeout(tick, 1000);
    }
    tick();
  }

  // an admin's check mark next to a gap/dup badge: PUT /v4/continuity/finding/<id>, then the page again
  function reviewFindings() {
    document.querySelectorAll('button.review-finding').forEach(function (button) {
      button.addEventListener('click', async function () {
        button.disabled = true;
        const reply = await api('PUT', '/v4/continuity/finding/' + button.dataset.finding, { reviewed: true });
        if (reply.status === 200) { window.location.reload(); return; }
        button.disabled = false;
        button.title = messageOf(reply.data) || ('failed: ' + reply.status);
      });
    });
  }

  window.pairs = { api: api, messageOf: messageOf };
  document.addEventListener('DOMContentLoaded', startCountdown);
  document.addEventListener('DOMContentLoaded', reviewFindings);
})();

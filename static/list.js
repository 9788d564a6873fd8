'use strict';
// /list: switching pair/ticker reloads the choices; the dot shows the chosen instrument's trading status.
(function () {
  const STATES = { '1': ['st1', 'active'], '0': ['st0', 'passive'] };

  function showDot(select, dot) {
    const option = select.options[select.selectedIndex];
    dot.className = 'dot';
    dot.title = '';
    if (!option || !option.value) return;
    const state = STATES[option.dataset.status] || ['st-1', 'watch'];
    dot.classList.add(state[0]);
    dot.title = state[1];
  }

  document.addEventListener('DOMContentLoaded', function () {
    const form = document.getElementById('list-filter');
    if (!form) return;
    const select = document.getElementById('ticker_webhook');
    const dot = document.getElementById('status-dot');
    form.querySelectorAll('input[name="tradetype"]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        select.value = '';
        form.submit();
      });
    });
    select.addEventListener('change', function () { showDot(select, dot); });
    showDot(select, dot);
  });
})();

'use strict';
// /list: switching pair/ticker reloads the choices; the dot shows the chosen instrument's trading status, as the
// server names it on each option (data-dot, data-label: pairs.vocab.Activity).
(function () {

  function showDot(select, dot) {
    const option = select.options[select.selectedIndex];
    dot.className = 'dot';
    dot.title = '';
    if (!option || !option.value) return;
    dot.classList.add(option.dataset.dot);
    dot.title = option.dataset.label;
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

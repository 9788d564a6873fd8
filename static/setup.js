'use strict';
// /setup: the webhook simulator, the signal editor, pairs and tickers.  Every form has one button that sends it
// to the /v4 API; the JSON it sends is shown, folded, as it is typed.  Server data only reaches the page as text.
(function () {
  const result = function () { return document.getElementById('result'); };

  function show(text) { result().textContent = text; }

  // "message | Code: status" as the original alerted it; answers without a message (a PUT returns the stored
  // object) say what was done instead
  function reportAndGo(reply, after, done) {
    const text = (window.pairs.messageOf(reply.data) || done || '') + ' | Code: ' + reply.status;
    if (reply.status >= 200 && reply.status < 300 && after) {
      const sep = after.indexOf('?') >= 0 ? '&' : '?';
      window.location.assign(after + sep + 'msg=' + encodeURIComponent(text));
      return;
    }
    show(text);
  }

  function typed(input) {
    const value = input.value.trim();
    if (input.dataset.type === 'int' || input.dataset.type === 'float') {
      const number = Number(value);
      return Number.isFinite(number) ? number : value;  // a bad number goes as typed: the server answers 400
    }
    return value;
  }

  // the form's fields as JSON: unchecked radios and empty values left out (as the original did)
  function collect(form) {
    const body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.type === 'button' || input.type === 'submit') return;
      if ((input.type === 'radio' || input.type === 'checkbox') && !input.checked) return;
      if (input.value.trim() === '') return;
      let value = typed(input);
      if (form.dataset.upper && typeof value === 'string' && input.type !== 'password') value = value.toUpperCase();
      body[input.name] = value;
    });
    if (form.dataset.kind === 'pair' && body.ticker1 && body.ticker2) body.name = body.ticker1 + '-' + body.ticker2;
    return body;
  }

  function problem(form, body) {
    if (form.dataset.kind !== 'pair') return '';
    if (!body.ticker1 || !body.ticker2) return 'Please select tickers to create a pair!';
    if (!body.hedge) return 'Hedge value cannot be empty or zero!';
    if (!body.contracts) return 'Contracts value cannot be empty or zero!';
    return '';
  }

  function preview(pre, body) {
    const shown = Object.assign({}, body);
    if (shown.passphrase) shown.passphrase = '***';
    pre.textContent = JSON.stringify(shown, null, 2);
  }

  function apiForm(form) {
    const pre = form.querySelector('pre.json');
    const send = form.querySelector('button.send');
    const refresh = function () { preview(pre, collect(form)); };
    form.addEventListener('input', refresh);
    form.addEventListener('change', refresh);
    refresh();
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      const body = collect(form);
      preview(pre, body);
      const trouble = problem(form, body);
      if (trouble) { show(trouble); return; }
      send.disabled = true;
      reportAndGo(await window.pairs.api(form.dataset.method, form.dataset.url, body), form.dataset.after,
        form.dataset.done);
      send.disabled = false;
    });
  }

  function deleteButton(button) {
    button.addEventListener('click', async function () {
      if (!window.confirm(button.dataset.confirm)) return;
      reportAndGo(await window.pairs.api('DELETE', button.dataset.url), button.dataset.after);
    });
  }

  // ---- the webhook simulator (SPEC §7.7): builds the JSON the way TradingView would send it
  function simulator(form) {
    const pairSelect = document.getElementById('sim-pair');
    const tickerSelect = document.getElementById('sim-ticker');
    const pre = document.getElementById('sim-json');
    const post = document.getElementById('sim-post');

    function mode() { return form.querySelector('input[name="tradetype"]:checked').value; }
    function switchMode() {
      form.querySelector('.for-pair').hidden = mode() !== 'pair';
      form.querySelector('.for-ticker').hidden = mode() !== 'ticker';
    }
    form.querySelectorAll('input[name="tradetype"]').forEach(function (r) { r.addEventListener('change', switchMode); });
    switchMode();

    function build() {
      const f = form.elements;
      let ticker;
      if (mode() === 'pair') {
        const option = pairSelect.options[pairSelect.selectedIndex];
        if (!option || !option.value) return 'Please select a pair to create the webhook!';
        ticker = option.dataset.ticker1 + '-' + option.dataset.hedge + '*' + option.dataset.ticker2;
      } else {
        if (!tickerSelect.value) return 'Please select a pair to create the webhook!';
        ticker = tickerSelect.value;
      }
      if (!f.order_contracts.value.trim() || !f.order_price.value.trim() || !f.passphrase.value) {
        return 'You need to enter required(*) fields!';
      }
      let comment = f.mar_pos.value === 'flat' ? 'Pos. Closed(manual)'
        : (f.order_action.value === 'buy' ? 'Long(manual)' : 'Short(manual)');
      if (f.pyramiding.checked) comment += '(pyramiding)';
      if (f.market_order1.checked) comment += '(market1)';
      if (f.market_order2.checked) comment += '(market2)';
      const draft = {
        passphrase: f.passphrase.value,
        ticker: ticker,
        order_action: f.order_action.value,
        order_contracts: Number(f.order_contracts.value),
        order_price: Number(f.order_price.value),
        mar_pos: f.mar_pos.value,
        mar_pos_size: f.mar_pos_size.value.trim() === '' ? '' : Number(f.mar_pos_size.value),
        pre_mar_pos: f.pre_mar_pos.value,
        pre_mar_pos_size: f.pre_mar_pos_size.value.trim() === '' ? '' : Number(f.pre_mar_pos_size.value),
        order_comment: comment,
        order_status: 'waiting',
        market_order1: f.market_order1.checked ? 'yes' : 'no',
        market_order2: f.market_order2.checked ? 'yes' : 'no',
      };
      Object.keys(draft).forEach(function (k) {
        if (draft[k] === '' || (typeof draft[k] === 'number' && !Number.isFinite(draft[k]))) delete draft[k];
      });
      return draft;
    }

    const refresh = function () {
      const built = build();
      if (typeof built === 'string') { pre.textContent = ''; return built; }
      preview(pre, built);
      return built;
    };
    form.addEventListener('input', refresh);
    form.addEventListener('change', refresh);
    post.addEventListener('click', async function () {
      const body = refresh();
      if (typeof body === 'string') { show(body); return; }
      post.disabled = true;
      reportAndGo(await window.pairs.api('POST', '/v4/webhook', body), '/setup?tab=signals');
      post.disabled = false;
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('form[data-method]').forEach(apiForm);
    document.querySelectorAll('button[data-method="DELETE"]').forEach(deleteButton);
    const sim = document.getElementById('simulator');
    if (sim) simulator(sim);
    const unlock = document.getElementById('unlock');
    if (unlock) {
      unlock.addEventListener('change', function () {
        document.querySelectorAll('input.lockable').forEach(function (i) { i.readOnly = !unlock.checked; });
      });
    }
  });
})();

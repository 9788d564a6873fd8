'use strict';
// SCREENER page: "Run now" (POST /v4/screener) with live progress (GET /v4/screener), sortable columns, and
// "Add to watchlist" (POST /v4/pair with the OLS hedge rounded to 4 decimals and the button's data-status, -1).
(function () {
  const POLL_MS = 1000;

  function flash(text) {
    const el = document.getElementById('screener-flash');
    if (el) el.textContent = text;
  }

  function showProgress(running) {
    const bar = document.getElementById('screener-progress');
    const step = document.getElementById('screener-step');
    if (!bar) return;
    bar.hidden = false;
    bar.max = Math.max(running.total, 1);
    bar.value = running.done;
    step.textContent = running.step + ' (' + running.done + '/' + running.total + ')';
  }

  async function poll() {
    const reply = await window.pairs.api('GET', '/v4/screener?top=1');
    if (reply.status !== 200) { flash(window.pairs.messageOf(reply.data) || 'status ' + reply.status); return; }
    if (reply.data.running) {
      showProgress(reply.data.running);
      setTimeout(poll, POLL_MS);
    } else {
      window.location.reload();  // the run finished: show its results
    }
  }

  async function runNow(button) {
    button.disabled = true;
    flash('');
    const reply = await window.pairs.api('POST', '/v4/screener');
    if (reply.status !== 202) {
      flash(window.pairs.messageOf(reply.data) || 'status ' + reply.status);
      button.disabled = reply.status === 409;
      if (reply.status === 409) poll();
      return;
    }
    showProgress({ step: 'starting', done: 0, total: 1 });
    poll();
  }

  async function addToWatchlist(button) {
    button.disabled = true;
    const data = button.dataset;
    const reply = await window.pairs.api('POST', '/v4/pair', {
      ticker1: data.ticker1, ticker2: data.ticker2, hedge: Number(data.hedge), status: Number(data.status),
      contracts: Number(data.contracts),
    });
    const cell = button.parentNode;
    const name = data.ticker1 + '-' + data.ticker2;
    const link = document.createElement('a');
    link.href = '/pair/' + encodeURIComponent(name);
    if (reply.status === 201) {
      link.textContent = 'added to watchlist';
      link.className = 'added';
    } else if (reply.status === 400 && /already exists/.test(window.pairs.messageOf(reply.data))) {
      link.textContent = 'already registered';
      link.className = 'registered';
    } else {
      button.disabled = false;
      flash(window.pairs.messageOf(reply.data) || 'status ' + reply.status);
      return;
    }
    cell.replaceChildren(link);
  }

  function sortBy(table, column, header) {
    const numeric = header.dataset.type === 'num';
    const ascending = header.dataset.order !== 'asc';
    table.querySelectorAll('th').forEach(function (th) { delete th.dataset.order; });
    header.dataset.order = ascending ? 'asc' : 'desc';
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter(function (row) { return row.cells.length > column + 1; });
    function key(row) {
      const text = row.cells[column].dataset.v;
      if (!numeric) return text;
      return text === '' ? (ascending ? Infinity : -Infinity) : Number(text);
    }
    rows.sort(function (a, b) {
      const ka = key(a), kb = key(b);
      const order = numeric ? ka - kb : String(ka).localeCompare(String(kb));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    const button = document.getElementById('screener-run-now');
    if (button) button.addEventListener('click', function () { runNow(button); });
    const progress = document.getElementById('screener-progress');
    if (progress && !progress.hidden) poll();
    document.querySelectorAll('button.add-watchlist').forEach(function (b) {
      b.addEventListener('click', function () { addToWatchlist(b); });
    });
    const table = document.getElementById('screener');
    if (table) {
      table.querySelectorAll('th[data-type]').forEach(function (th, column) {
        th.classList.add('sort');
        th.addEventListener('click', function () { sortBy(table, column, th); });
      });
    }
  });
})();

'use strict';
// Spread charts (watchlist, positions): the daily spread with its SMA and ±1/±2 standard-deviation bands, drawn
// as SVG from the figure's data-chart JSON ({"pair", "points": [{"t", "spread", "sma", "std"}]}).
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 640, H = 220, PAD_L = 56, PAD_R = 10, PAD_T = 10, PAD_B = 24;

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(figure) {
    let data;
    try { data = JSON.parse(figure.dataset.chart); } catch (e) { return; }
    const points = (data && data.points) || [];
    if (points.length < 2) return;  // the template already says "no stored prices yet"
    const values = [];
    points.forEach(function (p) {
      values.push(p.spread);
      if (p.sma !== null && p.std !== null) values.push(p.sma - 2 * p.std, p.sma + 2 * p.std);
    });
    let lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (hi === lo) { hi += 1; lo -= 1; }
    const x = function (i) { return PAD_L + (W - PAD_L - PAD_R) * i / (points.length - 1); };
    const y = function (v) { return PAD_T + (H - PAD_T - PAD_B) * (hi - v) / (hi - lo); };
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'spread-chart', role: 'img' });
    svg.appendChild(el('title', {}, 'spread of ' + data.pair));

    const banded = points.map(function (p, i) { return [i, p]; }).filter(function (e) { return e[1].sma !== null; });
    [[2, 'band2'], [1, 'band1']].forEach(function (band) {
      if (banded.length < 2) return;
      const upper = banded.map(function (e) { return x(e[0]) + ',' + y(e[1].sma + band[0] * e[1].std); });
      const lower = banded.slice().reverse().map(function (e) { return x(e[0]) + ',' + y(e[1].sma - band[0] * e[1].std); });
      svg.appendChild(el('polygon', { points: upper.concat(lower).join(' '), class: band[1] }));
    });
    if (banded.length >= 2) {
      svg.appendChild(el('polyline', { points: banded.map(function (e) { return x(e[0]) + ',' + y(e[1].sma); }).join(' '), class: 'sma' }));
    }
    svg.appendChild(el('polyline', { points: points.map(function (p, i) { return x(i) + ',' + y(p.spread); }).join(' '), class: 'spread' }));

    svg.appendChild(el('text', { x: PAD_L - 4, y: PAD_T + 8, class: 'axis', 'text-anchor': 'end' }, hi.toFixed(2)));
    svg.appendChild(el('text', { x: PAD_L - 4, y: H - PAD_B, class: 'axis', 'text-anchor': 'end' }, lo.toFixed(2)));
    svg.appendChild(el('text', { x: PAD_L, y: H - 6, class: 'axis' }, points[0].t));
    svg.appendChild(el('text', { x: W - PAD_R, y: H - 6, class: 'axis', 'text-anchor': 'end' }, points[points.length - 1].t));
    figure.appendChild(svg);
  }

  function drawAll() {
    document.querySelectorAll('figure.chart[data-chart]').forEach(draw);
  }
  document.addEventListener('DOMContentLoaded', drawAll);
  document.addEventListener('pairs:refreshed', drawAll);  // live.js swapped <main>
})();

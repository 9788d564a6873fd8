'use strict';
// A pair's page: the spread chart of chart.js, large, plus a z-score pane with the entry and exit lines and the
// pair's signals as markers (buys under the line, sells above it, with price and fill price); hovering a day
// writes its values under the chart.
(function () {
  const COLORS = { z: '#6b46c1', entry: '#c53030', exit: '#2f855a', buy: '#2f855a', sell: '#c53030' };

  function draw(container) {
    const LWC = window.LightweightCharts;
    let data;
    try { data = JSON.parse(container.dataset.chart); } catch (e) { return; }
    const points = (data && data.points) || [];
    const drawn = window.pairsCharts.spreadChart(container, points, 560);
    if (!drawn) return;
    const chart = drawn.chart;
    const z = drawn.line(chart, COLORS.z, 1, { lineWidth: 2, lastValueVisible: true, crosshairMarkerVisible: true,
                                                 title: 'z' });
    z.setData(points.filter(function (p) { return p.z !== null; }).map(function (p) { return { time: p.t, value: p.z }; }));
    [[data.entry_z, COLORS.entry, 'entry'], [-data.entry_z, COLORS.entry, 'entry'],
     [data.exit_z, COLORS.exit, 'exit'], [-data.exit_z, COLORS.exit, 'exit'], [0, '#9aa5b5', '']].forEach(function (l) {
      z.createPriceLine({ price: l[0], color: l[1], lineWidth: 1, lineStyle: LWC.LineStyle.Dashed,
                          axisLabelVisible: l[2] !== '', title: l[2] });
    });
    const panes = chart.panes();
    if (panes.length > 1) panes[1].setHeight(170);

    const byDay = {};
    (data.markers || []).forEach(function (m) { (byDay[m.t] = byDay[m.t] || []).push(m); });
    const markers = (data.markers || []).map(function (m) {
      const buy = m.action === 'buy';
      const price = m.price === null ? '?' : String(m.price);
      return { time: m.t, position: buy ? 'belowBar' : 'aboveBar', color: buy ? COLORS.buy : COLORS.sell,
               shape: buy ? 'arrowUp' : 'arrowDown',
               text: (buy ? 'B ' : 'S ') + price + (m.fill_price === null ? '' : ' (' + m.fill_price + ')') };
    });
    if (markers.length) LWC.createSeriesMarkers(drawn.spread, markers);
    chart.timeScale().fitContent();

    const legend = document.getElementById('chart-legend');
    const byTime = {};
    points.forEach(function (p) { byTime[p.t] = p; });
    const num = function (v, d) { return v === null || v === undefined ? '–' : Number(v).toFixed(d); };
    chart.subscribeCrosshairMove(function (param) {
      if (!legend || !param.time) return;
      const day = typeof param.time === 'string' ? param.time
        : param.time.year + '-' + String(param.time.month).padStart(2, '0') + '-' + String(param.time.day).padStart(2, '0');
      const p = byTime[day];
      if (!p) return;
      let text = day + '  spread ' + num(p.spread, 4) + '  SMA ' + num(p.sma, 4) + '  std ' + num(p.std, 4) +
        '  z ' + num(p.z, 2);
      (byDay[day] || []).forEach(function (m) {
        text += '  ' + m.action + ' @ ' + num(m.price, 4) + (m.fill_price === null ? '' : ' fill ' + num(m.fill_price, 4));
      });
      legend.textContent = text;
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    const container = document.getElementById('pair-chart');
    if (container) draw(container);
  });
})();

'use strict';
// Spread charts drawn with TradingView's Lightweight Charts (static/vendor/, no CDN): the daily spread with its SMA
// and ±1/±2 standard-deviation bands, from {"pair", "points": [{"t", "spread", "sma", "std"}]}.  The watchlist and
// positions pages draw each figure.chart[data-chart] small; the pair page (pair.js) builds on spreadChart.
(function () {
  const COLORS = { spread: '#c05621', sma: '#2b6cb0', band1: '#7fa7d9', band2: '#b9cbe6' };

  function line(chart, color, pane, options) {
    const LWC = window.LightweightCharts;
    return chart.addSeries(LWC.LineSeries, Object.assign({
      color: color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
    }, options || {}), pane);
  }

  // The chart, with the spread series returned for markers; null when there is nothing to draw.
  function spreadChart(container, points, height) {
    const LWC = window.LightweightCharts;
    if (!LWC || points.length < 2) return null;
    const chart = LWC.createChart(container, {
      height: height, autoSize: true,
      // the library's logo brings its own <style> element, which the CSP (style-src 'self') blocks: the pages
      // carry the attribution notice and the link to tradingview.com instead
      layout: { background: { color: '#ffffff' }, textColor: '#1d2430', attributionLogo: false,
                panes: { separatorColor: '#d9dee7' } },
      grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
      rightPriceScale: { borderColor: '#d9dee7' },
      timeScale: { borderColor: '#d9dee7' },
    });
    const banded = points.filter(function (p) { return p.sma !== null && p.std !== null; });
    const at = function (k) {
      return banded.map(function (p) { return { time: p.t, value: p.sma + k * p.std }; });
    };
    line(chart, COLORS.band2, 0, { lineStyle: LWC.LineStyle.Dotted }).setData(at(2));
    line(chart, COLORS.band1, 0, { lineStyle: LWC.LineStyle.Dashed }).setData(at(1));
    line(chart, COLORS.band1, 0, { lineStyle: LWC.LineStyle.Dashed }).setData(at(-1));
    line(chart, COLORS.band2, 0, { lineStyle: LWC.LineStyle.Dotted }).setData(at(-2));
    line(chart, COLORS.sma, 0, { lineWidth: 2 }).setData(at(0));
    const spread = line(chart, COLORS.spread, 0, { lineWidth: 2, lastValueVisible: true, crosshairMarkerVisible: true,
                                                   title: 'spread' });
    spread.setData(points.map(function (p) { return { time: p.t, value: p.spread }; }));
    chart.timeScale().fitContent();
    return { chart: chart, spread: spread, line: line };
  }

  function drawSmall(figure) {
    let data;
    try { data = JSON.parse(figure.dataset.chart); } catch (e) { return; }
    const holder = document.createElement('div');
    holder.className = 'spread-lwc';
    figure.appendChild(holder);
    if (!spreadChart(holder, (data && data.points) || [], 220)) holder.remove();
  }

  window.pairsCharts = { spreadChart: spreadChart };
  function drawAll() {
    document.querySelectorAll('figure.chart[data-chart]').forEach(drawSmall);
  }
  document.addEventListener('DOMContentLoaded', drawAll);
  document.addEventListener('pairs:refreshed', drawAll);  // live.js swapped <main>
})();

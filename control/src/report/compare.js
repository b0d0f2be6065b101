// Allegro's comparison page: every result's latency distribution on one log-scaled percentile
// axis, drawn with uPlot; the chart element gets data-series and data-max-N (each result's
// largest value), body data-rendered or data-error.
(function () {
  "use strict";
  const body = document.body;
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const MAX_X = 6;
  function label(x) {
    if (x >= MAX_X) return "max";
    if (x <= 0) return "0%";
    const p = 100 * (1 - Math.pow(10, -x));
    return p.toFixed(Math.max(0, Math.round(x) - 2)) + "%";
  }
  try {
    const d = JSON.parse(document.getElementById("report-data").textContent);
    const el = document.getElementById("compare");
    const withData = d.results.filter((r) => r.distribution.length);
    el.dataset.series = withData.length;
    if (!withData.length) {
      el.textContent = "No latency recorded.";
      body.dataset.rendered = 0;
      return;
    }
    const xs = withData[0].distribution.map((p) => (p[0] >= 100 ? MAX_X : -Math.log10(1 - p[0] / 100)));
    const series = [{ label: "percentile", value: (u, x) => (x == null ? "" : label(x)) }];
    const data = [xs];
    withData.forEach((r, i) => {
      series.push({
        label: String.fromCharCode(65 + d.results.indexOf(r)) + " " + r.source,
        stroke: colors[i % colors.length],
        width: 2,
        points: { show: true },
      });
      data.push(r.distribution.map((p) => Math.max(1, p[1])));
      el.dataset["max" + i] = r.distribution[r.distribution.length - 1][1];
    });
    new uPlot(
      {
        width: Math.max(600, Math.min(1100, body.clientWidth || 1000)),
        height: 320,
        scales: { x: { time: false, range: [0, MAX_X] }, y: { distr: 3 } },
        axes: [
          { splits: () => [0, 1, 2, 3, 4, 5, 6], values: (u, splits) => splits.map(label) },
          { label: "µs (" + d.kind + ")", size: 80 },
        ],
        series,
      },
      data,
      el
    );
    body.dataset.rendered = 1;
  } catch (e) {
    body.dataset.error = String(e);
    throw e;
  }
})();

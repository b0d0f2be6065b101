// Allegro's comparison page: every result's latency distribution on one log-scaled percentile
// axis, drawn with uPlot; the chart element gets data-series and data-max-N (each result's
// largest value), body data-rendered or data-error.
(function () {
  "use strict";
  const body = document.body;
  const colors = AllegroChart.colors;
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
    const xs = AllegroChart.percentileX(withData[0].distribution);
    const series = [AllegroChart.percentileSeries()];
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
      AllegroChart.distribution(
        Math.max(600, Math.min(1100, body.clientWidth || 1000)),
        series,
        "µs (" + d.kind + ")"
      ),
      data,
      el
    );
    body.dataset.rendered = 1;
  } catch (e) {
    body.dataset.error = String(e);
    throw e;
  }
})();

// What Allegro's pages share: the colours, and the latency percentile axis, where
// x = -log10(1 - p/100), so that 90, 99, 99.9 ... are evenly spaced and the largest value sits
// at x = 6.
const AllegroChart = (function () {
  "use strict";
  const MAX_X = 6;
  function label(x) {
    if (x >= MAX_X) return "max";
    if (x <= 0) return "0%";
    const p = 100 * (1 - Math.pow(10, -x));
    return p.toFixed(Math.max(0, Math.round(x) - 2)) + "%";
  }
  return {
    colors: ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"],
    // A distribution's [percentile, µs] points as x values.
    percentileX: (points) => points.map((p) => (p[0] >= 100 ? MAX_X : -Math.log10(1 - p[0] / 100))),
    // uPlot options for a distribution chart with `series` (the x series first).
    distribution: (width, series, yLabel) => ({
      width,
      height: 320,
      scales: { x: { time: false, range: [0, MAX_X] }, y: { distr: 3 } },
      axes: [
        { splits: () => [0, 1, 2, 3, 4, 5, 6], values: (u, splits) => splits.map(label) },
        { label: yLabel, size: 80 },
      ],
      series,
    }),
    // The x series of a distribution chart.
    percentileSeries: () => ({ label: "percentile", value: (u, x) => (x == null ? "" : label(x)) }),
  };
})();

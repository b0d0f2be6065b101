// Allegro's report page: draws the charts from the report's JSON (#report-data) with uPlot and
// marks each chart element with what it drew (data-points, data-series, data-sum-*,
// data-max-*), which the tests read back; body gets data-rendered (charts drawn) or
// data-error.
(function () {
  "use strict";
  const body = document.body;
  const colors = AllegroChart.colors;
  function camel(s) {
    return s.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  }
  try {
    const r = JSON.parse(document.getElementById("report-data").textContent);
    const width = Math.max(600, Math.min(1100, body.clientWidth || 1000));
    let drawn = 0;

    // Messages per second: sent and received over every part, and with several parts each
    // one's own (a sender's sent, a receiver's received).
    {
      const el = document.getElementById("rate");
      const xs = r.rate.map((p) => p[0]);
      const sent = r.rate.map((p) => p[1]);
      const received = r.rate.map((p) => p[2]);
      el.dataset.points = xs.length;
      el.dataset.sumSent = sent.reduce((a, b) => a + b, 0);
      el.dataset.sumReceived = received.reduce((a, b) => a + b, 0);
      const tables = [[xs, sent], [xs, received]];
      const series = [
        {},
        { label: "sent/s, all", stroke: colors[0], width: 2 },
        { label: "received/s, all", stroke: colors[1], width: 2 },
      ];
      if (r.parts.length > 1) {
        r.parts.forEach((p) => {
          if (!p.rate.length) return;
          [["sent", 1], ["received", 2]].forEach(([what, col]) => {
            if (!p.role.includes(what === "sent" ? "sender" : "receiver")) return;
            tables.push([p.rate.map((x) => x[0]), p.rate.map((x) => x[col])]);
            series.push({
              label: what + "/s, " + p.name,
              stroke: colors[series.length % colors.length],
              width: 1,
              dash: [4, 3],
            });
          });
        });
      }
      el.dataset.series = series.length - 1;
      if (xs.length) {
        new uPlot(
          { width, height: 260, series, axes: [{}, { label: "messages/s", size: 80 }] },
          uPlot.join(tables),
          el
        );
        drawn++;
      } else {
        el.textContent = "No rate file.";
      }
    }

    // The latency distribution of every part, every interval added.
    {
      const el = document.getElementById("distribution");
      const kinds = ["service", "corrected", "send_delay"].filter((k) => r.percentiles[k].length);
      const xs = kinds.length ? AllegroChart.percentileX(r.percentiles[kinds[0]]) : [];
      const series = [AllegroChart.percentileSeries()];
      const data = [xs];
      kinds.forEach((k, i) => {
        const pts = r.percentiles[k];
        series.push({ label: k.replace("_", " ") + " µs", stroke: colors[i], width: 2, points: { show: true } });
        data.push(pts.map((p) => Math.max(1, p[1])));
        el.dataset["max" + camel(k)] = pts[pts.length - 1][1];
      });
      el.dataset.points = xs.length;
      el.dataset.series = kinds.length;
      if (kinds.length) {
        new uPlot(
          AllegroChart.distribution(width, series, "µs"),
          data,
          el
        );
        drawn++;
      } else {
        el.textContent = "No latency recorded.";
      }
    }

    // Each part's 99th percentile per interval (corrected, else service).
    {
      const el = document.getElementById("over-time");
      const tables = [];
      const series = [{ label: "seconds" }];
      r.parts.forEach((p) => {
        const corrected = p.over_time.filter((i) => i[1] === "corrected");
        const rows = corrected.length ? corrected : p.over_time.filter((i) => i[1] === "service");
        if (!rows.length) return;
        tables.push([rows.map((i) => i[0]), rows.map((i) => Math.max(1, i[3]))]);
        series.push({
          label: p.name + " " + rows[0][1] + " p99 µs",
          stroke: colors[(series.length - 1) % colors.length],
          width: 2,
        });
      });
      el.dataset.series = tables.length;
      if (tables.length) {
        const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
        el.dataset.points = data[0].length;
        new uPlot(
          {
            width,
            height: 260,
            scales: { x: { time: false }, y: { distr: 3 } },
            axes: [{ label: "seconds from the start" }, { label: "µs", size: 80 }],
            series,
          },
          data,
          el
        );
        drawn++;
      } else {
        el.dataset.points = 0;
        el.textContent = "No latency log.";
      }
    }
    body.dataset.rendered = drawn;
  } catch (e) {
    body.dataset.error = String(e);
    throw e;
  }
})();

// A job page's run timeline, drawn with uPlot from the page's own JSON (the same runs as the table).
// A separate file because the Content-Security-Policy runs no inline script.
(function () {
  "use strict";

  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined" || typeof relopsCharts === "undefined") {
    return;
  }

  function dots(label, color, size) {
    return { label: label, stroke: color, fill: color, paths: function () { return null; }, points: { show: true, size: size, fill: color } };
  }

  function draw(j) {
    // One x axis for every run and missed start; each series has values only at its own moments.
    var moments = [];
    j.runs.forEach(function (r) {
      if (r.started_at !== null) {
        moments.push(r.started_at);
      }
    });
    j.missed.forEach(function (m) {
      moments.push(m);
    });
    moments = Array.from(new Set(moments)).sort(function (a, b) {
      return a - b;
    });
    var index = new Map(moments.map(function (m, i) { return [m, i]; }));
    function column() {
      return moments.map(function () { return null; });
    }
    var success = column(), failure = column(), running = column(), missed = column();
    j.runs.forEach(function (r) {
      if (r.started_at === null) {
        return;
      }
      var target = r.status === "success" ? success : r.status === "failure" ? failure : running;
      target[index.get(r.started_at)] = r.duration_s === null ? 0 : r.duration_s;
    });
    j.missed.forEach(function (m) {
      missed[index.get(m)] = 0;
    });
    var el = document.getElementById("chart-runs");
    var series = [
      dots("success", "#15803d", 7),
      dots("failure", "#dc2626", 9),
      dots("running", "#d97706", 9),
      dots("missed start", "#7f1d1d", 11),
      { label: "max runtime " + j.max_runtime_s + " s", stroke: "#dc2626", dash: [6, 4], width: 1, points: { show: false } },
    ];
    var plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 900),
        height: 280,
        tzDate: relopsCharts.utc,
        series: [{ label: "start (UTC)" }].concat(series),
        axes: [{}, { label: "duration (s)" }],
        // The whole range, however few runs it holds.
        scales: { x: { time: true, range: function () { return [j.from, j.as_of]; } } },
      },
      [moments, success, failure, running, missed, moments.map(function () { return j.max_runtime_s; })],
      el
    );
    el.dataset.points = String(plot.data[0].length);
    el.dataset.series = series.map(function (s) { return s.label; }).join("|");
  }

  relopsCharts.embedded(root, "chart-data", draw);
})();

// A flow page's charts, drawn with uPlot from the page's own JSON series (the same numbers as the
// table below them). A separate file because the Content-Security-Policy runs no inline script.
// Each chart's container records how many points it drew and what it drew, for the browser test.
(function () {
  "use strict";

  var COLORS = ["#2563eb", "#d97706", "#7c3aed", "#0f766e", "#be185d"];
  var INCIDENT = "rgba(220, 38, 38, 0.12)";
  var CORRECTION = "rgba(100, 116, 139, 0.2)";
  var SILENCE = "rgba(37, 99, 235, 0.12)";
  var MAINTENANCE = "rgba(124, 58, 237, 0.12)";

  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined" || typeof relopsCharts === "undefined") {
    return;
  }

  // Incident and correction spans shaded behind every chart.
  function shading(spans) {
    return function (u) {
      var ctx = u.ctx;
      spans.forEach(function (span) {
        var from = Math.max(span[0], u.scales.x.min);
        var to = Math.min(span[1], u.scales.x.max);
        if (to <= from) {
          return;
        }
        var left = u.valToPos(from, "x", true);
        var right = u.valToPos(to, "x", true);
        ctx.save();
        ctx.fillStyle = span[2];
        ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
        ctx.restore();
      });
    };
  }

  function constant(points, value) {
    return points.map(function () {
      return value;
    });
  }

  function chart(id, series, data, spans, axisLabel, yRange) {
    var el = document.getElementById(id);
    var opts = {
      width: Math.max(320, el.clientWidth || 900),
      height: 260,
      tzDate: relopsCharts.utc,
      series: [{ label: "time (UTC)" }].concat(series),
      axes: [{}, { label: axisLabel }],
      hooks: {
        drawClear: [shading(spans)],
        // The value axis as drawn (uPlot sets its scales when it first draws, after the constructor).
        draw: [
          function (u) {
            el.dataset.yMin = String(u.scales.y.min);
            el.dataset.yMax = String(u.scales.y.max);
          },
        ],
      },
    };
    if (yRange) {
      opts.scales = { y: { range: yRange } };
    }
    var plot = new uPlot(opts, data, el);
    el.dataset.points = String(plot.data[0].length);
    el.dataset.series = series
      .map(function (s) {
        return s.label;
      })
      .join("|");
    return plot;
  }

  function draw(s) {
    var x = s.points;
    var spans = [];
    if (s.incident) {
      spans.push([s.incident.opened_at, s.incident.resolved_at || s.as_of, INCIDENT]);
    }
    s.corrections.forEach(function (c) {
      spans.push([c.starts_at, c.ends_at, CORRECTION]);
    });
    s.silences.forEach(function (c) {
      spans.push([c.starts_at, c.ends_at, SILENCE]);
    });
    s.maintenance.forEach(function (c) {
      spans.push([c.starts_at, c.ends_at, MAINTENANCE]);
    });

    var burnSeries = [];
    var burnData = [x];
    s.windows.forEach(function (w, i) {
      var color = COLORS[i % COLORS.length];
      burnSeries.push({ label: "burn " + w.name, stroke: color, width: 2 });
      burnData.push(w.burn_rates);
      burnSeries.push({ label: w.name + " warning " + w.warning_burn + "x", stroke: color, width: 1, dash: [8, 4], points: { show: false } });
      burnData.push(constant(x, w.warning_burn));
      burnSeries.push({ label: w.name + " critical " + w.critical_burn + "x", stroke: color, width: 1, dash: [2, 3], points: { show: false } });
      burnData.push(constant(x, w.critical_burn));
    });
    chart("chart-burn", burnSeries, burnData, spans, "burn rate (x)");

    // The line stops at the floor (see BUDGET_FLOOR_PERCENT in relops/web/charts.py): a few minutes
    // of events can put the budget at -15,000 %, which would flatten everything else into one line.
    // The legend reads the true value at the cursor, as the table does.
    var floor = s.budget_floor_percent;
    var budget = s.budget_remaining_percent;
    var drawn = budget.map(function (v) {
      return v === null ? null : Math.max(v, floor);
    });
    var overspent = drawn.map(function (v) {
      return v !== null && v < 0 ? v : null;
    });
    function trueValue(u, v, seriesIdx, idx) {
      var value = idx === null || idx === undefined ? null : budget[idx];
      // The overspent series has a value only where the budget is below 0.
      if (value === null || value === undefined || (seriesIdx === 2 && value >= 0)) {
        return "--";
      }
      return value.toFixed(2) + " %" + (value < floor ? " (below the axis)" : "");
    }
    function budgetRange(u, min) {
      // 0 to 100 % while nothing is overspent; below 0 in steps of 25, never under the floor.
      var low = min === null || !isFinite(min) || min >= 0 ? 0 : Math.max(floor, Math.floor(min / 25) * 25);
      return [low, 100];
    }
    chart(
      "chart-budget",
      [
        { label: "budget left %", stroke: "#15803d", width: 2, fill: "rgba(21, 128, 61, 0.12)", value: trueValue },
        { label: "overspent %", stroke: "#dc2626", width: 2, fill: "rgba(220, 38, 38, 0.2)", value: trueValue },
        { label: "budget spent (0 %)", stroke: "#dc2626", width: 1, dash: [4, 4], points: { show: false } },
      ],
      [x, drawn, overspent, constant(x, 0)],
      spans,
      "budget left (%)",
      budgetRange
    );

    var bars = uPlot.paths.bars({ size: [0.8, 24] });
    chart(
      "chart-events",
      [
        { label: "good", stroke: "#15803d", fill: "rgba(21, 128, 61, 0.5)", paths: bars, points: { show: false } },
        { label: "bad", stroke: "#dc2626", fill: "rgba(220, 38, 38, 0.7)", paths: bars, points: { show: false } },
      ],
      [x, s.good, s.bad],
      spans,
      "events"
    );
  }

  relopsCharts.embedded(root, "chart-data", draw);
})();

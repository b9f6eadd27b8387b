// The dashboard's small charts: each flow's budget left at the end of every day of its period,
// drawn with uPlot beside the flow's budget figure. Flows without data keep an empty cell.
(function () {
  "use strict";

  var root = document.getElementById("burn-rates");
  if (!root || typeof uPlot === "undefined" || typeof relopsCharts === "undefined") {
    return;
  }

  function draw(trends) {
    root.querySelectorAll("div.spark[data-spark]").forEach(function (el) {
      var trend = trends.flows[el.dataset.spark];
      if (!trend) {
        return;
      }
      var values = trend.budget_remaining_percent;
      var low = Math.min.apply(null, values.filter(function (v) { return v !== null; }).concat([0]));
      var plot = new uPlot(
        {
          width: 140,
          height: 30,
          tzDate: relopsCharts.utc,
          legend: { show: false },
          cursor: { show: false },
          axes: [{ show: false }, { show: false }],
          scales: { x: { time: true }, y: { range: function () { return [low, 100]; } } },
          series: [
            {},
            { stroke: low < 0 ? "#dc2626" : "#15803d", width: 1.5, fill: "rgba(21, 128, 61, 0.12)", points: { show: false } },
          ],
        },
        [trend.points, values],
        el
      );
      el.dataset.points = String(plot.data[0].length);
      el.title = "budget left at the end of each day of the period; last: " + values[values.length - 1] + " %";
    });
  }

  relopsCharts.load(root, root.dataset.budgets, draw);
})();

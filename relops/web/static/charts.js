// What every chart page shares: UTC time axes, and fetching its JSON with the failure shown on the
// page (the table under the charts still has the numbers). Loaded before the page's own script.
(function () {
  "use strict";

  function utc(ts) {
    return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  }

  function load(root, url, draw) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the data answered HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        draw(data);
        root.dataset.ready = "true";
      })
      .catch(function (error) {
        root.dataset.error = String(error);
        var note = document.createElement("p");
        note.className = "error";
        note.textContent = "Charts unavailable: " + error + " (the table below has the numbers).";
        root.insertBefore(note, root.firstChild);
      });
  }

  window.relopsCharts = { utc: utc, load: load };
})();

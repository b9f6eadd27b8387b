// What every chart page shares: UTC time axes, and drawing from the page's numbers with any failure
// shown on the page (the table under the charts still has the numbers). Loaded before the page's
// own script.
(function () {
  "use strict";

  function utc(ts) {
    return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  }

  function settle(root, pending, draw) {
    pending
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

  // Numbers fetched from the API (the dashboard's, which the server does not compute for the page).
  function load(root, url, draw) {
    settle(
      root,
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
        if (!response.ok) {
          throw new Error("the data answered HTTP " + response.status);
        }
        return response.json();
      }),
      draw
    );
  }

  // Numbers the server already computed for the page's table, in a JSON data block (never run as
  // script): the page does not ask for them a second time.
  function embedded(root, id, draw) {
    settle(
      root,
      new Promise(function (resolve) {
        resolve(JSON.parse(document.getElementById(id).textContent));
      }),
      draw
    );
  }

  window.relopsCharts = { utc: utc, load: load, embedded: embedded };
})();

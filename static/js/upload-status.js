// Polls the upload's status and reloads the page once the results (or an error) are ready.
(function () {
  "use strict";
  var status = document.getElementById("upload-status");
  if (!status) return;
  var url = status.dataset.statusUrl;
  var delay = 500;
  function poll() {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.status === "done" || data.status === "failed") {
          window.location.reload();
          return;
        }
        status.textContent = data.status === "processing"
          ? "Looking for products that look alike…"
          : "Waiting for a free worker…";
        delay = Math.min(delay * 1.5, 3000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, delay);
})();

// Polls the upload's status, shows which step it is at, and reloads the page once the results (or an error)
// are ready.
(function () {
  "use strict";
  var status = document.getElementById("upload-status");
  if (!status) return;
  var job = document.getElementById("job");
  var url = status.dataset.statusUrl;
  var delay = 500;
  var failures = 0;
  var MESSAGES = {
    queued: "Photo received. Waiting for a free worker…",
    processing: "Looking for products that look alike…",
  };
  function show(state) {
    if (status.dataset.status === state) return; // unchanged: do not repeat it to screen readers
    status.dataset.status = state;
    status.textContent = MESSAGES[state] || status.textContent;
    if (job) job.className = "job job-" + state;
    var step = document.querySelector('[data-step="processing"]');
    if (step && state === "processing") step.className = "step-current";
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        failures = 0;
        if (data.status === "done" || data.status === "failed") {
          var step = document.querySelector('[data-step="done"]');
          if (step) step.className = "step-current";
          window.location.reload();
          return;
        }
        show(data.status);
        delay = Math.min(delay * 1.5, 3000);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        failures += 1;
        if (failures === 3) status.textContent = "Still working… (the connection is unsteady; we keep trying)";
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, delay);
})();

// Follows the upload with a long-poll: the server answers as soon as the upload's state changes (or after
// WAIT seconds), so the page learns "done" at once instead of a poll interval later. Once the answer is in (or the
// upload failed), the page reloads to show it; that is the last state, and nothing more is waited for.
(function () {
  "use strict";
  var status = document.getElementById("upload-status");
  if (!status) return;
  var job = document.getElementById("job");
  var url = status.dataset.statusUrl;
  var state = status.dataset.state;
  var WAIT = 25;
  var failures = 0;
  var MESSAGES = {
    queued: "Photo received. Waiting for a free worker…",
    processing: "Looking for products that look alike…",
  };

  function show(data) {
    var current = data.status;
    if (status.dataset.status === current) return; // unchanged: do not repeat it to screen readers
    status.dataset.status = current;
    status.textContent = MESSAGES[current] || status.textContent;
    if (job) job.className = "job job-" + current;
    var step = document.querySelector('[data-step="processing"]');
    if (step && current === "processing") step.className = "step-current";
  }

  function follow() {
    var address = url + "?wait=" + WAIT + "&after=" + encodeURIComponent(state);
    fetch(address, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        state = data.state;
        if (data.status === "done" || data.status === "failed") {
          var step = document.querySelector('[data-step="done"]');
          if (step) step.className = "step-current";
          window.location.reload();
          return;
        }
        show(data);
        follow();
      })
      .catch(function () {
        failures += 1;
        if (failures === 3) {
          status.textContent = "Still working… (the connection is unsteady; we keep trying)";
        }
        window.setTimeout(follow, Math.min(1000 * failures, 5000));
      });
  }

  if (state.indexOf("done:") === 0 || state.indexOf("failed:") === 0) return;
  follow();
})();

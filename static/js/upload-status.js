// Follows the upload with a long-poll: the server answers as soon as the upload's state changes (or after
// WAIT seconds), so the page learns "done" at once instead of a poll interval later. Once the answer is in (or the
// upload failed), the page reloads to show it. The pieces of the photo (the room answer) are found after that, by
// a follow-up task: while the state is "done:pieces" the page showing the answer keeps following, and reloads when
// the pieces are in; when none were found it says so and stops ("done:answer" is the last state).
(function () {
  "use strict";
  var status = document.getElementById("upload-status");
  if (!status) return;
  var job = document.getElementById("job");
  var piecesStatus = document.getElementById("pieces-status");
  var url = status.dataset.statusUrl;
  var state = status.dataset.state;
  var answered = state.indexOf("done:") === 0; // the page already shows the answer
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

  function piecesSettled(data) {
    if (data.pieces && data.pieces.length) {
      window.location.reload(); // the room answer (or the switch to it) is drawn by the server
    } else if (piecesStatus) {
      piecesStatus.textContent = "We found no separate pieces of furniture in your photo.";
    }
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
        if (data.status === "done" && answered) {
          if (state === "done:pieces") follow(); // still looking for the pieces
          else piecesSettled(data);
          return;
        }
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
        if (failures === 3 && !answered) {
          status.textContent = "Still working… (the connection is unsteady; we keep trying)";
        }
        window.setTimeout(follow, Math.min(1000 * failures, 5000));
      });
  }

  if (state === "done:answer" || state.indexOf("failed:") === 0) return;
  follow();
})();

// The retrain runs list shows the running pipeline live: its stage, how far the current step is, and the time
// left, read every two seconds; when the run ends, the list reloads to show how it ended.
(function () {
  "use strict";
  var box = document.getElementById("retrain-live");
  if (!box) return;
  var STAGES = {
    train: "training the new version", evaluate_live: "measuring the live version", encode_catalog: "encoding the catalog",
    build_index: "building the index", activate: "switching", catch_up: "encoding products saved meanwhile",
  };
  var seen = false;
  function minutes(seconds) {
    return seconds < 90 ? Math.max(1, Math.round(seconds)) + " s" : Math.round(seconds / 60) + " min";
  }
  function show(run) {
    if (!run) {
      if (seen) window.location.reload();
      box.hidden = true;
      return;
    }
    seen = true;
    box.hidden = false;
    document.getElementById("retrain-stage").textContent = STAGES[run.stage] || run.stage || "starting";
    var bar = document.getElementById("retrain-progress");
    var detail = [];
    if (run.total) {
      bar.max = run.total;
      bar.value = run.done;
      detail.push((run.step || "") + " " + run.done + " of " + run.total);
    } else {
      bar.removeAttribute("value");
    }
    if (run.seconds_left !== null) detail.push("about " + minutes(run.seconds_left) + " left in this stage");
    detail.push("running for " + minutes(run.running_seconds));
    document.getElementById("retrain-detail").textContent = detail.join(" · ");
  }
  function poll() {
    fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) { show(data.running); })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();

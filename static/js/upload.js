// The upload form, enhanced: drop, paste or pick a photo, see it, optionally mark the piece of furniture with a
// box (mouse, touch or keyboard), then send it with a progress bar and go to its results page. Without
// JavaScript the same form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.DataTransfer) return;

  var MAX_BYTES = 10 * 1024 * 1024;
  var MIN_SIZE = 0.05; // the smallest box, as a fraction of the photo
  var input = document.getElementById("image");
  var camera = document.getElementById("camera"); // the same field, opening the camera; its photo moves to input
  var chosen = document.getElementById("chosen-photo");
  var errorBox = document.getElementById("upload-error");
  var preview = document.getElementById("preview");
  var frame = document.getElementById("preview-frame");
  var image = document.getElementById("preview-image");
  var box = document.getElementById("crop-box");
  var handle = document.getElementById("crop-handle");
  var cropInput = document.getElementById("crop");
  var startButton = document.getElementById("crop-start");
  var clearButton = document.getElementById("crop-clear");
  var submit = document.getElementById("upload-submit");
  var progressBox = document.getElementById("upload-progress-box");
  var progress = document.getElementById("upload-progress");
  var progressLabel = document.getElementById("upload-progress-label");
  var crop = null; // {x, y, w, h} as fractions of the photo
  var previewUrl = null;

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) { el.hidden = false; });
  document.documentElement.classList.add("js"); // the file inputs become buttons: the preview shows the choice

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  // the photo -------------------------------------------------------------------------------------------
  function useFile(file) {
    if (!file) return;
    if (camera) camera.value = ""; // the photo is sent once, from input
    chosen.textContent = "";
    if (file.type && !/^image\//.test(file.type)) {
      showError("“" + file.name + "” is not a photo. Choose a JPEG, PNG or WebP image.");
      input.value = "";
      preview.hidden = true;
      return;
    }
    if (file.size > MAX_BYTES) {
      showError("The photo is larger than 10 MB. Please choose a smaller file.");
      input.value = "";
      preview.hidden = true;
      return;
    }
    showError("");
    if (input.files[0] !== file) {
      var transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    image.src = previewUrl;
    preview.hidden = false;
    chosen.textContent = "Photo chosen: " + (file.name || "from the clipboard");
    setCrop(null);
  }

  // A file the browser cannot show (e.g. text named .jpg) is still sent: the server says what is wrong.
  image.addEventListener("error", function () { preview.hidden = true; });
  // Small photos are shown larger and tall ones no taller than most of the screen, always undistorted, so
  // that the box drawn on the preview is the box on the photo.
  image.addEventListener("load", function () {
    var aspect = image.naturalWidth / image.naturalHeight;
    frame.style.width = "min(100%, 32rem, " + (60 * aspect).toFixed(2) + "vh)";
  });
  input.addEventListener("change", function () { useFile(input.files[0]); });
  if (camera) camera.addEventListener("change", function () { useFile(camera.files[0]); });

  form.addEventListener("dragover", function (event) {
    event.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", function (event) {
    if (!form.contains(event.relatedTarget)) form.classList.remove("dragging");
  });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    form.classList.remove("dragging");
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) useFile(files[0]);
  });
  // A photo dropped next to the form must not make the browser leave the page.
  document.addEventListener("dragover", function (event) { event.preventDefault(); });
  document.addEventListener("drop", function (event) { event.preventDefault(); });

  document.addEventListener("paste", function (event) {
    var items = (event.clipboardData && event.clipboardData.items) || [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind === "file") {
        event.preventDefault();
        useFile(items[i].getAsFile());
        return;
      }
    }
  });

  // the box ---------------------------------------------------------------------------------------------
  function setCrop(next) {
    crop = next;
    box.hidden = !crop;
    clearButton.hidden = !crop;
    startButton.hidden = !!crop;
    if (!crop) {
      cropInput.value = "";
      return;
    }
    box.style.left = crop.x * 100 + "%";
    box.style.top = crop.y * 100 + "%";
    box.style.width = crop.w * 100 + "%";
    box.style.height = crop.h * 100 + "%";
    var round = function (v) { return Math.floor(v * 10000) / 10000; };
    cropInput.value = [round(crop.x), round(crop.y), round(crop.w), round(crop.h)].join(",");
    box.setAttribute(
      "aria-label",
      "Area to search: from " + Math.round(crop.x * 100) + "% left, " + Math.round(crop.y * 100) + "% top, " +
        Math.round(crop.w * 100) + "% wide, " + Math.round(crop.h * 100) + "% tall"
    );
  }

  function fit(x, y, w, h) {
    w = clamp(w, MIN_SIZE, 1);
    h = clamp(h, MIN_SIZE, 1);
    return { x: clamp(x, 0, 1 - w), y: clamp(y, 0, 1 - h), w: w, h: h };
  }

  function pointAt(event) {
    var rect = image.getBoundingClientRect();
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1),
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1),
    };
  }

  var drag = null; // {mode: "draw" | "move" | "resize", start: point, origin: crop}
  frame.addEventListener("pointerdown", function (event) {
    if (event.button !== 0 || !image.naturalWidth) return;
    event.preventDefault();
    var point = pointAt(event);
    var mode = event.target === handle ? "resize" : event.target === box ? "move" : "draw";
    drag = { mode: mode, start: point, origin: crop };
    frame.setPointerCapture(event.pointerId);
    if (mode === "draw") setCrop(fit(point.x, point.y, MIN_SIZE, MIN_SIZE));
  });
  frame.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var point = pointAt(event);
    var o = drag.origin;
    if (drag.mode === "draw") {
      var x = Math.min(point.x, drag.start.x);
      var y = Math.min(point.y, drag.start.y);
      setCrop(fit(x, y, Math.abs(point.x - drag.start.x), Math.abs(point.y - drag.start.y)));
    } else if (drag.mode === "move") {
      setCrop(fit(o.x + point.x - drag.start.x, o.y + point.y - drag.start.y, o.w, o.h));
    } else {
      setCrop(fit(o.x, o.y, Math.min(point.x - o.x, 1 - o.x), Math.min(point.y - o.y, 1 - o.y)));
    }
  });
  function endDrag(event) {
    if (!drag) return;
    var drawn = drag.mode === "draw";
    drag = null;
    if (frame.hasPointerCapture(event.pointerId)) frame.releasePointerCapture(event.pointerId);
    // A click without a drag is not a box.
    if (drawn && crop && crop.w <= MIN_SIZE && crop.h <= MIN_SIZE) setCrop(null);
  }
  frame.addEventListener("pointerup", endDrag);
  frame.addEventListener("pointercancel", endDrag);

  box.addEventListener("keydown", function (event) {
    if (!crop) return;
    var step = 0.02;
    var dx = { ArrowLeft: -step, ArrowRight: step }[event.key] || 0;
    var dy = { ArrowUp: -step, ArrowDown: step }[event.key] || 0;
    if (event.key === "Escape" || event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      setCrop(null);
      startButton.focus();
      return;
    }
    if (!dx && !dy) return;
    event.preventDefault();
    if (event.shiftKey) {
      setCrop(fit(crop.x, crop.y, Math.min(crop.w + dx, 1 - crop.x), Math.min(crop.h + dy, 1 - crop.y)));
    } else {
      setCrop(fit(crop.x + dx, crop.y + dy, crop.w, crop.h));
    }
  });

  startButton.addEventListener("click", function () {
    setCrop(fit(0.25, 0.25, 0.5, 0.5));
    box.focus();
  });
  clearButton.addEventListener("click", function () {
    setCrop(null);
    startButton.focus();
  });

  // sending ---------------------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!input.files.length) {
      showError("Choose a photo to upload.");
      input.focus();
      return;
    }
    showError("");
    submit.disabled = true;
    progressBox.hidden = false;
    progress.value = 0;
    progressLabel.textContent = "Uploading… 0%";
    var request = new XMLHttpRequest();
    request.open("POST", form.dataset.apiUrl);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      progress.value = percent;
      progressLabel.textContent = "Uploading… " + percent + "%";
    });
    request.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(request.responseText); } catch (ignored) { /* not JSON: a proxy's error page */ }
      if (request.status === 202 && data.url) {
        progress.value = 100;
        progressLabel.textContent = "Uploaded. Finding lookalikes…";
        window.location.assign(data.url);
        return;
      }
      fail(data.error || "The upload failed (error " + request.status + "). Please try again.");
    });
    request.addEventListener("error", function () {
      fail("The upload failed: check your connection and try again.");
    });
    request.send(new FormData(form));
  });

  function fail(message) {
    submit.disabled = false;
    progressBox.hidden = true;
    showError(message);
    errorBox.scrollIntoView({ block: "nearest" });
  }
})();

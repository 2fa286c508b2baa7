// The catalog's latent map: thumbnails placed from /api/map inside a plane that zooms (buttons, wheel, pinch,
// + and − keys) and pans (drag, arrow keys). Thumbnails keep a readable size at every zoom.
(function () {
  "use strict";
  var viewport = document.getElementById("map");
  if (!viewport) return;
  var plane = document.getElementById("map-plane");
  var status = document.getElementById("map-status");
  var legend = document.getElementById("map-legend");
  var MIN_ZOOM = 1;
  var MAX_ZOOM = 12;
  var view = { zoom: 1, x: 0, y: 0 }; // plane offset in px, at this zoom

  // The plane sits inside the viewport with a margin, so that thumbnails at the edges are whole.
  function size() { return { w: plane.offsetWidth, h: plane.offsetHeight }; }
  function origin() {
    var rect = viewport.getBoundingClientRect();
    return { x: rect.left + viewport.clientLeft + plane.offsetLeft, y: rect.top + viewport.clientTop + plane.offsetTop };
  }

  function clampView() {
    var s = size();
    view.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.zoom));
    view.x = Math.min(0, Math.max(s.w - s.w * view.zoom, view.x));
    view.y = Math.min(0, Math.max(s.h - s.h * view.zoom, view.y));
  }

  function render() {
    clampView();
    plane.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.zoom + ")";
    // thumbnails grow with the square root of the zoom, so close-ups show more without covering each other
    plane.style.setProperty("--item-scale", String(1 / Math.sqrt(view.zoom)));
  }

  function zoomAt(factor, cx, cy) {
    var before = view.zoom;
    view.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.zoom * factor));
    var ratio = view.zoom / before;
    view.x = cx - (cx - view.x) * ratio;
    view.y = cy - (cy - view.y) * ratio;
    render();
  }

  function zoomCentre(factor) {
    var s = size();
    zoomAt(factor, s.w / 2, s.h / 2);
  }

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.zoom;
      if (action === "in") zoomCentre(1.5);
      else if (action === "out") zoomCentre(1 / 1.5);
      else { view = { zoom: 1, x: 0, y: 0 }; render(); }
    });
  });

  viewport.addEventListener("wheel", function (event) {
    event.preventDefault();
    var o = origin();
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - o.x, event.clientY - o.y);
  }, { passive: false });

  viewport.addEventListener("keydown", function (event) {
    var step = 60;
    var moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (event.key === "+" || event.key === "=") zoomCentre(1.5);
    else if (event.key === "-" || event.key === "_") zoomCentre(1 / 1.5);
    else if (event.key === "0") { view = { zoom: 1, x: 0, y: 0 }; render(); }
    else if (moves[event.key] && event.target === viewport) {
      view.x += moves[event.key][0];
      view.y += moves[event.key][1];
      render();
    } else return;
    event.preventDefault();
  });

  // Dragging pans; two fingers pinch. A drag that moved is not a click on a thumbnail.
  var pointers = {};
  var moved = false;
  var pinch = null;
  viewport.addEventListener("pointerdown", function (event) {
    pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
    moved = false;
    if (Object.keys(pointers).length === 2) pinch = null;
  });
  viewport.addEventListener("pointermove", function (event) {
    var last = pointers[event.pointerId];
    if (!last) return;
    var ids = Object.keys(pointers);
    if (ids.length === 1) {
      var dx = event.clientX - last.x;
      var dy = event.clientY - last.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) viewport.setPointerCapture(event.pointerId);
      moved = true;
      view.x += dx;
      view.y += dy;
      pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
      render();
    } else if (ids.length === 2) {
      pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
      var a = pointers[ids[0]];
      var b = pointers[ids[1]];
      var distance = Math.hypot(a.x - b.x, a.y - b.y);
      var o = origin();
      if (pinch) zoomAt(distance / pinch, (a.x + b.x) / 2 - o.x, (a.y + b.y) / 2 - o.y);
      pinch = distance;
      moved = true;
    }
  });
  function release(event) {
    delete pointers[event.pointerId];
    pinch = null;
  }
  viewport.addEventListener("pointerup", release);
  viewport.addEventListener("pointercancel", release);
  viewport.addEventListener("click", function (event) {
    if (moved) { event.preventDefault(); event.stopPropagation(); moved = false; }
  }, true);

  // Tabbing to a thumbnail brings it into view.
  viewport.addEventListener("focusin", function (event) {
    var item = event.target.closest && event.target.closest(".map-item");
    if (!item) return;
    var s = size();
    var px = parseFloat(item.dataset.x) * s.w * view.zoom + view.x;
    var py = parseFloat(item.dataset.y) * s.h * view.zoom + view.y;
    if (px < 30 || px > s.w - 30 || py < 30 || py > s.h - 30) {
      view.x += s.w / 2 - px;
      view.y += s.h / 2 - py;
      render();
    }
    viewport.scrollLeft = 0;
    viewport.scrollTop = 0;
  });

  fetch(viewport.dataset.url, { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (data) {
      if (!data.products.length) {
        status.textContent = "The map appears once a trained model is live.";
        return;
      }
      var colours = {};
      data.categories.forEach(function (category) {
        colours[category.name] = category.colour;
        var item = document.createElement("li");
        var swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = category.colour;
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(category.name));
        legend.appendChild(item);
      });
      var fragment = document.createDocumentFragment();
      data.products.forEach(function (product) {
        var link = document.createElement("a");
        link.className = "map-item";
        link.href = product.url;
        link.title = product.name + " (" + product.category + ")";
        link.dataset.x = product.x;
        link.dataset.y = product.y;
        link.dataset.sku = product.sku;
        link.style.left = product.x * 100 + "%";
        link.style.top = product.y * 100 + "%";
        link.style.borderColor = colours[product.category] || "#5f6368";
        var img = document.createElement("img");
        img.src = product.thumbnail;
        img.alt = product.name;
        img.loading = "lazy";
        img.draggable = false;
        link.appendChild(img);
        fragment.appendChild(link);
      });
      plane.appendChild(fragment);
      viewport.hidden = false;
      status.textContent = data.products.length + " products on the map.";
      render();
    })
    .catch(function () {
      status.textContent = "The map could not be loaded. Please reload the page.";
    });

  window.addEventListener("resize", render);
})();

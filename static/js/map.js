// The catalog's latent map, drawn from a level-of-detail tile pyramid (recommender/maptiles.py): /api/map gives
// the meta and the tile URLs, and the page loads only the tiles that intersect the view at the levels its zoom
// shows, each as one small JSON and one sprite sheet of pictures, so it costs the same at any catalog size.
// Zoom: buttons, wheel, pinch, + and − keys. Pan: drag, arrow keys. Tabbing to a product brings it into view.
// "Find a product on the map" lists products by name (/api/map/find); choosing one walks down the tiles that hold
// its place to learn the depth it shows at, zooms there, rings it and focuses it. With ?upload=<id> the page rings
// where that photo lands and outlines its matches (/api/uploads/<id>/place), and "Where is my photo" returns there.
(function () {
  "use strict";
  var viewport = document.getElementById("map");
  if (!viewport) return;
  var plane = document.getElementById("map-plane");
  var status = document.getElementById("map-status");
  var legend = document.getElementById("map-legend");
  var mini = document.getElementById("map-mini");
  var marksLayer = document.getElementById("map-marks");
  var ITEM = 44; // px: a picture with its border (.map-item), the same at every zoom; a tap target
  var INNER = 38; // px: the picture inside the border
  var CELL = 48; // px: a depth shows once its cells are this wide, so that pictures seldom cover each other
  var PAD = 28; // px: the plane's inset in the viewport, where pictures at the edges still show
  var KEEP = 300; // tiles remembered; the browser's cache keeps their files
  var MATCH_NOTE = ", one of your photo's matches";
  var meta = null;
  var view = { zoom: 1, x: 0, y: 0 }; // plane offset in px, at this zoom
  var tiles = {}; // "level/x/y" -> {level, x, y, state, data, el, items, used}
  var shown = []; // the tiles in the page now
  var frame = 0;
  var tick = 0;
  var target = null; // {x, y}: the found product or the photo, which may be brought to the middle even at an edge
  var marks = []; // rings drawn over the map: {kind, x, y, el}
  var matchSkus = {}; // the photo's matches, whose pictures say so to a screen reader

  function size() { return { w: plane.clientWidth, h: plane.clientHeight }; }
  function origin() {
    var rect = viewport.getBoundingClientRect();
    return { x: rect.left + viewport.clientLeft + plane.offsetLeft, y: rect.top + viewport.clientTop + plane.offsetTop };
  }
  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  // Zoom at which the deepest depth's cells are CELL px wide, and a little beyond.
  function maxZoom() {
    var s = size();
    return Math.max(1, 1.5 * CELL * Math.pow(2, meta.depths - 1) / Math.sqrt(Math.max(1, s.w * s.h)));
  }
  // The deepest depth shown: its cells (the geometric mean of their width and height) are at least CELL px.
  function depthShown() {
    var s = size();
    var depth = Math.floor(Math.log2(view.zoom * Math.sqrt(Math.max(1, s.w * s.h)) / CELL));
    return clamp(depth, 0, meta.depths - 1);
  }

  // Zoom at which the pictures of `depth` show (see depthShown).
  function zoomFor(depth) {
    var s = size();
    return clamp(1.05 * CELL * Math.pow(2, depth) / Math.sqrt(Math.max(1, s.w * s.h)), 1, maxZoom());
  }

  function clampView() {
    var s = size();
    view.zoom = clamp(view.zoom, 1, maxZoom());
    var low = { x: s.w - s.w * view.zoom, y: s.h - s.h * view.zoom };
    var high = { x: 0, y: 0 };
    if (target) { // a target near the map's edge can still be brought to the middle of the view
      var cx = s.w / 2 - target.x * s.w * view.zoom;
      var cy = s.h / 2 - target.y * s.h * view.zoom;
      low = { x: Math.min(low.x, cx), y: Math.min(low.y, cy) };
      high = { x: Math.max(high.x, cx), y: Math.max(high.y, cy) };
    }
    view.x = clamp(view.x, low.x, high.x);
    view.y = clamp(view.y, low.y, high.y);
  }

  function tileUrl(kind, level, x, y) {
    return meta.tiles[kind].replace("{level}", level).replace("{x}", x).replace("{y}", y);
  }

  // A tile's JSON and, where its parent says it has points, its sprite sheet are fetched side by side.
  function tile(level, x, y, hasSprite) {
    var key = level + "/" + x + "/" + y;
    var record = tiles[key];
    if (record) return record;
    record = tiles[key] = { key: key, level: level, x: x, y: y, state: "loading", data: null, items: [], sprite: null };
    if (hasSprite) loadSprite(record);
    record.loaded = fetch(tileUrl("json", level, x, y)) // resolves to the record, built or failed
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { build(record, data); return record; })
      .catch(function () { record.state = "failed"; schedule(); return record; });
    return record;
  }

  function loadSprite(record) {
    record.sprite = new Image();
    record.sprite.src = tileUrl("jpg", record.level, record.x, record.y);
    record.picture = record.sprite.decode();
    record.picture.catch(function () {}); // handled in build(), which may come later
  }

  function build(record, data) {
    record.data = data;
    var fields = {};
    data.fields.forEach(function (name, i) { fields[name] = i; });
    var el = document.createElement("div");
    el.className = "map-tile is-loading";
    el.dataset.tile = record.key;
    data.points.forEach(function (row) {
      var category = meta.categories[row[fields.category]] || { name: "", colour: "#5f6368" };
      var cell = row[fields.cell];
      var link = document.createElement("a");
      link.className = "map-item";
      link.href = row[fields.url];
      link.setAttribute("aria-label", row[fields.name] + (matchSkus[row[fields.sku]] ? MATCH_NOTE : ""));
      link.title = row[fields.name] + " (" + category.name + ")";
      link.draggable = false;
      link.hidden = true;
      link.dataset.sku = row[fields.sku];
      link.style.color = category.colour;
      link.style.backgroundPosition =
        -(cell % data.columns) * INNER + "px " + -Math.floor(cell / data.columns) * INNER + "px";
      el.appendChild(link);
      record.items.push({ el: link, x: row[fields.x], y: row[fields.y], depth: row[fields.depth] });
    });
    record.el = el;
    if (!data.points.length) {
      record.state = "ready";
    } else {
      record.state = "sprite";
      if (!record.sprite) loadSprite(record);
      var painted = function () {
        el.style.setProperty("--sprite", 'url("' + record.sprite.src + '")');
        el.style.setProperty("--sprite-width", data.columns * INNER + "px");
        el.classList.remove("is-loading");
        record.state = "ready";
        schedule();
      };
      record.picture.then(painted, function () {
        if (record.sprite.naturalWidth) painted();
        else { record.state = "ready"; schedule(); } // the placeholders stay
      });
    }
    schedule();
  }

  // The tiles that intersect the view at levels 0..(depth shown − k): a child only where its parent has said
  // that it or a tile below it holds points, so no request is ever answered 404.
  function wanted(depth) {
    var s = size();
    var k = Math.log2(meta.tile.cells);
    var deepest = Math.max(0, Math.min(meta.levels - 1, depth - k));
    var margin = PAD + ITEM / 2;
    var fx0 = (-margin - view.x) / (s.w * view.zoom);
    var fx1 = (s.w + margin - view.x) / (s.w * view.zoom);
    var fy0 = (-margin - view.y) / (s.h * view.zoom);
    var fy1 = (s.h + margin - view.y) / (s.h * view.zoom);
    var list = [tile(0, 0, 0, true)];
    for (var level = 1; level <= deepest; level++) {
      var n = 1 << level;
      for (var y = clamp(Math.floor(fy0 * n), 0, n - 1); y <= clamp(Math.floor(fy1 * n), 0, n - 1); y++) {
        for (var x = clamp(Math.floor(fx0 * n), 0, n - 1); x <= clamp(Math.floor(fx1 * n), 0, n - 1); x++) {
          var parent = tiles[(level - 1) + "/" + (x >> 1) + "/" + (y >> 1)];
          var below = parent && parent.data ? parent.data.children[(x & 1) + 2 * (y & 1)] : 0;
          if (below) list.push(tile(level, x, y, below === 2));
        }
      }
    }
    return list;
  }

  function render() {
    frame = 0;
    if (!meta) return;
    clampView();
    tick++;
    var s = size();
    var depth = depthShown();
    var list = wanted(depth).filter(function (record) { record.used = tick; return record.el; });
    shown.forEach(function (record) { if (record.used !== tick) record.el.remove(); });
    list.forEach(function (record) { if (record.el.parentNode !== plane) plane.appendChild(record.el); });
    shown = list;
    var reach = PAD + ITEM;
    list.forEach(function (record) {
      record.items.forEach(function (item) {
        var px = item.x * s.w * view.zoom + view.x;
        var py = item.y * s.h * view.zoom + view.y;
        var on = item.depth <= depth && px > -reach && px < s.w + reach && py > -reach && py < s.h + reach;
        if (item.el.hidden === on) item.el.hidden = !on; // hidden ones also leave the tab order
        if (on) item.el.style.transform = "translate(" + (px - ITEM / 2) + "px," + (py - ITEM / 2) + "px)";
      });
    });
    marks.forEach(function (mark) {
      var px = mark.x * s.w * view.zoom + view.x;
      var py = mark.y * s.h * view.zoom + view.y;
      mark.el.style.transform = "translate(" + px + "px," + py + "px)";
    });
    var busy = Object.keys(tiles).some(function (key) {
      var record = tiles[key];
      return record.used === tick && (record.state === "loading" || record.state === "sprite");
    });
    viewport.setAttribute("aria-busy", String(busy));
    forget();
    drawMini(s);
  }

  function schedule() { if (!frame) frame = requestAnimationFrame(render); }

  function forget() {
    var keys = Object.keys(tiles);
    if (keys.length <= KEEP) return;
    keys.sort(function (a, b) { return tiles[a].used - tiles[b].used; });
    keys.slice(0, keys.length - KEEP).forEach(function (key) {
      if (tiles[key].used !== tick && tiles[key].state === "ready") delete tiles[key];
    });
  }

  // The mini-map: the overview points and the part of the map in view, once zoomed in.
  function drawMini(s) {
    if (!mini) return;
    mini.hidden = view.zoom <= 1.01;
    if (mini.hidden) return;
    var w = mini.width;
    var h = mini.height;
    var g = mini.getContext("2d");
    g.clearRect(0, 0, w, h);
    var fields = meta.overview.fields;
    var ix = fields.indexOf("x");
    var iy = fields.indexOf("y");
    var ic = fields.indexOf("category");
    meta.overview.points.forEach(function (row) {
      g.fillStyle = (meta.categories[row[ic]] || {}).colour || "#5f6368";
      g.fillRect(row[ix] * (w - 4) + 1, row[iy] * (h - 4) + 1, 2, 2);
    });
    g.strokeStyle = "#1d1d1f";
    g.lineWidth = 1.5;
    marks.forEach(function (mark) {
      if (mark.kind === "match") return;
      g.beginPath();
      g.arc(mark.x * (w - 4) + 2, mark.y * (h - 4) + 2, 4, 0, 2 * Math.PI);
      g.stroke();
    });
    g.strokeRect((-view.x / (s.w * view.zoom)) * w, (-view.y / (s.h * view.zoom)) * h, w / view.zoom, h / view.zoom);
  }

  function zoomAt(factor, cx, cy) {
    var before = view.zoom;
    view.zoom = clamp(view.zoom * factor, 1, maxZoom());
    var ratio = view.zoom / before;
    view.x = cx - (cx - view.x) * ratio;
    view.y = cy - (cy - view.y) * ratio;
    schedule();
  }

  function zoomCentre(factor) {
    var s = size();
    zoomAt(factor, s.w / 2, s.h / 2);
  }

  function reset() {
    view = { zoom: 1, x: 0, y: 0 };
    target = null;
    schedule();
  }

  // Brings (x, y) to the middle of the view at `zoom`, and keeps it reachable there (see clampView).
  function centreOn(x, y, zoom) {
    var s = size();
    target = { x: x, y: y };
    view.zoom = clamp(zoom, 1, maxZoom());
    view.x = s.w / 2 - x * s.w * view.zoom;
    view.y = s.h / 2 - y * s.h * view.zoom;
    render();
  }

  // Rings over the map, positioned on every render: "photo", "match" or "found".
  function setMarks(kind, points) {
    marks = marks.filter(function (mark) {
      if (mark.kind === kind) mark.el.remove();
      return mark.kind !== kind;
    });
    points.forEach(function (point) {
      var el = document.createElement("div");
      el.className = "map-mark map-mark-" + kind;
      el.dataset.mark = kind;
      if (point.sku) el.dataset.sku = point.sku;
      marksLayer.appendChild(el);
      marks.push({ kind: kind, x: point.x, y: point.y, el: el });
    });
    schedule();
  }

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.zoom;
      if (action === "in") zoomCentre(2);
      else if (action === "out") zoomCentre(0.5);
      else reset();
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
    if (event.key === "+" || event.key === "=") zoomCentre(2);
    else if (event.key === "-" || event.key === "_") zoomCentre(0.5);
    else if (event.key === "0") reset();
    else if (moves[event.key] && event.target === viewport) {
      view.x += moves[event.key][0];
      view.y += moves[event.key][1];
      schedule();
    } else return;
    event.preventDefault();
  });

  // Dragging pans; two fingers pinch. A drag that moved is not a click on a picture.
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
      schedule();
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

  // Tabbing to a picture near or past the edge brings it to the middle.
  viewport.addEventListener("focusin", function (event) {
    var link = event.target.closest && event.target.closest(".map-item");
    if (!link) return;
    var s = size();
    var item = null;
    shown.forEach(function (record) {
      record.items.forEach(function (candidate) { if (candidate.el === link) item = candidate; });
    });
    if (!item) return;
    var px = item.x * s.w * view.zoom + view.x;
    var py = item.y * s.h * view.zoom + view.y;
    if (px < ITEM / 2 || px > s.w - ITEM / 2 || py < ITEM / 2 || py > s.h - ITEM / 2) {
      view.x += s.w / 2 - px;
      view.y += s.h / 2 - py;
      render();
    }
    viewport.scrollLeft = 0;
    viewport.scrollTop = 0;
  });

  function showLegend() {
    meta.legend.forEach(function (entry) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = entry.colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(entry.label));
      if (entry.categories.length > 1) {
        item.title = entry.categories.map(function (i) { return meta.categories[i].name; }).join(", ");
      }
      legend.appendChild(item);
    });
  }

  // -- finding a product -------------------------------------------------------------------------------------------

  // The map item of `sku`, whose place is about (x, y): walks down the tiles that hold that place, level by level
  // (at most a few tiles a level: the place is rounded, so the tiles within EPS of it), until one lists the sku.
  // Resolves to {record, item}, or null where no tile has it (a product saved since the map was drawn).
  function locate(sku, x, y) {
    var EPS = 2e-4;
    function around(level) {
      var n = 1 << level;
      var list = [];
      var x0 = clamp(Math.floor((x - EPS) * n), 0, n - 1);
      var x1 = clamp(Math.floor((x + EPS) * n), 0, n - 1);
      var y0 = clamp(Math.floor((y - EPS) * n), 0, n - 1);
      var y1 = clamp(Math.floor((y + EPS) * n), 0, n - 1);
      for (var ty = y0; ty <= y1; ty++) {
        for (var tx = x0; tx <= x1; tx++) {
          if (level === 0) { list.push(tile(0, 0, 0, true)); continue; }
          var parent = tiles[(level - 1) + "/" + (tx >> 1) + "/" + (ty >> 1)];
          var below = parent && parent.data ? parent.data.children[(tx & 1) + 2 * (ty & 1)] : 0;
          if (below) list.push(tile(level, tx, ty, below === 2));
        }
      }
      return list;
    }
    function step(level) {
      var list = level < meta.levels ? around(level) : [];
      if (!list.length) return Promise.resolve(null);
      return Promise.all(list.map(function (record) { return record.loaded; })).then(function () {
        for (var i = 0; i < list.length; i++) {
          for (var j = 0; j < list[i].items.length; j++) {
            if (list[i].items[j].el.dataset.sku === sku) return { record: list[i], item: list[i].items[j] };
          }
        }
        return step(level + 1);
      });
    }
    return step(0);
  }

  var findForm = document.getElementById("map-find");
  var findInput = document.getElementById("map-find-input");
  var findList = document.getElementById("map-find-results");
  var findStatus = document.getElementById("map-find-status");
  var found = { text: null, products: [], active: -1 };
  var asked = 0; // the latest search; older answers are dropped
  var chosen = 0; // the latest product chosen; older walks down the tiles are dropped
  var typing = 0;

  function say(text) { findStatus.textContent = text; }

  function listProducts(text, products) {
    found = { text: text, products: products, active: -1 };
    findList.textContent = "";
    products.forEach(function (product, i) {
      var option = document.createElement("li");
      option.id = "map-find-option-" + i;
      option.className = "map-find-option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.sku = product.sku;
      var picture = document.createElement("img");
      picture.alt = "";
      picture.width = 40;
      picture.height = 40;
      if (product.thumbnail) picture.src = product.thumbnail;
      var name = document.createElement("span");
      name.className = "map-find-name";
      name.textContent = product.name;
      var about = document.createElement("span");
      about.className = "meta";
      about.textContent = product.category + (product.place ? "" : " · on the map after the next index build");
      var words = document.createElement("span");
      words.className = "map-find-words";
      words.appendChild(name);
      words.appendChild(about);
      option.appendChild(picture);
      option.appendChild(words);
      option.addEventListener("mousedown", function (event) { event.preventDefault(); }); // the input keeps focus
      option.addEventListener("click", function () { choose(i); });
      findList.appendChild(option);
    });
    findList.hidden = !products.length;
    findInput.setAttribute("aria-expanded", String(products.length > 0));
    findInput.removeAttribute("aria-activedescendant");
  }

  function highlight(i) {
    found.active = i;
    Array.prototype.forEach.call(findList.children, function (option, j) {
      option.setAttribute("aria-selected", String(i === j));
      option.classList.toggle("is-active", i === j);
    });
    var option = findList.children[i];
    if (!option) return;
    findInput.setAttribute("aria-activedescendant", option.id);
    if (option.scrollIntoView) option.scrollIntoView({ block: "nearest" });
  }

  function search(text) {
    var token = ++asked;
    say("Searching…");
    fetch(findForm.dataset.url + "?q=" + encodeURIComponent(text))
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (token !== asked) return;
        if (!answer.ok) { listProducts(text, []); say(answer.body.error || "The search failed."); return; }
        var products = answer.body.results;
        listProducts(text, products);
        var n = products.length;
        if (!n) say("No product matches “" + text + "”.");
        else if (answer.body.more) say("The first " + n + " products found: type more of the name to narrow them.");
        else say(n + " product" + (n === 1 ? "" : "s") + " found.");
      })
      .catch(function () { if (token === asked) say("The search failed. Please try again."); });
  }

  function choose(i) {
    var product = found.products[i];
    if (!product) return;
    highlight(i);
    var token = ++chosen;
    if (!meta) { say("The map appears once a trained model is live."); return; }
    if (!product.place) {
      say(product.name + " was added after the map was drawn: it appears on the map after the next index build.");
      return;
    }
    say("Finding " + product.name + " on the map…");
    locate(product.sku, product.place.x, product.place.y).then(function (hit) {
      if (token !== chosen) return;
      var x = hit ? hit.item.x : product.place.x;
      var y = hit ? hit.item.y : product.place.y;
      setMarks("found", [{ x: x, y: y, sku: product.sku }]);
      centreOn(x, y, hit ? Math.max(2, zoomFor(hit.item.depth)) : maxZoom());
      if (viewport.scrollIntoView) viewport.scrollIntoView({ block: "nearest" }); // the whole map, ring in the middle
      if (hit && !hit.item.el.hidden) {
        hit.item.el.focus({ preventScroll: true });
        viewport.scrollLeft = 0;
        viewport.scrollTop = 0;
        say(product.name + " is ringed on the map.");
      } else {
        say(product.name + " is ringed on the map; its picture appears after the next index build.");
      }
    });
  }

  findInput.addEventListener("input", function () {
    clearTimeout(typing);
    var text = findInput.value.trim();
    if (text.length >= 2) typing = setTimeout(function () { search(text); }, 250);
    else { asked++; listProducts("", []); say(""); }
  });

  findInput.addEventListener("keydown", function (event) {
    var n = found.products.length;
    if (event.key === "ArrowDown" && n) highlight((found.active + 1) % n);
    else if (event.key === "ArrowUp" && n) highlight(found.active <= 0 ? n - 1 : found.active - 1);
    else if (event.key === "Escape" && !findList.hidden) {
      findList.hidden = true;
      findInput.setAttribute("aria-expanded", "false");
    } else return;
    event.preventDefault();
  });

  // Enter: the highlighted product; else the first of those listed for this text; else a search now.
  findForm.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(typing);
    var text = findInput.value.trim();
    if (!text) { say("Type part of a product's name, or its article number."); return; }
    if (found.text === text && found.products.length && !findList.hidden) choose(Math.max(0, found.active));
    else search(text);
  });

  // -- where the photo lands ---------------------------------------------------------------------------------------

  var photoButton = document.getElementById("map-photo");
  var photo = null;

  function showPhoto() {
    // The zoom at which its three closest matches sit around the photo, within 35 % of the view from the middle:
    // they often nearly overlap at the first zoom, and the rest of the answer may lie across the map.
    var distances = photo.matches.map(function (match) {
      return Math.max(Math.abs(match.x - photo.x), Math.abs(match.y - photo.y));
    }).sort(function (a, b) { return a - b; });
    var reach = Math.max(distances.length ? distances[Math.min(2, distances.length - 1)] : 0.5, 1e-4);
    centreOn(photo.x, photo.y, 0.35 / reach);
  }

  function loadPhoto(uploadId) {
    var url = photoButton.dataset.url.replace("00000000-0000-0000-0000-000000000000", encodeURIComponent(uploadId));
    fetch(url)
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { status.textContent = answer.body.error || "Your photo's place could not be loaded."; return; }
        photo = answer.body;
        matchSkus = {};
        photo.matches.forEach(function (match) { matchSkus[match.sku] = true; });
        Object.keys(tiles).forEach(function (key) {
          tiles[key].items.forEach(function (item) {
            var label = item.el.getAttribute("aria-label");
            if (matchSkus[item.el.dataset.sku]) item.el.setAttribute("aria-label", label + MATCH_NOTE);
          });
        });
        setMarks("match", photo.matches);
        setMarks("photo", [photo]);
        photoButton.hidden = false;
        var n = photo.matches.length;
        status.textContent = "Your photo is ringed on the map" +
          (n ? ", among its " + n + " match" + (n === 1 ? "" : "es") + " (outlined)." : ".");
        showPhoto();
      })
      .catch(function () { status.textContent = "Your photo's place could not be loaded. Please reload the page."; });
  }

  photoButton.addEventListener("click", function () {
    if (!photo) return;
    showPhoto();
    viewport.focus({ preventScroll: true });
    if (viewport.scrollIntoView) viewport.scrollIntoView({ block: "nearest" });
  });

  fetch(viewport.dataset.url)
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (data) {
      if (!data.count || !data.tiles) {
        status.textContent = "The map appears once a trained model is live.";
        return;
      }
      meta = data;
      showLegend();
      viewport.hidden = false;
      status.textContent = data.count.toLocaleString("en") + " products on the map.";
      render();
      var uploadId = new URLSearchParams(window.location.search).get("upload");
      if (uploadId) loadPhoto(uploadId);
    })
    .catch(function () {
      status.textContent = "The map could not be loaded. Please reload the page.";
    });

  window.addEventListener("resize", schedule);
})();

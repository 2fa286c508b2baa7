// A room answer: each hotspot on the photo is a link to its piece's strip of lookalikes, so without this script
// the browser already scrolls to the strip and CSS :target highlights it. The script moves keyboard focus into the
// chosen strip as well (a screen reader then reads its heading) and marks the chosen hotspot as current.
(function () {
  "use strict";
  var hotspots = document.querySelectorAll(".hotspot");
  hotspots.forEach(function (hotspot) {
    hotspot.addEventListener("click", function () {
      var strip = document.getElementById(hotspot.hash.slice(1));
      if (!strip) return;
      hotspots.forEach(function (other) { other.removeAttribute("aria-current"); });
      hotspot.setAttribute("aria-current", "true");
      strip.focus({ preventScroll: true }); // the link's own navigation scrolls to the strip
    });
  });
})();

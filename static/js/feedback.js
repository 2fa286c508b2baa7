// "Good match" / "Not this" on recommendation cards: sent in the background with the CSRF token, shown as
// pressed buttons. Without JavaScript the same form posts and comes back to the page.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-feedback]") || !window.fetch) return;
    event.preventDefault();
    var button = event.submitter;
    if (!button || !button.value) return;
    var body = new FormData(form);
    body.set("verdict", button.value);
    body.delete("next");
    var note = form.querySelector(".feedback-note");
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        if (!result.ok) throw new Error(result.data.error || "not saved");
        Array.prototype.forEach.call(form.querySelectorAll("button[name=verdict]"), function (b) {
          b.setAttribute("aria-pressed", String(b.value === result.data.verdict));
        });
        if (note) note.textContent = result.data.verdict === "good" ? "Thanks: noted as a good match." : "Thanks: noted.";
      })
      .catch(function () {
        if (note) note.textContent = "Sorry, your answer was not saved. Please try again.";
      });
  });
})();

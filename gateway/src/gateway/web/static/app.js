// Progressive enhancement only: every page works without this file.
// 1. A form marked data-once cannot be sent twice by a double tap (a kiosk's touch screen).
// 2. The filing form gets an Idempotency-Key once per page, so a resent form never files twice.
(function () {
  "use strict";
  document.querySelectorAll("input[data-idempotency]").forEach(function (input) {
    if (!input.value && window.crypto && window.crypto.getRandomValues) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      input.value = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }
  });
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.setAttribute("aria-busy", "true"); });
    });
  });
})();

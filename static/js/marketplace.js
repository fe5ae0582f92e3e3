// Marketplace filters: a changed select or checkbox applies at once (the button still works without JS).
(function () {
  "use strict";
  var form = document.getElementById("market-form");
  if (!form) return;
  form.querySelectorAll("[data-autosubmit] select, input[type=checkbox]").forEach(function (input) {
    input.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
  });
  // Blank fields would only clutter the address; leave them out of the query string.
  form.addEventListener("formdata", function (event) {
    var empty = [];
    event.formData.forEach(function (value, key) { if (value === "") empty.push(key); });
    empty.forEach(function (key) { event.formData.delete(key); });
  });
})();

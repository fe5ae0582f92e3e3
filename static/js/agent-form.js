// The agent form: show only the price field that belongs to the chosen pricing model.
(function () {
  "use strict";
  var model = document.getElementById("id_pricing_model");
  if (!model) return;
  var perUse = document.getElementById("field-price_per_use");
  var monthly = document.getElementById("field-monthly_price");
  function sync() {
    if (perUse) perUse.hidden = model.value !== "per_use";
    if (monthly) monthly.hidden = model.value !== "subscription";
  }
  model.addEventListener("change", sync);
  sync();
})();

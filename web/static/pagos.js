/* Pagos: add a payment-form row without a round trip, and pre-select the customer's usual
   payment form. Served locally (CSP script-src 'self'); the form works without it. */
(function () {
  "use strict";
  var form = document.getElementById("form-liquidacion");
  if (!form) { return; }
  var rows = document.getElementById("formas-pago");
  var add = document.getElementById("agregar-forma");
  var customer = document.getElementById("cliente");

  function usualForma() {
    var opt = customer && customer.options[customer.selectedIndex];
    return opt ? (opt.getAttribute("data-forma") || "") : "";
  }

  function applyUsual(select) {
    if (select && (select.value === "" || select.getAttribute("data-auto") === "1")) {
      select.value = usualForma();
      select.setAttribute("data-auto", "1");
    }
  }

  function renumber() {
    var nums = rows.querySelectorAll(".row-num");
    for (var i = 0; i < nums.length; i++) { nums[i].textContent = String(i + 1); }
  }

  if (add) {
    add.type = "button"; // with JavaScript, Enter registers the payment instead of adding rows
    add.addEventListener("click", function () {
      var all = rows.querySelectorAll(".pay-row");
      var max = parseInt(add.getAttribute("data-max") || "20", 10);
      if (all.length >= max) { return; }
      var copy = all[all.length - 1].cloneNode(true);
      var fields = copy.querySelectorAll("input, select");
      for (var i = 0; i < fields.length; i++) {
        var f = fields[i];
        if (f.tagName === "SELECT") {
          f.selectedIndex = 0;
          if (f.name === "moneda") { f.value = "MXN"; }
        } else { f.value = ""; }
      }
      var details = copy.querySelector("details");
      if (details) { details.open = false; }
      rows.appendChild(copy);
      applyUsual(copy.querySelector("select.forma"));
      renumber();
      var first = copy.querySelector("input[name=monto]");
      if (first) { first.focus(); }
    });
  }

  if (customer) {
    customer.addEventListener("change", function () {
      var selects = rows.querySelectorAll("select.forma");
      for (var i = 0; i < selects.length; i++) { applyUsual(selects[i]); }
    });
    var initial = rows.querySelectorAll("select.forma");
    for (var j = 0; j < initial.length; j++) { if (initial[j].value === "") { applyUsual(initial[j]); } }
  }
})();

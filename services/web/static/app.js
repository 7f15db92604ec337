// Progressive enhancement only: every page works without this file.
// The as-of slider of a casebook moves through the participant's recorded moments: it sets
// the select that names them (which the form sends) and asks for the page again (htmx
// swaps the main content when it is loaded; otherwise the form is submitted).
(function () {
  "use strict";
  function bind(root) {
    var slider = root.querySelector("#as-of-slider");
    var select = root.querySelector("#as-of-select");
    if (!slider || !select) { return; }
    var label = root.querySelector("#as-of-slider-value");
    slider.hidden = false;
    if (label) { label.hidden = false; }
    var moments = Array.prototype.map.call(select.options, function (o) {
      return { value: o.value, text: o.textContent };
    });
    function show() {
      var chosen = moments[Number(slider.value)];
      if (label && chosen) { label.textContent = chosen.text; }
    }
    function go() {
      var chosen = moments[Number(slider.value)];
      if (!chosen || select.value === chosen.value) { return; }
      select.value = chosen.value;
      var form = select.form;
      if (window.htmx) {
        window.htmx.trigger(form, "submit");
      } else {
        form.submit();
      }
    }
    slider.addEventListener("input", show);
    slider.addEventListener("change", go);
    show();
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSettle", function (e) { bind(document); });
})();

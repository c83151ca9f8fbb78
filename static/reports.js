// Reports: editing a date switches the range to "custom" before the
// filter form is sent (capture phase, so it runs before HTMX sees the change).
document.addEventListener("change", function (evt) {
  var el = evt.target;
  if (!el.hasAttribute || !el.hasAttribute("data-custom-range")) {
    return;
  }
  var range = document.getElementById("f-range");
  if (range) {
    range.value = "custom";
  }
}, true);

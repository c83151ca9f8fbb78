// Reports: the range and the two dates always describe one period before
// the filter form is sent (capture phase, so this runs before HTMX reads
// the form). Editing a date makes the range "custom"; choosing a preset
// sets the dates to the days it covers, ending on the form's data-today
// (the report time zone's date, from the server).
document.addEventListener("change", function (evt) {
  var el = evt.target;
  if (!el.form || el.form.id !== "report-filters") {
    return;
  }
  var range = el.form.elements.range;
  if (el.hasAttribute("data-custom-range")) {
    range.value = "custom";
    return;
  }
  var days = parseInt(el.value, 10);
  var today = el.form.getAttribute("data-today");
  if (el !== range || !(days > 0) || !/^\d{4}-\d{2}-\d{2}$/.test(today || "")) {
    return;
  }
  var end = new Date(today + "T00:00:00Z");
  var start = new Date(end.getTime() - (days - 1) * 86400000);
  el.form.elements.from.value = start.toISOString().slice(0, 10);
  el.form.elements.to.value = today;
}, true);

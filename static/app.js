// Sends the page's CSRF token with every HTMX request.
document.addEventListener("htmx:configRequest", function (evt) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    evt.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// Shows a loading state on plain form posts that leave the page
// (forms marked data-loading), and prevents double submits.
document.addEventListener("submit", function (evt) {
  var form = evt.target;
  if (!form.hasAttribute || !form.hasAttribute("data-loading")) {
    return;
  }
  if (form.classList.contains("is-loading")) {
    evt.preventDefault();
    return;
  }
  form.classList.add("is-loading");
  form.setAttribute("aria-busy", "true");
});
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form.is-loading").forEach(function (f) {
    f.classList.remove("is-loading");
    f.removeAttribute("aria-busy");
  });
});

// Closes an open menu (details.menu) on a click outside it or on Escape.
document.addEventListener("click", function (evt) {
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    if (!d.contains(evt.target)) {
      d.removeAttribute("open");
    }
  });
});
document.addEventListener("keydown", function (evt) {
  if (evt.key !== "Escape") {
    return;
  }
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    d.removeAttribute("open");
    var s = d.querySelector("summary");
    if (s) {
      s.focus();
    }
  });
});

// Tells the server the browser's time zone, so customer pages show times
// in it (cookie nox_tz, read on the next page).
(function () {
  var tz = "";
  try {
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    return;
  }
  var cur = document.cookie.match(/(?:^|; )nox_tz=([^;]*)/);
  if (tz && (!cur || decodeURIComponent(cur[1]) !== tz)) {
    document.cookie = "nox_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax" +
      (location.protocol === "https:" ? "; secure" : "");
  }
})();

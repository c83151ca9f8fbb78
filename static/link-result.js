// The last page of a link flow opened by nox-link.js in a popup: it hands
// the result to the supplier page that opened it — only to the origin of
// the supplier's registered redirect URI — and closes. With no opener left
// it continues to the redirect URI, as a flow outside a popup does.
(function () {
  "use strict";
  var el = document.getElementById("nox-link-result");
  if (!el) return;
  var target = el.getAttribute("data-redirect");
  var origin = el.getAttribute("data-origin");
  var result = JSON.parse(el.getAttribute("data-result"));
  result.type = "nox-link:result";
  if (window.opener && !window.opener.closed) {
    try {
      window.opener.postMessage(result, origin);
      window.close();
      return;
    } catch (e) { /* fall through to the redirect */ }
  }
  window.location.replace(target);
})();

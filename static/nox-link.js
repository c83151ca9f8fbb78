/*! nox-link.js 1.0.0 — open the NOX Energy link flow from a supplier's web app.
 * No dependencies. Usage:
 *   NoxLink.open({linkUrl, onSuccess, onExit, onEvent})
 * linkUrl is the link_url of POST /users/{supplier_user_id}/link. On a wide
 * screen the flow opens in a popup and its result comes back to this page
 * by postMessage; on a phone, or when the browser blocks the popup, the
 * page goes to linkUrl and the result comes to the redirect_uri as usual.
 * onSuccess(result) and onExit(result) get the redirect's fields
 * (connection_status, supplier_user_id, nox_user_id, manufacturer,
 * connected_at, error); never a token.
 */
(function (root) {
  "use strict";
  var VERSION = "1.0.0";
  var open = null;

  function noop() {}

  function mobile() {
    var ua = root.navigator && root.navigator.userAgent || "";
    return /Android|iPhone|iPad|iPod|Mobile/i.test(ua) ||
      (root.matchMedia && root.matchMedia("(max-width: 640px)").matches);
  }

  function withPopupFlag(url) {
    var u = new URL(url, root.location.href);
    u.searchParams.set("popup", "1");
    return u;
  }

  function fields(data) {
    var out = {};
    ["connection_status", "supplier_user_id", "nox_user_id", "manufacturer", "connected_at", "error"].forEach(function (k) {
      if (typeof data[k] === "string") out[k] = data[k];
    });
    return out;
  }

  function finish(state) {
    root.removeEventListener("message", state.listen);
    root.clearInterval(state.timer);
    if (open === state) open = null;
  }

  function start(opts) {
    if (!opts || typeof opts.linkUrl !== "string") throw new TypeError("NoxLink.open needs {linkUrl}");
    var onSuccess = opts.onSuccess || noop, onExit = opts.onExit || noop, onEvent = opts.onEvent || noop;
    var url = withPopupFlag(opts.linkUrl);
    var noxOrigin = url.origin;
    if (open) {
      open.popup.focus();
      return;
    }
    if (mobile()) {
      onEvent({type: "redirect", reason: "mobile"});
      root.location.assign(opts.linkUrl);
      return;
    }
    var w = 480, h = 720;
    var left = Math.max(0, (root.screenX || 0) + ((root.outerWidth || w) - w) / 2);
    var top = Math.max(0, (root.screenY || 0) + ((root.outerHeight || h) - h) / 2);
    var popup = root.open(url.href, "nox-link", "popup,width=" + w + ",height=" + h + ",left=" + left + ",top=" + top);
    if (!popup) {
      onEvent({type: "redirect", reason: "popup_blocked"});
      root.location.assign(opts.linkUrl);
      return;
    }
    var state = {popup: popup, done: false};
    state.listen = function (e) {
      // Only the NOX flow in the popup this call opened may answer.
      if (e.origin !== noxOrigin || e.source !== popup) return;
      var d = e.data;
      if (!d || d.type !== "nox-link:result" || typeof d.connection_status !== "string") return;
      state.done = true;
      finish(state);
      var result = fields(d);
      onEvent({type: "result", result: result});
      if (result.connection_status === "connected") onSuccess(result);
      else onExit(result);
    };
    root.addEventListener("message", state.listen);
    state.timer = root.setInterval(function () {
      if (!popup.closed || state.done) return;
      finish(state);
      onEvent({type: "closed"});
      onExit({connection_status: "failed", error: "closed"});
    }, 400);
    open = state;
    onEvent({type: "open"});
  }

  root.NoxLink = {version: VERSION, open: start};
})(window);

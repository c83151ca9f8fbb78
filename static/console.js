// Support console: copy-to-clipboard buttons (data-copy="input id") and
// whole-row links in result tables (tr[data-href]).
(function () {
  if (window.noxConsole) {
    return;
  }
  window.noxConsole = true;

  function copy(btn) {
    var input = document.getElementById(btn.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var label = btn.textContent;
    var done = function () {
      btn.textContent = btn.getAttribute("data-copied") || label;
      btn.classList.add("is-copied");
      setTimeout(function () {
        btn.textContent = label;
        btn.classList.remove("is-copied");
      }, 1800);
    };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  // Destructive buttons ask first (data-confirm="question").
  document.addEventListener("submit", function (evt) {
    var btn = evt.submitter;
    var q = btn && btn.getAttribute("data-confirm");
    if (q && !window.confirm(q)) {
      evt.preventDefault();
      evt.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest("[data-copy]");
    if (btn) {
      evt.preventDefault();
      copy(btn);
      return;
    }
    var row = evt.target.closest("tr[data-href]");
    if (row && !evt.target.closest("a, button, input, select, form")) {
      window.location.href = row.getAttribute("data-href");
    }
  });
})();

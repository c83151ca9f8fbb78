// The demo supplier page's own script: one button opens the NOX link flow.
document.getElementById("connect").addEventListener("click", function () {
  var status = document.getElementById("status");
  var show = function (outcome, result) {
    status.textContent = outcome === "success" ? "Connected." : "Not connected (" + (result.error || "ended") + ").";
    status.setAttribute("data-outcome", outcome);
    document.getElementById("result").textContent = JSON.stringify(result);
  };
  NoxLink.open({
    linkUrl: document.body.getAttribute("data-link-url"),
    onSuccess: function (result) { show("success", result); },
    onExit: function (result) { show("exit", result); },
    onEvent: function (event) {
      var li = document.createElement("li");
      li.textContent = event.type + (event.reason ? " " + event.reason : "");
      document.getElementById("events").appendChild(li);
    }
  });
});

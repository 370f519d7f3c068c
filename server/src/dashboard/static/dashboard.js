// The dashboard's behaviour: select a whole page of rows, and keep the page live (the
// main content is fetched again every 5 s, paused while rows are selected or a field has
// the focus, so that nothing moves under the operator's hand).
(function () {
  "use strict";
  function wire(root) {
    var all = root.querySelector("#select-page");
    if (all) {
      all.addEventListener("change", function () {
        root.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = all.checked; });
      });
    }
  }
  function busy() {
    var focused = document.activeElement;
    var typing = focused && (focused.tagName === "INPUT" || focused.tagName === "SELECT" || focused.tagName === "TEXTAREA");
    return typing || document.querySelector("main input[type=checkbox]:checked") !== null;
  }
  function refresh() {
    var live = document.getElementById("live");
    if (!document.body.hasAttribute("data-live") || busy()) {
      if (live) { live.textContent = "live updates paused"; }
      return;
    }
    fetch(location.href, { credentials: "same-origin" }).then(function (answer) {
      if (!answer.ok || answer.redirected) { return null; }
      return answer.text();
    }).then(function (text) {
      if (text === null || busy()) { return; }
      var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
      var main = document.querySelector("main");
      if (fresh && main) {
        main.replaceWith(fresh);
        wire(fresh);
      }
      if (live) { live.textContent = "updated " + new Date().toLocaleTimeString(); }
    }).catch(function () {
      if (live) { live.textContent = "cannot reach outsync; retrying"; }
    });
  }
  wire(document);
  setInterval(refresh, 5000);
})();

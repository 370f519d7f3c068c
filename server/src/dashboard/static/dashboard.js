// The dashboard's behaviour: select a whole page of rows, and keep the page live. The
// server sends an event when the queue changed (server-sent events, /dashboard/events);
// the page then fetches its main content again, unless rows are selected or a field has
// the focus, so that nothing moves under the operator's hand (it catches up once they are
// done). Without EventSource, the page asks every 5 s instead.
(function () {
  "use strict";
  var missed = false;
  function wire(root) {
    var all = root.querySelector("#select-page");
    if (all) {
      all.addEventListener("change", function () {
        root.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = all.checked; });
      });
    }
  }
  function say(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = text; }
  }
  function busy() {
    var focused = document.activeElement;
    var typing = focused && (focused.tagName === "INPUT" || focused.tagName === "SELECT" || focused.tagName === "TEXTAREA");
    return typing || document.querySelector("main input[type=checkbox]:checked") !== null;
  }
  function refresh() {
    if (!document.body.hasAttribute("data-live")) { return; }
    if (busy()) {
      missed = true;
      say("live updates paused");
      return;
    }
    missed = false;
    fetch(location.href, { credentials: "same-origin" }).then(function (answer) {
      if (!answer.ok || answer.redirected) { return null; }
      return answer.text();
    }).then(function (text) {
      if (text === null || busy()) { missed = true; return; }
      var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
      var main = document.querySelector("main");
      if (fresh && main) {
        main.replaceWith(fresh);
        wire(fresh);
      }
      say("updated " + new Date().toLocaleTimeString());
    }).catch(function () {
      missed = true;
      say("cannot reach outsync; retrying");
    });
  }
  wire(document);
  if (!document.body.hasAttribute("data-live")) { return; }
  // A change seen while the operator was busy is fetched once they are done.
  setInterval(function () { if (missed && !busy()) { refresh(); } }, 1000);
  if (typeof EventSource === "undefined") {
    setInterval(refresh, 5000);
    return;
  }
  var events = new EventSource("/dashboard/events");
  events.addEventListener("ready", function () { say("live"); });
  events.addEventListener("change", refresh);
  events.onerror = function () { say("cannot reach outsync; retrying"); };
})();

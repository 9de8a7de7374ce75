// Tasker web dashboard: live updates, version 1 (served as /ui/assets/live-v1.js).
//
// The page names its event stream in <body data-live="…">. On every `change` event (and once when
// the stream opens, to catch what changed while the page loaded) it fetches the page again and
// swaps its #live-region for the fresh one. One fetch at a time; events arriving meanwhile
// cause one more. No timers, no polling: the server pushes, the page follows.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live");
  if (!url || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var busy = false;
  var again = false;

  function openDetails(root) {
    var open = {};
    root.querySelectorAll("details[open] > summary").forEach(function (s) {
      open[s.textContent] = true;
    });
    return open;
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        return r.ok ? r.text() : null;
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live-region");
        var old = document.getElementById("live-region");
        if (!fresh || !old) {
          return;
        }
        var open = openDetails(old);
        fresh.querySelectorAll("details > summary").forEach(function (s) {
          if (open[s.textContent]) {
            s.parentNode.setAttribute("open", "");
          }
        });
        old.replaceWith(document.importNode(fresh, true));
        body.setAttribute("data-live-updated", new Date().toISOString());
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var events = new EventSource(url);
  events.addEventListener("open", function () {
    body.setAttribute("data-live-status", "open");
    refresh();
  });
  events.addEventListener("change", refresh);
  events.addEventListener("error", function () {
    body.setAttribute("data-live-status", "reconnecting");
  });
})();

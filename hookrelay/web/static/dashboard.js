// Refresh the page's <main> from the same URL (so filters stay) every few seconds, only while
// the page is visible and nobody is typing in a form field; ask before a form that cannot be
// undone is sent. No other origin, no build step.
(function () {
  "use strict";
  // A form with data-confirm (Discard: it cannot be undone) asks before it is sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  var main = document.getElementById("main");
  if (!main || !main.dataset.refresh) { return; }
  var every = Number(main.dataset.refresh) * 1000;
  function busy() {
    var a = document.activeElement;
    return document.hidden || (a && a.closest && a.closest("form") && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName));
  }
  function refresh() {
    if (busy()) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Hookrelay-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || busy()) { return; }
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (next && next.dataset.refresh) {
          var notice = next.querySelector(".notice");
          if (notice) { notice.remove(); }
          main.innerHTML = next.innerHTML;
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, every);
}());

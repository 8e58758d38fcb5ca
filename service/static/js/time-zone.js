// Reports the browser's IANA time zone (Intl) to the server when the page was made without
// it (or with another one), so the next pages show times in it, the zone named. For staff
// and clinic users the server saves it with their account. Nothing else is sent.
(function () {
  "use strict";

  var meta = document.querySelector("meta[name=time-zone]");
  var url = meta && meta.getAttribute("data-report-url");
  if (!url || !window.fetch || !window.Intl || !Intl.DateTimeFormat) return;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (!zone || zone === meta.getAttribute("content")) return;
  fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ zone: zone })
  }).catch(function () { /* times stay in UTC, named so */ });
})();

// The only script of the workbench: the queue refreshes itself when the read model changed,
// and a case page waiting for a decision reloads when the worker has applied it.
"use strict";
(function () {
  const table = document.getElementById("queue");
  if (table) {
    let version = table.dataset.version;
    setInterval(async () => {
      try {
        const v = await (await fetch("/queue/version", {credentials: "same-origin"})).json();
        if (String(v.version) === version) return;
        const r = await fetch(table.dataset.rows, {credentials: "same-origin"});
        if (!r.ok) return;
        document.getElementById("rows").innerHTML = await r.text();
        version = String(v.version);
      } catch (e) { /* the next tick tries again */ }
    }, 3000);
  }
  const sent = document.getElementById("sent");
  if (sent) {
    let tries = 0;
    const timer = setInterval(async () => {
      tries += 1;
      if (tries > 60) { clearInterval(timer); return; }
      try {
        const s = await (await fetch(sent.dataset.state, {credentials: "same-origin"})).json();
        // The decisions are read back first, the blacklist entry follows: the reloaded page
        // (same URL) goes on watching until the time is up.
        if (s.state !== sent.dataset.initial) { clearInterval(timer); location.reload(); }
      } catch (e) { /* again at the next tick */ }
    }, 1000);
  }
})();

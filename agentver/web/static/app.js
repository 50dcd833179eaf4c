// agentver dashboard: progressive enhancement only. Every page works without this file;
// with it, the canary page refreshes its counts and verdict in place every few seconds.
(function () {
  "use strict";

  function pct(value) {
    return (value * 100).toFixed(2) + "%";
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
  }

  function setField(root, name, text) {
    var node = root.querySelector('[data-field="' + name + '"]');
    if (node && node.textContent !== String(text)) {
      node.textContent = String(text);
      node.classList.add("updated");
      window.setTimeout(function () { node.classList.remove("updated"); }, 800);
    }
  }

  function apply(root, doc) {
    var ev = doc.evaluation;
    if (!ev) { return; }
    setField(root, "verdict", ev.verdict);
    var verdict = root.querySelector('[data-field="verdict"]');
    if (verdict) { verdict.className = "verdict-" + ev.verdict; }
    setField(root, "rule", ev.rule);
    setField(root, "reason", ev.reason);
    ["stable", "canary"].forEach(function (arm) {
      setField(root, arm + ".requests", ev[arm].requests);
      setField(root, arm + ".errors", ev[arm].errors);
      setField(root, arm + ".error_rate", pct(ev[arm].error_rate));
    });
    setField(root, "ratio", fixed(ev.ratio, 2));
    setField(root, "statistic", fixed(ev.statistic, 2));
    setField(root, "p_value", ev.p_value === null ? "n/a" : Number(ev.p_value).toPrecision(3));
  }

  function poll(root) {
    var stamp = document.getElementById("refreshed");
    fetch(root.getAttribute("data-src"), { headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (doc) {
        if (doc.running && doc.evaluation && !root.querySelector('[data-field="verdict"]')) {
          window.location.reload(); // the verdict appeared (first sync): render it fully
          return;
        }
        apply(root, doc);
        if (stamp) { stamp.textContent = "Live: updated " + new Date().toLocaleTimeString() + "."; }
      })
      .catch(function (error) {
        if (stamp) { stamp.textContent = "Live refresh failed (" + error.message + "); retrying."; }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("canary");
    if (root && root.getAttribute("data-src")) {
      poll(root);
      var interval = parseInt(root.getAttribute("data-interval"), 10) || 5000;
      window.setInterval(function () { poll(root); }, interval);
    }
  });
})();

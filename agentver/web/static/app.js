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

  // Like the server's "%.3g" for the usual magnitudes: 1.0 -> "1", 0.01234 -> "0.0123".
  function g3(value) {
    return value === null || value === undefined ? "n/a" : String(Number(Number(value).toPrecision(3)));
  }

  function setField(root, name, text) {
    var node = root.querySelector('[data-field="' + name + '"]');
    if (node && node.textContent !== String(text)) {
      node.textContent = String(text);
      node.classList.add("updated");
      window.setTimeout(function () { node.classList.remove("updated"); }, 800);
    }
  }

  function cell(row, text, numeric) {
    var td = document.createElement("td");
    td.textContent = text; // text, never markup
    if (numeric) { td.className = "num"; }
    row.appendChild(td);
  }

  function renderTests(tests) {
    var body = document.getElementById("tests");
    if (!body) { return; }
    var rows = document.createDocumentFragment();
    tests.forEach(function (t) {
      var row = document.createElement("tr");
      cell(row, t.metric); cell(row, t.test); cell(row, t.null);
      cell(row, g3(t.e_value), true);
      cell(row, g3(t.p_value), true);
      cell(row, t.threshold); cell(row, t.rejected ? "yes" : "no");
      rows.appendChild(row);
    });
    body.replaceChildren(rows);
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
      setField(root, arm + ".slow", ev[arm].slow === null ? "n/a" : ev[arm].slow);
      setField(root, arm + ".scored", ev[arm].scored);
      setField(root, arm + ".score_mean", ev[arm].score_mean === null ? "n/a" : Number(ev[arm].score_mean).toFixed(3));
    });
    renderTests(ev.evidence ? ev.evidence.tests : []);
    setField(root, "ratio", fixed(ev.ratio, 2));
    setField(root, "statistic", g3(ev.statistic));
    setField(root, "p_value", g3(ev.p_value));
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

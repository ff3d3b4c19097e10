/* watchkeeper dashboard: charts (uPlot), live updates (SSE), alert actions.
 *
 * Rules this file keeps: no inline scripts (the CSP forbids them), no
 * innerHTML with data (alert text comes from monitored systems and is
 * attacker-controllable: only textContent), one history fetch per panel per
 * range change, then only new points from the live stream.
 */
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // -- theme ---------------------------------------------------------------
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("wk-theme"); } catch (e) { /* private mode */ }
  if (saved) root.dataset.theme = saved;
  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var dark = root.dataset.theme ? root.dataset.theme === "dark"
        : window.matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("wk-theme", root.dataset.theme); } catch (e) { /* ignore */ }
      charts.forEach(function (c) { c.restyle(); });
    });
  }

  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = csrf;
      if (body !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(body);
      }
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname); }
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var d = j.detail;
          if (Array.isArray(d)) d = d.map(function (x) { return (x.loc || []).slice(1).join(".") + ": " + x.msg; }).join("; ");
          throw new Error(d || j.error || ("HTTP " + r.status));
        }
        return j;
      });
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // -- formatting ------------------------------------------------------------
  function fmt(unit, v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var a = Math.abs(v);
    if (unit === "percent") return v.toFixed(1) + " %";
    if (unit === "ratio") return (v * 100).toFixed(1) + " %";
    if (unit === "bytes" || unit === "bytes/s") {
      var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
      while (a >= 1024 && i < u.length - 1) { a /= 1024; v /= 1024; i++; }
      return v.toFixed(a < 10 ? 1 : 0) + " " + u[i] + (unit === "bytes/s" ? "/s" : "");
    }
    if (unit === "seconds") return a < 1 ? (v * 1000).toFixed(0) + " ms" : v.toFixed(2) + " s";
    if (unit === "per_s") return v.toFixed(a < 10 ? 2 : 0) + "/s";
    return a >= 100 ? v.toFixed(0) : v.toFixed(2);
  }

  function seriesKey(metric) {
    return Object.keys(metric).filter(function (k) { return k !== "__name__"; }).sort()
      .map(function (k) { return k + "=" + metric[k]; }).join(",");
  }

  // -- charts ----------------------------------------------------------------
  var charts = [];
  var rangeSel = document.getElementById("range");
  // A link may carry its range (/?range=86400); only values the picker offers count.
  var linked = new URLSearchParams(location.search).get("range");
  if (rangeSel && Array.prototype.some.call(rangeSel.options, function (o) { return o.value === linked; })) {
    rangeSel.value = linked;
  }
  var PALETTE = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#4b5563"];
  var DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

  function css(name) { return getComputedStyle(document.body).getPropertyValue(name).trim(); }

  function Chart(node) {
    this.node = node;
    this.id = node.dataset.panel;
    this.unit = node.dataset.unit;
    this.exprs = JSON.parse(node.dataset.series);
    this.metric = node.dataset.metric;
    this.lines = {};   // key -> {label, xs: [], ys: [], live, expr}
    this.plot = null;
    this.zoomed = false;
    this.drawn = false;
    this.box = node.querySelector(".chart");
    this.valueEl = node.querySelector(".current");
  }

  Chart.prototype.range = function () {
    var secs = parseInt(rangeSel ? rangeSel.value : "3600", 10);
    var end = Date.now() / 1000;
    return { start: end - secs, end: end, step: Math.max(1, Math.ceil(secs / 720)) };
  };

  Chart.prototype.load = function (start, end, step) {
    var self = this;
    self.step = step;
    self.start = start;
    var jobs = self.exprs.map(function (s, i) {
      var q = "/api/v1/query_range?query=" + encodeURIComponent(s.expr) +
        "&start=" + start.toFixed(3) + "&end=" + end.toFixed(3) + "&step=" + step;
      return api("GET", q).then(function (j) { return { s: s, i: i, result: j.data.result }; });
    });
    return Promise.all(jobs).then(function (parts) {
      self.lines = {};
      parts.forEach(function (p) {
        p.result.forEach(function (r) {
          var key = p.i + "|" + seriesKey(r.metric);
          var label = (p.s.legend && r.metric[p.s.legend]) || self.node.dataset.title;
          if (self.exprs.length > 1) label += p.i === 0 ? " ↓" : " ↑";
          self.lines[key] = {
            label: label, live: p.s.live, expr: p.s.expr,
            xs: r.values.map(function (v) { return v[0]; }),
            ys: r.values.map(function (v) { return parseFloat(v[1]); })
          };
        });
      });
      self.draw(true);
    });
  };

  Chart.prototype.data = function () {
    var keys = Object.keys(this.lines).sort();
    var self = this;
    if (!keys.length) return { keys: keys, data: [[]] };
    var tables = keys.map(function (k) { return [self.lines[k].xs, self.lines[k].ys]; });
    return { keys: keys, data: uPlot.join(tables) };
  };

  Chart.prototype.opts = function (keys) {
    var self = this;
    var axis = { stroke: css("--fg-muted"), grid: { stroke: css("--grid"), width: 1 }, ticks: { stroke: css("--grid") } };
    return {
      width: Math.max(240, this.box.clientWidth),
      height: 180,
      legend: { show: keys.length <= 8 },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      axes: [
        axis,
        Object.assign({ size: 70, values: function (u, vals) { return vals.map(function (v) { return fmt(self.unit, v); }); } }, axis)
      ],
      series: [{}].concat(keys.map(function (k, i) {
        return {
          label: self.lines[k].label,
          stroke: PALETTE[i % PALETTE.length],
          dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length],
          width: 1.5,
          value: function (u, v) { return fmt(self.unit, v); }
        };
      })),
      hooks: {
        setSelect: [function (u) {
          if (u.select.width < 5) return;
          var min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
          self.zoomed = true;
          self.node.classList.add("zoomed");
          self.load(min, max, Math.max(1, Math.ceil((max - min) / 720)));
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        }]
      }
    };
  };

  Chart.prototype.draw = function (rebuild) {
    var d = this.data();
    var empty = this.node.querySelector(".empty");
    if (empty) empty.hidden = d.keys.length > 0;
    if (rebuild || !this.plot || this.plot.series.length !== d.keys.length + 1) {
      if (this.plot) this.plot.destroy();
      this.plot = new uPlot(this.opts(d.keys), d.data, this.box);
      this.keys = d.keys;
    } else {
      this.plot.setData(d.data, true);
    }
    this.showCurrent();
    if (!this.drawn) { this.drawn = true; chartDrawn(); }
  };

  Chart.prototype.showCurrent = function () {
    if (!this.valueEl) return;
    var self = this, parts = [];
    Object.keys(this.lines).sort().slice(0, 3).forEach(function (k) {
      var l = self.lines[k];
      if (l.ys.length) parts.push(fmt(self.unit, l.ys[l.ys.length - 1]));
    });
    this.valueEl.textContent = parts.join(" · ");
  };

  Chart.prototype.restyle = function () { if (this.plot) this.draw(true); };

  Chart.prototype.resetZoom = function () {
    this.zoomed = false;
    this.node.classList.remove("zoomed");
    var r = this.range();
    return this.load(r.start, r.end, r.step);
  };

  // New raw points from the live stream: [key, ts_ms, value].
  Chart.prototype.push = function (rows) {
    if (this.zoomed) return;
    var self = this, known = 0, cutoff = Date.now() / 1000 - parseInt(rangeSel.value, 10);
    rows.forEach(function (row) {
      var line = self.lines["0|" + row[0]];
      if (!line) return;
      known++;
      var t = row[1] / 1000;
      if (line.xs.length && t <= line.xs[line.xs.length - 1]) return;
      line.xs.push(t);
      line.ys.push(row[2] === null ? null : row[2]);
      while (line.xs.length && line.xs[0] < cutoff) { line.xs.shift(); line.ys.shift(); }
    });
    if (known) this.scheduleDraw();
  };

  // Derived panels: fetch only the points after the last one shown.
  Chart.prototype.tail = function () {
    if (this.zoomed || this.tailing) return;
    var self = this;
    var last = 0;
    Object.keys(this.lines).forEach(function (k) {
      var xs = self.lines[k].xs;
      if (xs.length) last = Math.max(last, xs[xs.length - 1]);
    });
    var now = Date.now() / 1000;
    var start = last ? last + self.step : now - self.step;
    if (start > now) return;
    self.tailing = true;
    var jobs = self.exprs.map(function (s, i) {
      var q = "/api/v1/query_range?query=" + encodeURIComponent(s.expr) +
        "&start=" + start.toFixed(3) + "&end=" + now.toFixed(3) + "&step=" + self.step;
      return api("GET", q).then(function (j) {
        j.data.result.forEach(function (r) {
          var line = self.lines[i + "|" + seriesKey(r.metric)];
          if (!line) return;
          r.values.forEach(function (v) {
            if (!line.xs.length || v[0] > line.xs[line.xs.length - 1]) {
              line.xs.push(v[0]); line.ys.push(parseFloat(v[1]));
            }
          });
        });
      });
    });
    Promise.all(jobs).then(function () { self.scheduleDraw(); }).catch(function () {})
      .then(function () { self.tailing = false; });
  };

  Chart.prototype.scheduleDraw = function () {
    var self = this;
    if (self.pending) return;
    self.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.draw(false); });
  };

  var drawnCount = 0;
  function chartDrawn() {
    drawnCount++;
    if (drawnCount === charts.length) {
      document.body.dataset.chartsReady = "1";
      window.__wkChartsReadyMs = performance.now();
    }
  }

  function loadAll() {
    var r = charts.length ? charts[0].range() : null;
    charts.forEach(function (c) {
      c.zoomed = false;
      c.node.classList.remove("zoomed");
      c.load(r.start, r.end, r.step).catch(function (e) { c.node.querySelector(".empty").textContent = e.message; });
    });
  }

  document.querySelectorAll("section.panel[data-panel]").forEach(function (node) {
    var c = new Chart(node);
    charts.push(c);
    var reset = node.querySelector(".reset-zoom");
    if (reset) reset.addEventListener("click", function () { c.resetZoom(); });
  });
  if (charts.length) {
    if (rangeSel) rangeSel.addEventListener("change", loadAll);
    loadAll();
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        charts.forEach(function (c) { if (c.plot) c.plot.setSize({ width: Math.max(240, c.box.clientWidth), height: 180 }); });
      }, 150);
    });
  }
  if (!charts.length && document.getElementById("overview")) {
    document.body.dataset.chartsReady = "1";
  }

  // -- alerts ----------------------------------------------------------------
  var alertTable = document.getElementById("alerts-body");
  var canOperate = document.body.dataset.role === "operator" || document.body.dataset.role === "admin";

  var STATE_TEXT = { firing: "▲ firing", pending: "◆ pending", ok: "● ok", inactive: "● inactive", resolved: "✔ resolved" };
  var alertsByFp = {};

  function button(cls, fp, label, allowed, why) {
    var b = el("button", { "type": "button", "class": cls, "data-fingerprint": fp }, label);
    if (!allowed) { b.disabled = true; b.title = why; }
    return b;
  }

  function renderAlerts(list) {
    var badge = document.getElementById("alert-count");
    if (badge) {
      var firing = list.filter(function (a) { return a.state === "firing"; }).length;
      badge.textContent = firing ? String(firing) : "";
      badge.hidden = !firing;
    }
    if (!alertTable) return;
    alertsByFp = {};
    while (alertTable.firstChild) alertTable.removeChild(alertTable.firstChild);
    var empty = document.getElementById("alerts-empty");
    if (empty) empty.hidden = list.length > 0;
    list.forEach(function (a) {
      alertsByFp[a.fingerprint] = a;
      var tr = el("tr", { "data-fingerprint": a.fingerprint, "class": "state-" + a.state });
      tr.appendChild(el("td", { "class": "state" }, STATE_TEXT[a.state] || a.state));
      var name = el("td");
      name.appendChild(el("strong", null, a.name));
      var labels = el("div", { "class": "labels" });
      Object.keys(a.labels).sort().forEach(function (k) {
        if (k !== "alertname") labels.appendChild(el("span", { "class": "label" }, k + "=" + a.labels[k]));
      });
      name.appendChild(labels);
      if (a.source !== "rules") name.appendChild(el("div", { "class": "source" }, "source: " + a.source));
      tr.appendChild(name);
      var ann = el("td", { "class": "annotations" });
      Object.keys(a.annotations).sort().forEach(function (k) {
        var p = el("p");
        p.appendChild(el("span", { "class": "ann-key" }, k + ": "));
        var v = a.annotations[k];
        // A runbook link only to a page of this site or an http(s) URL (annotations are untrusted).
        if (k === "runbook_url" && /^(\/(?![\/\\])|https?:\/\/)[^\s\x00-\x1f]*$/i.test(v)) p.appendChild(el("a", { href: v }, v));
        else p.appendChild(document.createTextNode(v));
        ann.appendChild(p);
      });
      tr.appendChild(ann);
      tr.appendChild(el("td", null, new Date(a.active_at * 1000).toLocaleString()));
      var act = el("td", { "class": "actions" });
      var needOp = "This needs the operator role";
      if (a.acknowledged) {
        act.appendChild(el("span", { "class": "acked" }, "✔ acknowledged by " + a.acknowledged.by));
        if (canOperate) act.appendChild(button("unack", a.fingerprint, "Unacknowledge", true, ""));
      } else {
        act.appendChild(button("ack", a.fingerprint, "Acknowledge", canOperate && a.can_acknowledge,
          canOperate ? "Only firing alerts known to the notifier can be acknowledged" : needOp));
      }
      if (a.can_resolve) act.appendChild(button("resolve", a.fingerprint, "Resolve", canOperate, needOp));
      act.appendChild(button("silence", a.fingerprint, "Silence", canOperate, needOp));
      a.silenced_by.forEach(function (id) { act.appendChild(el("span", { "class": "muted" }, "⊘ silenced (" + id + ")")); });
      a.maintenance.forEach(function (m) { act.appendChild(el("span", { "class": "muted" }, "⊘ maintenance: " + m)); });
      tr.appendChild(act);
      alertTable.appendChild(tr);
    });
  }

  function refreshAlerts() {
    return api("GET", "/api/wk/v1/alerts").then(renderAlerts).catch(function () {});
  }
  if (alertTable) refreshAlerts();  // fill alertsByFp for the silence dialog

  function refreshPanelStates() {
    if (!charts.length) return;
    api("GET", "/api/wk/v1/overview").then(function (panels) {
      panels.forEach(function (p) {
        var node = document.querySelector('section.panel[data-panel="' + p.id + '"]');
        if (!node) return;
        node.dataset.state = p.state;
        var s = node.querySelector(".panel-state");
        if (s) s.textContent = STATE_TEXT[p.state] || p.state;
      });
    }).catch(function () {});
  }

  // -- actions (operators) -----------------------------------------------------
  var silenceDialog = document.getElementById("silence-dialog");
  var silenceForm = document.getElementById("silence-form");

  function openSilenceDialog(fp) {
    var a = alertsByFp[fp];
    var lines = [];
    if (a) Object.keys(a.labels).sort().forEach(function (k) { lines.push(k + "=" + JSON.stringify(a.labels[k])); });
    document.getElementById("silence-matchers").value = lines.join("\n");
    document.getElementById("silence-comment").value = "";
    document.getElementById("silence-error").hidden = true;
    silenceDialog.showModal();
    document.getElementById("silence-comment").focus();
  }

  function reload() { window.location.reload(); }

  var ACTIONS = {
    "ack": function (t) { return api("POST", "/api/wk/v1/alerts/" + t.dataset.fingerprint + "/ack", { comment: "" }).then(refreshAlerts); },
    "unack": function (t) { return api("DELETE", "/api/wk/v1/alerts/" + t.dataset.fingerprint + "/ack").then(refreshAlerts); },
    "resolve": function (t) {
      if (!window.confirm("Resolve this alert now?")) return Promise.resolve();
      return api("POST", "/api/wk/v1/alerts/" + t.dataset.fingerprint + "/resolve", { comment: "" }).then(refreshAlerts);
    },
    "silence": function (t) { openSilenceDialog(t.dataset.fingerprint); return Promise.resolve(); },
    "expire": function (t) { return api("DELETE", "/api/wk/v1/silences/" + t.dataset.silence).then(reload); },
    "retry": function (t) { return api("POST", "/api/wk/v1/notifications/retry", { ids: [parseInt(t.dataset.outbox, 10)] }).then(reload); },
    "test-receiver": function (t) {
      return api("POST", "/api/wk/v1/receivers/" + encodeURIComponent(t.dataset.receiver) + "/test").then(function (results) {
        var bad = results.filter(function (r) { return !r.ok; });
        if (bad.length) showError("Test failed: " + bad.map(function (r) { return r.integration + ": " + r.error; }).join("; "));
        else showInfo("Test sent through " + results.map(function (r) { return r.integration; }).join(", "));
      });
    }
  };

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof HTMLButtonElement) || t.disabled) return;
    var name = Object.keys(ACTIONS).filter(function (k) { return t.classList.contains(k); })[0];
    if (!name) return;
    t.disabled = true;
    ACTIONS[name](t).then(function () { t.disabled = false; })
      .catch(function (e) { t.disabled = false; showError(e.message); });
  });

  var retryAll = document.getElementById("retry-all");
  if (retryAll) retryAll.addEventListener("click", function () {
    api("POST", "/api/wk/v1/notifications/retry", {}).then(reload).catch(function (e) { showError(e.message); });
  });

  if (silenceForm) {
    silenceForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var matchers = document.getElementById("silence-matchers").value.split("\n")
        .map(function (l) { return l.trim(); }).filter(function (l) { return l; });
      var body = {
        matchers: matchers,
        duration_s: parseInt(document.getElementById("silence-duration").value, 10),
        comment: document.getElementById("silence-comment").value
      };
      api("POST", "/api/wk/v1/silences", body).then(function (s) {
        if (silenceDialog) { silenceDialog.close(); showInfo("Silence " + s.id + " created"); refreshAlerts(); }
        else reload();
      }).catch(function (e) {
        var box = document.getElementById("silence-error");
        if (box) { box.textContent = e.message; box.hidden = false; } else showError(e.message);
      });
    });
    var cancel = document.getElementById("silence-cancel");
    if (cancel) cancel.addEventListener("click", function () { silenceDialog.close(); });
  }

  function showError(msg) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.classList.remove("info");
    box.textContent = msg;
    box.hidden = false;
  }

  function showInfo(msg) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.classList.add("info");
    box.textContent = msg;
    box.hidden = false;
  }

  // -- live stream -----------------------------------------------------------
  if (document.body.dataset.live === "1") {
    var names = {};
    charts.forEach(function (c) { names[c.metric] = true; });
    var es = new EventSource("/api/wk/v1/live?metrics=" + Object.keys(names).join(","));
    var status = document.getElementById("live-status");
    var everOpen = false;
    es.addEventListener("hello", function () {
      if (status) { status.textContent = "● live"; status.dataset.state = "ok"; }
      if (everOpen) { loadAll(); refreshAlerts(); }  // reconnected: fill the gap once
      everOpen = true;
    });
    es.addEventListener("samples", function (ev) {
      var msg = JSON.parse(ev.data);
      window.__wkLastLive = { w: msg.w, at: Date.now() };
      if (window.__wkOnLive) window.__wkOnLive(msg);
      charts.forEach(function (c) {
        var rows = msg.s[c.metric];
        if (!rows) return;
        if (c.exprs[0].live === "raw") c.push(rows); else c.tail();
      });
    });
    es.addEventListener("alerts", function () { refreshAlerts(); refreshPanelStates(); });
    es.onerror = function () {
      if (status) { status.textContent = "○ reconnecting"; status.dataset.state = "pending"; }
    };
  }
})();

// The data cockpit: where the minutes go, against the standards, live; and a unit's video.
//
// Reads the dispatcher token from the URL fragment (#token=..., never the query string) or the
// form and keeps it in this tab's sessionStorage. Every 5 s it asks GET /api/v1/cockpit for
// the chosen period and preset (docs/wire-protocol.md) and redraws: tiles, an interval chart
// (median and 90th percentile), the targets, calls by complaint and a response map by 1 km
// cell, all on plain canvas. "Export CSV" downloads the same period. The video panel opens
// /ws/video/{unit} and shows the newest picture with its age.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  const LABELS = {
    call_to_dispatch: "call → dispatch",
    turnout: "turnout",
    travel: "travel",
    response: "call → on scene",
    on_scene: "on scene",
    transport: "transport",
    handover: "handover",
  };
  const COLOURS = { p50: "#5aa9e6", p90: "#2d5f86", ok: "#4caf6a", warn: "#e0a526", bad: "#e0524a" };
  const $ = (sel) => document.querySelector(sel);
  const t = (key, params) => window.jijiuI18n.t(key, params);
  let token = "";
  let timer = null;
  let video = null;

  // --- credentials --------------------------------------------------------------------------
  function readToken() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) {
      sessionStorage.setItem("jijiu.dispatcher", fragment.get("token"));
      history.replaceState(null, "", location.pathname);
    }
    token = sessionStorage.getItem("jijiu.dispatcher") || "";
    return Boolean(token);
  }

  function askToken(message) {
    clearInterval(timer);
    sessionStorage.removeItem("jijiu.dispatcher");
    $("#board").hidden = true;
    $("#login").hidden = false;
    banner(message || "");
  }

  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("jijiu.dispatcher", event.target.elements.token.value.trim());
    event.target.elements.token.value = "";
    $("#login").hidden = true;
    start();
  });

  function banner(text) {
    $("#banner").hidden = !text;
    $("#banner").textContent = text;
  }

  // --- the period -----------------------------------------------------------------------------
  function query() {
    const q = new URLSearchParams({ preset: $("#preset").value });
    if ($("#period").value === "custom") {
      const since = Date.parse($("#since").value);
      const until = Date.parse($("#until").value);
      if (Number.isFinite(since)) q.set("since", String(since / 1000));
      if (Number.isFinite(until)) q.set("until", String(until / 1000));
    } else {
      q.set("hours", $("#period").value);
    }
    return q;
  }

  $("#period").addEventListener("change", () => {
    $("#custom").hidden = $("#period").value !== "custom";
    refresh();
  });
  for (const id of ["#preset", "#since", "#until"]) $(id).addEventListener("change", refresh);

  async function get(path) {
    const answer = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    if (answer.status === 401 || answer.status === 403) {
      askToken(t("cockpit.refused"));
      throw new Error("refused");
    }
    if (!answer.ok) {
      let reason = answer.statusText;
      try { reason = (await answer.json()).reason || reason; } catch (err) { /* not JSON */ }
      throw new Error(reason);
    }
    return answer;
  }

  async function refresh() {
    if (!token) return;
    try {
      const figures = await (await get(`/api/v1/cockpit?${query()}`)).json();
      banner("");
      draw(figures);
      $("#updated").textContent = t("cockpit.updated", { time: new Date().toLocaleTimeString() });
      $("#updated").dataset.state = "ok";
    } catch (err) {
      if (err.message !== "refused") banner(t("cockpit.load_failed", { reason: err.message }));
      $("#updated").dataset.state = "error";
    }
  }

  $("#export").addEventListener("click", async () => {
    const q = query();
    q.delete("preset");
    try {
      const blob = await (await get(`/api/v1/cockpit.csv?${q}`)).blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "jijiu-calls.csv";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (err) {
      if (err.message !== "refused") banner(t("cockpit.export_failed", { reason: err.message }));
    }
  });

  // --- drawing --------------------------------------------------------------------------------
  const minutes = (s) => (s === null || s === undefined ? "—" : (s / 60).toFixed(1));
  const percent = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(0)} %`);

  function draw(f) {
    $("#calls").textContent = String(f.calls);
    $("#response-p50").textContent = `${minutes(f.intervals.response.p50_s)} min`;
    $("#response-p90").textContent = `${minutes(f.intervals.response.p90_s)} min`;
    $("#within50").textContent = percent(f.location.within_50m);
    $("#conflicts").textContent = percent(f.location.conflict);
    // calls that waited for a unit longer than their priority allows (JIJIU_OVERDUE_P1_S ...)
    const late = f.overdue_by_priority || {};
    $("#overdue").textContent = ["P1", "P2", "P3"].map((p) => String(late[p] ?? "—")).join(" · ");
    const rows = Object.entries(f.intervals);
    $("#intervals tbody").replaceChildren(...rows.map(([name, s]) => row([
      [window.jijiuI18n.has(`cockpit.iv_${name}`) ? t(`cockpit.iv_${name}`) : LABELS[name] || name], [String(s.n), "num"], [minutes(s.p50_s), "num"], [minutes(s.p90_s), "num"],
    ], name)));
    bars($("#intervals-chart"), rows.map(([name, s]) => [LABELS[name] || name, [s.p50_s, s.p90_s]]),
      [COLOURS.p50, COLOURS.p90], (v) => v / 60, "min");
    $("#compliance tbody").replaceChildren(...f.compliance.map((c) => row([
      [c.target], [String(c.n), "num"], [percent(c.share), "num"], [percent(c.required_share), "num"],
      c.ok === null ? [t("cockpit.no_calls_yet"), "none"] : c.ok ? [t("cockpit.met"), "ok"] : [t("cockpit.not_met"), "fail"],
    ])));
    bars($("#complaints-chart"), Object.entries(f.by_complaint).map(([k, n]) => [k, [n]]),
      [COLOURS.p50], (v) => v, "calls");
    grid($("#grid-chart"), f.response_grid);
  }

  function row(cells, name) {
    const tr = document.createElement("tr");
    if (name) tr.dataset.interval = name;
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }

  function fit(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600;
    const h = canvas.height / (canvas.dataset.ratio ? Number(canvas.dataset.ratio) : 1);
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    canvas.dataset.ratio = String(ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    return [ctx, w, h];
  }

  // Grouped horizontal bars: one row per label, one bar per series; null values are skipped.
  function bars(canvas, items, colours, scale, unit) {
    const [ctx, w, h] = fit(canvas);
    const values = items.flatMap(([, vs]) => vs.filter((v) => v !== null).map(scale));
    const top = Math.max(1, ...values);
    const left = 130;
    const band = Math.max(12, (h - 20) / Math.max(1, items.length));
    items.forEach(([label, vs], i) => {
      const y = 4 + i * band;
      ctx.fillStyle = "#8b93a3";
      ctx.fillText(label, 4, y + band / 2 + 4);
      vs.forEach((v, j) => {
        if (v === null) return;
        const bh = (band - 6) / vs.length;
        const bw = ((w - left - 60) * scale(v)) / top;
        ctx.fillStyle = colours[j % colours.length];
        ctx.fillRect(left, y + j * bh, Math.max(1, bw), bh - 1);
        ctx.fillStyle = "#e6e8ec";
        ctx.fillText(`${scale(v).toFixed(unit === "calls" ? 0 : 1)}`, left + bw + 4, y + (j + 1) * bh - 2);
      });
    });
  }

  // Cells as squares at their place, coloured by median response against 8 and 12 minutes.
  function grid(canvas, cells) {
    const [ctx, w, h] = fit(canvas);
    if (!cells.length) {
      ctx.fillStyle = "#8b93a3";
      ctx.fillText(t("cockpit.none_on_scene"), 8, 20);
      return;
    }
    const lats = cells.map((c) => c.lat);
    const lons = cells.map((c) => c.lon);
    const [lat0, lat1, lon0, lon1] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    const span = Math.max(lat1 - lat0, (lon1 - lon0) * 0.87, 0.01);
    const size = Math.max(6, Math.min(w, h) / (span / 0.009 + 2));
    for (const c of cells) {
      const x = 20 + ((c.lon - lon0) * 0.87 / span) * (Math.min(w, h * 1.5) - 60);
      const y = h - 20 - ((c.lat - lat0) / span) * (h - 40);
      const m = c.p50_s / 60;
      ctx.fillStyle = m <= 8 ? COLOURS.ok : m <= 12 ? COLOURS.warn : COLOURS.bad;
      ctx.fillRect(x - size / 2, y - size / 2, size, size);
      ctx.fillStyle = "#0f1115";
      ctx.fillText(String(c.n), x - 4, y + 4);
    }
  }

  // --- the video panel ------------------------------------------------------------------------
  $("#video-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const unit = event.target.elements.unit.value.trim();
    if (video) video.close();
    let base;
    try {
      base = (await (await fetch("/api/v1/endpoints", { cache: "no-store" })).json()).websocket;
    } catch (err) {
      $("#video-state").textContent = t("cockpit.unreachable");
      return;
    }
    const ws = new WebSocket(`${base}/ws/video/${encodeURIComponent(unit)}?${new URLSearchParams({ token })}`);
    video = ws;
    $("#video-state").textContent = t("cockpit.connecting_to", { unit });
    ws.onmessage = (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (err) { return; }
      const picture = frame.type === "snapshot" ? frame.latest : frame.type === "video.frame" ? frame : null;
      if (frame.type === "snapshot") $("#video-state").textContent = t("cockpit.watching", { unit });
      if (!picture) return;
      $("#video-frame").src = `data:image/jpeg;base64,${picture.jpeg}`;
      $("#video-frame").dataset.at = String(picture.at_s);
      $("#video").hidden = false;
    };
    ws.onclose = (closed) => {
      if (video !== ws) return;
      video = null;
      $("#video-state").textContent = t(closed.code === 4403 ? "cockpit.video_not_yours"
        : closed.code === 4404 ? "cockpit.no_such_unit" : "cockpit.view_closed");
    };
  });

  setInterval(() => {
    const at = Number($("#video-frame").dataset.at);
    if (!Number.isFinite(at) || $("#video").hidden) return;
    const age = Math.max(0, Date.now() / 1000 - at);
    const label = $("#video-age");
    label.dataset.ageS = age.toFixed(1);
    label.dataset.stale = String(age > 5);
    label.textContent = t("cockpit.picture_age", { s: age.toFixed(1) });
  }, 250);

  // --- start ----------------------------------------------------------------------------------
  function start() {
    if (!readToken()) return askToken("");
    $("#board").hidden = false;
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, REFRESH_MS);
  }

  window.jijiuI18n.ready.then(start);
})();

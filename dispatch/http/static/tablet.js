// The crew tablet: one device of one unit. Logs in with the device's own token, shows the
// job (complaint, determinant, address read-back), the route on a canvas with its turn list
// and live ETA, the destination hospital, the status buttons in NEMSIS eTimes order and a
// vitals form.
//
// The unit id and token come from the URL fragment (#unit=...&token=..., never the query
// string) or the form, and stay in localStorage (a tablet is one device: it stays logged in).
// Everything the tablet says goes through one queue kept in localStorage: acknowledgements,
// status taps and vitals, each with an idempotency key, sent over /ws/units/{unit} one at a
// time and removed only once the server answered it. Made without signal, they wait and go
// when the connection is back, in order; a frame resent after a lost answer is harmless (the
// server takes a repeated status as done, and a vitals `seq` it has as a duplicate).
"use strict";

(() => {
  const STATUS_TEXT = {
    available_at_station: "在站 · At station",
    available_on_road: "可调派 · Available",
    assigned: "已派车 · Assigned",
    en_route: "出车 · En route",
    on_scene: "到达现场 · On scene",
    transporting: "转运 · Transporting",
    at_hospital: "到达医院 · At hospital",
    out_of_service: "停用 · Out of service",
  };
  const COMPLAINT = {
    cardiac_arrest: "心脏骤停 · Cardiac arrest",
    chest_pain: "胸痛 · Chest pain",
    stroke: "卒中 · Stroke",
    trauma: "创伤 · Trauma",
    breathing: "呼吸困难 · Breathing",
    obstetric: "产科 · Obstetric",
    paediatric: "儿科 · Paediatric",
    other: "其他 · Other",
  };
  const FATAL = {
    4401: "令牌无效 · The token was not accepted.",
    4403: "此令牌不属于该车辆 · This token is not this unit's.",
    4404: "无此车辆 · No such unit.",
  };
  const ROUTE_EVERY_MS = 5000; // the ETA and route are asked for again this often
  const KEEP_TRYING = new Set(["store_unavailable", "store_diverged", "standby"]);

  const $ = (sel) => document.querySelector(sel);
  let unit = "";
  let token = "";
  let socket = null;
  let inflight = null; // the key of the queued item sent and not yet answered
  let attempt = 0;
  let job = null;
  let status = "";
  let routeTimer = null;

  // --- credentials ------------------------------------------------------------------------
  function readCredentials() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("unit") && fragment.get("token")) {
      localStorage.setItem("jijiu.tablet.unit", fragment.get("unit"));
      localStorage.setItem("jijiu.tablet.token", fragment.get("token"));
      history.replaceState(null, "", location.pathname); // the token leaves the address bar
    }
    unit = localStorage.getItem("jijiu.tablet.unit") || "";
    token = localStorage.getItem("jijiu.tablet.token") || "";
    return Boolean(unit && token);
  }

  function showLogin(message) {
    $("#main").hidden = true;
    $("#login").hidden = false;
    $("#login").elements.unit.value = unit;
    banner(message || "");
  }

  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    localStorage.setItem("jijiu.tablet.unit", form.elements.unit.value.trim());
    localStorage.setItem("jijiu.tablet.token", form.elements.token.value.trim());
    form.elements.token.value = "";
    start();
  });

  $("#logout").addEventListener("click", () => {
    localStorage.removeItem("jijiu.tablet.token");
    if (socket) socket.close();
    socket = null;
    token = "";
    showLogin("");
  });

  // --- the queue (localStorage, in order, each item with its idempotency key) -------------
  const queueKey = () => `jijiu.tablet.queue:${unit}`;
  function queue() {
    try {
      return JSON.parse(localStorage.getItem(queueKey()) || "[]");
    } catch (err) {
      return [];
    }
  }
  function saveQueue(items) {
    localStorage.setItem(queueKey(), JSON.stringify(items));
    const n = items.length;
    $("#queued").hidden = n === 0;
    $("#queued").textContent = `待发送 ${n} · ${n} queued`;
    $("#queued").dataset.count = String(n);
  }
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }
  function enqueue(kind, frame) {
    const items = queue();
    items.push({ key: newKey(), kind, frame });
    saveQueue(items);
    flush();
  }
  function flush() {
    const items = queue();
    if (!items.length || inflight !== null || !socket || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    inflight = items[0].key;
    socket.send(JSON.stringify(items[0].frame));
  }
  function answered(reply) {
    const items = queue();
    if (inflight === null || !items.length || items[0].key !== inflight) return;
    const item = items[0];
    inflight = null;
    if (reply.type === "error" && KEEP_TRYING.has(reply.reason)) {
      setTimeout(flush, 2000); // the server could not log it yet: the same item again
      return;
    }
    items.shift();
    saveQueue(items);
    if (reply.type === "error") {
      banner(`未被接受 · Not accepted (${item.kind}): ${reply.reason} ${reply.detail || ""}`);
    } else if (item.kind === "ack") {
      localStorage.setItem(`jijiu.tablet.acked:${unit}`, item.frame.incident_id);
      showAcked();
    }
    flush();
  }

  // --- the socket -------------------------------------------------------------------------
  async function connect() {
    if (!navigator.onLine) return setState("offline", "离线 · offline");
    setState("connecting", attempt ? "重新连接… · reconnecting" : "连接中… · connecting");
    let base;
    try {
      const answer = await fetch("/api/v1/endpoints", { cache: "no-store" });
      base = (await answer.json()).websocket;
    } catch (err) {
      return retry();
    }
    const query = new URLSearchParams({ token });
    const ws = new WebSocket(`${base}/ws/units/${encodeURIComponent(unit)}?${query}`);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState("connected", "已连接 · connected");
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      onFrame(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      inflight = null; // unanswered: sent again, first, once connected
      if (FATAL[event.code]) {
        setState("idle", "未连接 · not connected");
        return showLogin(FATAL[event.code]);
      }
      if (!navigator.onLine) return setState("offline", "离线 · offline");
      retry();
    };
  }

  function retry() {
    attempt += 1;
    setState("connecting", "重新连接… · reconnecting");
    setTimeout(() => {
      if (!socket && token) connect();
    }, Math.min(10000, 500 * 2 ** Math.min(attempt, 5)));
  }

  window.addEventListener("offline", () => {
    setState("offline", "离线 · offline");
    if (socket) socket.close(); // nothing is sent into a dead link: taps wait in the queue
  });
  window.addEventListener("online", () => {
    if (!socket && token) connect();
  });

  // --- frames -----------------------------------------------------------------------------
  function onFrame(frame) {
    switch (frame.type) {
      case "snapshot":
        setStatus(frame.unit.status);
        setJob(frame.job);
        flush();
        break;
      case "offer.sent":
        $("#idle").textContent = "暂无任务 · No job";
        setJob(frame);
        break;
      case "offer.withdrawn": // escalated away, or a dispatcher took the unit off (reason)
        if (job && job.incident_id === frame.incident_id) {
          setJob(null);
          if (frame.reason) $("#idle").textContent = `任务已撤回 · Job withdrawn: ${frame.reason}`;
        }
        break;
      case "unit.changed":
        setStatus(frame.status);
        if (frame.incident_id === null) setJob(null);
        break;
      case "destination.chosen":
        if (job && job.incident_id === frame.incident_id) {
          job.destination = frame;
          showDestination(frame);
        }
        break;
      case "incident.located":
        if (job && job.incident_id === frame.incident_id) {
          job.place = frame.place;
          showJob();
        }
        break;
      case "job.notes": // a dispatcher's note on the job
        if (job && job.incident_id === frame.incident_id) {
          job.notes = frame.notes;
          showJob();
        }
        break;
      case "accepted":
      case "error":
        answered(frame);
        break;
      default: // a frame type this page does not know: ignored
    }
  }

  // --- the job card -----------------------------------------------------------------------
  function setJob(next) {
    const changed = (next && next.incident_id) !== (job && job.incident_id);
    job = next ? { ...(job && changed ? {} : job || {}), ...next } : null;
    if (changed) {
      $("#destination").hidden = true;
      $("#route").hidden = true;
    }
    if (job && job.destination) showDestination(job.destination); // e.g. after a reload
    showJob();
    refreshRoute();
  }

  function showJob() {
    $("#idle").hidden = Boolean(job);
    $("#job").hidden = !job;
    if (!job) return;
    $("#job").dataset.incident = job.incident_id;
    $("#priority").textContent = `P${job.priority}`;
    $("#complaint").textContent = COMPLAINT[job.complaint] || job.complaint;
    $("#determinant").textContent = job.determinant || "";
    $("#step").textContent = job.step || "";
    $("#address").textContent = (job.place && job.place.description) || "";
    $("#notes").hidden = !job.notes;
    $("#notes").textContent = job.notes || "";
    // Only a role allowed to read the caller's number gets one: a crew token never does.
    $("#callback").hidden = !job.callback_phone;
    if (job.callback_phone) $("#callback").href = `tel:${job.callback_phone}`;
    showAcked();
  }

  function showAcked() {
    const done = Boolean(job) && localStorage.getItem(`jijiu.tablet.acked:${unit}`) === job.incident_id;
    const waiting = Boolean(job) && queue().some((i) => i.kind === "ack" && i.frame.incident_id === job.incident_id);
    $("#acked").hidden = !done;
    $("#ack").hidden = done;
    $("#ack").disabled = waiting;
  }

  $("#ack").addEventListener("click", () => {
    if (!job) return;
    enqueue("ack", { type: "ack", incident_id: job.incident_id });
    showAcked();
  });

  function showDestination(d) {
    $("#destination").hidden = false;
    $("#destination").dataset.hospital = d.hospital_id;
    $("#hospital-name").textContent = d.name || d.hospital_id;
    $("#hospital-name-en").textContent = d.name_en || "";
    $("#hospital-address").textContent = d.address || "";
  }

  // --- statuses ---------------------------------------------------------------------------
  function setStatus(next) {
    status = next;
    $("#status").textContent = STATUS_TEXT[next] || next;
    $("#status").dataset.status = next;
    for (const b of document.querySelectorAll("#status-buttons button")) {
      b.setAttribute("aria-pressed", String(b.dataset.status === next));
    }
  }

  $("#status-buttons").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-status]");
    if (!button) return;
    enqueue("status", { type: "status", status: button.dataset.status });
    setStatus(button.dataset.status); // shown at once; the server has it when the queue is sent
    refreshRoute();
  });

  // --- vitals -----------------------------------------------------------------------------
  function nextVitalsSeq() {
    // Milliseconds since the epoch, strictly increasing on this device: the vitals `seq` is the
    // item's idempotency key on the server (one it has is answered as a duplicate).
    const last = Number(localStorage.getItem("jijiu.tablet.vitals_seq") || "0");
    const seq = Math.max(Date.now(), last + 1);
    localStorage.setItem("jijiu.tablet.vitals_seq", String(seq));
    return seq;
  }

  $("#vitals").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const numerics = {};
    for (const input of form.querySelectorAll("input")) {
      if (input.value !== "") numerics[input.name] = Number(input.value);
    }
    if (!Object.keys(numerics).length) return;
    const seq = nextVitalsSeq();
    enqueue("vitals", { type: "vitals", seq, at_s: seq / 1000, numerics });
    form.reset();
  });

  // --- the route, drawn on a canvas (no map tiles: the road line itself) -------------------
  async function refreshRoute() {
    clearTimeout(routeTimer);
    if (!job || !token) return;
    routeTimer = setTimeout(refreshRoute, ROUTE_EVERY_MS);
    if (!navigator.onLine) return;
    let body;
    try {
      const answer = await fetch(`/api/v1/units/${encodeURIComponent(unit)}/route`, {
        headers: { Authorization: `Bearer ${token}` },
        cache: "no-store",
      });
      if (!answer.ok) return;
      body = await answer.json();
    } catch (err) {
      return;
    }
    const route = body.route;
    $("#route").hidden = !route;
    if (!route) return;
    $("#eta").textContent = `${Math.max(1, Math.round(route.eta_s / 60))} 分钟 · min`;
    $("#eta").dataset.etaS = String(route.eta_s);
    $("#route-to").textContent = body.to === "hospital" ? "→ 医院 · hospital" : "→ 现场 · scene";
    const turns = $("#turns");
    turns.replaceChildren(...(route.directions || []).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
    draw(route.lonlat);
  }

  function draw(lonlat) {
    const canvas = $("#map");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!lonlat || lonlat.length < 2) return;
    const lons = lonlat.map((p) => p[0]);
    const lats = lonlat.map((p) => p[1]);
    const k = Math.cos((lats[0] * Math.PI) / 180); // metres per degree of lon / of lat
    const minX = Math.min(...lons) * k;
    const maxX = Math.max(...lons) * k;
    const minY = Math.min(...lats);
    const maxY = Math.max(...lats);
    const pad = 24;
    const scale = Math.min(
      (canvas.width - 2 * pad) / Math.max(maxX - minX, 1e-6),
      (canvas.height - 2 * pad) / Math.max(maxY - minY, 1e-6),
    );
    const xy = ([lon, lat]) => [pad + (lon * k - minX) * scale, canvas.height - pad - (lat - minY) * scale];
    ctx.lineWidth = 5;
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1a73e8";
    ctx.beginPath();
    lonlat.forEach((p, i) => {
      const [x, y] = xy(p);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    const dot = (p, colour) => {
      const [x, y] = xy(p);
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.arc(x, y, 8, 0, 2 * Math.PI);
      ctx.fill();
    };
    dot(lonlat[0], "#1b6e3a"); // the ambulance
    dot(lonlat[lonlat.length - 1], "#b3261e"); // where it goes
  }

  // --- page state -------------------------------------------------------------------------
  function setState(state, text) {
    $("#connection").dataset.state = state;
    $("#connection").textContent = text;
  }

  function banner(text) {
    $("#banner").hidden = !text;
    $("#banner").textContent = text;
  }

  function start() {
    if (!readCredentials()) return showLogin("");
    $("#login").hidden = true;
    $("#main").hidden = false;
    banner("");
    $("#who").textContent = unit;
    saveQueue(queue());
    showJob();
    connect();
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {}); // the shell, for offline starts
  }
  start();
})();

// The hospital wall screen: patients on their way in, with ETA, live numerics and the ECG.
//
// Reads the hospital id and its token from the URL fragment (#hospital=...&token=..., never
// the query string, so neither reaches a server log) or from the form, keeps them in this
// tab's sessionStorage (a reload reconnects) and removes them from the address bar. Asks
// GET /api/v1/endpoints where the websockets listen, opens /ws/hospitals/{id}?token=..., and
// on a drop reconnects with ?since=<last seq> so nothing is missed (docs/wire-protocol.md).
// Frame types it does not know are ignored.
// "Live video" on a card opens /ws/video/{unit} with the same token (the server allows it
// only while the unit's patient is routed here) and shows the newest picture with its age.
"use strict";

(() => {
  // LOINC codes of hospital_link/fhir.py (and the common alternatives a sender may use).
  const NUMERIC_BY_CODE = {
    "8867-4": "hr",
    "59408-5": "spo2",
    "2708-6": "spo2",
    "9279-1": "rr",
    "19891-1": "etco2", // end-tidal CO2 partial pressure, mm[Hg]
    "19889-5": "etco2", // end-tidal CO2 volume fraction, %
    "8310-5": "temp",
    "9269-2": "gcs",
  };
  const BP_PANEL = "85354-9";
  const BP_SYSTOLIC = "8480-6";
  const BP_DIASTOLIC = "8462-4";
  const ECG_CODE = "131328"; // MDC_ECG_ELEC_POTL (any lead)
  const UNIT_TEXT = { "mm[Hg]": "mmHg", "%": "%", Cel: "°C", "/min": "/min" };
  const COMPLAINT = {
    cardiac_arrest: "Cardiac arrest",
    chest_pain: "Chest pain",
    stroke: "Stroke",
    trauma: "Trauma",
    breathing: "Breathing",
    obstetric: "Obstetric",
    paediatric: "Paediatric",
    other: "Other",
  };
  const TEAM = { stemi: "STEMI team", stroke: "Stroke team", trauma: "Trauma team" };
  // Close codes after which retrying cannot help: the token or hospital is wrong.
  const FATAL = {
    4401: "The token was not accepted.",
    4403: "This token may not watch this hospital.",
    4404: "No such hospital.",
  };
  const STALE_S = 10; // vitals older than this are shown dimmed, with their age
  const DIVERTED_KEEP_S = 60; // a diverted patient's card stays this long, then goes
  const ECG_WINDOW_S = 5; // seconds of ECG across the canvas
  const ECG_PREBUFFER_S = 1.2; // wait for this much before (re)starting the sweep
  const ECG_MAX_LAG_S = 3; // more queued than this (a burst after a reconnect): skip ahead
  const ECG_SPAN_UV = 2500; // the canvas height in microvolts; the baseline at 60 % down

  const $ = (sel, root = document) => root.querySelector(sel);
  const t = (key, params) => window.jijiuI18n.t(key, params);
  const NEWS2_OF = { hr: "hr", spo2: "spo2", rr: "rr", temp: "temp", gcs: "gcs" }; // tile -> sign
  // The tables above in the page's language (the catalogue's complaint.*, team.*, fatal.*).
  function localise() {
    for (const k of Object.keys(COMPLAINT)) COMPLAINT[k] = t(`complaint.${k}`);
    for (const k of Object.keys(TEAM)) TEAM[k] = t(`team.${k}`);
    for (const k of Object.keys(FATAL)) FATAL[k] = t(`hospital.fatal_${k}`);
  }
  const patients = new Map(); // incident_id -> patient state (see addPatient)
  const pendingAcks = []; // incident ids in the order their ack frames were sent
  let hospital = "";
  let token = "";
  let wsBase = null; // where the websockets listen (GET /api/v1/endpoints)
  let socket = null;
  let lastSeq = null;
  let attempt = 0;
  let stopped = false;

  // --- credentials ----------------------------------------------------------------------
  function readCredentials() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token") && fragment.get("hospital")) {
      sessionStorage.setItem("jijiu.hospital", fragment.get("hospital"));
      sessionStorage.setItem("jijiu.token", fragment.get("token"));
      history.replaceState(null, "", location.pathname); // the token leaves the address bar
    }
    hospital = sessionStorage.getItem("jijiu.hospital") || "";
    token = sessionStorage.getItem("jijiu.token") || "";
    return Boolean(hospital && token);
  }

  function askCredentials() {
    const form = $("#login");
    form.elements.hospital.value = hospital;
    form.hidden = false;
  }

  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    sessionStorage.setItem("jijiu.hospital", form.elements.hospital.value.trim());
    sessionStorage.setItem("jijiu.token", form.elements.token.value.trim());
    form.elements.token.value = "";
    form.hidden = true;
    start();
  });

  // --- connection -----------------------------------------------------------------------
  function setState(state, text, banner) {
    const pill = $("#connection");
    pill.dataset.state = state;
    pill.textContent = text;
    const box = $("#banner");
    box.hidden = !banner;
    box.dataset.kind = state;
    box.textContent = banner || "";
  }

  async function connect() {
    setState(attempt ? "reconnecting" : "connecting", t(attempt ? "conn.reconnecting" : "conn.connecting"),
      attempt ? t("conn.lost_reconnecting") : "");
    let base;
    try {
      const answer = await fetch("/api/v1/endpoints", { cache: "no-store" });
      base = (await answer.json()).websocket;
    } catch (err) {
      return retry();
    }
    wsBase = base;
    const query = new URLSearchParams({ token });
    if (lastSeq !== null) query.set("since", String(lastSeq));
    const ws = new WebSocket(`${base}/ws/hospitals/${encodeURIComponent(hospital)}?${query}`);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState("connected", t("conn.connected"), "");
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return; // not JSON: nothing we can show
      }
      if (frame && typeof frame === "object") onFrame(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      failPendingAcks(t("conn.lost"));
      if (FATAL[event.code]) {
        stopped = true;
        clearPatients();
        sessionStorage.removeItem("jijiu.token"); // ask again rather than retry a bad token
        setState("error", t("conn.not_connected"), t("common.check_link", { message: FATAL[event.code] }));
        askCredentials();
        return;
      }
      if (event.code === 4400) lastSeq = null; // the server did not take our since
      retry();
    };
  }

  function retry() {
    if (stopped) return;
    attempt += 1;
    setState("reconnecting", t("conn.reconnecting"), t("conn.lost_reconnecting"));
    const delay_ms = Math.min(15000, 1000 * 2 ** Math.min(attempt - 1, 4)) * (0.75 + Math.random() / 2);
    setTimeout(connect, delay_ms);
  }

  function onFrame(frame) {
    if (frame.type === "snapshot") {
      lastSeq = typeof frame.last_seq === "number" ? frame.last_seq : null;
      if (!$("#hospital-name").dataset.hospital) showName(); // the token is proven: ask once
      return onSnapshot(frame.inbound || []);
    }
    if (typeof frame.seq === "number") {
      if (lastSeq !== null && frame.seq <= lastSeq) return; // already seen (a replay overlap)
      lastSeq = frame.seq;
    }
    switch (frame.type) {
      case "patient.inbound":
        return upsertPatient(frame);
      case "patient.diverted":
        return divert(frame.incident_id);
      case "patient.closed": // handed over, or no longer coming
        return removePatient(frame.incident_id);
      case "patient.eta":
        return setEta(patients.get(frame.incident_id), frame.eta_s);
      case "vitals":
        return onVitals(frame);
      case "patient.acknowledged":
        return setAck(frame.incident_id, "acknowledged", t("hospital.acknowledged"));
      case "accepted":
        if (frame.frame === "ack") {
          const id = frame.incident_id || pendingAcks.shift();
          if (frame.incident_id) removePending(id);
          setAck(id, "acknowledged", t("hospital.acknowledged"));
        }
        return;
      case "error": {
        const id = pendingAcks.shift(); // the hospital socket answers only our acks
        setAck(id, "failed", t("hospital.not_delivered", { why: frame.reason || "error" }));
        return;
      }
      default:
        return; // a type this page does not know yet (patient.ack_overdue, ...): ignore it
    }
  }

  // --- patients -------------------------------------------------------------------------
  function onSnapshot(inbound) {
    const seen = new Set();
    for (const p of inbound) {
      seen.add(p.incident_id);
      upsertPatient(p);
    }
    for (const id of [...patients.keys()]) if (!seen.has(id)) removePatient(id);
    showEmpty();
  }

  function addPatient(id) {
    const node = $("#card").content.firstElementChild.cloneNode(true);
    node.dataset.incident = id;
    const p = { id, node, arrivalMs: null, vitalsAtMs: null, ecg: null, diverted: false };
    $(".ack", node).addEventListener("click", () => acknowledge(p));
    $(".watch", node).addEventListener("click", () => (p.video ? stopVideo(p, "") : watch(p)));
    patients.set(id, p);
    $("#patients").append(node);
    showEmpty();
    return p;
  }

  function upsertPatient(info) {
    if (!info.incident_id) return;
    const p = patients.get(info.incident_id) || addPatient(info.incident_id);
    p.diverted = false;
    p.node.classList.remove("diverted");
    $(".note", p.node).hidden = true;
    p.node.dataset.priority = String(info.priority ?? "");
    $(".priority", p.node).textContent = info.priority ? `P${info.priority}` : "";
    $(".complaint", p.node).textContent = COMPLAINT[info.complaint] || info.complaint || "";
    const who = [info.age_band, info.sex].filter(Boolean).join(" · ");
    $(".who", p.node).textContent = who;
    setUnit(p, info.unit_id);
    const team = info.activation && info.activation.team;
    $(".activation", p.node).textContent = TEAM[team]
      ? t("hospital.prealert", { team: TEAM[team], reasons: (info.activation.reasons || []).join("; ") })
      : "";
    if ("eta_s" in info) setEta(p, info.eta_s);
    if (info.acknowledged || info.hospital_ack_at_s != null) {
      setAck(p.id, "acknowledged", t("hospital.acknowledged")); // a snapshot that says so (not sent yet)
    }
    sortCards();
  }

  function divert(id) {
    const p = patients.get(id);
    if (!p) return;
    p.diverted = true;
    p.node.classList.add("diverted");
    const note = $(".note", p.node);
    note.hidden = false;
    note.textContent = t("hospital.diverted");
    setTimeout(() => {
      if (patients.get(id) === p && p.diverted) removePatient(id);
    }, DIVERTED_KEEP_S * 1000);
  }

  // --- the ambulance's in-vehicle video ---------------------------------------------------
  // /ws/video/{unit} with this hospital's token: allowed while the unit's patient is routed
  // here (a re-route closes it with 4403). Nothing is kept: the newest picture and its age.
  function setUnit(p, unitId) {
    if (!unitId) return;
    if (p.unitId && p.unitId !== unitId) stopVideo(p, "");
    p.unitId = unitId;
    $(".unit", p.node).textContent = t("hospital.unit", { unit: unitId });
    $(".watch", p.node).hidden = false;
  }

  function watch(p) {
    if (!p.unitId || !wsBase) return;
    const query = new URLSearchParams({ token });
    const ws = new WebSocket(`${wsBase}/ws/video/${encodeURIComponent(p.unitId)}?${query}`);
    p.video = ws;
    $(".watch", p.node).textContent = t("hospital.stop_video");
    $(".video-state", p.node).textContent = t("conn.connecting_dots");
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (frame.type === "snapshot") $(".video-state", p.node).textContent = t("hospital.video_live");
      const picture = frame.type === "snapshot" ? frame.latest : frame.type === "video.frame" ? frame : null;
      if (!picture || !picture.jpeg) return;
      const img = $(".video-frame", p.node);
      img.src = `data:image/jpeg;base64,${picture.jpeg}`;
      img.dataset.at = String(picture.at_s);
      $(".video", p.node).hidden = false;
      videoAge(p);
    };
    ws.onclose = (closed) => {
      if (p.video !== ws) return;
      stopVideo(p, t(closed.code === 4403 ? "hospital.video_not_ours"
        : closed.code === 4404 ? "hospital.video_no_unit" : "hospital.video_ended"));
    };
  }

  function stopVideo(p, why) {
    const ws = p.video;
    p.video = null;
    if (ws) ws.close();
    $(".video", p.node).hidden = true;
    $(".watch", p.node).textContent = t("hospital.live_video");
    $(".video-state", p.node).textContent = why;
  }

  function videoAge(p) {
    const at = Number($(".video-frame", p.node).dataset.at);
    if (!p.video || !Number.isFinite(at)) return;
    const age = Math.max(0, Date.now() / 1000 - at);
    const label = $(".video-age", p.node);
    label.dataset.ageS = age.toFixed(1);
    label.textContent = t("hospital.picture_age", { s: age.toFixed(1) });
  }

  setInterval(() => { for (const p of patients.values()) videoAge(p); }, 500);

  function removePatient(id) {
    const p = patients.get(id);
    if (!p) return;
    stopVideo(p, "");
    p.node.remove();
    patients.delete(id);
    showEmpty();
  }

  function clearPatients() {
    for (const id of [...patients.keys()]) removePatient(id);
    $("#empty").hidden = true;
  }

  function showEmpty() {
    $("#empty").hidden = patients.size > 0 || stopped;
  }

  function setEta(p, eta_s) {
    if (!p) return;
    p.arrivalMs = typeof eta_s === "number" && isFinite(eta_s) ? Date.now() + eta_s * 1000 : null;
    renderEta(p);
  }

  function sortCards() {
    const order = [...patients.values()].sort(
      (a, b) => (a.arrivalMs ?? Infinity) - (b.arrivalMs ?? Infinity)
        || Number(a.node.dataset.priority || 9) - Number(b.node.dataset.priority || 9),
    );
    const main = $("#patients");
    order.forEach((p, i) => {
      if (main.children[i] !== p.node) main.insertBefore(p.node, main.children[i] || null);
    });
  }

  // --- acknowledgement ------------------------------------------------------------------
  function acknowledge(p) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return setAck(p.id, "failed", t("conn.not_connected"));
    }
    socket.send(JSON.stringify({ type: "ack", incident_id: p.id }));
    pendingAcks.push(p.id);
    setAck(p.id, "sending", t("hospital.sending"));
  }

  function removePending(id) {
    const i = pendingAcks.indexOf(id);
    if (i >= 0) pendingAcks.splice(i, 1);
  }

  function failPendingAcks(why) {
    while (pendingAcks.length) setAck(pendingAcks.shift(), "failed", t("hospital.not_delivered", { why }));
  }

  function setAck(id, state, text) {
    const p = patients.get(id);
    if (!p) return;
    const label = $(".ack-state", p.node);
    if (label.dataset.state === "acknowledged" && state !== "acknowledged") return;
    label.dataset.state = state;
    label.textContent = text;
    $(".ack", p.node).disabled = state === "acknowledged" || state === "sending";
  }

  // --- vitals: FHIR R4 Bundle -----------------------------------------------------------
  function codesOf(concept) {
    return ((concept && concept.coding) || []).map((c) => c.code);
  }

  function onVitals(frame) {
    if (!frame.incident_id || !frame.bundle) return;
    let p = patients.get(frame.incident_id);
    if (p && p.diverted) return;
    if (!p) {
      p = addPatient(frame.incident_id); // vitals before its details: show them anyway
      setUnit(p, frame.unit_id);
    }
    const resources = (frame.bundle.entry || []).map((e) => e.resource).filter(Boolean);
    for (const r of resources) {
      if (r.resourceType === "Observation") observation(p, r);
      else if (r.resourceType === "Encounter") encounter(p, r, frame.bundle.timestamp);
    }
    p.vitalsAtMs = Date.now();
    p.node.classList.remove("stale");
    $(".freshness", p.node).textContent = t("hospital.vitals_live");
  }

  function observation(p, obs) {
    const codes = codesOf(obs.code);
    const parts = obs.component || [];
    if (codes.includes(ECG_CODE) || parts.some((c) => c.valueSampledData)) return ecg(p, parts);
    if (codes.includes(BP_PANEL)) {
      const part = (code) => parts.find((c) => codesOf(c.code).includes(code));
      const sys = part(BP_SYSTOLIC);
      const dia = part(BP_DIASTOLIC);
      if (sys && dia) {
        show(p, "nibp", `${fmt(sys.valueQuantity.value)}/${fmt(dia.valueQuantity.value)}`);
        grade(p, "nibp", "sys", sys.valueQuantity.value);
      }
      return;
    }
    const name = codes.map((c) => NUMERIC_BY_CODE[c]).find(Boolean);
    const q = obs.valueQuantity;
    if (!name || !q || typeof q.value !== "number") return;
    show(p, name, name === "temp" ? q.value.toFixed(1) : fmt(q.value));
    if (NEWS2_OF[name]) grade(p, name, NEWS2_OF[name], q.value);
    if (name === "etco2") $('[data-u="etco2"]', p.node).textContent = UNIT_TEXT[q.code] || q.unit || "";
  }

  function fmt(v) {
    return typeof v === "number" ? String(Math.round(v)) : "—";
  }

  // NEWS2 (news2.js): the tile's band (red: 3 points, amber: 1-2) and the card's aggregate.
  function grade(p, tile, sign, value) {
    const news2 = window.jijiuNews2;
    p.signs = p.signs || {};
    p.signs[sign] = value;
    const cell = $(`.tile.${tile}`, p.node);
    const points = news2.points(sign, value);
    if (cell) {
      cell.dataset.band = news2.band(points);
      cell.dataset.news2 = points === null ? "" : String(points);
    }
    const score = news2.score(p.signs);
    const box = $(".news2", p.node);
    box.dataset.band = score.band;
    $(".news2-value", p.node).textContent = score.total === null ? "—" : String(score.total);
    box.title = t(`news2.band_${score.band || "none"}`);
  }

  function show(p, name, text) {
    const cell = $(`[data-v="${name}"]`, p.node);
    if (cell) cell.textContent = text;
  }

  // The Encounter's "planned" location is the hospital, its period.start the expected arrival;
  // minus the Bundle's timestamp that is the ETA, whatever the two clocks say.
  function encounter(p, enc, timestamp) {
    const planned = (enc.location || []).find((l) => l.status === "planned");
    const at = planned && planned.period && Date.parse(planned.period.start);
    const now = Date.parse(timestamp);
    if (isFinite(at) && isFinite(now)) setEta(p, (at - now) / 1000);
  }

  function ecg(p, parts) {
    const part = parts.find((c) => c.valueSampledData);
    if (!part) return;
    const sd = part.valueSampledData;
    const period_ms = Number(sd.period);
    if (!(period_ms > 0) || typeof sd.data !== "string") return;
    const lead = (part.code && (part.code.text || codesOf(part.code)[0])) || "";
    if (!p.ecg || p.ecg.period_ms !== period_ms || p.ecg.lead !== lead) {
      const size = Math.round((ECG_WINDOW_S * 1000) / period_ms);
      p.ecg = { period_ms, lead, queue: [], shown: new Float32Array(size).fill(NaN),
        carry: 0, playing: false, dirty: true };
      $(".lead", p.node).textContent = lead;
    }
    const origin = (sd.origin && Number(sd.origin.value)) || 0;
    const factor = sd.factor === undefined ? 1 : Number(sd.factor);
    const data = sd.data.trim();
    if (!data) return;
    for (const item of data.split(/\s+/)) {
      const v = Number(item); // "E", "L", "U" (error, below, above range) become a gap
      p.ecg.queue.push(isFinite(v) ? origin + factor * v : NaN);
    }
    const rate = 1000 / period_ms;
    const excess = p.ecg.queue.length - ECG_MAX_LAG_S * rate;
    if (excess > 0) p.ecg.queue.splice(0, Math.ceil(excess));
  }

  // --- drawing --------------------------------------------------------------------------
  function advance(p, elapsed_ms) {
    const e = p.ecg;
    const rate = 1000 / e.period_ms;
    if (!e.playing) {
      if (e.queue.length < ECG_PREBUFFER_S * rate) return;
      e.playing = true;
      e.carry = 0;
    }
    e.carry += elapsed_ms / e.period_ms;
    let n = Math.min(Math.floor(e.carry), e.queue.length);
    e.carry -= n;
    if (n === 0) {
      if (e.queue.length === 0) e.playing = false; // ran dry: buffer again before resuming
      return;
    }
    const shown = e.shown;
    n = Math.min(n, shown.length);
    shown.copyWithin(0, n);
    shown.set(e.queue.splice(0, n), shown.length - n);
    e.dirty = true;
  }

  function draw(p) {
    const e = p.ecg;
    const canvas = $(".trace", p.node);
    const dpr = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * dpr);
    const height = Math.round(canvas.clientHeight * dpr);
    if (!width || !height) return;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      e.dirty = true;
    }
    if (!e.dirty) return;
    e.dirty = false;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    let sum = 0;
    let count = 0;
    for (const v of e.shown) {
      if (isFinite(v)) {
        sum += v;
        count += 1;
      }
    }
    if (!count) return;
    const baseline = sum / count;
    const scale = height / ECG_SPAN_UV;
    const step = width / (e.shown.length - 1);
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--ecg").trim();
    ctx.globalAlpha = p.node.classList.contains("stale") ? 0.4 : 1;
    ctx.lineWidth = 1.6 * dpr;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let pen = false;
    e.shown.forEach((v, i) => {
      if (!isFinite(v)) return (pen = false);
      const y = Math.max(1, Math.min(height - 1, height * 0.6 - (v - baseline) * scale));
      if (pen) ctx.lineTo(i * step, y);
      else ctx.moveTo(i * step, y);
      pen = true;
    });
    ctx.stroke();
  }

  let lastFrameMs = null;
  function animate(now_ms) {
    const elapsed_ms = lastFrameMs === null ? 0 : Math.min(now_ms - lastFrameMs, 1000);
    lastFrameMs = now_ms;
    for (const p of patients.values()) {
      if (!p.ecg) continue;
      advance(p, elapsed_ms);
      draw(p);
    }
    requestAnimationFrame(animate);
  }

  // --- once a second: clock, ETA countdown, vitals freshness -------------------------------
  function renderEta(p) {
    const out = $(".eta-value", p.node);
    if (p.arrivalMs === null) return (out.textContent = "—");
    const left_s = Math.round((p.arrivalMs - Date.now()) / 1000);
    if (left_s <= 0) return (out.textContent = t("hospital.arriving"));
    const m = Math.floor(left_s / 60);
    out.textContent = `${m}:${String(left_s % 60).padStart(2, "0")}`;
  }

  function everySecond() {
    $("#clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
    for (const p of patients.values()) {
      renderEta(p);
      if (p.vitalsAtMs === null) continue;
      const age_s = Math.round((Date.now() - p.vitalsAtMs) / 1000);
      if (age_s >= STALE_S) {
        if (!p.node.classList.contains("stale") && p.ecg) p.ecg.dirty = true;
        p.node.classList.add("stale");
        $(".freshness", p.node).textContent = t("hospital.no_vitals_for", { s: age_s });
      }
    }
  }

  function start() {
    if (!readCredentials()) return askCredentials();
    stopped = false;
    lastSeq = null;
    attempt = 0;
    $("#hospital-name").textContent = hospital;
    document.title = t("hospital.title", { hospital });
    connect();
  }

  // The hospital's name (GET /api/v1/hospitals/{id}, this hospital's token) in the page's
  // language: Chinese where the page is, else English; the id stays if it cannot be read.
  async function showName() {
    try {
      const r = await fetch(`/api/v1/hospitals/${encodeURIComponent(hospital)}`, {
        cache: "no-store",
        headers: { Authorization: `Bearer ${token}` },
      });
      if (!r.ok) return;
      const h = await r.json();
      const name = window.jijiuI18n.lang() === "zh-CN" ? h.name : h.name_en || h.name;
      $("#hospital-name").textContent = name;
      $("#hospital-name").dataset.hospital = hospital;
      document.title = t("hospital.title", { hospital: name });
    } catch (err) {
      // the id stays
    }
  }

  // A new #hospital=...&token=... typed into the address bar: start over with it.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.slice(1)).get("token")) location.reload();
  });
  window.jijiuI18n.ready.then(() => {
    localise();
    everySecond();
    setInterval(everySecond, 1000);
    requestAnimationFrame(animate);
    start();
  });
})();

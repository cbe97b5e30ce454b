// The dispatcher's console: the call queue, the selected call, and the live map.
//
// Reads the dispatcher token from the URL fragment (#token=..., never the query string, so it
// reaches no server log) or from the form, keeps it in this tab's sessionStorage and removes it
// from the address bar. Asks GET /api/v1/endpoints where the websockets listen and opens
// /ws/console?token=...; a unit's or a caller's token is closed with 4403 and shown as an
// error. On a drop it reconnects with ?since=<last seq>, so nothing is missed
// (docs/wire-protocol.md). Once the first snapshot proves the token, it fetches the base map
// (GET /api/v1/map) and draws it on a canvas; units move from `units.moved` frames, drawn
// at most once per animation frame. Frame types it does not know are ignored.
"use strict";

(() => {
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
  // Unit statuses: label and colour (CSS variables of the same name are the legend's).
  const STATUS = {
    available_at_station: ["at station", "#3fb950"],
    available_on_road: ["available", "#7ee787"],
    assigned: ["assigned", "#e3b341"],
    en_route: ["en route", "#f0883e"],
    on_scene: ["on scene", "#ff7b72"],
    transporting: ["transporting", "#58a6ff"],
    at_hospital: ["at hospital", "#a5d6ff"],
    out_of_service: ["out of service", "#6e7681"],
  };
  const STEP = {
    "eTimes.01": "call received",
    "jijiu.located": "located",
    "jijiu.triaged": "triaged",
    "eTimes.03": "unit notified",
    "eTimes.04": "acknowledged",
    "eTimes.05": "en route",
    "eTimes.06": "on scene",
    "eTimes.09": "transporting",
    "eTimes.11": "at hospital",
    "eTimes.12": "handed over",
    "eTimes.13": "back in service",
    "jijiu.cancelled": "cancelled",
    "jijiu.closed": "closed",
  };
  const ENDED = new Set(["jijiu.cancelled", "jijiu.closed"]);
  const FATAL = {
    4401: "The token was not accepted.",
    4403: "This token may not open the console: it needs the dispatcher token.",
  };
  // Road classes as GET /api/v1/map names them: colour, width in px, and the zoom (px per
  // metre) from which they are drawn, so the whole city stays light to draw.
  const ROAD_STYLE = {
    motorway: ["#b08a3e", 2.6, 0],
    arterial: ["#7d8590", 2.0, 0],
    collector: ["#5b636d", 1.5, 0.02],
    street: ["#414951", 1.1, 0.05],
    lane: ["#30363d", 0.9, 0.12],
  };
  const PRIORITY_COLOUR = { 1: "#f85149", 2: "#d29922", 3: "#58a6ff" };
  const AED_COLOUR = "#39c5cf";
  // The selected call's location sources, its unit's route and the stations: each its own
  // colour, drawn opaque where it marks a point (the page tests count these pixels).
  const FIX_COLOUR = "#f778ba";
  const CELL_COLOUR = "#d4d47a";
  const SPOKEN_COLOUR = "#b4f0ff";
  const ROUTE_COLOUR = "#388bfd";
  const STATION_COLOUR = "#8957e5";
  const CONFLICT_COLOUR = "#f85149";
  const SOURCE_LABEL = {
    gnss: "GPS fix", wifi: "Wi-Fi fix", cell: "network fix", fused: "handset fix",
    cell_sector: "cell sector", speech: "spoken place",
  };
  const ROUTE_EVERY_MS = 10000; // the selected call's route and ETA are asked again this often
  const CALL_CREW_AFTER_S = 30; // no crew device acknowledged this long after the offer: phone them
  const READY_EVERY_MS = 5000;
  const SETTLE_MS = 150; // the base map is redrawn this long after the last pan or zoom

  const $ = (sel, root = document) => root.querySelector(sel);
  const t = (key, params) => window.jijiuI18n.t(key, params);
  // The tables above in the page's language (i18n.js: complaint.*, status.*, step.*, ...).
  function localise() {
    for (const k of Object.keys(COMPLAINT)) COMPLAINT[k] = t(`complaint.${k}`);
    for (const k of Object.keys(STATUS)) STATUS[k][0] = t(`status.${k}`);
    for (const k of Object.keys(STEP)) STEP[k] = t(`step.${k}`);
    for (const k of Object.keys(FATAL)) FATAL[k] = t(`console.fatal_${k}`);
    for (const k of Object.keys(SOURCE_LABEL)) SOURCE_LABEL[k] = t(`source.${k}`);
  }
  const incidents = new Map(); // incident_id -> call state (see upsertIncident)
  const units = new Map(); // unit_id -> {id, capability, status, incident_id, lat, lon, x, y}
  let token = "";
  let socket = null;
  let lastSeq = null;
  let attempt = 0;
  let stopped = false;
  let wsDown = false;
  let readiness = null; // null: not asked yet; "" ready; else the reason it is not
  let selected = null; // incident id
  let marked = 0; // index of the recommendation Enter sends
  const layers = { stations: true, aeds: true, sources: true, route: true, streets: true }; // map toggles
  // Engine time is seconds since the server's first start; the snapshot carries no "now", so
  // the offset is learned from frames stamped at_s (each at or before the moment it is sent).
  let overdueS = { 1: 60, 2: 180, 3: 600 }; // seconds a call may wait per priority (snapshot)
  let pendingConfirm = null; // {id, unitId}: a dispatch into a location conflict, asked
  let engineOffsetS = null; // engine seconds minus local seconds, a lower bound
  let offsetLive = false; // false: only the snapshot's newest time, so ages may be short

  // --- credentials ----------------------------------------------------------------------
  function readToken() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) {
      sessionStorage.setItem("jijiu.console.token", fragment.get("token"));
      history.replaceState(null, "", location.pathname); // the token leaves the address bar
    }
    token = sessionStorage.getItem("jijiu.console.token") || "";
    return Boolean(token);
  }

  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    sessionStorage.setItem("jijiu.console.token", form.elements.token.value.trim());
    form.elements.token.value = "";
    form.hidden = true;
    start();
  });

  function authorised(init = {}) {
    return { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } };
  }

  async function api(method, path, body) {
    const init = { method, cache: "no-store" };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const answer = await fetch(path, authorised(init));
    let data = null;
    try {
      data = await answer.json();
    } catch (err) {
      data = null;
    }
    return { ok: answer.ok, status: answer.status, data };
  }

  // --- connection and readiness ---------------------------------------------------------
  function setConnection(state, text) {
    const pill = $("#connection");
    pill.dataset.state = state;
    pill.textContent = text;
  }

  function showBanner() {
    const box = $("#banner");
    let text = "";
    let kind = "";
    if (stopped) return; // a fatal error is on show
    if (wsDown) {
      kind = "degraded";
      text = lastSeq !== null ? t("banner.feed_lost_since", { seq: lastSeq }) : t("banner.feed_lost");
    }
    if (readiness === "standby") {
      kind = "degraded";
      text = `${text ? text + " " : ""}${t("banner.standby")}`;
    } else if (readiness) {
      kind = "degraded";
      text = `${text ? text + " " : ""}${t("banner.degraded", { reason: readiness })}`;
    }
    box.hidden = !text;
    box.dataset.kind = kind;
    box.textContent = text;
  }

  function fatal(message) {
    stopped = true;
    sessionStorage.removeItem("jijiu.console.token"); // ask again rather than retry a bad token
    clearAll();
    setConnection("error", t("conn.not_connected"));
    const box = $("#banner");
    box.hidden = false;
    box.dataset.kind = "error";
    box.textContent = t("common.check_link", { message });
    $("#login").hidden = false;
    $("#desk").classList.add("locked");
  }

  async function connect() {
    setConnection(attempt ? "reconnecting" : "connecting", t(attempt ? "conn.reconnecting" : "conn.connecting"));
    let base;
    try {
      const answer = await fetch("/api/v1/endpoints", { cache: "no-store" });
      base = (await answer.json()).websocket;
    } catch (err) {
      return retry();
    }
    if (stopped) return;
    const query = new URLSearchParams({ token });
    if (lastSeq !== null) query.set("since", String(lastSeq));
    const ws = new WebSocket(`${base}/ws/console?${query}`);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      wsDown = false;
      setConnection("connected", t("conn.connected"));
      showBanner();
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return; // not JSON: nothing to show
      }
      if (frame && typeof frame === "object") onFrame(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      if (FATAL[event.code]) return fatal(FATAL[event.code]);
      if (event.code === 4400) lastSeq = null; // the server did not take our since
      retry();
    };
  }

  function retry() {
    if (stopped) return;
    attempt += 1;
    wsDown = true;
    setConnection("reconnecting", t("conn.reconnecting"));
    showBanner();
    const delayMs = Math.min(10000, 500 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() / 2);
    setTimeout(connect, delayMs);
  }

  // The server says at once when its event log stops or starts acknowledging writes; the
  // /readyz poll below would say the same within READY_EVERY_MS.
  function onStore(frame) {
    readiness = frame.type === "store.degraded" ? frame.reason : "";
    const pill = $("#ready");
    pill.dataset.state = readiness ? "error" : "connected";
    pill.textContent = t("console.server_state", { state: readiness || t("console.ready") });
    showBanner();
  }

  async function checkReady() {
    let reason = "";
    try {
      const answer = await fetch("/readyz", { cache: "no-store" });
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({}));
        reason = body.reason || `HTTP ${answer.status}`;
      }
    } catch (err) {
      reason = "unreachable";
    }
    readiness = reason;
    const pill = $("#ready");
    pill.dataset.state = reason ? "error" : "connected";
    pill.textContent = t("console.server_state", { state: reason || t("console.ready") });
    showBanner();
  }

  // --- frames ---------------------------------------------------------------------------
  function onFrame(frame) {
    if (frame.type === "snapshot") {
      lastSeq = typeof frame.last_seq === "number" ? frame.last_seq : null;
      onSnapshot(frame);
      return;
    }
    if (typeof frame.seq === "number") {
      if (lastSeq !== null && frame.seq <= lastSeq) return; // already seen (a replay overlap)
      lastSeq = frame.seq;
    }
    const inc = frame.incident_id ? incidents.get(frame.incident_id) : null;
    switch (frame.type) {
      case "store.degraded": // writes refused until the store heals (docs/wire-protocol.md)
      case "store.restored":
        return onStore(frame);
      case "call.received":
        return onCall(frame);
      case "incident.stepped":
        return onStep(frame);
      case "incident.triaged": // a triage anywhere: the queue sorts again
        if (inc) {
          if (typeof frame.priority === "number") inc.priority = frame.priority;
          if (frame.complaint) inc.complaint = frame.complaint;
          changed(inc);
        }
        return;
      case "incident.recommended":
        if (inc) {
          inc.recs = frame.options || [];
          inc.recsAsked = true;
          changed(inc);
        }
        return;
      case "offer.sent":
        if (inc) {
          inc.unit_id = frame.unit_id;
          inc.offer_deadline_s = frame.deadline_s;
          inc.offerBy = frame.by;
          inc.acked_devices = []; // a new offer: its devices acknowledge afresh
          inc.offered_at_s = engineNow();
          inc.routeAsked = false; // a new unit: its route
          changed(inc);
        }
        return;
      case "offer.acknowledged":
        if (inc) {
          inc.acked_devices = frame.devices || [];
          changed(inc);
        }
        return;
      case "offer.escalated":
        if (inc) {
          inc.escalations.push({ late: frame.unit_id, next: frame.next_unit_id });
          if (!frame.next_unit_id) inc.unit_id = null;
          changed(inc);
        }
        return;
      case "unit.changed":
        return onUnitChanged(frame);
      case "units.moved":
        return onMoved(frame.units || []);
      case "incident.located":
        if (inc) {
          setEstimate(inc, frame.estimate);
          inc.locatedBy = frame.by;
          inc.sourcesAsked = false; // new evidence, or the dispatcher's placing
          inc.routeAsked = false;
          inc.preview = null;
          changed(inc);
        }
        return;
      case "incident.aeds":
        if (inc) {
          inc.aeds = frame.aeds || [];
          changed(inc);
        }
        return;
      case "call.flood_suspected":
        return alertOn(inc, "flood", "Many calls from this phone in a minute (possible flood).");
      case "duplicate.suggested":
        if (inc) inc.dupCandidates = [...new Set([...inc.dupCandidates, ...(frame.candidates || [])])];
        return alertOn(inc, "duplicate",
          `Maybe the same emergency as ${(frame.candidates || []).join(", ")}.`);
      case "incident.note":
        if (inc) {
          addNote(inc, frame);
          changed(inc);
        }
        return;
      case "incident.linked": { // the duplicate closes by its own incident.stepped
        const primary = incidents.get(frame.primary_id);
        if (primary) {
          primary.linked = frame.linked || [];
          changed(primary);
        }
        return;
      }
      case "duplicate.kept_apart":
        for (const [a, b] of [[frame.incident_id, frame.other_id], [frame.other_id, frame.incident_id]]) {
          const one = incidents.get(a);
          if (!one) continue;
          one.dupCandidates = one.dupCandidates.filter((id) => id !== b);
          if (!one.dupCandidates.length) one.alerts.delete("duplicate");
          changed(one);
        }
        return;
      case "divert.suggested": // a unit on its way to a lower priority is closer to this P1
        if (inc) {
          inc.divert = frame;
          const gain = frame.gain_s === null ? "no unit free"
            : `${fmtDuration(frame.gain_s)} closer than the best free unit`;
          alertOn(inc, "divert", `Divert ${frame.unit_id} from ${frame.from_incident_id} `
            + `(P${frame.from_priority}): ${fmtDuration(frame.eta_s)} away, ${gain}.`);
        }
        return;
      case "unit.withdrawn": // a dispatcher took a unit off (unassigned, reassigned, diverted)
        if (inc) {
          if (frame.requeued) {
            inc.unit_id = null;
            inc.recsAsked = false;
          }
          alertOn(inc, "withdrawn", `${frame.unit_id} taken off: ${frame.reason}`);
        }
        return;
      case "swap.suggested": {
        const swap = frame.swap || {};
        const target = incidents.get(swap.incident_id);
        return alertOn(target, "swap",
          `${swap.better_unit} is free and closer: ${fmtDuration(swap.better_eta_s)} against `
          + `${swap.current_unit}'s ${fmtDuration(swap.current_eta_s)}.`);
      }
      case "destination.chosen":
        if (inc) {
          inc.destination = frame.hospital_id;
          changed(inc);
        }
        return;
      case "hospital.ack_overdue":
        return alertOn(inc, "hospital",
          `${hospitalName(frame.hospital_id)} has not acknowledged the patient: call them.`);
      case "hospital.acknowledged":
        if (inc) {
          inc.alerts.delete("hospital");
          changed(inc);
        }
        return;
      case "hospital.status":
        hospitalStatus.set(frame.hospital_id, frame);
        baseDirty = true;
        return requestDraw();
      case "volunteers.status":
        if (inc) {
          const c = frame.counts || {};
          inc.alerts.set("volunteers", `CPR volunteers: ${c.alerted || 0} alerted, `
            + `${c.accepted || 0} accepted, ${c.en_route || 0} en route, `
            + `${c.on_scene || 0} on scene (radius ${Math.round(frame.radius_m || 0)} m).`);
          changed(inc);
        }
        return;
      default:
        return; // mci.*, agency.*, and types this page does not know yet: ignore
    }
  }

  function learnOffset(atS, live) {
    if (typeof atS !== "number") return;
    const estimate = atS - Date.now() / 1000;
    if (engineOffsetS === null || estimate > engineOffsetS) engineOffsetS = estimate;
    if (live) offsetLive = true;
  }

  function engineNow() {
    return engineOffsetS === null ? null : Date.now() / 1000 + engineOffsetS;
  }

  function onSnapshot(frame) {
    if (frame.overdue_s && typeof frame.overdue_s === "object") overdueS = frame.overdue_s;
    // the server's engine time as it sent the snapshot: ages count from the server's clock, so
    // a reload or a browser clock set wrong shows them right (older servers: the bound below)
    if (typeof frame.now_s === "number") {
      engineOffsetS = frame.now_s - Date.now() / 1000;
      offsetLive = true;
    }
    const seen = new Set();
    for (const view of frame.incidents || []) {
      if (!view.open) continue;
      seen.add(view.incident_id);
      upsertIncident(view);
      for (const t of view.timeline || []) learnOffset(t.at_s, false);
    }
    for (const id of [...incidents.keys()]) if (!seen.has(id)) incidents.delete(id);
    const present = new Set();
    for (const u of frame.units || []) {
      present.add(u.unit_id);
      setUnit(u);
    }
    for (const id of [...units.keys()]) if (!present.has(id)) units.delete(id);
    rebuildRoster();
    if (!mapData && !mapLoading) loadMap();
    if (selected && !incidents.has(selected)) selected = null;
    if (!selected) autoSelect();
    renderQueue();
    renderDetail();
    requestDraw();
  }

  function blankIncident(id) {
    return {
      id, lat: null, lon: null, radius95_m: null, description: "", conflict: null,
      priority: null, complaint: null, step: "eTimes.01", unit_id: null,
      offer_deadline_s: null, offerBy: null, receivedAtS: null, receivedLocalMs: null,
      recs: [], recsAsked: false, aeds: [], escalations: [], alerts: new Map(),
      destination: null, locatedBy: null, flash: false, x: null, y: null,
      sources: null, sourcesAsked: false, route: null, routeAsked: false, routeAtMs: 0,
      preview: null, acked_devices: [], offered_at_s: null,
      notes: [], linked: [], dupCandidates: [],
    };
  }

  // An incident view (snapshot, GET, triage answer) merged in; client-side extras stay.
  function upsertIncident(view) {
    const inc = incidents.get(view.incident_id) || blankIncident(view.incident_id);
    incidents.set(inc.id, inc);
    if (view.place) {
      setEstimate(inc, { ...view.place, conflict: "conflict" in view ? view.conflict : inc.conflict });
    }
    if (typeof view.priority === "number") inc.priority = view.priority;
    if (view.complaint) inc.complaint = view.complaint;
    if (view.step) inc.step = view.step;
    if ("unit_id" in view) inc.unit_id = view.unit_id;
    if ("offer_deadline_s" in view) inc.offer_deadline_s = view.offer_deadline_s;
    if (Array.isArray(view.acked_devices)) inc.acked_devices = view.acked_devices;
    if ("offered_at_s" in view) inc.offered_at_s = view.offered_at_s;
    if (view.source) inc.source = view.source;
    if (Array.isArray(view.notes)) {
      inc.notes = [];
      for (const n of view.notes) addNote(inc, n);
    }
    if (Array.isArray(view.linked)) inc.linked = view.linked;
    const received = (view.timeline || []).find((t) => t.step === "eTimes.01");
    if (received) inc.receivedAtS = received.at_s;
    return inc;
  }

  function setEstimate(inc, est) {
    if (!est) return;
    inc.lat = est.lat;
    inc.lon = est.lon;
    inc.radius95_m = est.radius95_m;
    if (est.description) inc.description = est.description;
    inc.conflict = est.conflict || null;
    project(inc);
  }

  function onCall(frame) {
    const inc = incidents.get(frame.incident_id) || blankIncident(frame.incident_id);
    incidents.set(inc.id, inc);
    setEstimate(inc, frame.estimate);
    inc.receivedLocalMs = Date.now();
    if (typeof frame.priority === "number") inc.priority = frame.priority;
    if (frame.complaint) inc.complaint = frame.complaint;
    if (frame.flood_suspected) inc.alerts.set("flood", "Many calls from this phone in a minute.");
    if (frame.source) inc.source = frame.source;
    if (!selected) selected = inc.id;
    changed(inc);
    if (inc.priority !== null && inc.complaint) return;
    // An older server's frame has no priority or complaint: the incident's view has them.
    api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}`).then((r) => {
      if (r.ok && r.data && incidents.get(inc.id) === inc) {
        upsertIncident(r.data);
        changed(inc);
      }
    }).catch(() => {});
  }

  function onStep(frame) {
    learnOffset(frame.at_s, true);
    const inc = incidents.get(frame.incident_id);
    if (!inc) return;
    if (frame.step === "eTimes.01" && inc.receivedAtS === null) inc.receivedAtS = frame.at_s;
    if (ENDED.has(frame.step)) {
      incidents.delete(inc.id);
      if (selected === inc.id) {
        selected = null;
        autoSelect();
      }
      renderQueue();
      renderDetail();
      requestDraw();
      return;
    }
    inc.step = frame.step;
    changed(inc);
  }

  function onUnitChanged(frame) {
    const unit = units.get(frame.unit_id);
    if (unit) {
      unit.status = frame.status;
      unit.incident_id = frame.incident_id;
      updateRosterRow(unit);
    } else {
      setUnit({ unit_id: frame.unit_id, status: frame.status, incident_id: frame.incident_id });
      rebuildRoster();
    }
    const inc = frame.incident_id ? incidents.get(frame.incident_id) : null;
    if (inc && frame.status !== "available_at_station" && frame.status !== "available_on_road") {
      inc.unit_id = frame.unit_id;
      inc.routeAsked = false; // coming, transporting or arrived: the route changes with it
    }
    renderCounts();
    renderQueue();
    renderDetail();
    requestDraw();
  }

  function onMoved(rows) {
    for (const row of rows) {
      if (!Array.isArray(row) || row.length < 3) continue;
      let unit = units.get(row[0]);
      if (!unit) {
        unit = setUnit({ unit_id: row[0], status: "available_on_road" });
        rosterStale = true;
      }
      unit.lat = row[1];
      unit.lon = row[2];
      unit.stale = false;
      project(unit);
    }
    requestDraw(); // drawn once in the next animation frame, however many frames came
  }

  function setUnit(view) {
    const unit = units.get(view.unit_id) || { id: view.unit_id, capability: "", status: "",
      incident_id: null, lat: null, lon: null, x: null, y: null };
    if (view.capability) unit.capability = view.capability;
    if (view.status) unit.status = view.status;
    if ("incident_id" in view) unit.incident_id = view.incident_id;
    if ("stale" in view) unit.stale = Boolean(view.stale); // its position is old
    if (typeof view.lat === "number") {
      unit.lat = view.lat;
      unit.lon = view.lon;
      project(unit);
    }
    units.set(unit.id, unit);
    return unit;
  }

  async function divertTo(inc) {
    const d = inc.divert;
    if (!d) return;
    const path = `/api/v1/incidents/${encodeURIComponent(d.from_incident_id)}/units/`
      + `${encodeURIComponent(d.unit_id)}/divert`;
    const reason = `diverted to P1 ${inc.id}: ${fmtDuration(d.eta_s)} away`;
    const r = await api("POST", path, { to_incident: inc.id, reason });
    if (r.ok) {
      inc.divert = null;
      inc.alerts.delete("divert");
      say(`${d.unit_id} diverted to ${inc.id}: offer sent to the crew.`, "ok");
      changed(inc);
    } else {
      say(`Divert refused: ${(r.data && (r.data.detail || r.data.reason)) || r.status}`, "error");
    }
  }

  function alertOn(inc, key, text) {
    if (!inc) return;
    inc.alerts.set(key, text);
    changed(inc);
  }

  function changed(inc) {
    if (inc && !incidents.has(inc.id)) return;
    renderQueue();
    if (inc && inc.id === selected) renderDetail();
    requestDraw();
  }

  function clearAll() {
    incidents.clear();
    units.clear();
    selected = null;
    rebuildRoster();
    renderQueue();
    renderDetail();
    renderCounts();
    requestDraw();
  }

  // --- the queue ------------------------------------------------------------------------
  function waiting(inc) {
    return !inc.unit_id;
  }

  // Waiting longer than its priority allows (JIJIU_OVERDUE_P1_S ...): loud in the queue.
  function overdue(inc) {
    if (!waiting(inc)) return false;
    const limit = overdueS[String(inc.priority ?? 2)];
    const age = ageS(inc);
    return typeof limit === "number" && age !== null && age >= limit;
  }

  // Waiting calls first, then by priority (P1 first), then the longest waiting first.
  function ordered() {
    // engine time of eTimes.01 when known (snapshot, or the frame that follows call.received),
    // so a page that reloads sorts the calls exactly as one that saw them come in
    const received = (inc) => inc.receivedAtS !== null ? inc.receivedAtS
      : inc.receivedLocalMs !== null ? inc.receivedLocalMs / 1000 + (engineOffsetS || 0) : 0;
    return [...incidents.values()].sort((a, b) =>
      (waiting(b) - waiting(a))
      || ((a.priority ?? 2) - (b.priority ?? 2))
      || (received(a) - received(b)));
  }

  function ageS(inc) {
    const now = engineNow();
    if (offsetLive && now !== null && inc.receivedAtS !== null) return Math.max(0, now - inc.receivedAtS);
    if (inc.receivedLocalMs !== null) return (Date.now() - inc.receivedLocalMs) / 1000;
    if (now === null || inc.receivedAtS === null) return null;
    return Math.max(0, now - inc.receivedAtS);
  }

  // An age from engine time before a live frame set the clock is at least this: "≥ 3:12".
  function fmtCallAge(inc) {
    const s = ageS(inc);
    return inc.receivedLocalMs === null && s !== null && !offsetLive ? `≥ ${fmtAge(s)}` : fmtAge(s);
  }

  function fmtAge(s) {
    if (s === null || !isFinite(s)) return "—";
    s = Math.floor(s);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const mmss = `${m}:${String(s % 60).padStart(2, "0")}`;
    return h ? `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}` : mmss;
  }

  function fmtDuration(s) {
    if (typeof s !== "number" || !isFinite(s)) return "—";
    return s < 60 ? t("dur.s", { s: Math.round(s) })
      : t("dur.min_s", { m: Math.floor(s / 60), s: String(Math.round(s % 60)).padStart(2, "0") });
  }

  function stateText(inc) {
    if (!inc.unit_id) return t(inc.escalations.length ? "console.escalated" : "console.waiting");
    const unit = units.get(inc.unit_id);
    const status = unit && STATUS[unit.status] ? STATUS[unit.status][0] : STEP[inc.step] || "";
    return `${inc.unit_id} ${status}`;
  }

  function renderQueue() {
    const list = $("#queue");
    const order = ordered();
    const rows = new Map([...list.children].map((li) => [li.dataset.incident, li]));
    order.forEach((inc, i) => {
      let li = rows.get(inc.id);
      if (!li) {
        li = $("#call-row").content.firstElementChild.cloneNode(true);
        li.dataset.incident = inc.id;
        li.addEventListener("click", () => select(inc.id));
      }
      rows.delete(inc.id);
      li.dataset.priority = String(inc.priority ?? "");
      li.dataset.waiting = String(waiting(inc));
      li.classList.toggle("selected", inc.id === selected);
      li.classList.toggle("conflict", Boolean(inc.conflict));
      li.classList.toggle("escalated", inc.escalations.length > 0);
      markOverdue(li, inc);
      li.setAttribute("aria-selected", String(inc.id === selected));
      $(".priority", li).textContent = inc.priority ? `P${inc.priority}` : "P?";
      $(".what", li).textContent = COMPLAINT[inc.complaint] || "…";
      $(".age", li).textContent = fmtCallAge(inc);
      $(".where", li).textContent = inc.description || "";
      $(".line", li).textContent = (inc.conflict ? t("console.conflict_flag") : "") + stateText(inc);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    for (const li of rows.values()) li.remove();
    $("#queue-empty").hidden = incidents.size > 0;
    const n = order.filter(waiting).length;
    $("#waiting").textContent = t("console.n_waiting", { n });
    $("#waiting").dataset.count = String(n);
  }

  function markOverdue(li, inc) {
    const late = overdue(inc);
    li.classList.toggle("overdue", late);
    li.dataset.overdue = String(late);
    $(".overdue-flag", li).hidden = !late;
  }

  function autoSelect() {
    const first = ordered()[0];
    selected = first ? first.id : null;
    marked = 0;
    if (first && !first.unit_id && !first.recsAsked) askRecommendations(first);
  }

  function select(id) {
    if (!incidents.has(id)) return;
    if (selected !== id) marked = 0;
    selected = id;
    const inc = incidents.get(id);
    if (!inc.unit_id && !inc.recsAsked) askRecommendations(inc);
    renderQueue();
    renderDetail();
    requestDraw();
    const li = $(`#queue li[data-incident="${CSS.escape(id)}"]`);
    if (li) li.scrollIntoView({ block: "nearest" });
  }

  function move(delta) {
    const order = ordered();
    if (!order.length) return;
    const at = order.findIndex((inc) => inc.id === selected);
    const next = at < 0 ? 0 : Math.max(0, Math.min(order.length - 1, at + delta));
    select(order[next].id);
  }

  async function askRecommendations(inc) {
    inc.recsAsked = true;
    const r = await api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}/recommendations`)
      .catch(() => ({ ok: false }));
    if (r.ok && Array.isArray(r.data) && incidents.get(inc.id) === inc) {
      inc.recs = r.data;
      changed(inc);
    }
  }

  // --- the selected call ----------------------------------------------------------------
  function hospitalName(id) {
    const h = mapData && mapData.hospitals.find((x) => x.hospital_id === id);
    return h ? `${h.name} (${id})` : id;
  }

  function renderDetail() {
    const inc = selected ? incidents.get(selected) : null;
    $("#incident").hidden = !inc;
    $("#detail-empty").hidden = Boolean(inc) || stopped;
    if (!inc) return;
    const box = $("#incident");
    box.dataset.incident = inc.id;
    box.dataset.priority = String(inc.priority ?? "");
    $("#d-priority").textContent = inc.priority ? `P${inc.priority}` : "P?";
    $("#d-complaint").textContent = COMPLAINT[inc.complaint] || "…";
    $("#d-age").textContent = fmtCallAge(inc);
    $("#d-id").textContent = inc.id;
    $("#d-step").textContent = STEP[inc.step] || inc.step;
    $("#d-flags").textContent = (inc.source === "voice" ? t("console.phone_call_flag") : "")
      + (inc.locatedBy ? t("console.placed_by", { by: inc.locatedBy }) : "");
    if (shownCaller !== inc.id) { // never another call's number
      $("#caller-number").textContent = "";
      shownCaller = null;
    }
    $("#d-readback").textContent = inc.description || "—";
    $("#d-radius").textContent = typeof inc.radius95_m === "number"
      ? t("console.within", { r: Math.round(inc.radius95_m), lat: inc.lat.toFixed(5), lon: inc.lon.toFixed(5) })
      : "";
    const conflict = $("#conflict");
    conflict.hidden = !inc.conflict;
    if (inc.conflict) {
      $("#conflict-message").textContent = inc.conflict.message
        || `${(inc.conflict.sources || []).join(", ")} disagree by ${Math.round(inc.conflict.distance_m)} m`;
      $("#conflict-readback").textContent = inc.description || "";
      $("#conflict-names").textContent = conflictNames(inc.conflict);
    }
    if (!inc.sourcesAsked) askSources(inc);
    renderSources(inc);
    for (const b of document.querySelectorAll("button.prio")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.priority) === inc.priority));
    }
    if (inc.complaint && document.activeElement !== $("#complaint")) $("#complaint").value = inc.complaint;
    renderAssigned(inc);
    if (inc.unit_id && !inc.routeAsked) askRoute(inc);
    renderRoute(inc);
    renderRecs(inc);
    renderAeds(inc);
    renderNotes(inc);
    renderDuplicates(inc);
    const alerts = $("#alerts");
    alerts.replaceChildren(...[...inc.alerts.entries()].map(([key, text]) => {
      const li = document.createElement("li");
      li.dataset.kind = key;
      li.textContent = text;
      if (key === "divert" && inc.divert && !inc.unit_id) {
        const go = document.createElement("button");
        go.type = "button";
        go.className = "divert";
        go.textContent = `Divert ${inc.divert.unit_id}`;
        go.addEventListener("click", () => divertTo(inc));
        li.append(" ", go);
      }
      return li;
    }));
  }

  // --- notes, duplicates and linked callers --------------------------------------------
  function addNote(inc, n) {
    if (!n || typeof n.text !== "string") return;
    if (inc.notes.some((m) => m.at_s === n.at_s && m.text === n.text)) return; // frame and answer
    inc.notes.push({ at_s: n.at_s, person: n.person || null, text: n.text });
    inc.notes.sort((a, b) => a.at_s - b.at_s);
  }

  function renderNotes(inc) {
    $("#note-list").replaceChildren(...inc.notes.map((n) => {
      const li = document.createElement("li");
      const when = document.createElement("span");
      when.className = "dim";
      when.textContent = `+${fmtAge(inc.receivedAtS === null ? null : n.at_s - inc.receivedAtS)}`
        + (n.person ? ` ${n.person}` : "");
      const text = document.createElement("span");
      text.className = "note-text";
      text.textContent = n.text;
      li.append(when, " ", text);
      return li;
    }));
  }

  async function addNoteFromForm() {
    const inc = selected ? incidents.get(selected) : null;
    const input = $("#note-form input");
    const text = input.value.trim();
    if (!inc || !text) return;
    input.disabled = true;
    const r = await postNote(inc.id, text).catch(() => ({ ok: false, status: 0, data: null }));
    input.disabled = false;
    if (r.ok) {
      input.value = "";
      addNote(inc, r.data);
      changed(inc);
      say(`备注已记 Note added to ${inc.id}.`, "ok");
    } else {
      const reason = (r.data && r.data.reason) || (r.status ? `HTTP ${r.status}` : "not connected");
      say(`Note not added (${reason}).`, "error");
    }
    input.focus();
  }

  async function postNote(id, text) {
    const answer = await fetch(`/api/v1/incidents/${encodeURIComponent(id)}/notes`, authorised({
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Idempotency-Key": randomKey() },
      body: JSON.stringify({ text }),
    }));
    const data = await answer.json().catch(() => null);
    return { ok: answer.ok, status: answer.status, data };
  }

  function renderDuplicates(inc) {
    const open = inc.dupCandidates.filter((id) => incidents.has(id));
    const box = $("#dups");
    box.hidden = !open.length;
    $("#dup-list").replaceChildren(...open.map((other) => {
      const li = document.createElement("li");
      li.dataset.other = other;
      const link = document.createElement("button");
      link.type = "button";
      link.className = "dup-link";
      link.textContent = `并入 Link into ${other}`;
      link.addEventListener("click", () => settleDuplicate(inc, other, "link"));
      const apart = document.createElement("button");
      apart.type = "button";
      apart.className = "dup-apart";
      apart.textContent = "分开 Keep apart";
      apart.addEventListener("click", () => settleDuplicate(inc, other, "keep-apart"));
      li.append(link, " ", apart);
      return li;
    }));
    const linked = $("#d-linked");
    linked.hidden = !inc.linked.length;
    linked.textContent = `同一事件的来电 Linked callers: ${inc.linked.join(", ")}`;
  }

  async function settleDuplicate(inc, other, how) {
    const body = how === "link" ? { primary_id: other } : { other_id: other };
    const r = await api("POST", `/api/v1/incidents/${encodeURIComponent(inc.id)}/${how}`, body)
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (r.ok) {
      say(how === "link" ? `${inc.id} linked into ${other}.` : `${inc.id} kept apart from ${other}.`, "ok");
      return;
    }
    const reason = (r.data && r.data.reason) || (r.status ? `HTTP ${r.status}` : "not connected");
    say(`${inc.id} not ${how === "link" ? "linked" : "kept apart"} (${reason}).`, "error");
  }

  // Sending a unit into an unresolved location conflict: asked first (y sends, Esc does not).
  function askConflictConfirm(inc, unitId) {
    pendingConfirm = { id: inc.id, unitId };
    $("#conflict-confirm-text").textContent =
      `位置冲突 The location sources disagree: send ${unitId} to ${inc.id} anyway?`;
    $("#conflict-confirm").hidden = false;
    say(`Location conflict: press y to send ${unitId} anyway, Esc not to.`, "error");
  }

  function answerConflictConfirm(send) {
    const pending = pendingConfirm;
    pendingConfirm = null;
    $("#conflict-confirm").hidden = true;
    const inc = pending ? incidents.get(pending.id) : null;
    if (send && inc) dispatchUnit(inc, pending.unitId, true);
    else if (pending) say(`${pending.unitId} not sent: confirm the place first.`);
  }

  function renderAssigned(inc) {
    const box = $("#assigned");
    box.hidden = !inc.unit_id;
    if (inc.unit_id) {
      const unit = units.get(inc.unit_id);
      const status = unit ? unit.status : "";
      box.dataset.status = status;
      box.dataset.unit = inc.unit_id;
      const label = STATUS[status] ? STATUS[status][0] : status;
      let text = `${inc.unit_id} · ${label}`;
      if (inc.step === "eTimes.03" && typeof inc.offer_deadline_s === "number") {
        const now = engineNow();
        const left = now === null ? null : inc.offer_deadline_s - now;
        text += left === null ? " · awaiting acknowledgement"
          : ` · awaiting acknowledgement (${fmtAge(Math.max(0, left))} left)`;
      }
      if (inc.offerBy && inc.offerBy !== "dispatcher") text += ` · by ${inc.offerBy}`;
      if (inc.destination) text += ` · to ${hospitalName(inc.destination)}`;
      box.textContent = text;
    }
    renderCrewAcks(inc);
    const esc = $("#escalations");
    esc.hidden = inc.escalations.length === 0;
    esc.replaceChildren(...inc.escalations.map((e) => {
      const p = document.createElement("p");
      p.textContent = e.next
        ? `Escalated: ${e.late} did not acknowledge in time; offered to ${e.next}.`
        : `Escalated: ${e.late} did not acknowledge in time and no unit is free: dispatch by hand.`;
      return p;
    }));
  }

  // Which of the unit's devices acknowledged the job; none 30 s after the offer: phone them.
  function renderCrewAcks(inc) {
    const line = $("#crew-acks");
    const acked = inc.acked_devices || [];
    const now = engineNow();
    const waiting = inc.unit_id && inc.step === "eTimes.03" && !acked.length;
    const late = waiting && typeof inc.offered_at_s === "number" && now !== null
      && now - inc.offered_at_s >= CALL_CREW_AFTER_S;
    line.hidden = !inc.unit_id || (!acked.length && !late);
    line.classList.toggle("call-crew", Boolean(late));
    line.dataset.devices = acked.join(",");
    line.textContent = late
      ? `电话联系车组 · call the crew by phone: no device acknowledged in ${CALL_CREW_AFTER_S} s`
      : `已确认 · acknowledged by: ${acked.join(", ")}`;
  }

  function renderRecs(inc) {
    const list = $("#recs");
    const recs = inc.unit_id ? [] : inc.recs;
    if (marked >= recs.length) marked = 0;
    list.replaceChildren(...recs.map((o, i) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "rec";
      button.dataset.unit = o.unit_id;
      const unit = units.get(o.unit_id);
      button.dataset.status = unit ? unit.status : "";
      button.classList.toggle("marked", i === marked);
      const head = document.createElement("span");
      head.className = "rec-head";
      const name = document.createElement("b");
      name.textContent = o.unit_id;
      const cap = document.createElement("span");
      cap.className = "cap";
      cap.textContent = String(o.capability || "").toUpperCase();
      const eta = document.createElement("span");
      eta.className = "eta";
      eta.textContent = t("console.eta", { eta: fmtDuration(o.eta_s) });
      if (o.stale_position) { // an ETA from where the unit was, not presented as fresh
        eta.classList.add("stale");
        eta.textContent += ` (position ${fmtDuration(o.position_age_s)} old)`;
      }
      const dist = document.createElement("span");
      dist.className = "dim";
      dist.textContent = typeof o.distance_m === "number" ? `${(o.distance_m / 1000).toFixed(1)} km` : "";
      const status = document.createElement("span");
      status.className = "unit-status";
      status.textContent = unit && STATUS[unit.status] ? STATUS[unit.status][0] : "";
      head.append(name, cap, eta, dist, status);
      const why = document.createElement("span");
      why.className = "reasons";
      why.textContent = (o.reasons || []).join(" · ");
      button.append(head, why);
      button.addEventListener("click", () => dispatchUnit(inc, o.unit_id));
      li.append(button);
      return li;
    }));
    const mark = recs[marked];
    if (mark && (!inc.preview || inc.preview.unit_id !== mark.unit_id)) askRoute(inc, mark.unit_id);
    $("#recs-empty").hidden = recs.length > 0 || Boolean(inc.unit_id);
    $(".recs").hidden = Boolean(inc.unit_id);
  }

  function renderAeds(inc) {
    const box = $("#aeds");
    box.hidden = !inc.aeds.length;
    $("#aed-list").replaceChildren(...inc.aeds.map((a) => {
      const li = document.createElement("li");
      li.dataset.aed = a.aed_id;
      const head = document.createElement("b");
      head.textContent = `${a.location || a.aed_id} · ${a.distance_m} m · ${fmtDuration(a.walk_s)} on foot`
        + (a.state === "unknown" ? " · hours unknown" : "");
      const how = document.createElement("span");
      how.lang = "zh";
      how.textContent = a.directions || "";
      li.append(head, how);
      return li;
    }));
  }

  // --- the selected call's location sources and its unit's route --------------------------
  function conflictNames(conflict) {
    const names = (conflict.sources || []).map((s) => SOURCE_LABEL[s] || s);
    if (!names.length) return "";
    return names.length === 1 ? `Odd one out: ${names[0]}.` : `Disagreeing: ${names.join(" and ")}.`;
  }

  async function askSources(inc) {
    inc.sourcesAsked = true;
    const r = await api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}/sources`)
      .catch(() => ({ ok: false }));
    if (r.ok && r.data && incidents.get(inc.id) === inc) {
      inc.sources = r.data;
      for (const p of sourcePoints(inc.sources)) project(p);
      changed(inc);
    }
  }

  // Everything of a sources answer that has a place: projected for drawing in one go.
  function sourcePoints(src) {
    const out = [...(src.fixes || [])];
    if (src.cell && src.cell.known) {
      src.cell.lat = src.cell.site_lat;
      src.cell.lon = src.cell.site_lon;
      out.push(src.cell);
    }
    if (src.spoken) out.push(...src.spoken.candidates);
    return out;
  }

  function renderSources(inc) {
    const src = inc.sources;
    const box = $("#sources");
    box.hidden = !src || !src.kept;
    if (box.hidden) return;
    const rows = [];
    const row = (source, conflict, text) => {
      const li = document.createElement("li");
      li.dataset.source = source;
      li.dataset.conflict = String(Boolean(conflict));
      li.textContent = text + (conflict ? t("sources.disagrees") : "");
      rows.push(li);
    };
    for (const f of src.fixes) {
      row(f.source, f.in_conflict, t("sources.fix", {
        source: SOURCE_LABEL[f.source] || f.source, accuracy: Math.round(f.accuracy_m),
        r95: Math.round(f.radius95_m), age: fmtDuration(f.age_s),
      }));
    }
    const c = src.cell;
    if (c) {
      const id = `${c.radio} ${c.cell.join("-")}`;
      const ring = { min: Math.round(c.r_min_m), max: Math.round(c.r_max_m) };
      const where = !c.known ? t("sources.cell_unknown")
        : c.omni ? t("sources.cell_circle", ring)
          : t("sources.cell_sector", { ...ring, az: Math.round(c.azimuth_deg), half: Math.round(c.half_width_deg) });
      row("cell_sector", c.in_conflict, t("sources.cell", { id, where }));
    }
    if (src.spoken) {
      const found = src.spoken.candidates.map((p) => `${p.name} (${p.kind}, ${p.score.toFixed(2)})`);
      row("speech", src.spoken.in_conflict,
        t("sources.words", { text: src.spoken.text, found: found.length ? found.join(", ") : t("sources.no_match") }));
    }
    if (src.fused && src.fused.shares) {
      const parts = Object.entries(src.fused.shares)
        .map(([k, v]) => `${SOURCE_LABEL[k] || k} ${v > 0 && v < 0.005 ? "< 1" : Math.round(v * 100)} %`);
      if (parts.length) row("shares", false, t("sources.shares", { parts: parts.join(", ") }));
    }
    $("#source-list").replaceChildren(...rows);
  }

  async function askRoute(inc, unitId = null) {
    if (unitId === null) {
      inc.routeAsked = true;
      inc.routeAtMs = Date.now();
    } else {
      inc.preview = { unit_id: unitId, route: null };
    }
    const query = unitId === null ? "" : `?unit_id=${encodeURIComponent(unitId)}`;
    const r = await api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}/route${query}`)
      .catch(() => ({ ok: false }));
    if (!r.ok || !r.data || incidents.get(inc.id) !== inc) return;
    const answer = { ...r.data, atMs: Date.now() };
    if (answer.route) {
      answer.points = answer.route.lonlat.map(([lon, lat]) => ({ lon, lat, x: null, y: null }));
      for (const p of answer.points) project(p);
    }
    if (unitId === null) inc.route = answer;
    else if (inc.preview && inc.preview.unit_id === unitId) inc.preview = answer;
    changed(inc);
  }

  // The ETA as the route said it, counted down since it was asked.
  function etaLeft(answer) {
    if (!answer || !answer.route) return null;
    return Math.max(0, answer.route.eta_s - (Date.now() - answer.atMs) / 1000);
  }

  function renderRoute(inc) {
    const out = $("#route-info");
    const answer = inc.unit_id ? inc.route : null;
    out.hidden = !answer || !answer.route;
    if (out.hidden) return;
    const to = answer.to === "hospital" ? hospitalName(answer.hospital_id) : t("console.the_call");
    out.dataset.unit = answer.unit_id;
    out.textContent = t("console.route", {
      unit: answer.unit_id, to, eta: fmtDuration(etaLeft(answer)), km: (answer.route.length_m / 1000).toFixed(1),
    });
  }

  function say(text, kind = "") {
    const out = $("#action");
    out.textContent = text;
    out.dataset.kind = kind;
  }

  // --- actions --------------------------------------------------------------------------
  async function dispatchUnit(inc, unitId, confirmed = false) {
    if (!inc || !unitId) return;
    if (inc.unit_id) return say(`${inc.id} already has ${inc.unit_id}.`, "error");
    if (inc.conflict && !confirmed) return askConflictConfirm(inc, unitId);
    say(t("console.dispatching", { unit: unitId, id: inc.id }));
    const body = confirmed ? { unit_id: unitId, confirm_conflict: true } : { unit_id: unitId };
    const r = await api("POST", `/api/v1/incidents/${encodeURIComponent(inc.id)}/assignment`, body)
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (!r.ok && r.data && r.data.reason === "location_conflict_unconfirmed") {
      return askConflictConfirm(inc, unitId); // the server knew of a conflict this page did not
    }
    if (r.ok) {
      inc.unit_id = unitId;
      if (r.data && typeof r.data.deadline_s === "number") inc.offer_deadline_s = r.data.deadline_s;
      say(t("console.dispatched", { unit: unitId, id: inc.id }), "ok");
      inc.routeAsked = false;
      changed(inc);
      return;
    }
    const reason = (r.data && r.data.reason) || (r.status ? `HTTP ${r.status}` : "not connected");
    say(t("console.not_dispatched", { unit: unitId, reason }), "error");
    if (r.status === 409) askRecommendations(inc); // taken meanwhile: the list is stale
  }

  async function triage(inc, priority, complaint) {
    if (!inc) return;
    if (!inc.complaint || !inc.priority) { // a call just in: its view first, never a guess
      const r = await api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}`)
        .catch(() => ({ ok: false }));
      if (r.ok && r.data) upsertIncident(r.data);
      if (!inc.complaint || !inc.priority) return say("Triage not sent: the call is not loaded yet.", "error");
    }
    const body = { priority: priority ?? inc.priority, complaint: complaint || inc.complaint };
    say(`Triage ${inc.id}: P${body.priority} ${COMPLAINT[body.complaint]}…`);
    const r = await api("POST", `/api/v1/incidents/${encodeURIComponent(inc.id)}/triage`, body)
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (r.ok && r.data) {
      upsertIncident(r.data);
      say(`${inc.id} triaged P${body.priority} ${COMPLAINT[body.complaint]}.`, "ok");
      changed(inc);
    } else {
      say(`Triage not saved (${(r.data && r.data.reason) || r.status || "not connected"}).`, "error");
      renderDetail();
    }
  }

  async function placeByWords(inc, spoken) {
    if (!inc || !spoken) return;
    say(`Placing ${inc.id} by "${spoken}"…`);
    const r = await api("POST", `/api/v1/incidents/${encodeURIComponent(inc.id)}/location`, { spoken })
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (r.ok && r.data) {
      upsertIncident(r.data);
      inc.conflict = null; // the dispatcher's own placing settles the conflict
      say(`${inc.id} placed: ${inc.description}.`, "ok");
      changed(inc);
    } else {
      const reason = (r.data && r.data.reason) || r.status || "not connected";
      say(`Not placed (${reason === "no_match" ? "no place matches those words" : reason}).`, "error");
    }
  }

  for (const b of document.querySelectorAll("button.prio")) {
    b.addEventListener("click", () => triage(incidents.get(selected), Number(b.dataset.priority)));
  }
  $("#complaint").addEventListener("change", (event) => {
    triage(incidents.get(selected), null, event.target.value);
  });
  $("#note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    addNoteFromForm();
  });
  $("#conflict-send").addEventListener("click", () => answerConflictConfirm(true));
  $("#conflict-hold").addEventListener("click", () => answerConflictConfirm(false));

  $("#words").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.spoken;
    placeByWords(incidents.get(selected), input.value.trim());
    input.value = "";
    input.blur();
  });

  // --- a phone call typed in (n): number, where, what, callback; Enter creates, Esc closes --
  // POST /api/v1/calls/manual with one Idempotency-Key per opened form, so a retry after a
  // lost answer is the same call. While the form is open a click on the map picks the place.
  const newCall = $("#new-call");
  let newCallKey = "";
  let picked = null; // {lat, lon, radius_m} clicked on the map, or null

  function randomKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(12)); // works on plain http too
    return "nc-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function openNewCall() {
    if (newCall.hidden) {
      newCall.reset();
      newCallKey = randomKey();
      setPicked(null);
      $("#nc-status").textContent = "";
      newCall.hidden = false;
    }
    newCall.elements.phone.focus();
  }

  function closeNewCall() {
    newCall.hidden = true;
    setPicked(null);
    if (newCall.contains(document.activeElement)) document.activeElement.blur();
  }

  function setPicked(point) {
    picked = point;
    const out = $("#nc-point");
    out.parentElement.toggleAttribute("data-picked", Boolean(point));
    out.textContent = point
      ? t("newcall.picked", { lat: point.lat.toFixed(5), lon: point.lon.toFixed(5), r: point.radius_m })
      : t("newcall.pick");
    $("#nc-clear").hidden = !point;
    requestDraw();
  }

  // A click on the map while the form is open: that point, within what 8 px cover (>= 15 m).
  function pickAt(px, py) {
    if (!mapData || !view.s) return;
    const x = view.cx + (px - width / 2) / view.s;
    const y = view.cy - (py - height / 2) / view.s;
    const lon = mapData.origin[0] + (x / mapData.quantum_m[0]) * mapData.quantum_deg;
    const lat = mapData.origin[1] + (y / mapData.quantum_m[1]) * mapData.quantum_deg;
    setPicked({ lat, lon, radius_m: Math.max(15, Math.round(8 / view.s)) });
  }

  async function submitNewCall() {
    const f = newCall.elements;
    const body = { phone: f.phone.value.trim(), callback_allowed: f.callback_allowed.checked };
    if (f.spoken.value.trim()) body.spoken = f.spoken.value.trim();
    if (picked) body.point = picked;
    if (f.complaint.value) body.complaint = f.complaint.value;
    if (f.notes.value.trim()) body.notes = f.notes.value.trim();
    $("#nc-status").textContent = t("newcall.creating");
    const init = {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Idempotency-Key": newCallKey },
      body: JSON.stringify(body),
    };
    let answer = null;
    let data = null;
    try {
      answer = await fetch("/api/v1/calls/manual", authorised(init));
      data = await answer.json();
    } catch (err) {
      data = null;
    }
    if (!answer || !answer.ok || !data || !data.incident_id) {
      const reason = (data && data.reason) || (answer ? `HTTP ${answer.status}` : "not connected");
      const text = reason === "invalid_request" ? t("newcall.invalid") : reason;
      $("#nc-status").textContent = t("newcall.not_created", { reason: text });
      f.phone.focus();
      return;
    }
    const inc = incidents.get(data.incident_id) || blankIncident(data.incident_id);
    if (!incidents.has(inc.id)) {
      incidents.set(inc.id, inc);
      setEstimate(inc, data.estimate);
      inc.receivedLocalMs = Date.now();
      if (body.complaint) inc.complaint = body.complaint;
    }
    inc.source = data.source;
    closeNewCall();
    select(inc.id);
    say(t(data.located ? "newcall.created" : "newcall.created_unplaced", { id: inc.id }), "ok");
  }

  newCall.addEventListener("submit", (event) => {
    event.preventDefault();
    submitNewCall();
  });
  newCall.addEventListener("keydown", (event) => {
    event.stopPropagation(); // the desk's keys stay out of the form
    if (event.key === "Escape") {
      event.preventDefault();
      closeNewCall();
    } else if (event.key === "Enter" && !(event.target instanceof HTMLButtonElement)
      && !(event.target instanceof HTMLInputElement && event.target.type !== "checkbox")) {
      event.preventDefault(); // a select or the checkbox: Enter creates the call too
      newCall.requestSubmit();
    }
  });
  $("#nc-cancel").addEventListener("click", closeNewCall);
  $("#nc-clear").addEventListener("click", () => setPicked(null));

  // The "call back" button: the number, read (and audited) on demand, shown for this call only.
  let shownCaller = null; // incident id whose number is on screen

  async function callBack(inc) {
    if (!inc) return;
    const out = $("#caller-number");
    out.textContent = "…";
    const r = await api("GET", `/api/v1/incidents/${encodeURIComponent(inc.id)}/caller`)
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (selected !== inc.id) return;
    shownCaller = inc.id;
    if (r.ok && r.data) {
      const allowed = t(r.data.callback_allowed ? "caller.callback_allowed" : "caller.no_callback");
      out.textContent = `${r.data.phone} · ${allowed}${r.data.notes ? ` · ${r.data.notes}` : ""}`;
    } else if (r.status === 410) {
      out.textContent = t("caller.purged");
    } else if (r.status === 404) {
      out.textContent = t("caller.none");
    } else {
      out.textContent = t("caller.not_read", { reason: (r.data && r.data.reason) || r.status || t("conn.not_connected") });
    }
  }

  $("#call-back").addEventListener("click", () => callBack(incidents.get(selected)));

  // --- keyboard -------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = (target instanceof HTMLInputElement && target.type !== "checkbox")
      || target instanceof HTMLSelectElement
      || target instanceof HTMLTextAreaElement;
    if (event.key === "Escape") {
      if (typing) target.blur();
      else if (pendingConfirm) answerConflictConfirm(false);
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey || stopped) return;
    if (pendingConfirm) { // a dispatch into a location conflict waits for y (or Esc)
      if (event.key === "y" || event.key === "Y") answerConflictConfirm(true);
      event.preventDefault();
      return;
    }
    const inc = selected ? incidents.get(selected) : null;
    if (event.shiftKey && event.key.startsWith("Arrow")) {
      const step = 120;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[event.key];
      panBy(d[0], -d[1]);
      event.preventDefault();
      return;
    }
    switch (event.key) {
      case "j":
      case "ArrowDown":
        move(1);
        break;
      case "k":
      case "ArrowUp":
        move(-1);
        break;
      case "Enter": {
        if (target instanceof HTMLButtonElement && target.closest("#desk")) return; // its own click
        if (!inc) return;
        const recs = inc.unit_id ? [] : inc.recs;
        if (!recs.length) {
          say(inc.unit_id ? `${inc.id} already has ${inc.unit_id}.` : "No recommendation to dispatch yet.", "error");
          break;
        }
        dispatchUnit(inc, recs[Math.min(marked, recs.length - 1)].unit_id);
        break;
      }
      case "]":
      case "[":
        if (inc && inc.recs.length) {
          marked = (marked + (event.key === "]" ? 1 : inc.recs.length - 1)) % inc.recs.length;
          renderRecs(inc);
          requestDraw();
        }
        break;
      case "1":
      case "2":
      case "3":
        triage(inc, Number(event.key));
        break;
      case "c":
        if (inc) $("#complaint").focus();
        break;
      case "w":
        if (inc) $("#words input").focus();
        break;
      case "m": // a note (memo) on the selected call
        if (inc) $("#note-form input").focus();
        break;
      case "n":
      case "N":
        openNewCall();
        break;
      case "b":
        callBack(inc);
        break;
      case "f":
        if (inc && inc.x !== null) centreOn(inc.x, inc.y, Math.max(view.s, 0.25));
        break;
      case "0":
        fitCity();
        break;
      case "+":
      case "=":
        zoomAt(1.5);
        break;
      case "-":
        zoomAt(1 / 1.5);
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // --- the map --------------------------------------------------------------------------
  const base = $("#map-base");
  const overlay = $("#map-overlay");
  const hospitalStatus = new Map();
  let mapData = null; // GET /api/v1/map, decoded
  let mapLoading = false;
  let roadPaths = []; // per class: Path2D in metres from the origin
  // Street names: one anchor per named polyline of the map (its middle, the direction there),
  // longest first; drawn along the road where it is long enough on screen (drawStreetNames).
  let labelAnchors = []; // {name, c (class), x, y (metres), dx, dy (direction), len_m}
  let streetLabelsDrawn = []; // the names drawn on the base map now (for the page tests)
  const LABEL_MIN_M = 120; // shorter named pieces carry no label
  const LABEL_SAME_NAME_PX = 260; // one street's labels at least this far apart on screen
  const LABEL_MAX = 120; // at most this many names on the screen at once
  const LABEL_FONT = "500 12px system-ui, \"Noto Sans CJK SC\", sans-serif";
  let view = { cx: 0, cy: 0, s: 0.05 }; // centre in metres, scale in px per metre
  let baseView = null; // the view the base canvas was drawn for
  let baseDirty = true;
  let settleTimer = null;
  let drawQueued = false;
  let width = 0;
  let height = 0;
  let dpr = 1;

  async function loadMap() {
    mapLoading = true;
    try {
      const r = await fetch("/api/v1/map", authorised({ cache: "no-cache" }));
      if (r.status === 401 || r.status === 403) return fatal(FATAL[4403]);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      decodeMap(await r.json());
      $("#map-status").hidden = true;
      for (const inc of incidents.values()) {
        project(inc);
        if (inc.sources) for (const p of sourcePoints(inc.sources)) project(p);
        for (const answer of [inc.route, inc.preview]) {
          if (answer && answer.points) for (const p of answer.points) project(p);
        }
      }
      for (const unit of units.values()) project(unit);
      fitCity();
    } catch (err) {
      $("#map-status").textContent = t("map.unavailable");
      setTimeout(() => { if (!stopped) loadMap(); }, 5000);
    } finally {
      mapLoading = false;
    }
  }

  function decodeMap(data) {
    const [qx, qy] = data.quantum_m;
    labelAnchors = [];
    roadPaths = data.roads.map((lines, c) => {
      const path = new Path2D();
      for (const line of lines) {
        let x = line[1];
        let y = line[2];
        path.moveTo(x * qx, y * qy);
        const points = line[0] >= 0 ? [x * qx, y * qy] : null;
        for (let i = 3; i + 1 < line.length; i += 2) {
          x += line[i];
          y += line[i + 1];
          path.lineTo(x * qx, y * qy);
          if (points) points.push(x * qx, y * qy);
        }
        if (points) addLabelAnchor(data.names[line[0]], c, points);
      }
      return path;
    });
    labelAnchors.sort((a, b) => b.len_m - a.len_m);
    const bbox = data.bbox;
    mapData = {
      ...data,
      roads: null, // drawn from roadPaths; the numbers are not kept
      extent: [toX(data, bbox[0]), toY(data, bbox[1]), toX(data, bbox[2]), toY(data, bbox[3])],
    };
    for (const h of mapData.hospitals) {
      h.x = toX(mapData, h.lon);
      h.y = toY(mapData, h.lat);
    }
    for (const a of mapData.aeds) {
      a.x = toX(mapData, a.lon);
      a.y = toY(mapData, a.lat);
    }
    mapData.stations = mapData.stations || [];
    for (const st of mapData.stations) {
      st.x = toX(mapData, st.lon);
      st.y = toY(mapData, st.lat);
    }
    renderLegend();
  }

  // The anchor of one named polyline (flat [x0, y0, x1, y1, ...] in metres): the point half-way
  // along it and the direction over the 60 m around it, so a bend does not tilt the label.
  function addLabelAnchor(name, c, points) {
    if (!name) return;
    const n = points.length / 2;
    const along = [0];
    for (let i = 1; i < n; i += 1) {
      along.push(along[i - 1] + Math.hypot(points[2 * i] - points[2 * i - 2], points[2 * i + 1] - points[2 * i - 1]));
    }
    const len = along[n - 1];
    if (!(len >= LABEL_MIN_M)) return;
    const at = (d) => {
      let i = 1;
      while (i < n - 1 && along[i] < d) i += 1;
      const seg = along[i] - along[i - 1] || 1;
      const f = Math.min(1, Math.max(0, (d - along[i - 1]) / seg));
      return [points[2 * i - 2] + f * (points[2 * i] - points[2 * i - 2]),
        points[2 * i - 1] + f * (points[2 * i + 1] - points[2 * i - 1])];
    };
    const [x, y] = at(len / 2);
    const [x0, y0] = at(Math.max(0, len / 2 - 30));
    const [x1, y1] = at(Math.min(len, len / 2 + 30));
    labelAnchors.push({ name, c, x, y, dx: x1 - x0, dy: y1 - y0, len_m: len });
  }

  // Street names along their roads (after the roads, under the markers): the longest pieces
  // first, each only where its road is drawn at this zoom and longer on screen than its name,
  // upright, not over another label, one street's labels well apart.
  function drawStreetNames(ctx) {
    streetLabelsDrawn = [];
    ctx.font = LABEL_FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    const placed = []; // [x0, y0, x1, y1] screen boxes
    const byName = new Map(); // name -> [[x, y], ...] where it is drawn
    const widths = new Map();
    for (const a of labelAnchors) {
      if (streetLabelsDrawn.length >= LABEL_MAX) break;
      const style = ROAD_STYLE[mapData.classes[a.c]];
      if (style && view.s < style[2]) continue; // its road is not drawn at this zoom
      const [x, y] = screen(a.x, a.y);
      if (x < 20 || y < 20 || x > width - 20 || y > height - 20) continue;
      let w = widths.get(a.name);
      if (w === undefined) widths.set(a.name, (w = ctx.measureText(a.name).width));
      if (a.len_m * view.s < w + 24) continue; // the road is shorter than its name here
      const same = byName.get(a.name) || [];
      if (same.some(([sx, sy]) => Math.hypot(sx - x, sy - y) < LABEL_SAME_NAME_PX)) continue;
      let angle = Math.atan2(-a.dy, a.dx); // screen y points down
      if (angle > Math.PI / 2) angle -= Math.PI;
      if (angle < -Math.PI / 2) angle += Math.PI;
      const cos = Math.abs(Math.cos(angle));
      const sin = Math.abs(Math.sin(angle));
      const hx = (cos * w) / 2 + sin * 8 + 2;
      const hy = (sin * w) / 2 + cos * 8 + 2;
      const box = [x - hx, y - hy, x + hx, y + hy];
      if (placed.some((b) => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3])) continue;
      placed.push(box);
      same.push([x, y]);
      byName.set(a.name, same);
      streetLabelsDrawn.push(a.name);
      ctx.save();
      ctx.translate(x, y);
      ctx.rotate(angle);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#0d1117";
      ctx.strokeText(a.name, 0, 0);
      ctx.fillStyle = "#9aa4ae";
      ctx.fillText(a.name, 0, 0);
      ctx.restore();
    }
    ctx.textAlign = "start";
    ctx.textBaseline = "alphabetic";
    base.dataset.streetLabels = String(streetLabelsDrawn.length);
  }

  function toX(data, lon) {
    return ((lon - data.origin[0]) / data.quantum_deg) * data.quantum_m[0];
  }

  function toY(data, lat) {
    return ((lat - data.origin[1]) / data.quantum_deg) * data.quantum_m[1];
  }

  function project(thing) {
    if (!mapData || typeof thing.lat !== "number") return;
    thing.x = toX(mapData, thing.lon);
    thing.y = toY(mapData, thing.lat);
  }

  function metresPerPx() {
    return 1 / view.s;
  }

  function screen(x, y) {
    return [width / 2 + (x - view.cx) * view.s, height / 2 - (y - view.cy) * view.s];
  }

  function fitCity() {
    if (!mapData || !width) return;
    const [x0, y0, x1, y1] = mapData.extent;
    const s = 0.95 * Math.min(width / Math.max(x1 - x0, 1), height / Math.max(y1 - y0, 1));
    setView((x0 + x1) / 2, (y0 + y1) / 2, s);
  }

  function centreOn(x, y, s) {
    setView(x, y, s);
  }

  function setView(cx, cy, s) {
    view = { cx, cy, s: Math.max(0.002, Math.min(20, s)) };
    viewChanged();
  }

  function panBy(dxPx, dyPx) {
    setView(view.cx - dxPx / view.s, view.cy + dyPx / view.s, view.s);
  }

  function zoomAt(factor, px = width / 2, py = height / 2) {
    const x = view.cx + (px - width / 2) / view.s;
    const y = view.cy - (py - height / 2) / view.s;
    const s = Math.max(0.002, Math.min(20, view.s * factor));
    setView(x - (px - width / 2) / s, y + (py - height / 2) / s, s);
  }

  // While the view moves, the base canvas (roads) is moved by a CSS transform, which the
  // compositor does off the main thread; it is drawn again once the view settles.
  function viewChanged() {
    if (baseView) {
      const k = view.s / baseView.s;
      const tx = (baseView.cx - view.cx) * view.s;
      const ty = -(baseView.cy - view.cy) * view.s;
      base.style.transform = `translate(${tx}px, ${ty}px) scale(${k})`;
    }
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => {
      baseDirty = true;
      requestDraw();
    }, SETTLE_MS);
    requestDraw();
    renderScale();
  }

  function requestDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(draw);
  }

  function resize() {
    const box = $("#map").getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    const first = !width;
    width = Math.round(box.width);
    height = Math.round(box.height);
    for (const c of [base, overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
    }
    baseDirty = true;
    if (first || !baseView) fitCity();
    requestDraw();
  }

  function draw() {
    drawQueued = false;
    if (rosterStale) rebuildRoster();
    if (!mapData || !width) return;
    if (baseDirty) drawBase();
    drawOverlay();
  }

  function drawBase() {
    baseDirty = false;
    baseView = { ...view };
    base.style.transform = "";
    const ctx = base.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, base.width, base.height);
    const t = dpr * view.s;
    ctx.setTransform(t, 0, 0, -t, dpr * (width / 2 - view.cx * view.s), dpr * (height / 2 + view.cy * view.s));
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    // slowest first, so arterials are drawn over the lanes they cross
    for (let c = mapData.classes.length - 1; c >= 0; c -= 1) {
      const style = ROAD_STYLE[mapData.classes[c]] || ["#30363d", 1, 0];
      if (view.s < style[2]) continue;
      ctx.strokeStyle = style[0];
      ctx.lineWidth = (style[1] * Math.min(2, Math.max(1, view.s / 0.5))) / view.s;
      ctx.stroke(roadPaths[c]);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (layers.streets) drawStreetNames(ctx);
    else base.dataset.streetLabels = String((streetLabelsDrawn = []).length);
    if (layers.stations) drawStations(ctx);
    if (layers.aeds && view.s >= 0.06) { // AEDs: small hollow squares, not taken for units
      ctx.strokeStyle = AED_COLOUR;
      ctx.lineWidth = 1.5;
      for (const a of mapData.aeds) {
        const [x, y] = screen(a.x, a.y);
        if (x < -5 || y < -5 || x > width + 5 || y > height + 5) continue;
        ctx.strokeRect(x - 3, y - 3, 6, 6);
      }
    }
    ctx.font = "600 11px system-ui, sans-serif";
    for (const h of mapData.hospitals) {
      const [x, y] = screen(h.x, h.y);
      if (x < -10 || y < -10 || x > width + 10 || y > height + 10) continue;
      const status = hospitalStatus.get(h.hospital_id);
      const diverted = status && (status.diverted || []).length > 0;
      ctx.fillStyle = diverted ? "#9e6a03" : "#da3633";
      ctx.fillRect(x - 7, y - 7, 14, 14);
      ctx.fillStyle = "#fff";
      ctx.fillRect(x - 1.5, y - 5, 3, 10);
      ctx.fillRect(x - 5, y - 1.5, 10, 3);
      if (view.s >= 0.12) {
        ctx.fillStyle = "#c9d1d9";
        ctx.fillText(h.name, x + 10, y + 4);
      }
    }
  }

  // Stations: a house, filled for the fleet's homes, outlined for the planned sites of the
  // station file; named from a closer zoom.
  function drawStations(ctx) {
    ctx.font = "600 10px system-ui, sans-serif";
    for (const st of mapData.stations) {
      const [x, y] = screen(st.x, st.y);
      if (x < -10 || y < -10 || x > width + 10 || y > height + 10) continue;
      ctx.beginPath();
      ctx.moveTo(x, y - 8);
      ctx.lineTo(x + 7, y - 2);
      ctx.lineTo(x + 7, y + 6);
      ctx.lineTo(x - 7, y + 6);
      ctx.lineTo(x - 7, y - 2);
      ctx.closePath();
      if (st.source === "demo_fleet" || st.source === "city_fleet") {
        ctx.fillStyle = STATION_COLOUR;
        ctx.fill();
        ctx.strokeStyle = "#f0f6fc";
        ctx.lineWidth = 1;
        ctx.setLineDash([]);
      } else {
        ctx.strokeStyle = STATION_COLOUR;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([2, 2]);
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (view.s >= 0.12) {
        ctx.fillStyle = "#d2a8ff";
        ctx.fillText(`${st.station_id} · ${st.units}`, x + 9, y + 4);
      }
    }
  }

  function drawRoute(ctx, answer, preview) {
    if (!answer || !answer.points || answer.points.length < 2 || answer.points[0].x == null) return;
    ctx.beginPath();
    answer.points.forEach((p, i) => {
      const [x, y] = screen(p.x, p.y);
      if (i) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
    });
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.setLineDash(preview ? [8, 6] : []);
    ctx.strokeStyle = preview ? "rgba(56, 139, 253, 0.7)" : ROUTE_COLOUR;
    ctx.lineWidth = preview ? 3 : 5;
    ctx.stroke();
    ctx.setLineDash([]);
  }

  // The ETA by the unit on the map, in a box so it reads over the roads.
  function drawEtaLabel(ctx, answer) {
    const unit = answer && answer.route ? units.get(answer.unit_id) : null;
    if (!unit || unit.x === null) return;
    const [x, y] = screen(unit.x, unit.y);
    const text = `${unit.id} · ETA ${fmtDuration(etaLeft(answer))}`;
    ctx.font = "700 12px system-ui, sans-serif";
    const w = ctx.measureText(text).width + 10;
    ctx.fillStyle = "rgba(13, 17, 23, 0.85)";
    ctx.fillRect(x + 9, y - 22, w, 18);
    ctx.strokeStyle = ROUTE_COLOUR;
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 9, y - 22, w, 18);
    ctx.fillStyle = "#f0f6fc";
    ctx.fillText(text, x + 14, y - 9);
  }

  function conflictRing(ctx, x, y, r) {
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = CONFLICT_COLOUR;
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function marker(ctx, x, y, r, colour, conflict) {
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.lineWidth = conflict ? 3 : 1.5;
    ctx.strokeStyle = conflict ? CONFLICT_COLOUR : "#0d1117";
    ctx.stroke();
  }

  // The selected call's sources: the cell's wedge (or circle), each fix with its 95 % circle,
  // each spoken candidate with its name and score; a source the alarm names ringed in red.
  function drawSources(ctx, src) {
    if (!src || !src.kept) return;
    const c = src.cell;
    if (c && c.known && c.x != null) { // != null: not projected before the map came
      const [sx, sy] = screen(c.x, c.y);
      const rMax = Math.max(2, c.r_max_m * view.s);
      const rMin = c.r_min_m * view.s;
      ctx.beginPath();
      if (c.omni) {
        ctx.arc(sx, sy, rMax, 0, 2 * Math.PI);
        if (rMin > 0) {
          ctx.moveTo(sx + rMin, sy);
          ctx.arc(sx, sy, rMin, 0, 2 * Math.PI, true);
        }
      } else { // clockwise from north on the map is the canvas angle minus 90°
        const a0 = ((c.azimuth_deg - c.half_width_deg - 90) * Math.PI) / 180;
        const a1 = ((c.azimuth_deg + c.half_width_deg - 90) * Math.PI) / 180;
        ctx.arc(sx, sy, rMax, a0, a1);
        ctx.arc(sx, sy, rMin, a1, a0, true);
        ctx.closePath();
      }
      ctx.fillStyle = "rgba(212, 212, 122, 0.10)";
      ctx.fill("evenodd");
      ctx.setLineDash(c.in_conflict ? [6, 4] : []);
      ctx.lineWidth = 2;
      ctx.strokeStyle = CELL_COLOUR;
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = CELL_COLOUR; // the mast
      ctx.fillRect(sx - 5, sy - 5, 10, 10);
      if (c.in_conflict) {
        ctx.strokeStyle = CONFLICT_COLOUR;
        ctx.lineWidth = 2;
        ctx.strokeRect(sx - 7, sy - 7, 14, 14);
      }
    }
    for (const f of src.fixes || []) {
      if (f.x == null) continue;
      const [x, y] = screen(f.x, f.y);
      ctx.beginPath();
      ctx.arc(x, y, Math.max(3, f.radius95_m * view.s), 0, 2 * Math.PI);
      ctx.fillStyle = "rgba(247, 120, 186, 0.12)";
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = FIX_COLOUR;
      ctx.stroke();
      if (f.in_conflict) conflictRing(ctx, x, y, Math.max(3, f.radius95_m * view.s) + 4);
      marker(ctx, x, y, 5, FIX_COLOUR, f.in_conflict);
    }
    const spoken = src.spoken;
    if (spoken) {
      ctx.font = "600 12px system-ui, sans-serif";
      spoken.candidates.forEach((p, i) => {
        if (p.x == null) return;
        const [x, y] = screen(p.x, p.y);
        if (p.radius_m * view.s > 8) {
          ctx.beginPath();
          ctx.arc(x, y, p.radius_m * view.s, 0, 2 * Math.PI);
          ctx.setLineDash([3, 4]);
          ctx.lineWidth = 1.5;
          ctx.strokeStyle = SPOKEN_COLOUR;
          ctx.stroke();
          ctx.setLineDash([]);
        }
        marker(ctx, x, y, 7, SPOKEN_COLOUR, spoken.in_conflict);
        ctx.fillStyle = "#0d1117";
        ctx.textAlign = "center";
        ctx.fillText(String(i + 1), x, y + 4);
        ctx.textAlign = "start";
        ctx.fillStyle = spoken.in_conflict ? "#ffa198" : SPOKEN_COLOUR;
        ctx.fillText(`${p.name} ${p.score.toFixed(2)}`, x + 10, y + 20); // under a hospital's name
      });
    }
  }

  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const inc = selected ? incidents.get(selected) : null;
    if (inc && layers.route) {
      if (inc.unit_id) drawRoute(ctx, inc.route, false);
      else if (inc.preview && inc.recs[marked] && inc.preview.unit_id === inc.recs[marked].unit_id) {
        drawRoute(ctx, inc.preview, true);
      }
    }
    // the selected call's 95 % circle, red and dashed when the sources disagree
    if (inc && inc.x !== null) {
      const [x, y] = screen(inc.x, inc.y);
      const r = Math.max(6, (inc.radius95_m || 0) * view.s);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = inc.conflict ? "rgba(248, 81, 73, 0.14)" : "rgba(88, 166, 255, 0.14)";
      ctx.fill();
      ctx.setLineDash(inc.conflict ? [6, 4] : []);
      ctx.lineWidth = 2;
      ctx.strokeStyle = inc.conflict ? "#f85149" : "#58a6ff";
      ctx.stroke();
      ctx.setLineDash([]);
      if (layers.sources) drawSources(ctx, inc.sources);
      // the recommended units, joined to the call; the marked one solid
      if (!inc.unit_id) {
        inc.recs.slice(0, 5).forEach((o, i) => {
          const unit = units.get(o.unit_id);
          if (!unit || unit.x === null) return;
          const [ux, uy] = screen(unit.x, unit.y);
          ctx.beginPath();
          ctx.moveTo(ux, uy);
          ctx.lineTo(x, y);
          ctx.setLineDash(i === marked ? [] : [4, 5]);
          ctx.strokeStyle = i === marked ? "#e3b341" : "rgba(227, 179, 65, 0.55)";
          ctx.lineWidth = i === marked ? 2 : 1;
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = "#e3b341";
          ctx.font = "700 12px system-ui, sans-serif";
          ctx.fillText(String(i + 1), ux + 8, uy - 8);
        });
      } else if (!(layers.route && inc.route && inc.route.points)) { // no road route yet
        const unit = units.get(inc.unit_id);
        if (unit && unit.x !== null) {
          const [ux, uy] = screen(unit.x, unit.y);
          ctx.beginPath();
          ctx.moveTo(ux, uy);
          ctx.lineTo(x, y);
          ctx.strokeStyle = "#f0883e";
          ctx.lineWidth = 2;
          ctx.stroke();
        }
      }
      inc.aeds.forEach((a, i) => { // the call's AEDs, numbered as in the list
        const [ax, ay] = screen(toX(mapData, a.lon), toY(mapData, a.lat));
        ctx.fillStyle = AED_COLOUR;
        ctx.fillRect(ax - 7, ay - 7, 14, 14);
        ctx.strokeStyle = "#f0f6fc";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(ax - 7, ay - 7, 14, 14);
        ctx.fillStyle = "#0d1117";
        ctx.font = "700 10px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText(String(i + 1), ax, ay + 3.5);
        ctx.textAlign = "start";
      });
    }
    // units: one path per status, filled once
    const byStatus = new Map();
    for (const unit of units.values()) {
      if (unit.x === null) continue;
      const [x, y] = screen(unit.x, unit.y);
      if (x < -8 || y < -8 || x > width + 8 || y > height + 8) continue;
      let path = byStatus.get(unit.status);
      if (!path) byStatus.set(unit.status, (path = new Path2D()));
      if (unit.capability === "als") {
        path.moveTo(x, y - 6);
        path.lineTo(x + 6, y);
        path.lineTo(x, y + 6);
        path.lineTo(x - 6, y);
        path.closePath();
      } else {
        path.moveTo(x + 4.5, y);
        path.arc(x, y, 4.5, 0, 2 * Math.PI);
      }
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#0d1117";
    for (const [status, path] of byStatus) {
      ctx.fillStyle = (STATUS[status] || ["", "#8b949e"])[1];
      ctx.fill(path);
      ctx.stroke(path);
    }
    // a unit whose position is older than JIJIU_UNIT_STALE_S: a dashed ring, "where it was"
    ctx.setLineDash([2, 2]);
    ctx.strokeStyle = "#d29922";
    for (const unit of units.values()) {
      if (!unit.stale || unit.x === null) continue;
      const [x, y] = screen(unit.x, unit.y);
      ctx.beginPath();
      ctx.arc(x, y, 9, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (view.s >= 0.35) {
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = "#c9d1d9";
      for (const unit of units.values()) {
        if (unit.x === null) continue;
        const [x, y] = screen(unit.x, unit.y);
        if (x < 0 || y < 0 || x > width || y > height) continue;
        ctx.fillText(unit.id, x + 8, y + 4);
      }
    }
    if (inc && inc.unit_id && layers.route) drawEtaLabel(ctx, inc.route);
    // calls: a ring in the priority's colour; the selected one larger
    for (const other of incidents.values()) {
      if (other.x === null) continue;
      const [x, y] = screen(other.x, other.y);
      const big = other.id === selected;
      ctx.beginPath();
      ctx.moveTo(x, y - (big ? 11 : 8));
      ctx.lineTo(x + (big ? 9 : 7), y + (big ? 7 : 5));
      ctx.lineTo(x - (big ? 9 : 7), y + (big ? 7 : 5));
      ctx.closePath();
      ctx.fillStyle = PRIORITY_COLOUR[other.priority] || "#d29922";
      ctx.fill();
      ctx.lineWidth = big ? 2.5 : 1.5;
      ctx.strokeStyle = other.conflict ? "#ffa198" : "#f0f6fc";
      ctx.stroke();
    }
    // the place picked for a new phone call: a cross in its radius
    if (picked && mapData) {
      const [x, y] = screen(toX(mapData, picked.lon), toY(mapData, picked.lat));
      ctx.beginPath();
      ctx.arc(x, y, Math.max(6, picked.radius_m * view.s), 0, 2 * Math.PI);
      ctx.moveTo(x - 9, y);
      ctx.lineTo(x + 9, y);
      ctx.moveTo(x, y - 9);
      ctx.lineTo(x, y + 9);
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#e3b341";
      ctx.stroke();
    }
  }

  function renderLegend() {
    const item = (label, kind, colour) => {
      const span = document.createElement("span");
      const mark = document.createElement("i");
      mark.className = kind;
      if (colour) mark.style.background = colour; // CSSOM: allowed by style-src 'self'
      span.append(mark, label);
      return span;
    };
    $("#legend").replaceChildren(
      ...Object.values(STATUS).map(([label, colour]) => item(label, "mark-unit", colour)),
      item("ALS", "mark-als"), item("BLS", "mark-bls"), item(t("legend.call"), "mark-call"),
      item(t("legend.hospital"), "mark-hospital"), item("AED", "mark-aed"),
      item(t("legend.station"), "mark-station"), item(t("legend.route"), "mark-route"),
    );
  }

  function renderScale() {
    if (!width) return;
    const target = 120 * metresPerPx(); // metres under about 120 px
    const nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
    const m = nice.find((n) => n >= target / 2) || nice[nice.length - 1];
    $("#scale i").style.width = `${Math.round(m * view.s)}px`;
    $("#scale span").textContent = m >= 1000 ? `${m / 1000} km` : `${m} m`;
  }

  // pointer: drag to pan, wheel to zoom about the cursor, click a call to select it
  let drag = null;
  overlay.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false };
    overlay.setPointerCapture(event.pointerId);
  });
  overlay.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 3) return;
    drag.moved = true;
    drag.x = event.clientX;
    drag.y = event.clientY;
    panBy(dx, dy);
  });
  overlay.addEventListener("pointerup", (event) => {
    const wasClick = drag && !drag.moved;
    drag = null;
    if (!wasClick) return;
    const box = overlay.getBoundingClientRect();
    const px = event.clientX - box.left;
    const py = event.clientY - box.top;
    if (!newCall.hidden) return pickAt(px, py); // the new call's place, not a selection
    let best = null;
    let bestD = 14;
    for (const inc of incidents.values()) {
      if (inc.x === null) continue;
      const [x, y] = screen(inc.x, inc.y);
      const d = Math.hypot(x - px, y - py);
      if (d < bestD) {
        best = inc;
        bestD = d;
      }
    }
    if (best) select(best.id);
  });
  overlay.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = overlay.getBoundingClientRect();
    const unit = event.deltaMode === 1 ? 30 : 1; // lines or pixels
    zoomAt(Math.exp(-event.deltaY * unit * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });

  // layers: each checkbox shows or hides its layer (stations and AEDs are on the base map)
  for (const box of document.querySelectorAll("#layers input[data-layer]")) {
    box.addEventListener("change", () => {
      layers[box.dataset.layer] = box.checked;
      baseDirty = true;
      requestDraw();
    });
  }

  // --- the fleet: counts in the header, a roster by status --------------------------------
  let rosterStale = false;
  function rebuildRoster() {
    rosterStale = false;
    const roster = $("#roster");
    const ids = [...units.keys()].sort();
    roster.replaceChildren(...ids.map((id) => {
      const li = document.createElement("li");
      li.dataset.unit = id;
      updateRosterRow(units.get(id), li);
      return li;
    }));
    $("#fleet-size").textContent = String(units.size);
    renderCounts();
  }

  function updateRosterRow(unit, li) {
    li = li || $(`#roster li[data-unit="${CSS.escape(unit.id)}"]`);
    if (!li) return;
    li.dataset.status = unit.status;
    const label = STATUS[unit.status] ? STATUS[unit.status][0] : unit.status;
    li.textContent = `${unit.id} ${String(unit.capability).toUpperCase()} · ${label}`
      + (unit.incident_id ? ` · ${unit.incident_id}` : "");
  }

  function renderCounts() {
    const counts = {};
    for (const unit of units.values()) counts[unit.status] = (counts[unit.status] || 0) + 1;
    const out = $("#fleet-counts");
    out.replaceChildren(...Object.entries(STATUS).filter(([key]) => counts[key]).map(([key, [label]]) => {
      const span = document.createElement("span");
      span.dataset.status = key;
      span.textContent = `${counts[key]} ${label}`;
      return span;
    }));
  }

  // --- once a second: clock, ages, offer countdowns --------------------------------------
  function everySecond() {
    $("#clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
    for (const li of $("#queue").children) {
      const inc = incidents.get(li.dataset.incident);
      if (inc) $(".age", li).textContent = fmtCallAge(inc);
      if (inc) markOverdue(li, inc);
    }
    const inc = selected ? incidents.get(selected) : null;
    if (inc) {
      $("#d-age").textContent = fmtCallAge(inc);
      renderAssigned(inc);
      if (inc.unit_id && inc.routeAsked && Date.now() - inc.routeAtMs > ROUTE_EVERY_MS) askRoute(inc);
      renderRoute(inc);
      if (inc.route && inc.route.route) requestDraw(); // the ETA by the unit counts down
    }
  }

  function start() {
    if (!readToken()) {
      $("#login").hidden = false;
      $("#desk").classList.add("locked");
      return;
    }
    stopped = false;
    lastSeq = null;
    attempt = 0;
    $("#desk").classList.remove("locked");
    connect();
    checkReady();
  }

  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.slice(1)).get("token")) location.reload();
  });
  new ResizeObserver(resize).observe($("#map"));
  // Read-only, for the browser tests: where a unit's mark is on the overlay canvas (CSS px)
  // and the status it is drawn with, so a test can read the pixel the dispatcher sees.
  window.jijiuMap = Object.freeze({
    unitOnScreen(id) {
      const unit = units.get(id);
      if (!unit || unit.x === null || unit.x === undefined) return null;
      const [x, y] = screen(unit.x, unit.y);
      return { x, y, dpr, status: unit.status };
    },
    streetLabels() { // the street names drawn on the base map now
      return [...streetLabelsDrawn];
    },
  });
  // What the protocol panel (protocol.js, key q) needs of the desk: the selected call, the
  // authorised API, and a triaged incident's view to show.
  window.jijiuDesk = Object.freeze({
    selected: () => (selected ? incidents.get(selected) || null : null),
    api,
    triaged(view) {
      changed(upsertIncident(view));
    },
    say,
  });
  window.jijiuI18n.ready.then(() => {
    localise();
    everySecond();
    setInterval(everySecond, 1000);
    setInterval(() => { if (!stopped && token) checkReady(); }, READY_EVERY_MS);
    start();
  });
})();

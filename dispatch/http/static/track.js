// The caller's tracking page: /track#token=<caller token> (the link a dispatcher sends by SMS,
// or the app opens). The token stays in the fragment, which no request carries, so it reaches
// no access log. The page asks GET /api/v1/tracking (bearer: that token) for its incident,
// where the websockets listen and which "what to do now" card to show, then opens
// /ws/calls/{incident}?token=... and draws the coming ambulance on a canvas (no tile server),
// its ETA counting down and its status. It ends on arrival (the server closes the socket once
// the unit is on scene); once the incident closes the route answers 410 and the socket 4404,
// and the page shows that the link is no longer valid, with no data (docs/wire-protocol.md).
"use strict";

(() => {
  const STRINGS = {
    zh: {
      title: "救护车正在路上",
      toggle: "English",
      eta: "预计到达",
      todo: "现在请这样做",
      aeds: "附近的AED（自动体外除颤器）",
      arrived: "救护车已到达",
      arrivedNote: "请开门迎接急救人员，并告诉他们患者的情况。",
      dead: "此链接已失效",
      deadNote: "该急救事件已结束，或链接不正确。如需帮助，请拨打120。",
      waiting: "正在为您安排救护车",
      assigned: "已指派救护车",
      acknowledged: "救护车已接单，即将出发",
      coming: "救护车正在赶来",
      noEta: "计算中",
      min: "分",
      sec: "秒",
      walk: "步行约",
      minutes: "分钟",
      you: "您的位置",
      unit: "救护车",
      connecting: "正在连接…",
      connected: "实时更新中",
      reconnecting: "网络中断，正在重连…",
      ended: "跟踪已结束",
      cpr: [
        "确认周围环境安全，拍打患者双肩并大声呼唤。",
        "没有反应、没有正常呼吸：立即开始胸外按压。",
        "双手交叠放在胸部正中，用力快速按压：每分钟100–120次，深5–6厘米。",
        "每次按压后让胸部完全回弹，尽量不要中断，直到急救人员接手。",
        "如附近有AED，请旁人立即取来，开机后按语音提示操作。",
        "打开手机免提，听从调度员的指导。",
      ],
      general: [
        "保持电话畅通，调度员可能会回拨。",
        "打开门锁，打开楼道灯，清理通道。",
        "如有可能，请人到路口或楼下迎接救护车。",
        "准备好患者的药物、病历和身份证件。",
        "不要给患者进食或饮水。",
        "病情加重请立即再次拨打120。",
      ],
    },
    en: {
      title: "Your ambulance is on its way",
      toggle: "中文",
      eta: "Arriving in",
      todo: "What to do now",
      aeds: "AEDs (defibrillators) nearby",
      arrived: "The ambulance has arrived",
      arrivedNote: "Open the door for the crew and tell them what happened.",
      dead: "This link is no longer valid",
      deadNote: "The emergency is over, or the link is wrong. If you need help, call 120.",
      waiting: "Finding an ambulance for you",
      assigned: "An ambulance is assigned",
      acknowledged: "The crew has the job and is leaving",
      coming: "The ambulance is coming",
      noEta: "working it out",
      min: "min",
      sec: "s",
      walk: "walk about",
      minutes: "min",
      you: "You",
      unit: "Ambulance",
      connecting: "Connecting…",
      connected: "Live",
      reconnecting: "Connection lost, reconnecting…",
      ended: "Tracking ended",
      cpr: [
        "Make sure it is safe; tap the person's shoulders and shout.",
        "No response and not breathing normally: start chest compressions now.",
        "Hands on the centre of the chest; push hard and fast: 100–120 a minute, 5–6 cm deep.",
        "Let the chest rise fully after each push; do not stop until the crew takes over.",
        "If there is an AED nearby, send someone for it; switch it on and follow its voice.",
        "Put the phone on speaker and follow the dispatcher.",
      ],
      general: [
        "Keep your phone free: the dispatcher may call you back.",
        "Unlock the door, turn on the stairway lights, clear the way.",
        "If you can, send someone to meet the ambulance at the street.",
        "Have the patient's medicines, records and ID ready.",
        "Do not give the patient food or drink.",
        "If anything gets worse, call 120 again.",
      ],
    },
  };
  // The steps that say how far the unit is (timeline names), the status each shows.
  const STATUS_OF = { unit_notified: "assigned", unit_acknowledged: "acknowledged", en_route: "coming" };
  const ARRIVED = new Set(["on_scene", "left_scene", "at_destination", "transfer_of_care"]);
  const GONE = new Set(["cancelled", "closed"]);
  const DEAD_CODES = new Set([4401, 4403, 4404]); // the socket refuses the token or the incident

  const $ = (selector) => document.querySelector(selector);
  let lang = "zh";
  let token = "";
  let phase = "live"; // live, arrived or dead
  let attempt = 0;
  let socket = null;
  let view = emptyView();

  function emptyView() {
    return { incidentId: "", base: "", advice: "general", aeds: [], place: null, status: "waiting",
      unit: null, trail: [], etaAtMs: null };
  }

  function t(key) {
    return STRINGS[lang][key];
  }

  function tokenOf(hash) {
    const text = hash.replace(/^#/, "");
    const named = new URLSearchParams(text).get("token");
    if (named) return named;
    return /^[A-Za-z0-9_-]{16,64}$/.test(text) ? text : ""; // a bare /track#<token>
  }

  async function start() {
    if (phase !== "live") return;
    setConnection(attempt ? "reconnecting" : "connecting");
    let answer;
    try {
      answer = await fetch("/api/v1/tracking", {
        headers: { Authorization: `Bearer ${token}` },
        cache: "no-store",
      });
    } catch (err) {
      return retry();
    }
    if ([401, 403, 404, 410].includes(answer.status)) return dead();
    if (!answer.ok) return retry();
    const info = await answer.json();
    view.incidentId = info.incident_id;
    view.base = info.websocket;
    view.advice = info.advice;
    view.aeds = Array.isArray(info.aeds) ? info.aeds : [];
    $("#live").hidden = false;
    render();
    connect();
  }

  function connect() {
    const query = new URLSearchParams({ token });
    const ws = new WebSocket(`${view.base}/ws/calls/${encodeURIComponent(view.incidentId)}?${query}`);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setConnection("connected");
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (frame && typeof frame === "object" && phase === "live") onFrame(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      if (phase !== "live") return;
      if (DEAD_CODES.has(event.code)) return dead();
      retry();
    };
  }

  function retry() {
    if (phase !== "live") return;
    attempt += 1;
    setConnection("reconnecting");
    const delayMs = Math.min(10000, 500 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() / 2);
    setTimeout(start, delayMs);
  }

  function onFrame(frame) {
    if (frame.type === "snapshot" && frame.incident) {
      const inc = frame.incident;
      if (!inc.open) return dead();
      view.place = inc.place;
      const names = (inc.timeline || []).map((entry) => entry.name);
      if (names.some((name) => GONE.has(name))) return dead();
      if (names.some((name) => ARRIVED.has(name))) return arrive();
      for (const name of names) if (STATUS_OF[name]) view.status = STATUS_OF[name];
      if (inc.unit) approach(inc.unit);
    } else if (frame.type === "incident.stepped") {
      if (GONE.has(frame.name)) return dead();
      if (ARRIVED.has(frame.name)) return arrive();
      if (STATUS_OF[frame.name]) view.status = STATUS_OF[frame.name];
    } else if (frame.type === "unit.approaching") {
      approach(frame);
    }
    render();
  }

  function approach(unit) {
    if (typeof unit.lat !== "number" || typeof unit.lon !== "number") return;
    view.unit = { lat: unit.lat, lon: unit.lon, etaS: typeof unit.eta_s === "number" ? unit.eta_s : null };
    view.etaAtMs = view.unit.etaS === null ? null : Date.now() + view.unit.etaS * 1000;
    const last = view.trail[view.trail.length - 1];
    if (!last || last.lat !== unit.lat || last.lon !== unit.lon) view.trail.push({ lat: unit.lat, lon: unit.lon });
    if (view.trail.length > 600) view.trail.shift();
    if (view.status === "waiting" || view.status === "assigned") view.status = "acknowledged";
  }

  function arrive() {
    phase = "arrived";
    view = emptyView();
    $("#live").hidden = true;
    $("#arrived").hidden = false;
    setConnection("ended");
    if (socket) socket.close(1000);
    translate();
  }

  function dead() {
    phase = "dead";
    view = emptyView(); // nothing of the incident stays on the page
    token = "";
    $("#live").hidden = true;
    $("#arrived").hidden = true;
    $("#dead").hidden = false;
    $("#steps").replaceChildren();
    $("#aed-list").replaceChildren();
    $("#address").textContent = "";
    setConnection("ended");
    if (socket) socket.close(1000);
    translate();
  }

  function setConnection(state) {
    const el = $("#connection");
    el.dataset.state = state;
    el.textContent = t(state);
  }

  // --- drawing --------------------------------------------------------------------------------
  function render() {
    translate();
    if (phase !== "live") return;
    const status = $("#status");
    status.dataset.state = view.status;
    status.textContent = t(view.status);
    $("#address").textContent = view.place ? view.place.description : "";
    renderEta();
    const todo = $("#todo");
    todo.dataset.advice = view.advice;
    $("#steps").replaceChildren(...t(view.advice).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
    $("#aeds").hidden = view.aeds.length === 0;
    $("#aed-list").replaceChildren(...view.aeds.map((aed) => {
      const li = document.createElement("li");
      li.textContent = [aed.description, aed.location].filter(Boolean).join(" · ") || "AED";
      const small = document.createElement("small");
      small.textContent = ` ${t("walk")} ${Math.max(1, Math.round(aed.walk_s / 60))} ${t("minutes")}: ${aed.directions || ""}`;
      li.append(small);
      return li;
    }));
    drawMap();
  }

  function renderEta() {
    const eta = $("#eta");
    if (!view.unit) {
      eta.textContent = "—";
      delete eta.dataset.etaS;
      return;
    }
    if (view.etaAtMs === null) {
      eta.textContent = t("noEta");
      delete eta.dataset.etaS;
      return;
    }
    eta.dataset.etaS = String(Math.round(view.unit.etaS)); // the server's last ETA
    const leftS = Math.max(0, Math.round((view.etaAtMs - Date.now()) / 1000));
    const minutes = Math.floor(leftS / 60);
    eta.textContent = minutes ? `${minutes} ${t("min")} ${leftS % 60} ${t("sec")}` : `${leftS} ${t("sec")}`;
  }

  function drawMap() {
    const canvas = $("#map");
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#0b0f14";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const points = [...view.trail];
    if (view.place) points.push(view.place);
    if (!points.length) return;
    const lat0 = points.reduce((s, p) => s + p.lat, 0) / points.length;
    const lon0 = points.reduce((s, p) => s + p.lon, 0) / points.length;
    const kx = 111320 * Math.cos((lat0 * Math.PI) / 180); // metres per degree of longitude here
    const ky = 110540; // metres per degree of latitude
    const xy = points.map((p) => [(p.lon - lon0) * kx, (p.lat - lat0) * ky]);
    const spanM = Math.max(300, ...xy.map(([x, y]) => Math.max(Math.abs(x) * 2, Math.abs(y) * 2 * 16 / 9)));
    const scale = (canvas.width - 60) / spanM; // px per metre
    const at = (p) => [canvas.width / 2 + (p.lon - lon0) * kx * scale, canvas.height / 2 - (p.lat - lat0) * ky * scale];
    drawGrid(ctx, canvas, scale);
    if (view.trail.length > 1) {
      ctx.strokeStyle = "#58a6ff";
      ctx.lineWidth = 3;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      view.trail.forEach((p, i) => (i ? ctx.lineTo(...at(p)) : ctx.moveTo(...at(p))));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (view.place) {
      const [x, y] = at(view.place);
      const radiusPx = Math.min(canvas.width, (view.place.radius95_m || 0) * scale);
      if (radiusPx > 6) {
        ctx.fillStyle = "rgba(248, 81, 73, 0.12)";
        ctx.beginPath();
        ctx.arc(x, y, radiusPx, 0, 2 * Math.PI);
        ctx.fill();
      }
      marker(ctx, x, y, "#f85149", t("you"), 18); // below the pin: the unit's label is above
    }
    if (view.unit) {
      const [x, y] = at(view.unit);
      marker(ctx, x, y, "#3fb950", t("unit"), -10);
    }
  }

  function drawGrid(ctx, canvas, scale) {
    const stepM = [50, 100, 200, 500, 1000, 2000, 5000, 10000].find((m) => m * scale >= 60) || 20000;
    ctx.strokeStyle = "#1c2430";
    ctx.lineWidth = 1;
    for (let x = (canvas.width / 2) % (stepM * scale); x < canvas.width; x += stepM * scale) {
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, canvas.height);
      ctx.stroke();
    }
    for (let y = (canvas.height / 2) % (stepM * scale); y < canvas.height; y += stepM * scale) {
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(canvas.width, y);
      ctx.stroke();
    }
    ctx.fillStyle = "#8b949e";
    ctx.font = "12px sans-serif";
    ctx.fillRect(12, canvas.height - 14, stepM * scale, 3);
    ctx.fillText(stepM >= 1000 ? `${stepM / 1000} km` : `${stepM} m`, 12, canvas.height - 20);
  }

  function marker(ctx, x, y, colour, label, labelDy) {
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(x, y, 8, 0, 2 * Math.PI);
    ctx.fill();
    ctx.strokeStyle = "#0d1117";
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.font = "bold 14px sans-serif";
    ctx.fillText(label, x + 12, y + labelDy);
  }

  function translate() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const el of document.querySelectorAll("[data-text]")) el.textContent = t(el.dataset.text);
    $("#lang").textContent = t("toggle");
    document.title = `${t(phase === "dead" ? "dead" : phase === "arrived" ? "arrived" : "title")} · jijiu`;
    const connection = $("#connection");
    connection.textContent = t(connection.dataset.state);
  }

  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    render();
  });
  setInterval(() => {
    if (phase === "live") renderEta();
  }, 1000);
  window.addEventListener("hashchange", () => location.reload());

  token = tokenOf(location.hash);
  translate();
  if (!token) dead();
  else start();
})();

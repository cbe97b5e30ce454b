// The console's call-taking protocol panel: `q` on the selected call opens it.
//
// The question sets come from GET /api/v1/protocols (data, docs/protocols.md); the set that
// fits the call's complaint is asked first (another can be chosen). Each question shows in
// Chinese first, then English; its answers are big buttons, keys 1-9; Backspace goes back one
// question, Esc closes. The last answer posts the path to /api/v1/incidents/{id}/protocol,
// which triages the call. When that finds a cardiac arrest the telephone-CPR script shows with
// a compression metronome (a visual pulse, and a beep if `m` turns the sound on, at the
// script's rate, 110/min); Enter records that coaching started (POST .../tcpr, shown with its
// time), `x` that it stopped. Everything is keyboard-first, as the rest of the console.
"use strict";

(() => {
  const FIRST_SET = {
    cardiac_arrest: "arrest", chest_pain: "chest_pain", stroke: "stroke", trauma: "trauma",
    breathing: "breathing", obstetric: "childbirth", paediatric: "other", other: "other",
  };
  const $ = (sel, root = document) => root.querySelector(sel);
  const desk = () => window.jijiuDesk;
  let catalogue = null; // GET /api/v1/protocols: {sets, tcpr}
  const sessions = new Map(); // incident id -> {setId, path, done, coaching, startedAt}
  let current = null; // the open session, with its incident id
  let metronome = null; // {timer, beats}
  let audio = null; // an AudioContext, made on the first `m` (a key press may start sound)
  let sound = false;

  // --- the panel ------------------------------------------------------------------------
  const panel = document.createElement("section");
  panel.id = "protocol";
  panel.className = "protocol";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "call-taking protocol 问诊");
  panel.hidden = true;
  panel.innerHTML = `
    <header><h2 id="pr-title"></h2>
      <label class="pr-set">问题集 <small>Set</small> <select id="pr-set"></select></label>
      <button type="button" id="pr-close">关闭 <small>Close</small> <kbd>Esc</kbd></button></header>
    <div id="pr-ask">
      <p id="pr-question-zh" class="pr-zh" lang="zh"></p>
      <p id="pr-question-en" class="pr-en" lang="en"></p>
      <ol id="pr-answers" class="pr-answers"></ol>
      <p class="pr-hint"><kbd>1</kbd>–<kbd>9</kbd> 回答 answer · <kbd>Backspace</kbd> 上一题 back</p>
    </div>
    <div id="pr-result" class="pr-result" hidden>
      <p id="pr-determinant" class="pr-determinant"></p>
      <ul id="pr-reasons" class="pr-reasons"></ul>
    </div>
    <div id="pr-tcpr" class="pr-tcpr" hidden>
      <h3 id="pr-tcpr-title"></h3>
      <div class="pr-metronome">
        <span id="pr-beat" class="pr-beat" aria-hidden="true"></span>
        <span><b id="pr-rate"></b>/分钟 min · <span id="pr-count">0</span> 次 pushes</span>
        <button type="button" id="pr-sound" aria-pressed="false">声音 <small>Sound</small> <kbd>m</kbd></button>
      </div>
      <p class="row"><button type="button" id="pr-start">开始指导 <small>Start coaching</small> <kbd>Enter</kbd></button>
        <button type="button" id="pr-stop" hidden>停止指导 <small>Stop</small> <kbd>x</kbd></button></p>
      <p id="pr-started" class="pr-started" role="status"></p>
      <ol id="pr-steps" class="pr-steps"></ol>
    </div>
    <p id="pr-status" class="pr-status" role="status"></p>`;
  document.body.append(panel);

  function status(text, kind = "") {
    $("#pr-status").textContent = text;
    $("#pr-status").dataset.kind = kind;
  }

  function setOf(id) {
    return catalogue.sets.find((s) => s.id === id) || catalogue.sets[0];
  }

  async function open() {
    const inc = desk() && desk().selected();
    if (!inc) return desk() && desk().say("先选择一个来电 Select a call first (j / k).", "error");
    if (!catalogue) {
      const r = await desk().api("GET", "/api/v1/protocols").catch(() => ({ ok: false }));
      if (!r.ok) return desk().say(`问题集无法读取 Protocols not loaded (${r.status || "offline"}).`, "error");
      catalogue = r.data;
      $("#pr-set").replaceChildren(...catalogue.sets.map((s) => new Option(`${s.title["zh-CN"]} ${s.title.en}`, s.id)));
    }
    if (!sessions.has(inc.id)) {
      sessions.set(inc.id, { setId: FIRST_SET[inc.complaint] || "other", path: [], done: null, coaching: false, startedAt: null });
    }
    current = { id: inc.id, ...sessions.get(inc.id) };
    sessions.set(inc.id, current);
    panel.hidden = false;
    status("");
    render();
    if (current.coaching) startMetronome();
  }

  function close() {
    stopMetronome();
    panel.hidden = true;
    current = null;
  }

  function walk() {
    // The question the path leads to, or the outcome it ended in (as the server will find).
    const set = setOf(current.setId);
    let question = set.questions.find((q) => q.id === set.start);
    for (const [qid, aid] of current.path) {
      const answer = question.answers.find((a) => a.id === aid && question.id === qid);
      if (answer.outcome) return { set, outcome: set.outcomes.find((o) => o.id === answer.outcome) };
      question = set.questions.find((q) => q.id === answer.next);
    }
    return { set, question };
  }

  function render() {
    const { set, question } = walk();
    $("#pr-title").textContent = `问诊 ${current.id} · ${set.title["zh-CN"]} ${set.title.en} · v${set.version}`;
    $("#pr-set").value = set.id;
    $("#pr-set").disabled = Boolean(current.done);
    $("#pr-ask").hidden = !question || Boolean(current.done);
    if (question && !current.done) {
      $("#pr-question-zh").textContent = question.text["zh-CN"];
      $("#pr-question-en").textContent = question.text.en;
      $("#pr-answers").replaceChildren(...question.answers.map((a, i) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "pr-answer";
        b.dataset.answer = a.id;
        b.innerHTML = `<kbd>${i + 1}</kbd> <span lang="zh"></span> <small></small>`;
        b.querySelector("span").textContent = a.label["zh-CN"];
        b.querySelector("small").textContent = a.label.en;
        b.addEventListener("click", () => answer(i));
        li.append(b);
        return li;
      }));
    }
    renderResult();
  }

  function renderResult() {
    const done = current.done;
    $("#pr-result").hidden = !done;
    $("#pr-tcpr").hidden = !(done && done.tcpr);
    if (!done) return;
    $("#pr-determinant").textContent = `${done.determinant} · P${done.priority} · ${done.complaint}`;
    $("#pr-determinant").dataset.priority = String(done.priority);
    $("#pr-reasons").replaceChildren(...done.reasons.map((r) => {
      const li = document.createElement("li");
      li.textContent = `${r["zh-CN"]} — ${r.en}`;
      return li;
    }));
    if (!done.tcpr) return;
    const script = catalogue.tcpr;
    $("#pr-tcpr-title").textContent = `${script.title["zh-CN"]} ${script.title.en}`;
    $("#pr-rate").textContent = String(script.rate_per_min);
    $("#pr-steps").replaceChildren(...script.steps.map((s) => {
      const li = document.createElement("li");
      const zh = document.createElement("span");
      zh.lang = "zh";
      zh.textContent = s["zh-CN"];
      const en = document.createElement("small");
      en.textContent = s.en;
      li.append(zh, en);
      return li;
    }));
    $("#pr-start").hidden = current.coaching;
    $("#pr-stop").hidden = !current.coaching;
    $("#pr-started").textContent = current.startedAt
      ? `${current.coaching ? "指导中" : "已停止"} coaching ${current.coaching ? "started" : "stopped"} ${current.startedAt}` : "";
  }

  async function answer(index) {
    if (!current || current.done || current.posting) return;
    const { question } = walk();
    const chosen = question && question.answers[index];
    if (!chosen) return;
    current.path.push([question.id, chosen.id]);
    if (!chosen.outcome) return render();
    await post();
  }

  async function post() {
    const session = current;
    const set = setOf(session.setId);
    const body = {
      set_id: set.id, version: set.version,
      answers: session.path.map(([question, answer]) => ({ question, answer })),
    };
    session.posting = true;
    status("提交中 Saving…");
    const r = await desk().api("POST", `/api/v1/incidents/${encodeURIComponent(session.id)}/protocol`, body)
      .catch(() => ({ ok: false, status: 0, data: null }));
    session.posting = false;
    if (r.ok && r.data) {
      session.done = r.data.determined;
      desk().triaged(r.data.incident);
      status(`已分级 Triaged P${session.done.priority} ${session.done.determinant}`, "ok");
    } else {
      session.path.pop(); // the last answer again, once the server takes it
      if (r.status === 409 && r.data && r.data.reason === "protocol_version") catalogue = null;
      status(`未保存 Not saved (${(r.data && r.data.reason) || r.status || "offline"})`, "error");
    }
    if (current === session) render();
  }

  async function coach(action) {
    const session = current;
    if (!session || !session.done || !session.done.tcpr) return;
    if ((action === "start") === session.coaching) return;
    const r = await desk().api("POST", `/api/v1/incidents/${encodeURIComponent(session.id)}/tcpr`, { action })
      .catch(() => ({ ok: false, status: 0, data: null }));
    if (!r.ok) return status(`未记录 Not recorded (${(r.data && r.data.reason) || r.status || "offline"})`, "error");
    session.coaching = r.data.coaching;
    session.startedAt = new Date().toLocaleTimeString([], { hour12: false });
    status(session.coaching ? "已记录开始指导 Coaching start recorded" : "已记录停止 Coaching stop recorded", "ok");
    if (current !== session) return;
    if (session.coaching) startMetronome(); else stopMetronome();
    renderResult();
  }

  // --- the metronome: a pulse at the script's rate, and a short beep when the sound is on ----
  function startMetronome() {
    stopMetronome();
    const periodMs = 60000 / catalogue.tcpr.rate_per_min;
    const t0 = performance.now();
    metronome = { timer: null, beats: 0 };
    const tick = () => {
      metronome.beats += 1;
      const beat = $("#pr-beat");
      beat.classList.toggle("pr-on-a", metronome.beats % 2 === 1);
      beat.classList.toggle("pr-on-b", metronome.beats % 2 === 0);
      $("#pr-count").textContent = String(metronome.beats);
      if (sound) beep();
      // scheduled from the start, not the last tick, so the rate does not drift
      metronome.timer = setTimeout(tick, Math.max(0, t0 + metronome.beats * periodMs - performance.now()));
    };
    tick();
  }

  function stopMetronome() {
    if (metronome) clearTimeout(metronome.timer);
    metronome = null;
  }

  function beep() {
    if (!audio) return;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.25, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.06);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.07);
  }

  function toggleSound() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return status("此浏览器无声音 No sound in this browser", "error");
    if (!audio) audio = new Ctx();
    sound = !sound;
    $("#pr-sound").setAttribute("aria-pressed", String(sound));
  }

  // --- keys and clicks -------------------------------------------------------------------
  $("#pr-close").addEventListener("click", close);
  $("#pr-start").addEventListener("click", () => coach("start"));
  $("#pr-stop").addEventListener("click", () => coach("stop"));
  $("#pr-sound").addEventListener("click", toggleSound);
  $("#pr-set").addEventListener("change", (event) => {
    if (!current || current.done) return;
    current.setId = event.target.value;
    current.path = [];
    event.target.blur();
    render();
  });

  // Capture phase: while the panel is open it owns the keyboard (1-3 answer, not triage).
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = (target instanceof HTMLInputElement && target.type !== "checkbox")
      || target instanceof HTMLTextAreaElement
      || (target instanceof HTMLSelectElement && !panel.contains(target));
    if (panel.hidden) {
      if ((event.key === "q" || event.key === "Q") && !typing) {
        event.preventDefault();
        event.stopPropagation();
        open();
      }
      return;
    }
    if (event.key === "Tab" || (target instanceof HTMLSelectElement && event.key !== "Escape")) return;
    event.stopPropagation();
    if (/^[1-9]$/.test(event.key)) answer(Number(event.key) - 1);
    else if (event.key === "Escape") close();
    else if (event.key === "Backspace" && current && !current.done) {
      current.path.pop();
      render();
    } else if (event.key === "Enter" && !(target instanceof HTMLButtonElement)) coach("start");
    else if (event.key === "x") coach("stop");
    else if (event.key === "m") toggleSound();
    else return;
    event.preventDefault();
  }, true);
})();

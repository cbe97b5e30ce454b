// NEWS2 (Royal College of Physicians, National Early Warning Score 2, 2017): the points of each
// vital sign and the aggregate, for the hospital page's highlighting. Pure: numbers in, points
// out. SpO2 on scale 1 (no hypercapnic target); the patient is taken to breathe air unless told
// (`oxygen`: +2). Consciousness from the GCS the tablet sends: 15 is Alert, below 15 is taken
// as new confusion (C of ACVPU), 3 points. A single parameter scoring 3 is "red"; 1-2 "amber".
"use strict";

window.jijiuNews2 = (() => {
  // [upper bound inclusive, points], checked in order; the last bound is Infinity.
  const TABLE = {
    rr: [[8, 3], [11, 1], [20, 0], [24, 2], [Infinity, 3]], // breaths/min
    spo2: [[91, 3], [93, 2], [95, 1], [Infinity, 0]], // %, scale 1
    sys: [[90, 3], [100, 2], [110, 1], [219, 0], [Infinity, 3]], // systolic mmHg
    hr: [[40, 3], [50, 1], [90, 0], [110, 1], [130, 2], [Infinity, 3]], // beats/min
    temp: [[35.0, 3], [36.0, 1], [38.0, 0], [39.0, 1], [Infinity, 2]], // °C, one decimal
  };

  // The points of one parameter (`gcs` too); null when the value is not a finite number.
  function points(name, value) {
    if (typeof value !== "number" || !isFinite(value)) return null;
    if (name === "gcs") return value >= 15 ? 0 : 3;
    const rows = TABLE[name];
    if (!rows) return null;
    // RR, SpO2, BP and HR are whole numbers on the chart; temperature has one decimal
    const v = name === "temp" ? Math.round(value * 10) / 10 : Math.round(value);
    for (const [upTo, p] of rows) if (v <= upTo) return p;
    return null;
  }

  function band(p) {
    if (p === null) return "";
    return p >= 3 ? "red" : p >= 1 ? "amber" : "normal";
  }

  // The aggregate of the parameters present, with the RCP response band: "low" (0-4), "low"
  // with a red single parameter ("single"), "medium" (5-6), "high" (7+).
  function score(values, oxygen = false) {
    let total = oxygen ? 2 : 0;
    let counted = 0;
    let anyRed = false;
    for (const name of ["rr", "spo2", "sys", "hr", "temp", "gcs"]) {
      const p = points(name, values[name]);
      if (p === null) continue;
      counted += 1;
      total += p;
      anyRed = anyRed || p >= 3;
    }
    if (!counted) return { total: null, band: "", counted };
    const level = total >= 7 ? "high" : total >= 5 ? "medium" : anyRed ? "single" : "low";
    return { total, band: level, counted };
  }

  return Object.freeze({ points, band, score });
})();

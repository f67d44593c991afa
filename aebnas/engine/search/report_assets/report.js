// The report page: plots and tables drawn from DATA (written by aebnas/engine/search/report_html.py).
"use strict";
window.reportStart = performance.now();  // plotly.js is loaded
const DATA = JSON.parse(document.getElementById("report-data").textContent);  // faster than an object literal
const R = DATA.report, TRIALS = DATA.trials, BY_N = new Map(TRIALS.map(t => [t.n, t]));
// costs: MACs shown in millions, or a latency table's milliseconds (the run's cost_unit)
const MS = R.cost_unit === "ms", M = MS ? 1 : 1e6, AXIS = MS ? "ms" : "MMACs", BUDGET = MS ? "ms budget" : "MACs budget";
const COLORS = ["#1c7ed6", "#e8590c", "#2b8a3e", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c"];
const LAYOUT = {margin: {l: 60, r: 16, t: 36, b: 48}, hovermode: "closest", legend: {orientation: "h", y: -0.18}};
const CONFIG = {displaylogo: false, responsive: true};
const pct = a => a == null ? "–" : (100 * a).toFixed(2) + " %";
const cost = m => m == null ? "–" : (m / M).toPrecision(4) + " " + AXIS;
const num = x => typeof x === "string" ? parseFloat(x.replace("inf", "Infinity")) : x;  // "inf": see _json_safe
const thr = v => v == null ? "–" : v.map(num).map(x => x === Infinity ? "∞" : x.toPrecision(3)).join(", ");
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
const targetShape = () => DATA.target ? [{type: "line", x0: DATA.target / M, x1: DATA.target / M, yref: "paper",
  y0: 0, y1: 1, line: {dash: "dash", color: "#888"}}] : [];
const targetNote = () => DATA.target ? [{x: Math.log10(DATA.target / M), y: 1, yref: "paper", text: "target",
  showarrow: false, yanchor: "bottom"}] : [];
let selected = null;

function summary() {
  const c = R.config, parts = [`<b>${esc(R.run_dir)}</b>`, `dataset ${esc(c.dataset)}`,
    `strategy ${esc(c.strategy.name)}`, `predictor ${esc(c.predictor)}`,
    ...Object.entries(R.trials).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`),
    `hypervolume ${R.hypervolume.toFixed(4)}`, `reference ${cost(R.reference.avg_macs)}`,
    DATA.target ? `target ${cost(DATA.target)}` : "no target", `training ${R.train_seconds.toFixed(0)} s`];
  document.getElementById("summary").innerHTML = parts.map(p => `<span>${p}</span>`).join("");
}

// -- the front: every complete trial's curve (one trace, gaps between trials), the front, confirmed, selected.
// customdata is [trial, point of its curve]; hovering a point shows the point's thresholds and exit fractions
// in the details panel (and, for the selected trial, in the label: one label string per point of every
// trial would cost more than drawing them).
function curveTrace(trials, name, style, labels) {
  const x = [], y = [], text = [], custom = [];
  for (const t of trials) {
    const c = t.curve;
    c.macs.forEach((m, i) => {
      x.push(m / M); y.push(100 * c.acc[i]); custom.push([t.n, i]);
      if (labels) text.push(`trial ${t.n} (${esc(t.source)})<br>architecture ${t.arch}<br>${(m / M).toPrecision(4)} `
        + `${AXIS}, ${(100 * c.acc[i]).toFixed(2)} %<br>thresholds ${thr(c.thr[i])}<br>exit fractions ${thr(c.frac[i])}`);
    });
    x.push(null); y.push(null); custom.push(null);
    if (labels) text.push(null);
  }
  return Object.assign({type: "scatter", mode: "lines+markers", x, y, customdata: custom, name},
    labels ? {text, hovertemplate: "%{text}<extra></extra>"}
      : {hovertemplate: "trial %{customdata[0]}: %{x:.4g} " + AXIS + ", %{y:.2f} %<extra></extra>"}, style);
}

function frontPlot() {
  const done = TRIALS.filter(t => t.curve), front = R.front;
  const many = done.reduce((s, t) => s + t.curve.macs.length, 0) > 3000;  // thousands of SVG markers are slow
  const traces = [
    curveTrace(done, "every trial (val)", {mode: many ? "lines" : "lines+markers",
      line: {width: 0.6, color: "rgba(120,130,140,0.35)"}, marker: {size: 3, color: "rgba(120,130,140,0.5)"}}, false),
    {type: "scatter", mode: "lines+markers", name: "front (val)", x: front.map(p => p.avg_macs / M),
      y: front.map(p => 100 * p.accuracy), customdata: front.map(p => p.trial), line: {shape: "hv", color: COLORS[0]},
      marker: {size: 6}, text: front.map(p => `front point: trial ${p.trial}<br>architecture ${p.arch_id}<br>`
        + `${(p.avg_macs / M).toPrecision(4)} ${AXIS}, ${(100 * p.accuracy).toFixed(2)} %<br>thresholds `
        + thr(p.thresholds) + "<br>exit fractions " + thr(exitFractions(p))),
      hovertemplate: "%{text}<extra></extra>"},
    {type: "scatter", mode: "markers", name: "confirmed (test)", x: DATA.confirmed.map(c => c.test.avg_macs / M),
      y: DATA.confirmed.map(c => 100 * c.test.accuracy), customdata: DATA.confirmed.map(c => c.trial),
      marker: {symbol: "star", size: 13, color: COLORS[1]}, text: DATA.confirmed.map(c => `confirmed: trial ${c.trial}`
        + `<br>architecture ${c.arch}<br>test ${(100 * c.test.accuracy).toFixed(2)} % at ${cost(c.test.avg_macs)}`
        + `<br>thresholds ${thr(c.test.thresholds)}<br>exit fractions ${thr(c.test.exit_fractions)}`),
      hovertemplate: "%{text}<extra></extra>"},
    curveTrace([], "selected trial", {line: {width: 2.5, color: COLORS[1]}, marker: {size: 6, color: COLORS[1]}}, true),
  ];
  Plotly.newPlot("front-plot", traces, Object.assign({}, LAYOUT, {title: {text: `${esc(R.config.dataset)}: accuracy vs average ${MS ? "latency" : "MACs"}`},
    xaxis: {type: "log", title: {text: `average ${AXIS} (log scale)`}}, yaxis: {title: {text: "validation accuracy (%)"}},
    shapes: targetShape(), annotations: targetNote()}), CONFIG);
  onPick("front-plot");
}

function exitFractions(p) {
  const c = BY_N.get(p.trial).curve, i = c.macs.findIndex((m, j) => m === Number(p.avg_macs.toPrecision(6)) && c.acc[j] === Number(p.accuracy.toPrecision(6)));
  return i < 0 ? null : c.frac[i];
}

function onPick(id) {
  const el = document.getElementById(id), picked = ev => [].concat(ev.points[0].customdata ?? []);  // [trial, point]
  el.on("plotly_click", ev => { const [n] = picked(ev); if (n != null) select(n); });
  el.on("plotly_hover", ev => { const [n, i] = picked(ev); if (n != null && (selected == null || selected === n)) details(n, i); });
}

// -- the selected trial: details, diagram, its curve in the front plot, its table row
function select(n) {
  selected = n;
  const t = BY_N.get(n);
  details(n);
  diagram(t);
  const tr = curveTrace(t.curve ? [t] : [], "selected trial", {}, true);
  Plotly.restyle("front-plot", {x: [tr.x], y: [tr.y], text: [tr.text], customdata: [tr.customdata]}, [3]);
  document.querySelectorAll("#trials tr.selected").forEach(r => r.classList.remove("selected"));
  const row = document.querySelector(`#trials tr[data-n="${n}"]`);
  if (row) { row.classList.add("selected"); row.scrollIntoView({block: "nearest"}); }
  history.replaceState(null, "", "#trial-" + n);
}

function details(n, point) {
  const t = BY_N.get(n), conf = DATA.confirmed.find(c => c.trial === n), c = t.curve;
  const rows = [["trial", `${t.n}${selected === n ? " (selected)" : ""}`], ["architecture", t.arch], ["state", t.state],
    ["source", t.source], [BUDGET, cost(t.budget)],
    ["predicted", t.pred ? `${pct(t.pred[0])} ± ${(100 * t.pred[1]).toFixed(2)}` : "–"],
    ["measured at budget", pct(t.measured)], ["at target", pct(t.at_target)],
    ["exit paths", t.paths.map(p => cost(p)).join(", ")], ["curve points", t.curve ? t.curve.macs.length : "–"],
    ["training", t.train_s == null ? "–" : t.train_s.toFixed(1) + " s"]];
  if (point != null && c) rows.push(["hovered point", `${cost(c.macs[point])}, ${pct(c.acc[point])}`],
    ["thresholds", thr(c.thr[point])], ["exit fractions", thr(c.frac[point])]);
  if (conf) rows.push(["confirmed", `test ${pct(conf.test.accuracy)} at ${cost(conf.test.avg_macs)}, verified `
    + (conf.verified ? "yes" : "NO")]);
  if (t.error) rows.push(["error", t.error]);
  document.getElementById("details").innerHTML = "<dl>" + rows.map(([k, v]) =>
    `<dt>${k}</dt><dd class="${k === "error" ? "bad" : ""}">${esc(v)}</dd>`).join("") + "</dl>";
}

function layerLabel(layer) {
  return esc(layer.type) + " " + Object.entries(layer).filter(([k]) => k !== "type").map(([k, v]) => `${k[0]}${v}`).join(" ");
}

function diagram(t) {
  const W = 160, H = 40, gap = 18, stages = DATA.stages, n = stages.length, byPos = new Map(t.exits.map((e, k) => [e.pos, k]));
  const depth = Math.max(0, ...t.exits.map(e => e.layers.length)), height = 110 + (depth + 1) * (H + 8);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${(n + 1) * (W + gap) + 20}" height="${height}" font-size="11">`;
  const box = (x, y, fill, lines) => `<rect x="${x}" y="${y}" width="${W}" height="${H}" rx="5" fill="${fill}" stroke="#555"/>`
    + lines.map((l, i) => `<text x="${x + W / 2}" y="${y + 15 + 13 * i}" text-anchor="middle">${l}</text>`).join("");
  stages.forEach((m, i) => {
    const x = 10 + i * (W + gap);
    s += box(x, 10, "#dbe4ff", [`stage ${i + 1}`, `${cost(m)}`]);
    if (i < n) s += `<line x1="${x + W}" y1="30" x2="${x + W + gap}" y2="30" stroke="#555"/>`;
    if (byPos.has(i + 1)) {
      const k = byPos.get(i + 1), e = t.exits[k];
      s += `<line x1="${x + W / 2}" y1="${10 + H}" x2="${x + W / 2}" y2="${70}" stroke="#e8590c" stroke-width="2"/>`;
      e.layers.forEach((l, j) => { s += box(x, 70 + j * (H + 8), "#fff4e6", [layerLabel(l)]); });
      s += box(x, 70 + e.layers.length * (H + 8), "#ffe8cc", [`exit ${k + 1}: branch ${cost(t.branches[k])}`,
        `path ${cost(t.paths[k])}`]);
    }
  });
  s += box(10 + n * (W + gap), 10, "#d3f9d8", [`final exit ${t.exits.length + 1}`, `path ${cost(t.paths[t.paths.length - 1])}`]);
  document.getElementById("diagram").innerHTML = s + "</svg>";
}

// -- confirmed candidates
function confirmed() {
  const C = DATA.confirmed, el = document.getElementById("confirmed");
  if (!C.length) {
    el.innerHTML = `<p class="hint">No confirmed candidates in this run (${DATA.table ? "a table search confirms nothing"
      : "confirmation has not run, or confirm_top is 0"}).</p>`;
    document.getElementById("confirmed-plot").remove(); document.getElementById("fractions-plot").remove();
    return;
  }
  const tuned = c => c.tuned_on === "holdout" ? "holdout" : "val";  // the split its thresholds were tuned on
  const splits = [...new Set(C.map(tuned))].join("/");
  const head = ["trial", "architecture", BUDGET, `${splits} acc`, "test acc", `test avg ${AXIS}`, "real inference",
    "exit fractions (test)", "verified", "over budget"];
  el.innerHTML = "<table><thead><tr>" + head.map(h => `<th>${h}</th>`).join("") + "</tr></thead><tbody>"
    + C.map(c => `<tr data-n="${c.trial}"><td>${c.trial}</td><td class="text">${c.arch}</td><td>${cost(c.budget)}</td>`
      + `<td>${pct(c.val.accuracy)}</td><td>${pct(c.test.accuracy)}</td><td>${cost(c.test.avg_macs)}</td>`
      + `<td>${pct(c.real.acc)} at ${cost(c.real.macs)}</td><td>${thr(c.test.exit_fractions)}</td>`
      + `<td class="${c.verified ? "ok" : "bad"}">${c.verified ? "✓ verified" : "✗ differs"}</td>`
      + `<td>${c.over_budget ? "yes" : "no"}</td></tr>`).join("") + "</tbody></table>";
  el.querySelectorAll("tr[data-n]").forEach(r => r.addEventListener("click", () => select(Number(r.dataset.n))));
  const curves = C.flatMap((c, i) => [
    {x: c.val_curve.macs.map(m => m / M), y: c.val_curve.acc.map(a => 100 * a), name: `${c.arch} ${tuned(c)}`, customdata: c.val_curve.macs.map(() => c.trial),
      mode: "lines", line: {shape: "hv", dash: "dot", color: COLORS[i % COLORS.length]}},
    {x: c.test_curve.macs.map(m => m / M), y: c.test_curve.acc.map(a => 100 * a), name: `${c.arch} test`, customdata: c.test_curve.macs.map(() => c.trial),
      mode: "lines+markers", marker: {size: 4}, line: {shape: "hv", color: COLORS[i % COLORS.length]}},
    {x: [c.test.avg_macs / M], y: [100 * c.test.accuracy], name: `${c.arch} at its budget`, mode: "markers", customdata: [c.trial],
      marker: {symbol: "star", size: 12, color: COLORS[i % COLORS.length]}, showlegend: false}]);
  Plotly.newPlot("confirmed-plot", curves, Object.assign({}, LAYOUT, {title: {text: `test (solid) vs ${splits === "val" ? "validation" : splits} (dotted) curves`},
    xaxis: {type: "log", title: {text: `average ${AXIS} (log scale)`}}, yaxis: {title: {text: "accuracy (%)"}},
    shapes: targetShape(), annotations: targetNote()}), CONFIG);
  onPick("confirmed-plot");
  const exits = Math.max(...C.map(c => c.test.exit_fractions.length));
  Plotly.newPlot("fractions-plot", C.map((c, i) => ({type: "bar", name: c.arch, x: c.test.exit_fractions.map((_, k) => `exit ${k + 1}`),
    y: c.test.exit_fractions, customdata: c.test.exit_fractions.map(() => c.trial), marker: {color: COLORS[i % COLORS.length]}})),
    Object.assign({}, LAYOUT, {title: {text: `test samples leaving at each exit (${exits} exits at most)`}, barmode: "group",
      yaxis: {title: {text: "fraction of test samples"}, range: [0, 1]}}), CONFIG);
  onPick("fractions-plot");
}

// -- hypervolume by proposal source, against trained candidates and against wall time
function progress() {
  const order = DATA.order.map(n => BY_N.get(n)), hv = R.hypervolume_trace, sources = [...new Set(order.map(t => t.source))];
  const t0 = Math.min(...order.map(t => t.finished - (t.train_s || 0)));
  let spent = 0;  // a table search's clock: the training seconds it looked up; a real search's: finish times
  const wall = order.map(t => DATA.table ? (spent += t.train_s || 0) : t.finished - t0);
  const make = (x, xlabel, id, title) => {
    const traces = [{x, y: hv, mode: "lines", name: "hypervolume", line: {color: "#adb5bd", shape: "hv"}, hoverinfo: "skip"}]
      .concat(sources.map((s, i) => {  // a marker where a trial raised the hypervolume: who moved the front
        const idx = order.map((t, j) => t.source === s && hv[j] > (j ? hv[j - 1] : 0) ? j : -1).filter(j => j >= 0);
        return {x: idx.map(j => x[j]), y: idx.map(j => hv[j]), mode: "markers", name: `raised by ${s}`,
          marker: {size: 6, color: COLORS[i % COLORS.length]}, customdata: idx.map(j => order[j].n),
          hovertemplate: "trial %{customdata}<br>HV %{y:.4f}<extra>" + esc(s) + "</extra>"};
      }));
    Plotly.newPlot(id, traces, Object.assign({}, LAYOUT, {title: {text: title}, xaxis: {title: {text: xlabel}},
      yaxis: {title: {text: "validation hypervolume"}}}), CONFIG);
    onPick(id);
  };
  make(order.map((_, i) => i + 1), "trained candidates", "hv-plot", "hypervolume vs trained candidates");
  make(wall, DATA.table ? "training seconds looked up in the table (s)" : "wall time (s)", "hv-time-plot", "hypervolume vs wall time");
}

// -- predicted vs measured accuracy at the proposed MACs budget
function predictor() {
  const P = TRIALS.filter(t => t.pred && t.measured != null), el = document.getElementById("calibration");
  if (!P.length) {
    el.textContent = "No proposal of this run carries a prediction (initial design or a strategy without a predictor).";
    document.getElementById("predictor-plot").remove();
    return;
  }
  const inside = P.filter(t => Math.abs(t.measured - t.pred[0]) <= 2 * t.pred[1]).length;
  const mae = P.reduce((s, t) => s + Math.abs(t.measured - t.pred[0]), 0) / P.length;
  el.textContent = `${inside} of ${P.length} measured accuracies (${(100 * inside / P.length).toFixed(0)} %) lie inside `
    + `the predicted mean ± 2 std (about 95 % if calibrated); mean absolute error ${(100 * mae).toFixed(2)} points.`;
  const lo = Math.min(...P.map(t => Math.min(t.measured, t.pred[0]))) * 100, hi = Math.max(...P.map(t => Math.max(t.measured, t.pred[0]))) * 100;
  Plotly.newPlot("predictor-plot", [
    {x: [lo, hi], y: [lo, hi], mode: "lines", name: "measured = predicted", line: {dash: "dash", color: "#888"}, hoverinfo: "skip"},
    {x: P.map(t => 100 * t.pred[0]), y: P.map(t => 100 * t.measured), mode: "markers", name: "proposal (± 2 std)",
      error_x: {type: "data", array: P.map(t => 200 * t.pred[1]), thickness: 1, color: "#74c0fc"},
      customdata: P.map(t => t.n), text: P.map(t => `trial ${t.n} (${esc(t.source)})<br>${t.arch}<br>budget ${cost(t.budget)}`),
      hovertemplate: "%{text}<br>predicted %{x:.2f} %, measured %{y:.2f} %<extra></extra>", marker: {color: COLORS[0]}}],
    Object.assign({}, LAYOUT, {title: {text: `accuracy at the proposed ${BUDGET}`},
      xaxis: {title: {text: "predicted (%)"}}, yaxis: {title: {text: "measured on validation (%)"}}}), CONFIG);
  onPick("predictor-plot");
}

// -- the trial table: sortable by any column, filtered by text, state and source
const COLUMNS = [["trial", t => t.n], ["state", t => t.state, 1], ["source", t => t.source, 1], ["architecture", t => t.arch, 1],
  ["exits", t => t.paths.length], [`${BUDGET} (${AXIS})`, t => t.budget == null ? null : t.budget / M],
  ["predicted %", t => t.pred ? 100 * t.pred[0] : null], ["± std", t => t.pred ? 100 * t.pred[1] : null],
  ["measured %", t => t.measured == null ? null : 100 * t.measured], [`final path (${AXIS})`, t => t.paths[t.paths.length - 1] / M],
  [`cheapest exit (${AXIS})`, t => t.paths[0] / M], ["training s", t => t.train_s], ["error", t => t.error, 1]];
let sortKey = 0, sortDir = 1;

function trialTable() {
  const head = document.querySelector("#trials thead");
  head.innerHTML = "<tr>" + COLUMNS.map(([h, , text], i) => `<th data-i="${i}" class="${text ? "text" : ""}">${h}</th>`).join("") + "</tr>";
  head.querySelectorAll("th").forEach(th => th.addEventListener("click", () => {
    const i = Number(th.dataset.i); sortDir = i === sortKey ? -sortDir : 1; sortKey = i; rows();
  }));
  for (const [id, key] of [["state-filter", "state"], ["source-filter", "source"]]) {
    const sel = document.getElementById(id);
    [...new Set(TRIALS.map(t => t[key]))].sort().forEach(v => sel.add(new Option(v, v)));
    sel.addEventListener("change", rows);
  }
  document.getElementById("filter").addEventListener("input", rows);
  document.querySelector("#trials tbody").addEventListener("click", ev => {
    const tr = ev.target.closest("tr"); if (tr) select(Number(tr.dataset.n));
  });
  rows();
}

function rows() {
  const q = document.getElementById("filter").value.toLowerCase(), state = document.getElementById("state-filter").value,
    source = document.getElementById("source-filter").value, get = COLUMNS[sortKey][1];
  const shown = TRIALS.filter(t => (!state || t.state === state) && (!source || t.source === source)
    && (!q || COLUMNS.some(([, f]) => String(f(t) ?? "").toLowerCase().includes(q))));
  shown.sort((a, b) => { const x = get(a), y = get(b); return x == null ? 1 : y == null ? -1 : (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
  const cell = (v, text) => v == null ? "<td>–</td>" : text ? `<td class="${text === 1 && typeof v === "string" && v.length > 40 ? "error" : "text"}">${esc(v)}</td>`
    : `<td>${Number.isInteger(v) ? v : v.toFixed(3)}</td>`;
  document.querySelector("#trials tbody").innerHTML = shown.map(t => `<tr data-n="${t.n}" class="${t.n === selected ? "selected" : ""}">`
    + COLUMNS.map(([, f, text]) => cell(f(t), text)).join("") + "</tr>").join("");
  document.getElementById("row-count").textContent = `${shown.length} of ${TRIALS.length} trials`;
}

function settings() {
  const fmt = v => typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  document.getElementById("settings").innerHTML = "<tr><th class='text'>setting</th><th class='text'>value</th></tr>"
    + Object.entries(R.config).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(fmt(v))}</td></tr>`).join("");
  const V = R.versions, el = document.getElementById("versions");  // one column per set of versions that wrote the run
  if (!V.length) { el.innerHTML = "<tr><th class='text'>versions that wrote the run</th></tr><tr><td>not recorded "
    + "(the run store predates version recording)</td></tr>"; return; }
  const names = [...new Set(V.flatMap(v => Object.keys(v.versions)))];
  el.innerHTML = "<tr><th class='text'>versions that wrote the run</th>" + V.map(v => `<th class='text'>since `
    + `${new Date(1000 * v.since).toISOString().slice(0, 16).replace("T", " ")} UTC (${v.trials} trials stored)</th>`).join("")
    + "</tr>" + names.map(k => `<tr><td>${esc(k)}</td>` + V.map(v => `<td>${esc(v.versions[k] ?? "–")}</td>`).join("") + "</tr>").join("");
}

window.reportTimes = {plotly: window.reportStart, data: performance.now() - window.reportStart};  // ms: when
// plotly.js was loaded, how long the data took to parse, then each part's drawing time (benchmarks/report_html.py)
for (const part of [summary, frontPlot, confirmed, progress, predictor, trialTable, settings]) {
  const t0 = performance.now();
  part();
  window.reportTimes[part.name] = performance.now() - t0;
}
const start = Number((location.hash.match(/^#trial-(\d+)$/) || [])[1]);
const best = R.front.length ? R.front[R.front.length - 1].trial : TRIALS.length ? TRIALS[0].n : null;
if (BY_N.has(start)) select(start); else if (best != null) { diagram(BY_N.get(best)); details(best); }
window.reportReady = performance.now();

// The dashboard's page logic: reads window.RNNBENCH (data.js) and draws with plotly.js.
// Three tabs: History (per case over commits, per machine), Compare machines, Report.
(function () {
  "use strict";
  const D = window.RNNBENCH;
  const COLORS = ["#2f6fde", "#e07a5f", "#2e9e6a", "#9c6ade", "#f2a541", "#17becf", "#d64545",
    "#6b7785", "#8c564b", "#e377c2"];
  const IMPL_COLORS = { native: "#4c566a", eager: "#e07a5f", script: "#2f6fde",
    compiled: "#2e9e6a", fused: "#9c6ade", triton: "#f2a541", parallel: "#17becf" };
  const AXES = ["cell", "impl", "T", "B", "pass", "dtype", "device", "machine"];
  const CONFIG = { displaylogo: false, responsive: true };
  const BASE = {
    margin: { l: 64, r: 16, t: 44, b: 64 }, hovermode: "closest",
    font: { family: "-apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12 },
    paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    legend: { orientation: "h", y: -0.32, font: { size: 11 } },
    xaxis: { gridcolor: "#eef1f4", zeroline: false }, yaxis: { gridcolor: "#eef1f4", zeroline: false },
  };
  const state = {};
  const drawn = {};
  const machineOf = Object.fromEntries(D.machines.map((m) => [m.name, m]));

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  };
  const short = (id) => String(id).slice(0, 7);
  const fmt = (x, digits) => (x === null || x === undefined ? "–" : Number(x).toPrecision(digits || 3));
  const unique = (xs) => [...new Set(xs)].sort((a, b) => (typeof a === "number" ? a - b : String(a).localeCompare(String(b))));
  const layout = (title, extra) => Object.assign({}, BASE, { title: { text: title, font: { size: 14 } } }, extra || {});
  const empty = (div, title, text) => Plotly.react(div, [{ x: [0], y: [0], mode: "markers", marker: { opacity: 0 }, hoverinfo: "skip", showlegend: false }],
    layout(title, { annotations: [{ text: text, showarrow: false, font: { size: 14, color: "#6b7785" } }], xaxis: { visible: false }, yaxis: { visible: false } }), CONFIG);

  function select(parent, key, label, options, value, onChange) {
    const s = el("select", { id: "sel-" + key, "data-key": key });
    options.forEach(([v, text]) => s.append(el("option", { value: String(v) }, text)));
    s.value = String(value);
    s.addEventListener("change", () => onChange(s.value));
    parent.append(el("label", {}, label, s));
    return s;
  }

  // ---- History ----
  function axisValues(key) {
    return key === "machine" ? D.machines.map((m) => m.name) : unique(D.cases.map((c) => c[key]));
  }
  function matches(c) {
    return AXES.every((k) => k === "machine" || state[k] === "*" || String(c[k]) === state[k]);
  }
  function setupHistory() {
    const kpis = document.getElementById("kpis");
    [[D.machines.length, "machines"], [D.commits.length, "commits"], [D.cases.length, "cases"],
      [D.steps.length, "steps"]].forEach(([n, text]) => kpis.append(el("div", { class: "kpi" }, el("b", {}, String(n)), el("span", {}, text))));
    const first = D.cases.find((c) => c.impl !== "native") || D.cases[0] || {};
    const parent = document.getElementById("selectors");
    AXES.forEach((key) => {
      const values = axisValues(key);
      const fallback = key === "impl" || key === "machine" || first[key] === undefined ? "*" : first[key];
      state[key] = String(fallback);
      select(parent, key, key, [["*", "all"], ...values.map((v) => [v, String(v)])], state[key], (v) => {
        state[key] = v; state.commit = null; drawHistory();
      });
    });
    document.getElementById("steps-rule").textContent =
      "— a commit whose ratio to native moved ≥ 1.05× from its parent's, significant on the paired rounds";
    drawSteps();
  }
  function historyTraces(index) {
    const traces = [];
    const commits = new Set();
    const cases = D.cases.map((c, i) => [c, i]).filter(([c]) => matches(c));
    const machines = state.machine === "*" ? D.machines.map((m) => m.name) : [state.machine];
    // a trace is named by what differs among the cases shown (impl, or T, layers, layout...)
    const varying = ["impl", "cell", "T", "B", "pass", "dtype", "device", "L", "layout", "I", "H"]
      .filter((k) => new Set(cases.map(([c]) => c[k])).size > 1);
    const label = { T: "T", B: "B", L: "L", I: "I", H: "H" };
    cases.forEach(([c, i]) => machines.forEach((m, mi) => {
      const points = ((D.series[m] || {})[i] || []).filter((p) => p[index] !== null);
      if (!points.length) return;
      points.forEach((p) => commits.add(p[0]));
      const name = (varying.length ? varying.map((k) => (label[k] || "") + c[k]).join(" ") : c.impl)
        + (machines.length > 1 ? " · " + m : "");
      traces.push({
        x: points.map((p) => tick(p[0])), y: points.map((p) => p[index]), name: name,
        mode: points.length > 60 ? "lines" : "lines+markers", type: "scatter",  // SVG stays light
        line: { width: 2, color: (varying.join() === "impl" || !varying.length) && IMPL_COLORS[c.impl] ? IMPL_COLORS[c.impl] : COLORS[traces.length % COLORS.length], dash: mi ? "dot" : "solid" },
        marker: { size: 7 },
        customdata: points.map((p) => [short(D.commits[p[0]].id), D.commits[p[0]].subject, D.commits[p[0]].time, m]),
        hovertemplate: "<b>%{customdata[0]}</b> %{customdata[2]}<br>%{customdata[1]}<br>" + name + ": <b>%{y}</b><extra>%{customdata[3]}</extra>",
        meta: { case: c.id, machine: m },
      });
    }));
    return { traces, commits: [...commits].sort((a, b) => a - b) };
  }
  // Commits by their place in history, oldest first; at most ~24 of them labelled.
  const tick = (i) => i;
  function commitAxis(commits) {
    const every = Math.ceil(commits.length / 24);
    const shown = commits.filter((_, k) => k % every === 0);
    return { tickvals: shown, ticktext: shown.map((i) => short(D.commits[i].id)), tickangle: -40, gridcolor: "#eef1f4", zeroline: false, title: { text: "commit (oldest → newest)" } };
  }
  function drawHistory() {
    const devices = unique((state.machine === "*" ? D.machines : [machineOf[state.machine]]).filter(Boolean).map((m) => m.device + " (" + m.name + ")"));
    const plots = [
      ["plot-ratio", 1, "Ratio to native (same shape, same round)", "× native"],
      ["plot-time", 2, "Median time per call, ms — " + devices.join(", "), "ms"],
      ["plot-memory", 3, "Peak memory, MiB", "MiB"],
      ["plot-ops", 4, "ATen ops per call", "ops"],
    ];
    plots.forEach(([div, index, title, unit]) => {
      const { traces, commits } = historyTraces(index);
      if (!traces.length) { empty(div, title, "no case matches these selectors"); return; }
      const shapes = [];
      if (index === 1) {
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: 1, y1: 1, line: { color: "#9aa5b1", dash: "dash", width: 1 } });
        const shown = new Set(traces.map((t) => t.meta.machine + "|" + t.meta.case));
        const marks = D.steps.filter((s) => shown.has(s.machine + "|" + s.case));
        if (marks.length) {
          const caseIndex = Object.fromEntries(D.cases.map((c, i) => [c.id, i]));
          const commitIndex = Object.fromEntries(D.commits.map((c, i) => [c.id, i]));
          traces.push({ x: marks.map((s) => tick(commitIndex[s.commit])), y: marks.map((s) => s.after), mode: "markers", name: "step",
            marker: { symbol: marks.map((s) => (s.size > 1 ? "triangle-up" : "triangle-down")), size: 14, color: marks.map((s) => (s.size > 1 ? "#d64545" : "#2e9e6a")), line: { width: 1, color: "#fff" } },
            customdata: marks.map((s) => [short(s.commit), s.size.toFixed(3), s.before.toFixed(3), s.after.toFixed(3), D.cases[caseIndex[s.case]].impl]),
            hovertemplate: "<b>step at %{customdata[0]}</b> (%{customdata[4]})<br>%{customdata[2]} → %{customdata[3]} (%{customdata[1]}×)<extra></extra>" });
        }
      }
      if (state.commit !== null && state.commit !== undefined) {
        const at = D.commits.findIndex((c) => c.id === state.commit);
        if (at >= 0) shapes.push({ type: "line", yref: "paper", x0: tick(at), x1: tick(at), y0: 0, y1: 1, line: { color: "#f2a541", width: 3 }, opacity: 0.6 });
      }
      Plotly.react(div, traces, layout(title, { xaxis: commitAxis(commits), yaxis: { title: { text: unit }, gridcolor: "#eef1f4", rangemode: index === 1 ? "normal" : "tozero" }, shapes }), CONFIG);
    });
  }
  function drawSteps() {
    const table = document.getElementById("steps");
    table.replaceChildren(el("tr", {}, ...["case", "machine", "commit", "parent", "before", "after", "size", "p", ""].map((h) => el("th", {}, h))));
    if (!D.steps.length) {
      table.append(el("tr", {}, el("td", { colspan: "9", class: "muted" }, "No steps: every case's ratio to native held within 1.05× (or within its noise) from commit to commit.")));
      return;
    }
    D.steps.forEach((s) => {
      const link = el("a", { href: "#history?case=" + encodeURIComponent(s.case) + "&machine=" + encodeURIComponent(s.machine) + "&commit=" + s.commit, class: "step-link" }, short(s.commit));
      const commit = D.commits.find((c) => c.id === s.commit) || {};
      table.append(el("tr", {}, el("td", {}, s.case), el("td", {}, s.machine), el("td", {}, link),
        el("td", {}, short(s.previous)), el("td", { class: "num" }, fmt(s.before)), el("td", { class: "num" }, fmt(s.after)),
        el("td", { class: "num " + (s.size > 1 ? "slow" : "fast") }, (s.size > 1 ? "▲ " : "▼ ") + fmt(s.size) + "×"),
        el("td", { class: "num" }, fmt(s.p, 2)), el("td", { class: "muted" }, commit.subject || "")));
    });
  }
  function focus(params) {
    const c = D.cases.find((x) => x.id === params.get("case"));
    if (!c) return;
    AXES.forEach((k) => {
      state[k] = k === "machine" ? (params.get("machine") || "*") : k === "impl" ? "*" : String(c[k]);
      document.getElementById("sel-" + k).value = state[k];
    });
    state.commit = params.get("commit");
  }

  // ---- Compare ----
  function sources() {
    const out = D.machines.map((m) => {
      const latest = {};
      Object.entries(D.series[m.name] || {}).forEach(([i, points]) => {
        const p = points[points.length - 1];
        latest[D.cases[i].id] = { median: p[2], ratio: p[1], impl: D.cases[i].impl, commit: D.commits[p[0]].id };
      });
      return { name: m.name + " (history, newest commit)", device: m.device, cases: latest };
    });
    D.speed.forEach((run) => {
      const cases = {};
      run.cases.forEach((c) => { cases[c.id] = { median: c.median, ratio: c.ratio, impl: c.impl }; });
      out.push({ name: run.path + " (report)", device: run.device, cases });
    });
    return out;
  }
  function setupCompare() {
    const list = sources();
    const parent = document.getElementById("compare-selectors");
    state.a = 0; state.b = Math.min(1, list.length - 1);
    const options = list.map((s, i) => [i, s.name + " — " + s.device]);
    select(parent, "compare-a", "machine A", options, state.a, (v) => { state.a = +v; drawCompare(); });
    select(parent, "compare-b", "machine B", options, state.b, (v) => { state.b = +v; drawCompare(); });
    state.sources = list;
  }
  function drawCompare() {
    const list = state.sources;
    const div = "plot-compare";
    const table = document.getElementById("compare-table");
    table.replaceChildren(el("tr", {}, ...["case", "A ms", "B ms", "B / A", "A × native", "B × native"].map((h) => el("th", {}, h))));
    if (!list.length) { empty(div, "Compare machines", "no results to compare"); return; }
    const A = list[state.a], B = list[state.b];
    const common = Object.keys(A.cases).filter((id) => id in B.cases)
      .map((id) => ({ id, a: A.cases[id], b: B.cases[id], r: B.cases[id].median / A.cases[id].median }))
      .sort((x, y) => x.r - y.r);
    const title = "B / A per case: " + B.name + " over " + A.name;
    if (!common.length) { empty(div, title, "the two hold no case in common"); return; }
    const impls = unique(common.map((c) => c.a.impl));
    const traces = impls.map((impl) => {
      const rows = common.filter((c) => c.a.impl === impl);
      return { type: "bar", orientation: "h", name: impl, y: rows.map((c) => c.id), x: rows.map((c) => c.r),
        marker: { color: IMPL_COLORS[impl] || "#6b7785" },
        customdata: rows.map((c) => [fmt(c.a.median), fmt(c.b.median)]),
        hovertemplate: "%{y}<br>A %{customdata[0]} ms, B %{customdata[1]} ms<br><b>B/A %{x:.3f}</b><extra></extra>" };
    });
    Plotly.react(div, traces, layout(title, {
      height: Math.max(480, 18 * common.length + 120), margin: { l: 330, r: 20, t: 44, b: 40 },
      xaxis: { type: "log", title: { text: "B / A (log)" }, gridcolor: "#eef1f4" }, yaxis: { automargin: true, tickfont: { size: 10 }, categoryorder: "array", categoryarray: common.map((c) => c.id) },
      shapes: [{ type: "line", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1, line: { color: "#9aa5b1", dash: "dash" } }],
      legend: { orientation: "h", y: 1.04 }, barmode: "group",
    }), CONFIG);
    common.forEach((c) => table.append(el("tr", {}, el("td", {}, c.id), el("td", { class: "num" }, fmt(c.a.median)), el("td", { class: "num" }, fmt(c.b.median)),
      el("td", { class: "num " + (c.r > 1.05 ? "slow" : c.r < 1 / 1.05 ? "fast" : "") }, fmt(c.r) + "×"), el("td", { class: "num" }, fmt(c.a.ratio)), el("td", { class: "num" }, fmt(c.b.ratio)))));
  }

  // ---- Report ----
  function setupReport() {
    const parent = document.getElementById("report-selectors");
    state.run = 0; state.speedPass = "fwdbwd";
    if (D.speed.length) {
      select(parent, "run", "results file", D.speed.map((r, i) => [i, r.path + " — " + r.device + ", " + r.date]), 0, (v) => { state.run = +v; drawReport(); });
      select(parent, "speed-pass", "pass", unique(D.speed.flatMap((r) => r.cases.map((c) => c.pass))).map((p) => [p, p]), state.speedPass, (v) => { state.speedPass = v; drawReport(); });
    }
    const curves = document.getElementById("curve-selectors");
    state.task = 0;
    if (D.convergence.length) select(curves, "task", "convergence run", D.convergence.map((c, i) => [i, c.title + " — " + c.path]), 0, (v) => { state.task = +v; drawCurves(); });
  }
  function drawReport() {
    const run = D.speed[state.run];
    if (!run) { empty("plot-speed", "Speed", "no results file in reports/"); empty("plot-vs-native", "Custom vs native", "no results file in reports/"); return; }
    const cases = run.cases.filter((c) => c.pass === state.speedPass);
    const label = (c) => c.cell + " T" + c.T + " B" + c.B + (c.L > 1 ? " L" + c.L : "") + (c.layout === "packed" ? " packed" : "");
    const impls = unique(cases.map((c) => c.impl));
    const speed = impls.map((impl) => {
      const rows = cases.filter((c) => c.impl === impl);
      return { type: "bar", name: impl, x: rows.map(label), y: rows.map((c) => c.median), marker: { color: IMPL_COLORS[impl] || "#6b7785" },
        error_y: { type: "data", symmetric: false, array: rows.map((c) => (c.q3 === null ? 0 : c.q3 - c.median)), arrayminus: rows.map((c) => (c.q1 === null ? 0 : c.median - c.q1)), thickness: 1, width: 2, color: "#555" },
        customdata: rows.map((c) => [c.id, c.q1 === null ? "–" : fmt(c.q1), c.q3 === null ? "–" : fmt(c.q3), c.noisy || "quiet"]),
        hovertemplate: "%{customdata[0]}<br><b>%{y:.4g} ms</b> (IQR %{customdata[1]}–%{customdata[2]})<br>%{customdata[3]}<extra></extra>" };
    });
    Plotly.react("plot-speed", speed, layout("Median ms per call, " + state.speedPass + " — " + run.device + " · " + run.date, { barmode: "group", yaxis: { type: "log", title: { text: "ms (log)" }, gridcolor: "#eef1f4" }, xaxis: { tickangle: -30 } }), CONFIG);
    const custom = cases.filter((c) => c.ratio !== null);
    const dots = unique(custom.map((c) => c.impl)).map((impl) => {
      const rows = custom.filter((c) => c.impl === impl);
      return { type: "scatter", mode: "markers", name: impl, x: rows.map((c) => c.ratio), y: rows.map(label), marker: { size: 11, color: IMPL_COLORS[impl] || "#6b7785" },
        customdata: rows.map((c) => [c.id, fmt(c.median)]), hovertemplate: "%{customdata[0]}<br><b>%{x:.3f}× native</b> (%{customdata[1]} ms)<extra></extra>" };
    });
    if (!dots.length) empty("plot-vs-native", "Custom vs native", "no custom case with its native reference");
    else Plotly.react("plot-vs-native", dots, layout("Custom / native, " + state.speedPass, { xaxis: { type: "log", title: { text: "× native (log)" }, gridcolor: "#eef1f4" }, yaxis: { automargin: true }, shapes: [{ type: "line", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1, line: { color: "#9aa5b1", dash: "dash" } }] }), CONFIG);
    drawCurves();
  }
  function drawCurves() {
    const conv = D.convergence[state.task];
    if (!conv) { empty("plot-curves", "Learning curves", "no convergence results in reports/convergence/"); return; }
    const traces = [];
    conv.cells.forEach((c, i) => {
      const color = COLORS[i % COLORS.length];
      traces.push({ x: [...c.x, ...c.x.slice().reverse()], y: [...c.high, ...c.low.slice().reverse()], fill: "toself", fillcolor: color + "2e", line: { width: 0 }, hoverinfo: "skip", showlegend: false, type: "scatter" });
      traces.push({ x: c.x, y: c.mean, name: c.cell + " (" + c.seeds + " seed" + (c.seeds > 1 ? "s" : "") + ")", mode: "lines+markers", line: { color, width: 2 }, marker: { size: 4 }, type: "scatter",
        hovertemplate: c.cell + " " + conv.x + " %{x}: <b>%{y:.4g}</b><extra></extra>" });
    });
    Plotly.react("plot-curves", traces, layout("Learning curves: " + conv.title + " — " + conv.metric + " (mean over seeds, band min–max) · " + conv.device, { xaxis: { title: { text: conv.x }, gridcolor: "#eef1f4" }, yaxis: { title: { text: conv.metric }, gridcolor: "#eef1f4", type: conv.metric.endsWith("loss") ? "log" : "linear" } }), CONFIG);
  }

  // ---- Tabs ----
  const draw = { history: drawHistory, compare: drawCompare, report: drawReport };
  function route() {
    const [tab, query] = (location.hash.slice(1) || "history").split("?");
    const name = draw[tab] ? tab : "history";
    if (name === "history" && query) focus(new URLSearchParams(query));
    document.querySelectorAll(".tab").forEach((s) => { s.hidden = s.id !== "tab-" + name; });
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
    draw[name]();
    if (drawn[name]) document.querySelectorAll("#tab-" + name + " .plot").forEach((p) => Plotly.Plots.resize(p));
    drawn[name] = true;
  }
  document.getElementById("generated").textContent = "built " + D.generated;
  setupHistory(); setupCompare(); setupReport();
  window.addEventListener("hashchange", route);
  route();
  window.RNNBENCH_RENDER_MS = performance.now();  // since navigation: plotly.js parsed too
})();

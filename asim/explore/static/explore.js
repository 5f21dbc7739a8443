// The explore page: controls -> the model's points (from the app, or from the grid embedded in
// an exported file) -> two plotly charts, ab's text and a Gantt timeline of the clicked point.
"use strict";
(function () {
  const cfg = JSON.parse(document.getElementById("asim-config").textContent);
  const PALETTE = ["#1f6fb4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                   "#e377c2", "#17becf"];
  const DASH = { des: "solid", mva: "dash", bounds: "dot" };
  const PLOT_CONFIG = { displaylogo: false, responsive: true,
                        modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  // W, T and B: the options a shape may take (cfg.shapes), each set by the field of its name
  const OPTIONS = ["workers", "threads", "blocking"];
  const state = { points: [], measured: null, selected: null, timeline: null, seq: 0,
                  done: 0, timelineSeq: 0, timelineDone: 0, calibration: cfg.calibration,
                  defaults: {} };
  window.asimExplore = state;
  let lang = cfg.lang;
  let timer = null;

  function T(key) {
    const words = cfg.texts[lang] || cfg.texts.en;
    return key in words ? words[key] : key;
  }

  function shapeOf(name) {
    return cfg.shapes.find((s) => s.name === name) ||
      { name: name, workers: false, threads: false, blocking: false };
  }

  // -- controls ----------------------------------------------------------------------------
  function buildControls() {
    const box = document.getElementById("shapes");
    for (const s of cfg.shapes) {
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = "server";
      input.value = s.name;
      input.checked = cfg.servers.includes(s.name);
      label.append(input, " " + s.name);
      box.appendChild(label);
    }
    for (const slot of document.querySelectorAll(".field")) {
      const name = slot.dataset.field;
      const spec = cfg.fields[name];
      if (!spec) {
        (slot.closest("label") || slot).hidden = true;
        continue;
      }
      let input;
      if (spec.options) {  // "" is the shape's default, named by applyTexts
        input = document.createElement("select");
        for (const option of spec.options) input.add(new Option(option, option));
      } else {
        input = document.createElement("input");
        input.type = "text";
        input.inputMode = "decimal";
      }
      input.id = "f-" + name;
      input.name = name;
      input.value = spec.value;
      slot.appendChild(input);
    }
    document.getElementById("keepalive").checked = cfg.keepalive;
    for (const box of document.querySelectorAll("input[name=method]")) {
      box.checked = cfg.overlays.includes(box.value);
    }
    const form = document.getElementById("controls");
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("lang").addEventListener("click", () => {
      lang = lang === "en" ? "ru" : "en";
      applyTexts();
      redraw();
    });
    document.getElementById("offline-note").hidden = cfg.mode !== "offline";
    document.getElementById("ab-show-model").addEventListener("click", () => {
      state.abMeasured = null;
      if (state.selected) showAbText(state.selected);
    });
    document.getElementById("ab-show-measured").addEventListener("click", () => {
      if (state.selected) showMeasured(state.selected);
    });
    if (!cfg.fields.c_step) {
      document.querySelector(".range > [data-text]").dataset.text = "c_range_offline";
    }
    for (const name of OPTIONS) {  // one value from a list, not a comma list
      if (cfg.fields[name] && cfg.fields[name].options) {
        document.querySelector(`[data-text=${name}]`).dataset.text = name + "_offline";
      }
    }
  }

  function fields() {
    const checked = (selector) =>
      Array.from(document.querySelectorAll(selector)).filter((b) => b.checked).map((b) => b.value);
    const out = { server: checked("input[name=server]").join(",") };
    for (const name of Object.keys(cfg.fields)) {
      const input = document.getElementById("f-" + name);
      // a greyed-out W, T or B applies to no ticked shape: the app takes its default
      if (!input.disabled) out[name] = input.value.trim();
    }
    out.keepalive = document.getElementById("keepalive").checked ? "1" : "0";
    out.method = checked("input[name=method]").join(",");
    return out;
  }

  function applyTexts() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-text]")) el.textContent = T(el.dataset.text);
    document.title = T("title");
    document.getElementById("calibration").textContent = state.calibration || "";
    for (const name of OPTIONS) {
      const input = document.getElementById("f-" + name);
      if (!input) continue;
      if (input.tagName === "SELECT") {
        for (const option of input.options) if (!option.value) option.text = T("shape_default");
      } else {
        input.placeholder = T("shape_default");
      }
    }
    if (state.selected) showAbText(state.selected);
  }

  function setStatus(kind, text) {
    const el = document.getElementById("status");
    el.dataset.state = kind;
    el.textContent = text;
  }

  // W, T and B apply only to the shapes that take them: each field is greyed out while no
  // ticked shape does.
  function syncOptions() {
    const ticked = Array.from(document.querySelectorAll("input[name=server]"))
      .filter((b) => b.checked).map((b) => shapeOf(b.value));
    for (const name of OPTIONS) {
      const input = document.getElementById("f-" + name);
      if (input) input.disabled = !ticked.some((s) => s[name]);
    }
  }

  function schedule() {
    syncOptions();
    clearTimeout(timer);
    timer = setTimeout(update, 200);
  }

  // -- where the numbers come from -----------------------------------------------------------
  async function getJSON(url, signal) {
    const response = await fetch(url, { signal: signal });
    let body;
    try {
      body = await response.json();
    } catch (err) {
      throw new Error(response.status + " " + response.statusText);
    }
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  const live = {
    async start() {},
    pending: null,
    predict(f) {
      if (this.pending) this.pending.abort();  // the app drops a replaced change unstarted
      this.pending = new AbortController();
      return getJSON("api/predict?" + new URLSearchParams(f), this.pending.signal);
    },
    timeline(f, p) {
      return getJSON("api/timeline?" + new URLSearchParams(pointQuery(f, p)));
    },
    measuredText(f, p) {
      return getJSON("api/measured_text?" + new URLSearchParams(pointQuery(f, p)));
    },
    measured() {
      return cfg.has_results ? getJSON("api/measured") : Promise.resolve(null);
    },
  };

  function pointQuery(f, p) {
    const text = (v) => (v === null || v === undefined ? "" : String(v));
    return Object.assign({}, f, { server: p.server, workers: String(p.workers),
                                  threads: text(p.threads), blocking: text(p.blocking_s),
                                  c: String(p.concurrency), method: "" });
  }

  // threads and blocking are the values a point ran with (null where its shape has none)
  function pointKey(server, workers, threads, blocking, sleep, requests, keepalive, cores,
                    method, c) {
    const num = (v) => (v === null || v === undefined ? "" : Number(v));
    return [server, Number(workers), num(threads), num(blocking), Number(sleep),
            Number(requests), keepalive ? 1 : 0, Number(cores), method, Number(c)].join("|");
  }

  const offline = {
    grid: null,
    index: new Map(),
    async start() {
      const b64 = document.getElementById("asim-grid").textContent.trim();
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      this.grid = JSON.parse(await new Response(stream).text());
      for (const p of this.grid.points) {
        this.index.set(pointKey(p.server, p.workers, p.threads, p.blocking_s, p.sleep_s,
                                p.requests, p.keepalive, p.cores, p.method, p.concurrency), p);
      }
    },
    async predict(f) {
      const servers = f.server.split(",").filter(Boolean);
      if (!servers.length) throw new Error("--server: choose at least one of " +
                                           cfg.shapes.map((s) => s.name).join(", "));
      const lo = Number(f.c_from), hi = Number(f.c_to);
      if (hi < lo) throw new Error(`--concurrency to (${hi}) is below from (${lo})`);
      const methods = ["des"].concat(f.method.split(",").filter(Boolean));
      const defaults = this.grid.defaults[f.cores] || {};
      const points = [];
      for (const server of servers) {
        const shape = shapeOf(server), byDefault = defaults[server] || {};
        const workers = shape.workers ? f.workers : "1";
        // an empty T or B is the shape's default on these cores, as the app resolves it
        const threads = shape.threads && f.threads ? f.threads : byDefault.threads;
        const blocking = shape.blocking && f.blocking ? f.blocking : byDefault.blocking_s;
        for (const method of methods) {
          for (const c of this.grid.concurrencies) {
            if (c < lo || c > hi) continue;
            const p = this.index.get(pointKey(server, workers, threads, blocking, f.sleep,
                                              f.requests, f.keepalive === "1", f.cores,
                                              method, c));
            if (!p) throw new Error(T("no_point"));
            if (p.error) throw new Error(p.error);
            points.push(p);
          }
        }
      }
      const asked = {};
      for (const server of servers) asked[server] = defaults[server];
      return { calibration: this.grid.calibration, points: points, defaults: asked };
    },
    async timeline(f, p) {
      return this.grid.timelines[p.timeline];
    },
    async measured() {
      return cfg.measured;
    },
    measuredText: null,  // the offline file carries no raw ab texts
  };

  const backend = cfg.mode === "offline" ? offline : live;

  // -- one change of the controls ---------------------------------------------------------
  async function update() {
    const seq = ++state.seq;
    const f = fields();
    let answered = false;
    setStatus("busy", T("computing"));
    try {
      const [answer, measured] = await Promise.all([backend.predict(f), backend.measured()]);
      if (seq !== state.seq) return;
      state.points = answer.points;
      state.measured = measured;
      state.calibration = answer.calibration;
      state.defaults = answer.defaults;
      state.fields = f;
      state.abMeasured = null;
      document.getElementById("calibration").textContent = answer.calibration;
      keepSelection();
      redraw();
      setStatus("ready", "");
      answered = true;
    } catch (err) {
      if (seq !== state.seq) return;
      setStatus("error", T("error") + ": " + err.message);
    }
    state.done = seq;  // the latest change is answered (tests and screenshots wait for it)
    if (answered && state.selected) loadTimeline(state.selected);
  }

  // e.g. "django-gthread W=2 T=8", "aiohttp-mixed B=0.001 s": the options the shape takes
  function seriesName(p) {
    const shape = shapeOf(p.server);
    let name = p.server;
    if (shape.workers) name += ` W=${p.workers}`;
    if (shape.threads) name += ` T=${p.threads}`;
    if (shape.blocking) name += ` B=${p.blocking_s} ${T("s")}`;
    return name;
  }

  function findPoint(series, c) {
    return state.points.find((p) => p.method === "des" && seriesName(p) === series &&
                                    p.concurrency === c);
  }

  function keepSelection() {
    const old = state.selected;
    if (old && findPoint(seriesName(old), old.concurrency)) {
      state.selected = findPoint(seriesName(old), old.concurrency);
      return;
    }
    // otherwise the middle C of the first shape's simulated line
    const des = state.points.filter((p) => p.method === "des");
    const first = des.filter((p) => des.length && seriesName(p) === seriesName(des[0]));
    state.selected = first.length ? first[Math.floor((first.length - 1) / 2)] : null;
  }

  function select(series, c) {
    const p = findPoint(series, c);
    if (!p) return;
    state.selected = p;
    state.abMeasured = null;
    redraw();
    loadTimeline(p);
  }

  // A click on a measurement: the simulated point of that shape and C, and what ab printed.
  function selectMeasured(series, c) {
    select(series, c);
    const p = state.selected;
    if (p && seriesName(p) === series && p.concurrency === c) showMeasured(p);
  }

  function hasMeasured(p) {
    return Boolean(backend.measuredText) &&
      measuredFor(p).some((m) => m.concurrency === p.concurrency);
  }

  async function showMeasured(p) {
    if (!hasMeasured(p)) return;
    try {
      const run = await backend.measuredText(state.fields, p);
      if (state.selected !== p) return;
      state.abMeasured = Object.assign({ point: p }, run);
      showAbText(p);
    } catch (err) {
      setStatus("error", T("error") + ": " + err.message);
    }
  }

  // -- charts ----------------------------------------------------------------------------
  function layout(title, yTitle) {
    return {
      title: { text: title, font: { size: 22 }, x: 0.02 },
      font: { size: 17, family: "DejaVu Sans, Arial, sans-serif", color: "#1a1a1a" },
      xaxis: { title: { text: T("x_clients") }, gridcolor: "#e3e3e3", zeroline: false,
               rangemode: "tozero" },
      yaxis: { title: { text: yTitle }, gridcolor: "#e3e3e3", rangemode: "tozero" },
      legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top", font: { size: 17 } },
      margin: { l: 80, r: 20, t: 50, b: 20 },
      hovermode: "closest",
      hoverlabel: { font: { size: 17 } },
      separators: lang === "ru" ? ", " : ".,",  // Russian writes a decimal comma
      height: 480,
    };
  }

  function hover(method) {
    const ms = T("ms");
    let text = "<b>%{fullData.name}</b><br>C = %{x}<br>" +
      `${T("hover_rps")}: %{customdata[0]:.2f} 1/${T("s")}<br>` +
      `${T("hover_time")}: %{customdata[1]:.3f} ${ms}<br>` +
      `${T("hover_time")} (${T("hover_all")}): %{customdata[2]:.3f} ${ms}`;
    if (method === "des") {
      text += `<br>${T("hover_p50")}: %{customdata[3]} ${ms}, ${T("hover_p100")}: ` +
              `%{customdata[4]} ${ms}`;
    }
    if (method === "bounds") text += `<br><i>${T("bound_note")}</i>`;
    return text + "<extra></extra>";
  }

  function redraw() {
    const groups = new Map();
    for (const p of state.points) {
      const name = seriesName(p);
      if (!groups.has(name)) {
        groups.set(name, { server: p.server, workers: p.workers, threads: p.threads,
                           blocking_s: p.blocking_s });
      }
      const g = groups.get(name);
      (g[p.method] = g[p.method] || []).push(p);
    }
    const rps = [], time = [];
    let i = 0;
    for (const [name, g] of groups) {
      const colour = PALETTE[i++ % PALETTE.length];
      for (const method of ["des", "mva", "bounds"]) {
        const pts = (g[method] || []).slice().sort((a, b) => a.concurrency - b.concurrency);
        if (!pts.length) continue;
        const base = {
          type: "scatter",
          x: pts.map((p) => p.concurrency),
          name: method === "des" ? name : `${name}: ${T(method)}`,
          showlegend: method === "des",  // the key under the charts explains the line styles
          legendgroup: name,
          mode: method === "des" ? "lines+markers" : "lines",
          line: { color: colour, width: method === "des" ? 4 : 2.5, dash: DASH[method] },
          marker: { size: 10, color: colour },
          meta: { method: method, series: name },
          customdata: pts.map((p) => [p.requests_per_second, p.time_per_request_ms,
                                      p.time_per_request_all_ms,
                                      p.percentiles_ms ? p.percentiles_ms["50"] : null,
                                      p.percentiles_ms ? p.percentiles_ms["100"] : null]),
          hovertemplate: hover(method),
        };
        rps.push(Object.assign({}, base, { y: pts.map((p) => p.requests_per_second) }));
        time.push(Object.assign({}, base, { y: pts.map((p) => p.time_per_request_ms) }));
      }
      const seen = measuredFor(g);
      if (seen.length) {
        const marker = { symbol: "diamond-open", size: 15, color: colour, line: { width: 3 } };
        for (const [traces, key] of [[rps, "requests_per_second"],
                                     [time, "time_per_request_ms"]]) {
          traces.push({
            type: "scatter", mode: "markers", marker: marker, legendgroup: name,
            name: `${name}: ${T("measured").replace("{folder}", state.measured.folder)}`,
            showlegend: false,
            meta: { method: "measured", series: name },
            x: seen.map((m) => m.concurrency),
            y: seen.map((m) => m[key].median),
            error_y: { type: "data", symmetric: false, color: colour, thickness: 2.5, width: 8,
                       array: seen.map((m) => m[key].max - m[key].median),
                       arrayminus: seen.map((m) => m[key].median - m[key].min) },
            customdata: seen.map((m) => [m[key].min, m[key].max, m.runs]),
            hovertemplate: "<b>%{fullData.name}</b><br>C = %{x}<br>%{y:.2f} " +
              `(min %{customdata[0]:.2f}, max %{customdata[1]:.2f}), ` +
              `%{customdata[2]} ${T("hover_runs")}<extra></extra>`,
          });
        }
      }
    }
    const sel = state.selected;
    if (sel) {
      for (const [traces, key] of [[rps, "requests_per_second"], [time, "time_per_request_ms"]]) {
        traces.push({ type: "scatter", mode: "markers", x: [sel.concurrency], y: [sel[key]],
                      showlegend: false, hoverinfo: "skip", meta: { method: "selected" },
                      marker: { size: 24, color: "rgba(0,0,0,0)",
                                line: { color: "#111", width: 3 } } });
      }
    }
    showKey(state.points, rps.some((t) => t.meta.method === "measured"));
    Plotly.react("chart-rps", rps, layout(T("title_rps"), T("y_rps")), PLOT_CONFIG);
    Plotly.react("chart-time", time, layout(T("title_time"), T("y_time")), PLOT_CONFIG);
    if (sel) showAbText(sel);
    if (state.timeline) drawTimeline(state.timeline);
  }

  function showKey(points, measured) {
    const methods = new Set(points.map((p) => p.method));
    const parts = [`── ${T("des")}`];
    if (methods.has("mva")) parts.push(`- - ${T("mva")}`);
    if (methods.has("bounds")) parts.push(`···· ${T("bounds")}`);
    if (measured) {
      parts.push("◇ " + T("measured").replace("{folder}", state.measured.folder) + ": " +
                 T("measured_bar"));
    }
    document.getElementById("chart-key").textContent = parts.join("     ");
  }

  // The measured points of line ``g`` (a shape with its W, T and B) within the C range; a run
  // that recorded no T or B ran with its shape's default (on the page's cores, as the app
  // resolves it).
  function measuredFor(g) {
    const f = state.fields;
    if (!state.measured || !f) return [];
    const lo = Number(f.c_from), hi = Number(f.c_to);
    const byDefault = (state.defaults || {})[g.server] || { threads: null, blocking_s: null };
    const ran = (value, fallback) => (value === null || value === undefined ? fallback : value);
    return state.measured.points.filter((m) =>
      m.server === g.server && (!shapeOf(g.server).workers || m.workers === g.workers) &&
      ran(m.threads, byDefault.threads) === g.threads &&
      ran(m.blocking_s, byDefault.blocking_s) === g.blocking_s &&
      m.sleep_s === Number(f.sleep) && m.requests === Number(f.requests) &&
      m.keepalive === (f.keepalive === "1") && m.concurrency >= lo && m.concurrency <= hi);
  }

  function showAbText(p) {
    const heading = document.querySelector("#ab-panel h2");
    const run = state.abMeasured;
    const choice = document.getElementById("ab-source");
    choice.hidden = !hasMeasured(p);
    document.getElementById("ab-show-model").setAttribute("aria-pressed", String(!run));
    document.getElementById("ab-show-measured").setAttribute("aria-pressed", String(!!run));
    if (run && run.point === p) {
      heading.textContent = T("ab_measured").replace("{folder}", state.measured.folder);
      document.getElementById("ab-command").textContent = T("measured_run")
        .replace("{repeat}", run.repeat).replace("{runs}", run.runs)
        .replace("{command}", run.command);
      document.getElementById("ab-text").textContent = run.text;
      document.getElementById("ab-panel").dataset.source = "measured";
      return;
    }
    heading.textContent = T("ab_text");
    document.getElementById("ab-panel").dataset.source = "model";
    const k = p.keepalive ? " -k" : "";
    document.getElementById("ab-command").textContent =
      `ab -n ${p.requests} -c ${p.concurrency}${k}: ${seriesName(p)}, sleep ${p.sleep_s} ` +
      `${T("s")}, ${p.cores} CPU`;
    document.getElementById("ab-text").textContent = p.ab_text || "";
  }

  // -- the Gantt timeline of the clicked point --------------------------------------------
  async function loadTimeline(p) {
    const seq = ++state.timelineSeq;
    try {
      const tl = await backend.timeline(state.fields, p);
      if (seq !== state.timelineSeq) return;
      state.timeline = tl;
      drawTimeline(tl);
    } catch (err) {
      if (seq === state.timelineSeq) setStatus("error", T("error") + ": " + err.message);
    }
    if (seq === state.timelineSeq) state.timelineDone = seq;
  }

  function drawTimeline(tl) {
    const names = tl.lanes.map((lane) => T("lane_" + lane.role).replace("{index}", lane.index));
    const traces = tl.kinds.map((kind) => ({
      type: "bar", orientation: "h", name: T("kind_" + kind), y: [], x: [], base: [], text: [],
      customdata: [], marker: { color: cfg.colours[kind], line: { color: "#fff", width: 1 } },
      textposition: "inside", insidetextanchor: "middle", width: 0.72,
      textfont: { color: "#fff", size: 16 },
      hovertemplate: "%{y}: %{base:.1f} → %{customdata:.1f} " + T("ms") +
                     "<extra>%{fullData.name}</extra>",
    }));
    tl.lanes.forEach((lane, row) => {
      for (const [start, end, kind, label] of lane.segments) {
        const t = traces[kind];
        t.y.push(names[row]);
        t.x.push(end - start);
        t.base.push(start);
        t.text.push(label);
        t.customdata.push(end);
      }
    });
    const title = T("timeline_title").replace("{shape}", seriesName(tl))
      .replace("{n}", tl.requests).replace("{c}", tl.concurrency).replace("{sleep}", tl.sleep_s);
    const chart = document.getElementById("chart-timeline");
    const height = Math.max(380, 230 + 24 * names.length);
    const margin = { l: 20, r: 20, t: 50, b: 180 };
    Plotly.react(chart, traces.filter((t) => t.x.length), {
      title: { text: title, font: { size: 20 }, x: 0.02 },
      font: { size: 16, family: "DejaVu Sans, Arial, sans-serif", color: "#1a1a1a" },
      barmode: "overlay",
      separators: lang === "ru" ? ", " : ".,",
      xaxis: { title: { text: T("x_timeline") }, gridcolor: "#e3e3e3", rangemode: "tozero" },
      yaxis: { categoryorder: "array", categoryarray: names, autorange: "reversed",
               automargin: true },
      // below the time axis and its title, whatever the number of lanes
      legend: { orientation: "h", x: 0, y: -75 / (height - margin.t - margin.b),
                yanchor: "top" },
      margin: margin,
      height: height,
      hoverlabel: { font: { size: 16 } },
    }, PLOT_CONFIG);
    chart.dataset.shape = seriesName(tl) + " c=" + tl.concurrency;
  }

  function wireClicks() {
    for (const id of ["chart-rps", "chart-time"]) {
      document.getElementById(id).on("plotly_click", (event) => {
        const pt = event.points[0];
        const meta = pt.data.meta || {};
        // any line's point picks the simulated run of that shape and C; a measurement also
        // shows what ab printed in its median run
        if (meta.method === "measured") selectMeasured(meta.series, pt.x);
        else if (meta.series) select(meta.series, pt.x);
      });
    }
  }

  async function main() {
    buildControls();
    syncOptions();
    applyTexts();
    try {
      await backend.start();
    } catch (err) {
      setStatus("error", T("error") + ": " + err.message);
      return;
    }
    Plotly.newPlot("chart-rps", [], layout(T("title_rps"), T("y_rps")), PLOT_CONFIG);
    Plotly.newPlot("chart-time", [], layout(T("title_time"), T("y_time")), PLOT_CONFIG);
    wireClicks();
    await update();
  }

  main();
})();

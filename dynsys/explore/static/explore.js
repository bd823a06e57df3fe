// dynsys explore: the page draws what the server computes (no maths of the system here).
// Every input marks a time, (re)sends the requests it affects (a newer request of a kind
// aborts the older one), and when no request is left in flight the picture answers the
// latest input: `explorer.draws` grows and `explorer.lastLatency` is the time since that input.
"use strict";

(() => {
  // ---- palette: Okabe and Ito, as in dynsys/plots/style.py ---------------------------------
  const OKABE_ITO = {
    black: "#000000", orange: "#E69F00", skyBlue: "#56B4E9", bluishGreen: "#009E73",
    yellow: "#F0E442", blue: "#0072B2", vermillion: "#D55E00", reddishPurple: "#CC79A7",
  };
  const METHOD_COLOURS = {
    solve_ivp: "#000000", euler: "#D55E00", semi_implicit_euler: "#0072B2",
    midpoint: "#CC79A7", heun: "#E69F00", rk4: "#009E73", dopri5: "#56B4E9",
    implicit_euler: "#8C510A", implicit_midpoint: "#01665E", trapezoidal: "#762A83",
    sdirk3: "#66A61E", bdf2: "#B2182B", verlet: "#4D4D4D", yoshida4: "#E7298A", map: "#0072B2",
  };
  const CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  const GREY = "#777777";
  const MODEL_COLOUR = OKABE_ITO.reddishPurple;
  const NULLCLINE_COLOURS = [OKABE_ITO.orange, OKABE_ITO.skyBlue, OKABE_ITO.bluishGreen];
  // cividis without its palest fifth (dynsys.plots.style.field_cmap), eight speed bins
  const SPEED_COLOURS = ["#00224e", "#123570", "#3d4a6c", "#595e6e",
    "#737475", "#8e8978", "#aaa073", "#c8b866"];
  const KIND_MARKERS = {
    "stable node": { shape: "circle", fill: true },
    "stable focus": { shape: "diamond", fill: true },
    "unstable node": { shape: "circle", fill: false },
    "unstable focus": { shape: "diamond", fill: false },
    "saddle": { shape: "saddle", fill: false },
    "centre": { shape: "centre", fill: false },
    "non-hyperbolic": { shape: "triangle", fill: false },
  };
  const MARGIN = { left: 58, right: 12, top: 12, bottom: 42 };
  const DT_STEPS = 1000;
  const FIELD_DEBOUNCE_MS = 150;

  // ---- state ---------------------------------------------------------------------------------
  const state = {
    params: {}, method: "", dt: 0, t_end: 0, xlim: [0, 1], ylim: [0, 1], plane: [0, 1],
    others: [], starts: [], backward: [],
  };
  const data = { field: null, trajectories: null, reference: null, stability: null };
  let info = null;
  let fixed = [];            // a value for every state: the others' fixed values live here
  let stateLims = [];        // remembered axis limits per state (for the projection selects)
  let inputTime = performance.now();
  let lastPoint = null;      // full state of the last click (for the nearest equilibrium)
  const inflight = new Map(); // kind -> AbortController
  const errors = new Map();   // kind -> message
  const waiters = [];
  const later = new Map();    // kind -> the request to send once the field and runs are in
  let fieldTimer = 0;
  let frameRequested = false;
  let stabilityPoint = null;  // the point of the last stability request
  let trajVersion = 0;        // grows whenever the whole set of runs is requested again
  let runsPending = true;     // the field and the stepper's runs of the last input not drawn yet

  const $ = (sel) => document.querySelector(sel);
  const plane = $("#plane");

  // The hooks tests and benchmarks read: `timings` holds, per kind of request, the ms from
  // sending it to its parsed answer; `lastDrawTime` the ms the last redraw took.  After an
  // input, `runDraws` counts (and `lastRunsLatency` times, from the input event to the end of
  // drawing) the first picture with its field and the stepper's runs; `draws` and
  // `lastLatency` the picture with every answer in (the solve_ivp reference, the stability
  // panel).
  const explorer = {
    state, data, draws: 0, lastLatency: null, runDraws: 0, lastRunsLatency: null,
    lastDrawTime: null, timings: {}, lastCopy: null,
    setParam, setMethod, setDt, setTEnd, clickAt, clear, whenDrawn, plotBox,
  };
  window.explorer = explorer;

  // ---- small helpers ------------------------------------------------------------------------
  function fmt(v, digits = 4) {
    if (!Number.isFinite(v)) return String(v);
    return String(Number(v.toPrecision(digits)));
  }

  function isMap() { return info.system.kind === "map"; }
  function nStates() { return info.system.states.length; }
  function oneStateMap() { return isMap() && nStates() === 1; }

  // `at`: the input event's time stamp (on the clock of performance.now()) when there is one
  function markInput(at = performance.now()) { inputTime = at; runsPending = true; }

  function whenDrawn() { return new Promise((resolve) => waiters.push(resolve)); }

  function setStatus(text, isError = false) {
    const el = $("#status");
    el.textContent = text;
    el.title = text;
    el.classList.toggle("error", isError);
  }

  async function postJSON(url, body, signal) {
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), signal,
    });
    let payload = null;
    try { payload = await response.json(); } catch (_) { payload = null; }
    if (!response.ok) {
      const reason = payload && payload.error ? payload.error : `${url}: HTTP ${response.status}`;
      throw new Error(reason);
    }
    return payload;
  }

  // ---- requests: one in flight per kind, the newest wins ----------------------------------
  function send(kind, job, apply = (result) => { data[kind] = result; }) {
    const previous = inflight.get(kind);
    if (previous) previous.abort();
    const controller = new AbortController();
    inflight.set(kind, controller);
    const began = performance.now();
    job(controller.signal)
      .then((result) => {
        if (inflight.get(kind) !== controller) return;
        explorer.timings[kind.startsWith("start-") ? "start" : kind] = performance.now() - began;
        apply(result);
        errors.delete(kind);
      }, (err) => {
        if (err.name === "AbortError" || inflight.get(kind) !== controller) return;
        errors.set(kind, err.message);
      })
      .finally(() => {
        if (inflight.get(kind) !== controller) return;
        inflight.delete(kind);
        settle();
      });
  }

  function settle() {
    const began = performance.now();
    try {
      drawAll();
      errors.delete("draw");
    } catch (err) {
      errors.set("draw", `could not draw: ${err.message}`);
      console.warn(err);
    }
    explorer.lastDrawTime = performance.now() - began;
    if (firstInFlight()) return;
    if (runsPending) {
      runsPending = false;
      explorer.lastRunsLatency = performance.now() - inputTime;
      explorer.runDraws += 1;
    }
    for (const [kind, ask] of later) { later.delete(kind); ask(); }
    if (inflight.size === 0) completeDraw();
  }

  // The field and the runs come first; the solve_ivp reference and the stability panel are
  // asked for once they are in (and drawn), so that the server computes them alone.
  function firstInFlight() {
    return inflight.has("field") || inflight.has("trajectories") ||
      [...inflight.keys()].some((kind) => kind.startsWith("start-"));
  }

  function askLater(kind, ask) {
    if (firstInFlight()) later.set(kind, ask);
    else ask();
  }

  function completeDraw() {
    explorer.lastLatency = performance.now() - inputTime;
    explorer.draws += 1;
    document.body.dataset.draws = String(explorer.draws);
    document.body.dataset.latency = explorer.lastLatency.toFixed(1);
    updateStatus();
    waiters.splice(0).forEach((resolve) => resolve(explorer.draws));
  }

  function fieldRequest() {
    return {
      params: state.params, xlim: state.xlim, ylim: state.ylim, plane: state.plane,
      others: state.others, grid: Math.min(info.limits.max_grid || 25, 25), t: 0.0,
    };
  }

  function requestField() {
    send("field", (signal) => postJSON("/api/field", fieldRequest(), signal));
  }

  // The runs of every start come without the solve_ivp reference, which is asked for apart
  // (requestReference) so that they are drawn first; the run of one added start brings its own.
  function trajectoryRequest(indices, backward, reference = false) {
    return {
      params: state.params, starts: indices.map((k) => state.starts[k]), method: state.method,
      dt: state.dt, t_end: state.t_end, backward, reference: reference && !isMap(),
    };
  }

  // States come as {dtype: "f8", shape: [time, n], data: base64 of little-endian float64}
  // (a list of rows passes through): decoded once into rows [[s_0..s_n-1], ...] of the same
  // float64 values.
  const LITTLE = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;
  function unpack(value) {
    if (!value || Array.isArray(value)) return value;
    const text = atob(value.data), bytes = new Uint8Array(text.length);
    for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
    if (!LITTLE) {
      for (let k = 0; k < bytes.length; k += 8) bytes.subarray(k, k + 8).reverse();
    }
    const flat = new Float64Array(bytes.buffer);
    const [count, n] = value.shape.length > 1 ? value.shape : [value.shape[0], 1];
    const rows = new Array(count);
    for (let k = 0, o = 0; k < count; k++) {
      const row = new Array(n);
      for (let i = 0; i < n; i++, o++) row[i] = flat[o];
      rows[k] = row;
    }
    return rows;
  }

  function makeRun(r, m, start, backward) {
    return {
      t: r.t, states: unpack(r.runs[m].states), diverged: r.runs[m].diverged, backward, start,
      reference: r.reference
        ? { t: r.reference.t, states: unpack(r.reference.runs[m].states) } : null,
      model: r.model ? { t: r.model.t, states: unpack(r.model.runs[m].states) } : null,
    };
  }

  // Forward and backward starts go in two requests each; answers are merged in start order.
  function startGroups() {
    const forward = [], backward = [];
    state.starts.forEach((_, k) => (state.backward[k] ? backward : forward).push(k));
    return [[forward, false], [backward, true]].filter(([ids]) => ids.length > 0);
  }

  async function fetchTrajectories(signal, version) {
    const starts = state.starts.slice(), method = state.method, dt = state.dt;
    const groups = startGroups();
    const responses = await Promise.all(groups.map(([ids, back]) =>
      postJSON("/api/trajectories", trajectoryRequest(ids, back), signal)));
    const runs = new Array(starts.length);
    let cobweb = null;
    groups.forEach(([ids, back], g) => {
      const r = responses[g];
      if (r.cobweb) cobweb = r.cobweb;
      ids.forEach((k, m) => { runs[k] = makeRun(r, m, starts[k], back); });
    });
    return { runs, cobweb, method, dt, version };
  }

  // the trajectories' request without what solve_ivp does not take
  function referenceRequest(indices, backward) {
    const { method, reference, ...body } = trajectoryRequest(indices, backward);
    return body;
  }

  async function fetchReference(signal, version) {
    const groups = startGroups();
    const responses = await Promise.all(groups.map(([ids, back]) =>
      postJSON("/api/reference", referenceRequest(ids, back), signal)));
    const runs = new Array(state.starts.length);
    groups.forEach(([ids], g) => {
      const r = responses[g];
      ids.forEach((k, m) => { runs[k] = { t: r.t, states: unpack(r.runs[m].states) }; });
    });
    return { runs, version };
  }

  // The reference joins the runs of the same request, whichever answer comes first.
  function attachReference() {
    const traj = data.trajectories, ref = data.reference;
    if (!traj || !ref || traj.version !== ref.version) return;
    ref.runs.forEach((r, k) => { if (traj.runs[k] && !traj.runs[k].reference) traj.runs[k].reference = r; });
  }

  function abortAddedStarts() {
    for (const [kind, controller] of [...inflight]) {
      if (kind.startsWith("start-")) { controller.abort(); inflight.delete(kind); }
    }
  }

  function requestTrajectories() {
    trajVersion += 1;
    abortAddedStarts();
    later.delete("reference");
    for (const kind of ["trajectories", "reference"]) {
      const previous = inflight.get(kind);
      if (previous) { previous.abort(); inflight.delete(kind); }
      errors.delete(kind);
    }
    data.reference = null;
    if (state.starts.length === 0) {
      data.trajectories = { runs: [], cobweb: null, method: state.method, dt: state.dt };
      return false;
    }
    const version = trajVersion;
    send("trajectories", (signal) => fetchTrajectories(signal, version), (result) => {
      data.trajectories = result;
      if (isMap()) return;
      askLater("reference", () => send("reference", (signal) => fetchReference(signal, version),
        (answer) => { data.reference = answer; attachReference(); }));
    });
    return true;
  }

  // A click adds one start: only its run is computed when the runs drawn answer the current
  // settings; otherwise every start is requested again.
  function requestAddedStart(k) {
    const traj = data.trajectories;
    const current = traj && !inflight.has("trajectories") && !errors.has("trajectories") &&
      traj.runs.length <= k;
    if (!current) { requestTrajectories(); return; }
    const version = trajVersion, start = state.starts[k], back = state.backward[k];
    send(`start-${k}`, (signal) =>
      postJSON("/api/trajectories", trajectoryRequest([k], back, true), signal), (r) => {
      if (version !== trajVersion || data.trajectories !== traj) return;
      traj.runs[k] = makeRun(r, 0, start, back);
      if (r.cobweb) traj.cobweb = r.cobweb;
    });
  }

  function requestStability() {
    if (isMap()) return false;
    stabilityPoint = lastPoint;
    // the view as the field's request: the server finds the equilibria once for both
    const body = {
      method: state.method, dt: state.dt, params: state.params, point: lastPoint,
      xlim: state.xlim, ylim: state.ylim, plane: state.plane, others: state.others,
    };
    send("stability", (signal) => postJSON("/api/stability", body, signal));
    return true;
  }

  // After an input: send what it changes; with nothing to fetch, redraw at once.
  function refresh({ field = false, trajectories = false, stability = false } = {}) {
    if (field) requestField();
    if (trajectories) requestTrajectories();
    if (stability) askLater("stability", requestStability);
    if (inflight.size === 0) settle();
  }

  // ---- inputs ---------------------------------------------------------------------------------
  function setParam(name, value) {
    const input = document.querySelector(`input[data-param="${CSS.escape(name)}"]`);
    if (!input) throw new Error(`no parameter ${name}`);
    input.value = String(value);
    applyParam(input, Number(value));
  }

  function applyParam(input, value, at = performance.now()) {
    markInput(at);
    state.params[input.dataset.param] = value;
    input.nextElementSibling.value = fmt(value);
    refresh({ field: true, trajectories: true, stability: true });
  }

  function setMethod(name) {
    if (!info.methods.includes(name)) throw new Error(`unknown method ${name}`);
    $("#method").value = name;
    markInput();
    state.method = name;
    refresh({ trajectories: true, stability: true });
  }

  function dtFromSlider(position) {
    const [lo, hi] = info.dt_range;
    return Number((lo * Math.pow(hi / lo, position / DT_STEPS)).toPrecision(3));
  }

  function sliderFromDt(dt) {
    const [lo, hi] = info.dt_range;
    if (hi <= lo) return 0;
    return Math.round(DT_STEPS * Math.log(dt / lo) / Math.log(hi / lo));
  }

  function setDt(value) {
    const [lo, hi] = info.dt_range;
    const dt = Math.min(hi, Math.max(lo, Number(value)));
    $("#dt").value = String(sliderFromDt(dt));
    applyDt(dt);
  }

  function applyDt(dt, at = performance.now()) {
    markInput(at);
    state.dt = dt;
    $("#dt-value").value = fmt(dt, 3);
    refresh({ trajectories: true, stability: true });
  }

  function setTEnd(value) {
    $("#t-end").value = String(value);
    applyTEnd(Number(value));
  }

  function applyTEnd(value) {
    if (!(value > 0)) { setStatus("t end must be a number > 0", true); return; }
    markInput();
    state.t_end = isMap() ? Math.round(value) : value;
    refresh({ trajectories: true });
  }

  // A start in data coordinates of the plane; the other states take their fixed values.
  function clickAt(x, y, { shift = false, at = performance.now() } = {}) {
    markInput(at);
    const s0 = fixed.slice();
    const [i, j] = state.plane;
    s0[i] = x;
    if (!oneStateMap()) s0[j] = y;
    const max = info.limits.max_starts || 64;
    state.starts.push(s0);
    state.backward.push(Boolean(shift) && !isMap());
    const dropped = state.starts.length > max;
    while (state.starts.length > max) { state.starts.shift(); state.backward.shift(); }
    const before = nearestEquilibrium();
    lastPoint = s0;
    if (dropped) requestTrajectories(); else requestAddedStart(state.starts.length - 1);
    // the stability panel changes only when the click is nearest another equilibrium
    const same = before !== null && before === nearestEquilibrium() && stabilityPoint !== null &&
      data.stability &&
      !inflight.has("stability") && !errors.has("stability");
    refresh({ stability: !same });
    return whenDrawn();
  }

  function clear() {
    markInput();
    state.starts.length = 0;
    state.backward.length = 0;
    refresh({ trajectories: true });
    return whenDrawn();
  }

  function setPlane(i, j) {
    stateLims[state.plane[0]] = state.xlim.slice();
    stateLims[state.plane[1]] = state.ylim.slice();
    state.plane = [i, j];
    state.xlim = stateLims[i].slice();
    state.ylim = stateLims[j].slice();
    markInput();
    syncOthers();
    refresh({ field: true });
  }

  function syncOthers() {
    const [i, j] = state.plane;
    state.others = fixed.filter((_, k) => k !== i && k !== j);
    document.querySelectorAll("#others .row").forEach((row) => {
      row.hidden = Number(row.dataset.state) === i || Number(row.dataset.state) === j;
    });
  }

  // ---- pan and zoom ---------------------------------------------------------------------------
  function plotBox() {
    const w = plane.clientWidth, h = plane.clientHeight;
    return { x0: MARGIN.left, y0: MARGIN.top, w: w - MARGIN.left - MARGIN.right,
      h: h - MARGIN.top - MARGIN.bottom };
  }

  function toData(px, py) {
    const b = plotBox();
    return [state.xlim[0] + (px - b.x0) / b.w * (state.xlim[1] - state.xlim[0]),
      state.ylim[1] - (py - b.y0) / b.h * (state.ylim[1] - state.ylim[0])];
  }

  function scheduleField() {
    clearTimeout(fieldTimer);
    fieldTimer = setTimeout(() => { markInput(); refresh({ field: true }); },
      FIELD_DEBOUNCE_MS);
  }

  function panBy(fx, fy) {
    const dx = fx * (state.xlim[1] - state.xlim[0]);
    const dy = fy * (state.ylim[1] - state.ylim[0]);
    state.xlim = [state.xlim[0] + dx, state.xlim[1] + dx];
    state.ylim = [state.ylim[0] + dy, state.ylim[1] + dy];
    requestFrame();
    scheduleField();
  }

  function zoomAt(cx, cy, factor) {
    state.xlim = state.xlim.map((v) => cx + (v - cx) * factor);
    state.ylim = state.ylim.map((v) => cy + (v - cy) * factor);
    requestFrame();
    scheduleField();
  }

  function requestFrame() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => { frameRequested = false; drawPlane(); });
  }

  function installPlaneEvents() {
    let down = null;
    plane.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      down = { x: e.offsetX, y: e.offsetY, xlim: state.xlim.slice(), ylim: state.ylim.slice(),
        moved: false };
      plane.setPointerCapture(e.pointerId);
    });
    plane.addEventListener("pointermove", (e) => {
      if (!down) return;
      const dx = e.offsetX - down.x, dy = e.offsetY - down.y;
      if (!down.moved && Math.hypot(dx, dy) < 4) return;
      down.moved = true;
      plane.classList.add("dragging");
      const b = plotBox();
      const sx = dx / b.w * (down.xlim[1] - down.xlim[0]);
      const sy = dy / b.h * (down.ylim[1] - down.ylim[0]);
      state.xlim = [down.xlim[0] - sx, down.xlim[1] - sx];
      state.ylim = [down.ylim[0] + sy, down.ylim[1] + sy];
      requestFrame();
    });
    plane.addEventListener("pointerup", (e) => {
      if (!down) return;
      const moved = down.moved;
      down = null;
      plane.classList.remove("dragging");
      if (moved) { scheduleField(); return; }
      const [x, y] = toData(e.offsetX, e.offsetY);
      clickAt(x, y, { shift: e.shiftKey, at: e.timeStamp });
    });
    plane.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [cx, cy] = toData(e.offsetX, e.offsetY);
      zoomAt(cx, cy, Math.exp(Math.max(-200, Math.min(200, e.deltaY)) * 0.002));
    }, { passive: false });
    plane.addEventListener("keydown", onPlaneKey);
  }

  function onPlaneKey(e) {
    const cx = (state.xlim[0] + state.xlim[1]) / 2, cy = (state.ylim[0] + state.ylim[1]) / 2;
    const actions = {
      ArrowLeft: () => panBy(-0.1, 0), ArrowRight: () => panBy(0.1, 0),
      ArrowUp: () => panBy(0, 0.1), ArrowDown: () => panBy(0, -0.1),
      "+": () => zoomAt(cx, cy, 0.8), "=": () => zoomAt(cx, cy, 0.8),
      "-": () => zoomAt(cx, cy, 1.25), Enter: () => clickAt(cx, cy, { shift: e.shiftKey }),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  }

  // ---- drawing: common ------------------------------------------------------------------------
  function fitCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const pw = Math.round(w * dpr), ph = Math.round(h * dpr);
    if (canvas.width !== pw || canvas.height !== ph) { canvas.width = pw; canvas.height = ph; }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    return { ctx, w, h };
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0)) return { values: [lo], step: 1 };
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    const values = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return { values, step };
  }

  function tickLabel(v, step) {
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-4 && v !== 0)
      ? v.toExponential(1) : v.toFixed(decimals);
  }

  // A linear map from data (x, y) to pixels inside box b.
  function scales(b, xlim, ylim) {
    const kx = b.w / (xlim[1] - xlim[0]), ky = b.h / (ylim[1] - ylim[0]);
    return {
      sx: (x) => b.x0 + (x - xlim[0]) * kx,
      sy: (y) => b.y0 + b.h - (y - ylim[0]) * ky,
    };
  }

  function drawAxes(ctx, b, xlim, ylim, xlabel, ylabel, font = 13) {
    const { sx, sy } = scales(b, xlim, ylim);
    const xt = niceTicks(xlim[0], xlim[1], Math.max(3, Math.floor(b.w / 90)));
    const yt = niceTicks(ylim[0], ylim[1], Math.max(3, Math.floor(b.h / 60)));
    ctx.save();
    ctx.strokeStyle = "#ececec";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const v of xt.values) { const x = Math.round(sx(v)) + 0.5; ctx.moveTo(x, b.y0); ctx.lineTo(x, b.y0 + b.h); }
    for (const v of yt.values) { const y = Math.round(sy(v)) + 0.5; ctx.moveTo(b.x0, y); ctx.lineTo(b.x0 + b.w, y); }
    ctx.stroke();
    ctx.strokeStyle = "#333";
    ctx.strokeRect(b.x0 + 0.5, b.y0 + 0.5, b.w, b.h);
    ctx.fillStyle = "#222";
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.beginPath();
    for (const v of xt.values) {
      const x = sx(v);
      ctx.moveTo(x, b.y0 + b.h); ctx.lineTo(x, b.y0 + b.h + 5);
      ctx.fillText(tickLabel(v, xt.step), x, b.y0 + b.h + 7);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yt.values) {
      const y = sy(v);
      ctx.moveTo(b.x0, y); ctx.lineTo(b.x0 - 5, y);
      ctx.fillText(tickLabel(v, yt.step), b.x0 - 7, y);
    }
    ctx.stroke();
    ctx.font = `600 ${font + 1}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xlabel, b.x0 + b.w / 2, b.y0 + b.h + font * 2 + 12);
    ctx.save();
    ctx.translate(b.x0 - (font <= 11 ? 34 : 44), b.y0 + b.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(ylabel, 0, 0);
    ctx.restore();
    ctx.restore();
  }

  // Pixels far outside the canvas (a run that blew up) are pulled in, where they draw the same.
  function clampPx(v) { return v > 1e5 ? 1e5 : v < -1e5 ? -1e5 : v; }

  // One path through points (time, n) projected on states (i, j); `stride` keeps every point
  // except those closer than half a pixel to the last one drawn.
  function tracePath(ctx, states, i, j, sx, sy) {
    const count = states.length;
    if (count === 0) return;
    let lastX = clampPx(sx(states[0][i])), lastY = clampPx(sy(states[0][j]));
    ctx.moveTo(lastX, lastY);
    for (let k = 1; k < count; k++) {
      const row = states[k];
      const x = clampPx(sx(row[i])), y = clampPx(sy(row[j]));
      if (Math.abs(x - lastX) + Math.abs(y - lastY) < 0.5 && k < count - 1) continue;
      ctx.lineTo(x, y);
      lastX = x; lastY = y;
    }
  }

  function marker(ctx, x, y, kind, size = 6) {
    const spec = KIND_MARKERS[kind] || KIND_MARKERS["non-hyperbolic"];
    ctx.beginPath();
    if (spec.shape === "circle" || spec.shape === "centre") ctx.arc(x, y, size, 0, 2 * Math.PI);
    else if (spec.shape === "diamond") {
      ctx.moveTo(x, y - size * 1.3); ctx.lineTo(x + size, y);
      ctx.lineTo(x, y + size * 1.3); ctx.lineTo(x - size, y); ctx.closePath();
    } else if (spec.shape === "saddle") ctx.rect(x - size, y - size, 2 * size, 2 * size);
    else { ctx.moveTo(x, y - size * 1.2); ctx.lineTo(x + size, y + size * 0.8); ctx.lineTo(x - size, y + size * 0.8); ctx.closePath(); }
    ctx.fillStyle = spec.fill ? "#000" : "#fff";
    ctx.fill();
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = "#000";
    ctx.stroke();
    if (spec.shape === "saddle") {
      ctx.beginPath();
      ctx.moveTo(x - size, y - size); ctx.lineTo(x + size, y + size);
      ctx.moveTo(x + size, y - size); ctx.lineTo(x - size, y + size);
      ctx.stroke();
    } else if (spec.shape === "centre") {
      ctx.beginPath(); ctx.arc(x, y, 1.8, 0, 2 * Math.PI); ctx.fillStyle = "#000"; ctx.fill();
    }
  }

  // ---- drawing: the phase plane -------------------------------------------------------------
  function axisLabels() {
    const names = info.system.states;
    if (oneStateMap()) return [`${names[0]}(n)`, `${names[0]}(n+1)`];
    return [names[state.plane[0]], names[state.plane[1]]];
  }

  // The field's arrows by speed bin: each bin is one path (eight strokes in all).
  function fieldArrows(field, sx, sy, scale = 1) {
    const { x, y, u, v } = field;
    const cell = Math.min(Math.abs(sx(x[1]) - sx(x[0])), Math.abs(sy(y[1]) - sy(y[0])));
    const kx = sx(1) - sx(0), ky = sy(1) - sy(0);
    let lo = Infinity, hi = -Infinity;
    const speed = [];
    for (let k = 0; k < y.length; k++) {
      const row = [];
      for (let l = 0; l < x.length; l++) {
        const s = Math.hypot(u[k][l], v[k][l]);
        const ls = Math.log1p(s);
        row.push(ls);
        if (Number.isFinite(ls)) { lo = Math.min(lo, ls); hi = Math.max(hi, ls); }
      }
      speed.push(row);
    }
    const bins = SPEED_COLOURS.map(() => []);
    for (let k = 0; k < y.length; k++) {
      for (let l = 0; l < x.length; l++) {
        const du = u[k][l] * kx, dv = v[k][l] * ky;
        const norm = Math.hypot(du, dv);
        if (!(norm > 0) || !Number.isFinite(norm)) continue;
        const frac = hi > lo ? (speed[k][l] - lo) / (hi - lo) : 0;
        const bin = Math.min(SPEED_COLOURS.length - 1, Math.floor(frac * SPEED_COLOURS.length));
        const len = 0.42 * cell * scale;
        const ex = du / norm * len, ey = dv / norm * len;
        bins[bin].push([sx(x[l]) - ex, sy(y[k]) - ey, sx(x[l]) + ex, sy(y[k]) + ey]);
      }
    }
    return bins;
  }

  // Adds each arrow [x0, y0, x1, y1] (canvas pixels), shaft and head, to the current path.
  function traceArrows(ctx, arrows) {
    const head = 4;
    for (const [x0, y0, x1, y1] of arrows) {
      const a = Math.atan2(y1 - y0, x1 - x0);
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.moveTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
      ctx.lineTo(x1, y1);
      ctx.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
    }
  }

  function drawArrows(ctx, bins) {
    ctx.save();
    ctx.globalAlpha = 0.7;
    ctx.lineWidth = 1.1;
    bins.forEach((arrows, b) => {
      ctx.strokeStyle = SPEED_COLOURS[b];
      ctx.beginPath();
      traceArrows(ctx, arrows);
      ctx.stroke();
    });
    ctx.restore();
  }

  // The model's learned field: arrows of one colour over the true field's.
  function drawLearned(ctx, field, sx, sy) {
    const learned = { x: field.x, y: field.y, u: field.learned.u, v: field.learned.v };
    const arrows = fieldArrows(learned, sx, sy, 0.7).flat();
    ctx.save();
    ctx.strokeStyle = MODEL_COLOUR;
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    traceArrows(ctx, arrows);
    ctx.stroke();
    ctx.restore();
  }

  function drawNullclines(ctx, field, sx, sy) {
    (field.nullclines || []).forEach((nc, n) => {
      ctx.save();
      ctx.strokeStyle = NULLCLINE_COLOURS[n % NULLCLINE_COLOURS.length];
      ctx.lineWidth = 1.8;
      ctx.setLineDash([7, 5]);
      ctx.beginPath();
      for (const seg of nc.segments) tracePath(ctx, seg, 0, 1, sx, sy);
      ctx.stroke();
      ctx.restore();
    });
  }

  function drawMapGraph(ctx, field, sx, sy) {
    ctx.save();
    ctx.strokeStyle = GREY;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    const lo = Math.max(state.xlim[0], state.ylim[0]), hi = Math.min(state.xlim[1], state.ylim[1]);
    ctx.moveTo(sx(lo), sy(lo));
    ctx.lineTo(sx(hi), sy(hi));
    ctx.stroke();
    ctx.restore();
    if (field && field.graph) {
      ctx.save();
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      tracePath(ctx, field.graph, 0, 1, sx, sy);
      ctx.stroke();
      ctx.restore();
    }
  }

  // The solve_ivp reference of every run lies under all the runs (grey, wide); each run
  // with a model's rollout from its start, and its start and end marked.
  function drawReference(ctx, reference, sx, sy) {
    const [i, j] = state.plane;
    strokeRun(ctx, reference.states, i, j, sx, sy, GREY, 3.2, [], 0.6);
  }

  function drawRun(ctx, run, colour, sx, sy) {
    const [i, j] = state.plane;
    if (run.model) strokeRun(ctx, run.model.states, i, j, sx, sy, MODEL_COLOUR, 2, [8, 5], 1);
    if (isMap()) dotRun(ctx, run.states, i, j, sx, sy, colour);
    else strokeRun(ctx, run.states, i, j, sx, sy, colour, 1.8, [], 1);
    drawStartAndEnd(ctx, run, i, j, sx, sy, colour);
  }

  function strokeRun(ctx, states, i, j, sx, sy, colour, width, dash, alpha) {
    ctx.save();
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.lineJoin = "round";
    ctx.setLineDash(dash);
    ctx.beginPath();
    tracePath(ctx, states, i, j, sx, sy);
    ctx.stroke();
    ctx.restore();
  }

  function dotRun(ctx, states, i, j, sx, sy, colour) {
    ctx.fillStyle = colour;
    for (let k = 0; k < states.length; k++) {
      ctx.fillRect(sx(states[k][i]) - 1.5, sy(states[k][j]) - 1.5, 3, 3);
    }
  }

  function drawStartAndEnd(ctx, run, i, j, sx, sy, colour) {
    const s0 = run.start;
    const x = sx(s0[i]), y = oneStateMap() ? sy(0) : sy(s0[j]);
    ctx.beginPath();
    ctx.arc(x, y, 4, 0, 2 * Math.PI);
    ctx.fillStyle = run.backward ? "#fff" : colour;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = colour;
    ctx.stroke();
    if (run.diverged && run.states.length > 0) {
      const last = run.states[run.states.length - 1];
      const ex = sx(last[i]), ey = sy(last[j]);
      ctx.beginPath();
      ctx.moveTo(ex - 6, ey - 6); ctx.lineTo(ex + 6, ey + 6);
      ctx.moveTo(ex + 6, ey - 6); ctx.lineTo(ex - 6, ey + 6);
      ctx.lineWidth = 2.5;
      ctx.stroke();
    }
  }

  function drawCobweb(ctx, cobweb, sx, sy) {
    if (!cobweb) return;
    ctx.save();
    ctx.strokeStyle = METHOD_COLOURS.map;
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    tracePath(ctx, cobweb, 0, 1, sx, sy);
    ctx.stroke();
    ctx.restore();
  }

  function drawEquilibria(ctx, field, sx, sy) {
    const [i, j] = state.plane;
    for (const eq of field.equilibria || []) {
      const x = sx(eq.point[i]), y = sy(eq.point[j]);
      if (Number.isFinite(x) && Number.isFinite(y)) marker(ctx, x, y, eq.kind);
    }
  }

  function legendItems() {
    const items = [];
    const traj = data.trajectories;
    if (traj && traj.runs.length > 0) {
      const method = traj.method;
      items.push({ label: method, line: METHOD_COLOURS[method] || CYCLE[0], width: 2.2, dash: [] });
      if (traj.runs.some((r) => r && r.reference)) items.push({ label: "solve_ivp", line: GREY, width: 3.2, dash: [], alpha: 0.6 });
      if (traj.runs.some((r) => r && r.model)) items.push({ label: "model", line: MODEL_COLOUR, width: 2, dash: [8, 5] });
    }
    const field = data.field;
    if (field && field.learned && field.learned.u) {
      items.push({ label: "true field", line: SPEED_COLOURS[2], width: 1.2, dash: [] });
      items.push({ label: "learned field", line: MODEL_COLOUR, width: 1.3, dash: [] });
    }
    if (field) {
      (field.nullclines || []).forEach((nc, n) => items.push({
        label: `d${nc.state}/dt = 0`, line: NULLCLINE_COLOURS[n % NULLCLINE_COLOURS.length],
        width: 1.8, dash: [7, 5] }));
      const kinds = [...new Set((field.equilibria || []).map((e) => e.kind))];
      kinds.forEach((kind) => items.push({ label: kind, marker: kind }));
    }
    return items;
  }

  function drawLegend(ctx, b) {
    const items = legendItems();
    if (items.length === 0) return;
    ctx.save();
    ctx.font = "13px system-ui, sans-serif";
    const width = 44 + Math.max(...items.map((it) => ctx.measureText(it.label).width));
    const height = 8 + items.length * 19;
    const x0 = b.x0 + b.w - width - 8, y0 = b.y0 + 8;
    ctx.fillStyle = "rgba(255,255,255,0.88)";
    ctx.strokeStyle = "#bbb";
    ctx.fillRect(x0, y0, width, height);
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, width, height);
    items.forEach((it, n) => {
      const y = y0 + 14 + n * 19;
      if (it.marker) marker(ctx, x0 + 18, y, it.marker, 5);
      else {
        ctx.save();
        ctx.globalAlpha = it.alpha || 1;
        ctx.strokeStyle = it.line; ctx.lineWidth = it.width; ctx.setLineDash(it.dash);
        ctx.beginPath(); ctx.moveTo(x0 + 6, y); ctx.lineTo(x0 + 30, y); ctx.stroke();
        ctx.restore();
      }
      ctx.fillStyle = "#222";
      ctx.textBaseline = "middle";
      ctx.fillText(it.label, x0 + 36, y);
    });
    ctx.restore();
  }

  // The references and the runs have a canvas layer each that keeps what it drew: nothing is
  // stroked again until the view changes or an item drawn before is gone; items added at the
  // end (a click's run) are drawn on top of the others.  An answer for the field or the
  // stability panel thus redraws the plane without them: wide strokes are most of the cost
  // of a redraw in a canvas rendered in software.
  const layers = { references: newLayer(), runs: newLayer() };

  function newLayer() { return { canvas: document.createElement("canvas"), view: null, items: [] }; }

  function paintLayer(layer, items, b, draw) {
    const dpr = window.devicePixelRatio || 1;
    const view = JSON.stringify([state.xlim, state.ylim, state.plane, b, plane.width,
      plane.height, dpr]);
    const canvas = layer.canvas, ctx = canvas.getContext("2d");
    const kept = layer.view === view && layer.items.length <= items.length &&
      layer.items.every((item, k) => item === items[k]);
    if (!kept) {
      canvas.width = plane.width; canvas.height = plane.height;  // cleared, state reset
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.beginPath();
      ctx.rect(b.x0, b.y0, b.w, b.h);
      ctx.clip();
      layer.view = view;
      layer.items = [];
    }
    for (let k = layer.items.length; k < items.length; k++) if (items[k]) draw(ctx, items[k]);
    layer.items = items.slice();
    return canvas;
  }

  function drawLayer(ctx, canvas) {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(canvas, 0, 0);
    ctx.restore();
  }

  function drawPlane() {
    const { ctx } = fitCanvas(plane);
    const b = plotBox();
    const { sx, sy } = scales(b, state.xlim, state.ylim);
    const [xlabel, ylabel] = axisLabels();
    drawAxes(ctx, b, state.xlim, state.ylim, xlabel, ylabel);
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.x0, b.y0, b.w, b.h);
    ctx.clip();
    const field = data.field;
    if (oneStateMap()) drawMapGraph(ctx, field, sx, sy);
    if (field && field.u && field.x.length > 1) drawArrows(ctx, fieldArrows(field, sx, sy));
    if (field && field.learned && field.learned.u && field.x.length > 1) drawLearned(ctx, field, sx, sy);
    if (field) drawNullclines(ctx, field, sx, sy);
    const traj = data.trajectories;
    if (traj && oneStateMap()) drawCobweb(ctx, traj.cobweb, sx, sy);
    else if (traj) {
      const colour = METHOD_COLOURS[traj.method] || CYCLE[0];
      const references = traj.runs.map((run) => run && run.reference);
      drawLayer(ctx, paintLayer(layers.references, references, b,
        (c, reference) => drawReference(c, reference, sx, sy)));
      drawLayer(ctx, paintLayer(layers.runs, traj.runs, b,
        (c, run) => drawRun(c, run, colour, sx, sy)));
    }
    if (field) drawEquilibria(ctx, field, sx, sy);
    ctx.restore();
    drawLegend(ctx, b);
  }

  // ---- drawing: stability region ------------------------------------------------------------
  function regionImage(st, colour) {
    const nx = st.x.length, ny = st.y.length;
    const off = document.createElement("canvas");
    off.width = nx; off.height = ny;
    const octx = off.getContext("2d");
    const img = octx.createImageData(nx, ny);
    const rgb = [1, 3, 5].map((p) => parseInt(colour.slice(p, p + 2), 16));
    for (let k = 0; k < ny; k++) {
      const row = st.inside[k], line = (ny - 1 - k) * nx;  // y grows upward
      for (let l = 0; l < nx; l++) {
        if (!row[l]) continue;
        const p = 4 * (line + l);
        img.data[p] = rgb[0]; img.data[p + 1] = rgb[1]; img.data[p + 2] = rgb[2]; img.data[p + 3] = 70;
      }
    }
    octx.putImageData(img, 0, 0);
    return off;
  }

  function stabilityView(st, b) {
    let [xa, xb] = [st.x[0], st.x[st.x.length - 1]];
    let [ya, yb] = [st.y[0], st.y[st.y.length - 1]];
    for (const [re, im] of st.points || []) {
      xa = Math.min(xa, re); xb = Math.max(xb, re); ya = Math.min(ya, im); yb = Math.max(yb, im);
    }
    const pad = 0.05 * Math.max(xb - xa, yb - ya);
    xa -= pad; xb += pad; ya -= pad; yb += pad;
    // equal scales on both axes, so that circles stay circles
    const k = Math.min(b.w / (xb - xa), b.h / (yb - ya));
    const cx = (xa + xb) / 2, cy = (ya + yb) / 2;
    return [[cx - b.w / k / 2, cx + b.w / k / 2], [cy - b.h / k / 2, cy + b.h / k / 2]];
  }

  function drawStability() {
    const canvas = $("#stability");
    const { ctx, w, h } = fitCanvas(canvas);
    const b = { x0: 46, y0: 8, w: w - 56, h: h - 42 };
    if (isMap()) { drawMultipliers(ctx, b); return; }
    const st = data.stability;
    if (!st) return;
    const [xlim, ylim] = stabilityView(st, b);
    const { sx, sy } = scales(b, xlim, ylim);
    drawAxes(ctx, b, xlim, ylim, "Re z", "Im z", 11);
    ctx.save();
    ctx.beginPath(); ctx.rect(b.x0, b.y0, b.w, b.h); ctx.clip();
    const colour = METHOD_COLOURS[state.method] || CYCLE[0];
    const dx = (st.x[st.x.length - 1] - st.x[0]) / (st.x.length - 1);
    const dy = (st.y[st.y.length - 1] - st.y[0]) / (st.y.length - 1);
    ctx.imageSmoothingEnabled = false;
    const left = sx(st.x[0] - dx / 2), top = sy(st.y[st.y.length - 1] + dy / 2);
    ctx.drawImage(regionImage(st, colour), left, top,
      sx(st.x[st.x.length - 1] + dx / 2) - left, sy(st.y[0] - dy / 2) - top);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    ctx.moveTo(sx(0), b.y0); ctx.lineTo(sx(0), b.y0 + b.h);   // imaginary axis
    ctx.moveTo(b.x0, sy(0)); ctx.lineTo(b.x0 + b.w, sy(0));
    ctx.stroke();
    for (const [re, im] of st.points || []) {
      ctx.beginPath();
      ctx.arc(sx(re), sy(im), 4.5, 0, 2 * Math.PI);
      ctx.fillStyle = st.stable === false ? OKABE_ITO.vermillion : "#000";
      ctx.fill();
    }
    ctx.restore();
    const verdict = st.stable === null || st.stable === undefined ? ""
      : st.stable ? ": hλ inside, stable" : ": hλ outside, unstable";
    const near = st.kind && st.equilibrium
      ? ` at the ${st.kind} (${st.equilibrium.map((v) => fmt(v, 3)).join(", ")})` : "";
    $("#stability-caption").textContent =
      `Stability region of ${state.method} (shaded), h = ${fmt(state.dt, 3)}${verdict}${near}`;
  }

  function nearestEquilibrium() {
    const eqs = (data.field && data.field.equilibria) || [];
    if (eqs.length === 0) return null;
    const p = lastPoint || fixed;
    const dist = (e) => e.point.reduce((acc, v, k) => acc + (v - p[k]) ** 2, 0);
    return eqs.reduce((best, e) => (dist(e) < dist(best) ? e : best));
  }

  // A map's fixed point is stable when its multipliers lie inside the unit circle.
  function drawMultipliers(ctx, b) {
    const eq = nearestEquilibrium();
    const points = eq ? eq.eigenvalues : [];
    const reach = Math.max(1.3, ...points.map(([re, im]) => 1.1 * Math.hypot(re, im)));
    const k = Math.min(b.w, b.h) / (2 * reach);
    const xlim = [-b.w / k / 2, b.w / k / 2], ylim = [-b.h / k / 2, b.h / k / 2];
    const { sx, sy } = scales(b, xlim, ylim);
    drawAxes(ctx, b, xlim, ylim, "Re μ", "Im μ", 11);
    ctx.save();
    ctx.beginPath(); ctx.rect(b.x0, b.y0, b.w, b.h); ctx.clip();
    ctx.beginPath();
    ctx.arc(sx(0), sy(0), k, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(0, 114, 178, 0.18)";
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.2;
    ctx.stroke();
    for (const [re, im] of points) {
      ctx.beginPath();
      ctx.arc(sx(re), sy(im), 4.5, 0, 2 * Math.PI);
      ctx.fillStyle = Math.hypot(re, im) > 1 ? OKABE_ITO.vermillion : "#000";
      ctx.fill();
    }
    ctx.restore();
    $("#stability-caption").textContent = eq
      ? `Multipliers μ of the ${eq.kind} (${eq.point.map((v) => fmt(v, 3)).join(", ")}), unit circle`
      : "Multipliers: no fixed point in view";
  }

  // ---- drawing: time series -------------------------------------------------------------------
  function lastRun() {
    const traj = data.trajectories;
    if (!traj || traj.runs.length === 0) return null;
    return traj.runs[traj.runs.length - 1] || null;
  }

  function valueRange(states) {
    let lo = Infinity, hi = -Infinity;
    for (const row of states || []) {
      for (const v of row) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    return [lo, hi];
  }

  // Time and value limits; a stepper run that blew up far beyond the reference is clipped to
  // the reference's range (the status line names the divergence).
  function seriesLimits(run) {
    const ts = run.t.slice(0, run.states.length);
    let tlo = Math.min(ts[0], ts[ts.length - 1]), thi = Math.max(ts[0], ts[ts.length - 1]);
    let [lo, hi] = valueRange(run.states);
    if (run.diverged && !run.reference && run.states.length > 4) {
      [lo, hi] = valueRange(run.states.slice(0, Math.floor(0.8 * run.states.length)));
    }
    if (run.reference && run.reference.states.length > 1) {
      const [rlo, rhi] = valueRange(run.reference.states);
      const span = Math.max(rhi - rlo, 1e-12);
      if (hi - lo > 4 * span || !Number.isFinite(hi - lo)) {
        lo = Math.max(lo, rlo - span); hi = Math.min(hi, rhi + span);
      }
    }
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    if (!(thi > tlo)) thi = tlo + 1;
    const pad = 0.05 * (hi - lo);
    return [[tlo, thi], [lo - pad, hi + pad]];
  }

  // One path per state: t on the horizontal axis.
  function traceSeries(ctx, t, states, i, sx, sy) {
    const count = t && states ? Math.min(t.length, states.length) : 0;
    if (count === 0) return;
    ctx.moveTo(sx(t[0]), sy(states[0][i]));
    for (let k = 1; k < count; k++) ctx.lineTo(sx(t[k]), clampPx(sy(states[k][i])));
  }

  function drawSeries() {
    const canvas = $("#series");
    const { ctx, w, h } = fitCanvas(canvas);
    const run = lastRun();
    if (!run || run.states.length === 0) {
      ctx.fillStyle = "#555";
      ctx.font = "13px system-ui, sans-serif";
      ctx.fillText("Click in the plane to start a trajectory.", 12, 24);
      return;
    }
    const b = { x0: 46, y0: 8, w: w - 56, h: h - 42 };
    const [tlim, ylim] = seriesLimits(run);
    const { sx, sy } = scales(b, tlim, ylim);
    drawAxes(ctx, b, tlim, ylim, isMap() ? "n" : "t", "", 11);
    ctx.save();
    ctx.beginPath(); ctx.rect(b.x0, b.y0, b.w, b.h); ctx.clip();
    const names = info.system.states;
    names.forEach((_, i) => {
      if (run.reference) {
        ctx.strokeStyle = GREY; ctx.lineWidth = 3; ctx.globalAlpha = 0.5;
        ctx.beginPath(); traceSeries(ctx, run.reference.t, run.reference.states, i, sx, sy); ctx.stroke();
      }
      ctx.globalAlpha = 1;
      ctx.strokeStyle = CYCLE[i % CYCLE.length]; ctx.lineWidth = 1.4;
      ctx.beginPath(); traceSeries(ctx, run.t, run.states, i, sx, sy); ctx.stroke();
    });
    ctx.restore();
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "top";
    let x = b.x0 + 6;
    names.forEach((name, i) => {
      ctx.fillStyle = CYCLE[i % CYCLE.length];
      ctx.fillText(name, x, b.y0 + 4);
      x += ctx.measureText(name).width + 10;
    });
    if (run.reference) { ctx.fillStyle = GREY; ctx.fillText("grey: solve_ivp", x, b.y0 + 4); }
  }

  function drawAll() {
    drawPlane();
    drawStability();
    drawSeries();
  }

  // ---- status line ----------------------------------------------------------------------------
  function divergenceMessage() {
    const traj = data.trajectories;
    if (!traj) return null;
    const run = traj.runs.find((r) => r && r.diverged);
    if (!run) return null;
    const start = run.start.map((v) => fmt(v, 3)).join(", ");
    const direction = run.backward ? " (backward)" : "";
    const when = isMap() ? `n = ${run.diverged.step}` : `t = ${fmt(run.diverged.t, 4)}`;
    return `${traj.method} diverged at ${when} for the start (${start})${direction}`;
  }

  function updateStatus() {
    const error = [...errors.values()][0];
    if (error) { setStatus(error, true); return; }
    const divergence = divergenceMessage();
    if (divergence) { setStatus(divergence, true); return; }
    const n = state.starts.length;
    const step = isMap() ? `${state.t_end} iterations` : `h = ${fmt(state.dt, 3)}, t end = ${fmt(state.t_end)}`;
    setStatus(`${state.method}, ${step}: ${n} trajector${n === 1 ? "y" : "ies"}` +
      (explorer.lastLatency === null ? "" : ` (${explorer.lastLatency.toFixed(0)} ms)`));
  }

  // ---- export ---------------------------------------------------------------------------------
  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function baseName() { return `dynsys-${info.system.name}`; }

  function exportPng() {
    plane.toBlob((blob) => { if (blob) download(blob, `${baseName()}.png`); }, "image/png");
  }

  function svgPath(points, i, j, sx, sy) {
    const parts = [];
    for (let k = 0; k < points.length; k++) {
      const x = sx(points[k][i]), y = sy(points[k][j]);
      if (Number.isFinite(x) && Number.isFinite(y)) parts.push(`${parts.length ? "L" : "M"}${x.toFixed(2)} ${y.toFixed(2)}`);
    }
    return parts.join("");
  }

  // SVG path data of arrows [x0, y0, x1, y1] with their heads.
  function arrowPathData(arrows) {
    const f = (v) => v.toFixed(1);
    return arrows.map(([x0, y0, x1, y1]) => {
      const a = Math.atan2(y1 - y0, x1 - x0), head = 4;
      return `M${f(x0)} ${f(y0)}L${f(x1)} ${f(y1)}` +
        `M${f(x1 - head * Math.cos(a - 0.45))} ${f(y1 - head * Math.sin(a - 0.45))}L${f(x1)} ${f(y1)}` +
        `L${f(x1 - head * Math.cos(a + 0.45))} ${f(y1 - head * Math.sin(a + 0.45))}`;
    }).join("");
  }

  function svgLegend(b, out) {
    const items = legendItems();
    if (items.length === 0) return;
    const width = 150, x0 = b.x0 + b.w - width - 8, y0 = b.y0 + 8;
    out.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${8 + 19 * items.length}" fill="#fff" fill-opacity="0.88" stroke="#bbb"/>`);
    items.forEach((it, n) => {
      const y = y0 + 14 + n * 19;
      if (it.marker) {
        const spec = KIND_MARKERS[it.marker] || KIND_MARKERS["non-hyperbolic"];
        out.push(`<circle cx="${x0 + 18}" cy="${y}" r="5" fill="${spec.fill ? "#000" : "#fff"}" stroke="#000" stroke-width="1.6"/>`);
      } else {
        out.push(`<line x1="${x0 + 6}" y1="${y}" x2="${x0 + 30}" y2="${y}" stroke="${it.line}" stroke-width="${it.width}" stroke-opacity="${it.alpha || 1}" stroke-dasharray="${it.dash.join(" ") || "none"}"/>`);
      }
      out.push(`<text x="${x0 + 36}" y="${y}" dominant-baseline="middle">${escapeXml(it.label)}</text>`);
    });
  }

  function escapeXml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  function svgAxes(b, out) {
    const { sx, sy } = scales(b, state.xlim, state.ylim);
    const xt = niceTicks(state.xlim[0], state.xlim[1], Math.max(3, Math.floor(b.w / 90)));
    const yt = niceTicks(state.ylim[0], state.ylim[1], Math.max(3, Math.floor(b.h / 60)));
    out.push(`<rect x="${b.x0}" y="${b.y0}" width="${b.w}" height="${b.h}" fill="none" stroke="#333"/>`);
    for (const v of xt.values) {
      const x = sx(v).toFixed(2);
      out.push(`<line x1="${x}" y1="${b.y0 + b.h}" x2="${x}" y2="${b.y0 + b.h + 5}" stroke="#333"/>`);
      out.push(`<text x="${x}" y="${b.y0 + b.h + 19}" text-anchor="middle">${tickLabel(v, xt.step)}</text>`);
    }
    for (const v of yt.values) {
      const y = sy(v).toFixed(2);
      out.push(`<line x1="${b.x0 - 5}" y1="${y}" x2="${b.x0}" y2="${y}" stroke="#333"/>`);
      out.push(`<text x="${b.x0 - 7}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(v, yt.step)}</text>`);
    }
    const [xl, yl] = axisLabels();
    out.push(`<text x="${b.x0 + b.w / 2}" y="${b.y0 + b.h + 36}" text-anchor="middle" font-weight="600">${escapeXml(xl)}</text>`);
    out.push(`<text transform="translate(${b.x0 - 44} ${b.y0 + b.h / 2}) rotate(-90)" text-anchor="middle" font-weight="600">${escapeXml(yl)}</text>`);
  }

  function buildSvg() {
    const w = plane.clientWidth, h = plane.clientHeight, b = plotBox();
    const { sx, sy } = scales(b, state.xlim, state.ylim);
    const [i, j] = state.plane;
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="13">`,
      `<rect width="${w}" height="${h}" fill="#fff"/>`,
      `<defs><clipPath id="box"><rect x="${b.x0}" y="${b.y0}" width="${b.w}" height="${b.h}"/></clipPath></defs>`,
      `<g clip-path="url(#box)" fill="none">`];
    const field = data.field;
    if (field && field.u && field.x.length > 1) {
      fieldArrows(field, sx, sy).forEach((arrows, bin) => {
        const d = arrowPathData(arrows);
        if (d) out.push(`<path d="${d}" stroke="${SPEED_COLOURS[bin]}" stroke-opacity="0.7" stroke-width="1.1"/>`);
      });
    }
    if (field && field.learned && field.learned.u && field.x.length > 1) {
      const learned = { x: field.x, y: field.y, u: field.learned.u, v: field.learned.v };
      const d = arrowPathData(fieldArrows(learned, sx, sy, 0.7).flat());
      if (d) out.push(`<path d="${d}" stroke="${MODEL_COLOUR}" stroke-width="1.3"><title>learned field</title></path>`);
    }
    if (field) {
      (field.nullclines || []).forEach((nc, n) => {
        const d = nc.segments.map((seg) => svgPath(seg, 0, 1, sx, sy)).join("");
        out.push(`<path d="${d}" stroke="${NULLCLINE_COLOURS[n % NULLCLINE_COLOURS.length]}" stroke-width="1.8" stroke-dasharray="7 5"><title>d${escapeXml(nc.state)}/dt = 0</title></path>`);
      });
      if (field.graph) out.push(`<path d="${svgPath(field.graph, 0, 1, sx, sy)}" stroke="#000" stroke-width="1.8"/>`);
    }
    const traj = data.trajectories;
    if (traj && oneStateMap() && traj.cobweb) out.push(`<path d="${svgPath(traj.cobweb, 0, 1, sx, sy)}" stroke="${METHOD_COLOURS.map}" stroke-width="1.2"/>`);
    else if (traj) {
      const colour = METHOD_COLOURS[traj.method] || CYCLE[0];
      for (const run of traj.runs) {
        if (!run) continue;
        if (run.reference) out.push(`<path d="${svgPath(run.reference.states, i, j, sx, sy)}" stroke="${GREY}" stroke-opacity="0.6" stroke-width="3.2"><title>solve_ivp</title></path>`);
        if (run.model) out.push(`<path d="${svgPath(run.model.states, i, j, sx, sy)}" stroke="${MODEL_COLOUR}" stroke-width="2" stroke-dasharray="8 5"><title>model</title></path>`);
        out.push(`<path d="${svgPath(run.states, i, j, sx, sy)}" stroke="${colour}" stroke-width="1.8"><title>${escapeXml(traj.method)}</title></path>`);
      }
    }
    if (field) {
      for (const eq of field.equilibria || []) {
        const spec = KIND_MARKERS[eq.kind] || KIND_MARKERS["non-hyperbolic"];
        out.push(`<circle cx="${sx(eq.point[i]).toFixed(2)}" cy="${sy(eq.point[j]).toFixed(2)}" r="6" fill="${spec.fill ? "#000" : "#fff"}" stroke="#000" stroke-width="1.6"><title>${escapeXml(eq.kind)}</title></circle>`);
      }
    }
    out.push("</g>");
    svgAxes(b, out);
    svgLegend(b, out);
    out.push("</svg>");
    return out.join("\n");
  }

  function exportSvg() {
    download(new Blob([buildSvg()], { type: "image/svg+xml" }), `${baseName()}.svg`);
  }

  function buildCsv() {
    const names = info.system.states;
    const lines = [["trajectory", "curve", "direction", "t", ...names].join(",")];
    const traj = data.trajectories;
    if (!traj) return lines.join("\n") + "\n";
    traj.runs.forEach((run, k) => {
      if (!run) return;
      const direction = run.backward ? "backward" : "forward";
      const curves = [[traj.method, run.t, run.states]];
      if (run.reference) curves.push(["solve_ivp", run.reference.t, run.reference.states]);
      if (run.model) curves.push(["model", run.model.t, run.model.states]);
      for (const [curve, t, states] of curves) {
        const count = Math.min(t.length, states.length);
        for (let m = 0; m < count; m++) lines.push([k, curve, direction, t[m], ...states[m]].join(","));
      }
    });
    return lines.join("\n") + "\n";
  }

  function exportCsv() {
    download(new Blob([buildCsv()], { type: "text/csv" }), `${baseName()}.csv`);
  }

  // ---- copy command / YAML --------------------------------------------------------------------
  function reproduceRequest() {
    return {
      params: state.params, method: state.method, dt: state.dt, t_end: state.t_end,
      starts: state.starts, xlim: state.xlim, ylim: state.ylim, plane: state.plane,
    };
  }

  // The clipboard needs a permission headless browsers and plain http pages may lack (and the
  // promise may never settle): after a short wait the text is shown in a dialog instead.
  async function writeClipboard(text) {
    if (!navigator.clipboard || !window.isSecureContext) return false;
    const timeout = new Promise((resolve) => setTimeout(() => resolve(false), 800));
    const write = navigator.clipboard.writeText(text).then(() => true, () => false);
    return Promise.race([write, timeout]);
  }

  function showCopyDialog(text, title) {
    const dialog = $("#copy-dialog");
    $("#copy-title").textContent = title;
    const area = $("#copy-text");
    area.value = text;
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
    }
    area.focus();
    area.select();
  }

  async function copyReproduction(key) {
    let text;
    try {
      const result = await postJSON("/api/reproduce", reproduceRequest());
      text = result[key];
    } catch (err) {
      setStatus(err.message, true);
      return null;
    }
    explorer.lastCopy = text;
    const what = key === "yaml" ? "YAML" : "command";
    if (await writeClipboard(text)) setStatus(`The ${what} is on the clipboard.`);
    else showCopyDialog(text, `Copy this ${what} (Ctrl+C)`);
    return text;
  }

  // ---- building the controls ------------------------------------------------------------------
  function row(labelText, id, input, output) {
    const div = document.createElement("div");
    div.className = "row";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = labelText;
    label.title = labelText;
    input.id = id;
    div.append(label, input);
    if (output) div.append(output);
    return div;
  }

  function rangeInput(min, max, value) {
    const input = document.createElement("input");
    input.type = "range";
    input.min = String(min);
    input.max = String(max);
    input.step = String((max - min) / 500 || 1);
    input.value = String(value);
    return input;
  }

  function valueOutput(input, value) {
    const out = document.createElement("output");
    out.htmlFor = input.id;
    out.value = fmt(value);
    return out;
  }

  function buildParams() {
    const box = $("#params");
    for (const [name, spec] of Object.entries(info.system.params)) {
      const input = rangeInput(spec.min, spec.max, spec.value);
      input.dataset.param = name;
      state.params[name] = spec.value;
      const r = row(name, `param-${name}`, input, null);
      r.append(valueOutput(input, spec.value));
      box.append(r);
      input.addEventListener("input", (e) => applyParam(input, Number(input.value), e.timeStamp));
    }
    box.hidden = Object.keys(info.system.params).length === 0;
  }

  function buildMethods() {
    const select = $("#method");
    for (const name of info.methods) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.append(option);
    }
    select.value = info.method;
    select.addEventListener("change", () => setMethod(select.value));
  }

  function buildStepControls() {
    const [lo, hi] = info.dt_range;
    const dt = $("#dt");
    $("#dt-row").hidden = !(hi > lo);
    dt.value = String(sliderFromDt(info.dt));
    $("#dt-value").value = fmt(info.dt, 3);
    dt.setAttribute("aria-valuetext", `h = ${fmt(info.dt, 3)}`);
    dt.addEventListener("input", (e) => {
      const value = dtFromSlider(Number(dt.value));
      dt.setAttribute("aria-valuetext", `h = ${fmt(value, 3)}`);
      applyDt(value, e.timeStamp);
    });
    const tEnd = $("#t-end");
    tEnd.value = String(info.t_end);
    if (isMap()) { $("#t-end-label").textContent = "Iterations"; tEnd.step = "1"; tEnd.min = "1"; }
    tEnd.addEventListener("change", () => applyTEnd(Number(tEnd.value)));
  }

  function defaultLimits() {
    const n = nStates();
    const reach = Math.max(...state.xlim.map(Math.abs), ...state.ylim.map(Math.abs), 1);
    stateLims = Array.from({ length: n }, () => [-reach, reach]);
    (info.ranges || []).forEach((r, k) => { if (r) stateLims[k] = r.slice(); });
    stateLims[state.plane[0]] = state.xlim.slice();
    stateLims[state.plane[1]] = state.ylim.slice();
  }

  function buildProjection() {
    const n = nStates();
    const [i, j] = state.plane;
    fixed = new Array(n).fill(0);
    const rest = [...Array(n).keys()].filter((k) => k !== i && k !== j);
    rest.forEach((k, m) => { fixed[k] = info.others[m] ?? 0; });
    defaultLimits();
    if (n < 3) return;
    $("#projection").hidden = false;
    const names = info.system.states;
    for (const [id, current] of [["#plane-x", i], ["#plane-y", j]]) {
      const select = $(id);
      names.forEach((name, k) => select.append(new Option(name, String(k), false, k === current)));
      select.addEventListener("change", onPlaneSelect);
    }
    const others = $("#others");
    names.forEach((name, k) => {
      const [lo, hi] = stateLims[k];
      const input = rangeInput(Math.min(lo, fixed[k]), Math.max(hi, fixed[k]), fixed[k]);
      input.dataset.other = String(k);
      const r = row(`${name} (fixed)`, `other-${k}`, input, null);
      r.dataset.state = String(k);
      r.append(valueOutput(input, fixed[k]));
      others.append(r);
      input.addEventListener("input", () => {
        markInput();
        fixed[k] = Number(input.value);
        input.nextElementSibling.value = fmt(fixed[k]);
        syncOthers();
        refresh({ field: true });
      });
    });
    syncOthers();
  }

  function onPlaneSelect() {
    const i = Number($("#plane-x").value), j = Number($("#plane-y").value);
    if (i === j) { setStatus("choose two different states for the axes", true); return; }
    setPlane(i, j);
  }

  function buildButtons() {
    $("#clear").addEventListener("click", () => clear());
    $("#export-png").addEventListener("click", exportPng);
    $("#export-svg").addEventListener("click", exportSvg);
    $("#export-csv").addEventListener("click", exportCsv);
    $("#copy-command").addEventListener("click", () => copyReproduction("command"));
    $("#copy-yaml").addEventListener("click", () => copyReproduction("yaml"));
    $("#controls").addEventListener("submit", (e) => e.preventDefault());
  }

  function describeTarget() {
    const target = info.target || {};
    const model = info.model ? ` · model: ${info.model.kind}, ${info.model.hidden} hidden` : "";
    $("#title").textContent = `dynsys explore: ${info.system.name}${model}`;
    document.title = `dynsys explore: ${info.system.name}`;
    $("#equations").textContent = (info.system.equations || []).join("   ·   ");
    $("#equations").title = $("#equations").textContent;
    if (target.path) $("#title").title = target.path;
  }

  async function init() {
    try {
      const response = await fetch("/api/info");
      info = await response.json();
      if (!response.ok) throw new Error(info.error || `HTTP ${response.status}`);
    } catch (err) {
      setStatus(`could not read /api/info: ${err.message}`, true);
      return;
    }
    Object.assign(state, {
      method: info.method, dt: info.dt, t_end: info.t_end, xlim: info.xlim.slice(),
      ylim: info.ylim.slice(), plane: info.plane.slice(), others: info.others.slice(),
    });
    for (const s0 of info.starts || []) { state.starts.push(s0.slice()); state.backward.push(false); }
    explorer.info = info;
    describeTarget();
    buildMethods();
    buildStepControls();
    buildParams();
    buildProjection();
    buildButtons();
    installPlaneEvents();
    window.addEventListener("resize", () => { clearTimeout(fieldTimer); fieldTimer = setTimeout(drawAll, 50); });
    markInput();
    refresh({ field: true, trajectories: true, stability: true });
  }

  explorer.buildSvg = () => buildSvg();
  explorer.buildCsv = () => buildCsv();
  explorer.copy = (key) => copyReproduction(key);
  init();
})();

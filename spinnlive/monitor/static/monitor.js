// spinnlive monitor page: one WebSocket to the monitor server, a canvas raster per population.
// Binary messages are spike frames (layout in spinnlive/monitor/frames.py): a section comes event
// by event (mode 0) or, for a busy population, binned at pixel resolution with exact counts
// (mode 1), so the page's work per frame is bounded by pixels, not events. Text messages are
// JSON: describe, lifecycle, stats, bridge, ack, error. Everything the page shows is also kept
// in window.spinnliveMonitor, so a test can read from the page what the page shows.
"use strict";

const RING = 1 << 18;  // raster entries (events or binned cells) kept per population
const M = window.spinnliveMonitor = {
  labels: [], pops: {}, rows: {}, events: {}, rings: {}, epoch: null, state: "connecting", now: 0,
  stats: null, monitor: null, frames: 0, framesDropped: 0, eventsDropped: 0, frameGaps: 0, lastSeq: null,
  missedEvents: 0, ticksPerBin: 1,
  lifecycle: [], controls: [], lastReply: null, timestepMs: 1.0, windowS: 5.0, rate: 0,
  raster(label) {  // [[tick, id], ...] of the events the raster shows one by one, oldest first
    return entries(label, 0).map(([t, i]) => [t, i]);
  },
  cells(label) {  // [[first tick of bin, row, count], ...] of the binned cells it shows
    return entries(label, 1);
  },
};
function entries(label, binned) {
  const r = M.rings[label], out = [];
  if (!r) return out;
  const from = M.now - windowTicks();
  for (let k = 0; k < r.len; k++) {
    const i = (r.start + k) % RING;
    if (r.binned[i] === binned && r.ticks[i] > from) out.push([r.ticks[i], r.ids[i], r.counts[i]]);
  }
  return out;
}
const $ = (id) => document.getElementById(id);
const windowTicks = () => Math.max(1, Math.round(M.windowS * 1000 / M.timestepMs));
let ws = null, dirty = true, wallEvents = [];

function ring(label) {
  if (!M.rings[label]) {
    M.rings[label] = {ticks: new Uint32Array(RING), ids: new Uint32Array(RING),
                      counts: new Uint32Array(RING), binned: new Uint8Array(RING), start: 0,
                      len: 0, pending: [], perTick: [], full: true};
    M.events[label] = M.events[label] || 0;
  }
  return M.rings[label];
}

function clearRasters() {
  for (const r of Object.values(M.rings)) {
    r.start = 0; r.len = 0; r.pending = []; r.perTick = []; r.full = true;
  }
  M.now = 0;
  dirty = true;
  schedule();
}

function setEpoch(epoch) {
  if (epoch === null || epoch === undefined || epoch === M.epoch) return;
  if (M.epoch !== null) clearRasters();  // ticks start again in a new run
  M.epoch = epoch;
  $("epoch").textContent = epoch;
}

function onFrame(buf) {
  const dv = new DataView(buf);
  const sections = dv.getUint16(2, true), seq = dv.getUint32(4, true);
  const epoch = dv.getUint32(8, true), newest = dv.getUint32(12, true);
  M.framesDropped = dv.getUint32(16, true);
  M.eventsDropped = dv.getUint32(20, true);
  const events = dv.getUint32(24, true);
  if (M.lastSeq !== null && seq !== M.lastSeq + 1) M.frameGaps += seq - M.lastSeq - 1;
  M.lastSeq = seq;
  M.frames += 1;
  if (events > 0) setEpoch(epoch);
  let off = 28;
  for (let s = 0; s < sections; s++) {
    const index = dv.getUint16(off, true), binned = dv.getUint16(off + 2, true);
    const n = dv.getUint32(off + 4, true);
    off += 8;
    const ticks = new Uint32Array(buf, off, n), ids = new Uint32Array(buf, off + 4 * n, n);
    const counts = binned ? new Uint32Array(buf, off + 8 * n, n) : null;
    off += (binned ? 12 : 8) * n;
    const label = M.labels[index];
    if (label === undefined || n === 0) continue;
    const r = ring(label);
    let events = n;
    if (counts) { events = 0; for (let k = 0; k < n; k++) events += counts[k]; }
    for (let k = 0; k < n; k++) {
      const i = (r.start + r.len) % RING;
      r.ticks[i] = ticks[k]; r.ids[i] = ids[k];
      r.counts[i] = counts ? counts[k] : 1; r.binned[i] = binned;
      if (r.len < RING) r.len++; else r.start = (r.start + 1) % RING;
    }
    r.pending.push([ticks, ids, binned]);
    r.perTick.push([ticks[n - 1], events]);
    M.events[label] += events;
  }
  if (events > 0 && newest > M.now) M.now = newest;
  wallEvents.push([performance.now(), events]);
  if (events > 0) { dirty = true; schedule(); }  // an empty frame changes nothing on screen
  ws.send('{"op":"ack"}');
}

function onText(msg) {
  if (msg.type === "describe") {
    M.labels = msg.labels;
    M.rows = msg.rows || {};
    M.ticksPerBin = msg.ticks_per_bin;
    M.timestepMs = msg.timestep_ms || M.timestepMs;
    M.windowS = msg.window_s || M.windowS;
    for (const p of msg.populations) M.pops[p.label] = p;
    if (msg.state) setState(msg.state);
    setEpoch(msg.epoch);
    $("discovery").textContent = msg.discovery;
    buildRasters();
    buildControls(msg);
    dirty = true;
    schedule();
  } else if (msg.type === "lifecycle") {
    const b = msg.body;
    M.lifecycle.push(b);
    if (b.event === "new-epoch") setEpoch(b.epoch);
    if (b.state) setState(b.state);
    const li = document.createElement("li");
    li.textContent = `epoch ${b.epoch}: ${b.event} (${b.state})`;
    $("lifecycle").prepend(li);
  } else if (msg.type === "stats") {
    M.stats = msg.body;
    M.monitor = msg.monitor;
    if (msg.body.state) setState(msg.body.state);
    renderCounters();
  } else if (msg.type === "bridge") {
    setState(msg.state);
  } else if (msg.type === "ack" || msg.type === "error") {
    M.lastReply = msg;
    $("control-status").textContent = msg.type === "ack"
      ? `sent ${msg.op} to ${msg.label} (${msg.ids} ids)` : `refused: ${msg.message}`;
  }
}

function setState(state) {
  M.state = state;
  const el = $("state");
  el.textContent = state;
  el.className = "badge " + state;
}

function outLabels() {
  return M.labels.filter((l) => !M.pops[l] || M.pops[l].direction === "out");
}

function buildRasters() {
  const root = $("rasters");
  for (const label of outLabels()) {
    if (document.getElementById("pop-" + label)) continue;
    const size = (M.pops[label] || {}).size || 1;
    const div = document.createElement("div");
    div.className = "pop"; div.id = "pop-" + label;
    div.innerHTML = `<div class="title"><b></b><span>${size} neurons</span>` +
      `<span>rate <b class="hz">0</b> Hz</span><span>events <b class="n">0</b></span></div>`;
    div.querySelector("b").textContent = label;
    const canvas = document.createElement("canvas");
    canvas.height = Math.max(40, Math.min(160, size));
    div.appendChild(canvas);
    root.appendChild(div);
  }
}

function buildControls(msg) {
  const ins = msg.populations.filter((p) => p.direction === "in");
  const rates = msg.populations.filter((p) => p.direction === "rates");
  fill($("inject-label"), ins); fill($("rates-label"), rates);
  $("inject-form").hidden = ins.length === 0;
  $("rates-form").hidden = rates.length === 0;
  $("controls").hidden = !msg.controls || (ins.length === 0 && rates.length === 0);
}

function fill(select, pops) {
  const keep = select.value;
  select.innerHTML = "";
  for (const p of pops) {
    const o = document.createElement("option");
    o.value = o.textContent = p.label;
    select.appendChild(o);
  }
  if (pops.some((p) => p.label === keep)) select.value = keep;
}

function ids(text) {
  return text.split(/[\s,]+/).filter((s) => s.length).map(Number);
}

function control(body) {
  M.controls.push(body);
  ws.send(JSON.stringify(body));
}

$("inject-form").addEventListener("submit", (e) => {
  e.preventDefault();
  control({op: "inject", label: $("inject-label").value, ids: ids($("inject-ids").value)});
});
$("rates-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const n = ids($("rates-ids").value);
  control({op: "rates", label: $("rates-label").value, ids: n,
           rates: n.map(() => Number($("rates-hz").value))});
});

function ratesHz(label) {  // mean rate over the last biological second (or less at the start)
  const r = M.rings[label], size = (M.pops[label] || {}).size || 1;
  if (!r || M.now === 0) return 0;
  const span = Math.min(Math.round(1000 / M.timestepMs), M.now + 1);
  while (r.perTick.length && r.perTick[0][0] <= M.now - span) r.perTick.shift();
  const n = r.perTick.reduce((a, c) => a + c[1], 0);
  return n / size / (span * M.timestepMs / 1000);
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
  return tr;
}

function sum(obj) { return Object.values(obj || {}).reduce((a, b) => a + b, 0); }

function renderCounters() {
  const s = M.stats || {}, own = (M.monitor || {}).streams || {};
  const body = $("streams").tBodies[0];
  body.innerHTML = "";
  for (const [topic, st] of Object.entries(s.streams || {})) {
    if (!topic.startsWith("spikes/")) continue;
    const label = topic.slice(7), mine = own[topic] || {};
    const dropped = Object.entries(st.dropped_events || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    body.appendChild(row([topic, st.events, ratesHz(label).toFixed(1), M.events[label] || 0,
                          mine.missed_events || 0, mine.gap_messages || 0, dropped || "0"]));
  }
  const missed = (M.monitor || {}).missed_events || 0;
  M.missedEvents = missed;
  $("missed").hidden = missed === 0;
  $("missed").textContent = `monitor behind: missed ${missed} events (it yields the CPU to ` +
    "the bridge; the bridge's other subscribers lose nothing)";
  const udp = $("udp").tBodies[0];
  udp.innerHTML = "";
  for (const k of ["received", "bad_packets", "unknown_keys", "late_ticks", "ticks_by_deadline",
                   "kernel_drops", "tag_timeouts"]) {
    if (s.udp && k in s.udp) udp.appendChild(row([k.replace(/_/g, " "), s.udp[k]]));
  }
  const page = $("page").tBodies[0];
  page.innerHTML = "";
  page.appendChild(row(["frames drawn", M.frames]));
  page.appendChild(row(["frames dropped (page behind)", M.framesDropped]));
  page.appendChild(row(["events in dropped frames", M.eventsDropped]));
  page.appendChild(row(["bad bridge messages", (M.monitor || {}).bad_messages || 0]));
  const behind = $("behind");
  behind.hidden = M.framesDropped === 0;
  behind.textContent = `page behind: ${M.framesDropped} frames ` +
    `(${M.eventsDropped} events) dropped`;
}

// The raster scrolls: pixel column x holds the ticks of bucket b = floor(t * w / span), the
// newest bucket at the right edge. Each draw shifts the canvas by the buckets that passed and
// paints only the events that arrived since the last draw, into the strip they fall in: its
// cost follows the event rate, not the window. A resize or a new run repaints from the ring.
const DOT = 0xff6fd0ff;  // ABGR: warm yellow

function paint(img, x0, w, h, size, bucketRight, span, ticks, ids) {
  // size: the population's neurons (events) or its rows (binned cells): ids scale the same way
  const px = new Uint32Array(img.data.buffer), sw = img.width;
  const dy = Math.max(1, Math.min(4, (h / size) | 0));
  for (let k = 0; k < ticks.length; k++) {
    const x = w - 1 - (bucketRight - Math.floor(ticks[k] * w / span)) - x0;
    if (x < 0 || x >= sw) continue;
    const y = Math.min(h - dy, (ids[k] * h / size) | 0);
    for (let yy = y; yy < y + dy; yy++) px[yy * sw + x] = DOT;
  }
}

function drawRaster(label, div) {
  const canvas = div.querySelector("canvas"), r = M.rings[label];
  const size = (M.pops[label] || {}).size || 1, span = windowTicks();
  const rows = M.rows[label] || size;
  const w = Math.max(100, canvas.clientWidth | 0), h = canvas.height;
  const ctx = canvas.getContext("2d"), right = Math.floor(M.now * w / span);
  if (canvas.width !== w) { canvas.width = w; if (r) r.full = true; }
  const hz = div.querySelector(".hz"), n = div.querySelector(".n");
  const rate = ratesHz(label).toFixed(1), count = String(M.events[label] || 0);
  if (hz.textContent !== rate) hz.textContent = rate;
  if (n.textContent !== count) n.textContent = count;
  if (!r) return;
  if (r.full || r.right === undefined || right - r.right >= w || right < r.right) {
    const img = ctx.createImageData(w, h);
    for (const binned of [0, 1]) {
      const n = r.len, ticks = new Uint32Array(n), ids = new Uint32Array(n);
      let m = 0;
      for (let k = 0; k < n; k++) {
        const i = (r.start + k) % RING;
        if (r.binned[i] === binned) { ticks[m] = r.ticks[i]; ids[m] = r.ids[i]; m++; }
      }
      paint(img, 0, w, h, binned ? rows : size, right, span, ticks.subarray(0, m),
            ids.subarray(0, m));
    }
    ctx.putImageData(img, 0, 0);
  } else {
    const shift = right - r.right;
    if (shift > 0) {  // scroll left, clear what enters on the right
      ctx.globalCompositeOperation = "copy";  // the shifted copy replaces, not overlays
      ctx.drawImage(canvas, -shift, 0);
      ctx.globalCompositeOperation = "source-over";
      ctx.clearRect(w - shift, 0, shift, h);
    }
    let oldest = right;
    for (const [ticks] of r.pending) {
      for (let k = 0; k < ticks.length; k++) {
        const b = Math.floor(ticks[k] * w / span);
        if (b < oldest) oldest = b;
      }
    }
    const x0 = Math.max(0, w - 1 - (right - oldest));
    if (r.pending.length && x0 < w) {
      const img = ctx.getImageData(x0, 0, w - x0, h);
      for (const [ticks, ids, binned] of r.pending) {
        paint(img, x0, w, h, binned ? rows : size, right, span, ticks, ids);
      }
      ctx.putImageData(img, x0, 0);
    }
  }
  r.pending = [];
  r.full = false;
  r.right = right;
}

function text(id, value) {  // touch the DOM only when the value changed: no relayout per frame
  const el = $(id), s = String(value);
  if (el.textContent !== s) el.textContent = s;
}

// Drawing is scheduled, not looped: an animation frame is asked for only when a frame brought
// events (and once a second for the rate), so an idle or quiet page costs the machine nothing.
let scheduled = false;
function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(draw); }
}

function draw() {
  scheduled = false;
  const now = performance.now();
  while (wallEvents.length && wallEvents[0][0] < now - 1000) wallEvents.shift();
  M.rate = wallEvents.reduce((a, e) => a + e[1], 0);
  text("rate", M.rate);
  text("tick", M.now);
  if (dirty) {
    dirty = false;
    for (const label of outLabels()) {
      const div = document.getElementById("pop-" + label);
      if (div) drawRaster(label, div);
    }
  }
}

function connect() {
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => (typeof e.data === "string" ? onText(JSON.parse(e.data)) : onFrame(e.data));
  ws.onclose = () => { setState("monitor gone"); setTimeout(connect, 1000); };
}

connect();
schedule();
setInterval(schedule, 1000);
window.addEventListener("resize", () => { dirty = true; schedule(); });  // the events/s figure decays when nothing comes
